import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { ConfigError } from "../src/config/errors.js";
import {
  ENV_VARS,
  extractConfigFlag,
  type LoadConfigOptions,
  loadConfig,
  renderConfig,
  secretsOf,
} from "../src/config/load.js";
import type { Config } from "../src/config/types.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/config/", import.meta.url));
const ROOT = mkdtempSync(path.join(tmpdir(), "fsagent-config-test-"));
after(() => rmSync(ROOT, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh directory holding the given files, used as the loader's cwd. */
function dirWith(files: Record<string, string> = {}): string {
  dirCount += 1;
  const dir = path.join(ROOT, `case-${dirCount}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function dirWithFixture(fixture: string, as = "config.yaml"): string {
  const dir = dirWith();
  copyFileSync(path.join(FIXTURES, fixture), path.join(dir, as));
  return dir;
}

function load(options: Partial<LoadConfigOptions> = {}): Config {
  return loadConfig({ env: {}, cwd: options.cwd ?? dirWith(), ...options });
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    // One line per problem, each naming its key: no line of a value or a stack breaks it up.
    for (const line of error.message.split("\n")) assert.match(line, /^config error: \S/);
    assert.equal(error.message.split("\n").length, error.problems.length);
    assert.ok(!error.message.includes("    at "), "message contains a stack trace");
    return error;
  }
  assert.fail("expected a ConfigError, but the configuration loaded");
}

const ONE_INSTANCE = "freeswitch_instances:\n  - { name: fs1, host: 10.0.0.1 }\n";
const ENV_INSTANCES = JSON.stringify([{ name: "env1", host: "10.9.9.9", password: "env-pw" }]);

const DEFAULTS: Omit<Config, "freeswitchInstances" | "source"> = {
  esl: {
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
    maxFrameBytes: 16_777_216,
    backoff: { initialMs: 1_000, factor: 2, maxMs: 30_000, resetAfterMs: 60_000 },
  },
  storage: {
    type: "memory",
    maxLegs: 100_000,
    legTtlMs: 86_400_000,
    redis: {
      host: "localhost",
      port: 6379,
      password: "",
      db: 0,
      keyPrefix: "fsagent:",
      username: "",
      tls: false,
      caFile: "",
    },
  },
  opentelemetry: {
    enabled: true,
    protocol: "grpc",
    endpoint: "localhost:4317",
    endpointExplicit: false,
    insecure: true,
    headers: {},
    compression: "none",
    serviceName: "fsagent",
    exportIntervalMs: 10_000,
    exportTimeoutMs: 5_000,
    retryQueueSize: 10_000,
    tls: { caFile: "", certFile: "", keyFile: "" },
    resourceAttributes: {},
  },
  http: {
    host: "0.0.0.0",
    port: 8080,
    ui: true,
    webConfigFile: "",
    authExempt: ["/health", "/ready"],
    web: null,
  },
  logging: { level: "info", format: "json" },
  events: { rtcp: true, qos: true },
  metrics: { perLeg: true },
  logs: { enabled: true },
  ha: { enabled: false, leaseTtlMs: 15_000, unreachableReleaseAfterMs: 30_000, replicaId: "" },
  health: { pollIntervalMs: 30_000 },
  lookups: { ratePerSecond: 100, notFoundTtlMs: 60_000, maxWaitingBytes: 16_777_216 },
};

const FULL: Omit<Config, "source"> = {
  freeswitchInstances: [
    { name: "fs1", host: "192.168.1.10", port: 8021, password: "ClueCon-fs1" },
    { name: "fs2", host: "fs2.example.net", port: 9021, password: "s3cr3t fs2" },
  ],
  esl: {
    connectTimeoutMs: 2_500,
    commandTimeoutMs: 750,
    idleTimeoutMs: 60_000,
    maxFrameBytes: 1_048_576,
    backoff: { initialMs: 500, factor: 1.5, maxMs: 90_000, resetAfterMs: 7_200_000 },
  },
  storage: {
    type: "redis",
    maxLegs: 250_000,
    legTtlMs: 7_200_000,
    redis: {
      host: "redis.internal",
      port: 6380,
      password: "redis-pass",
      db: 3,
      keyPrefix: "voip:fsagent:",
      username: "",
      tls: false,
      caFile: "",
    },
  },
  opentelemetry: {
    enabled: true,
    protocol: "grpc",
    endpoint: "https://otel.example.net:4317",
    endpointExplicit: true,
    insecure: false,
    headers: { "x-api-key": "api-key-value", "x-tenant": "acme-tenant-token" },
    compression: "none",
    serviceName: "fsagent",
    exportIntervalMs: 15_000,
    exportTimeoutMs: 3_000,
    retryQueueSize: 2_500,
    tls: { caFile: "", certFile: "", keyFile: "" },
    resourceAttributes: {},
  },
  http: {
    host: "127.0.0.1",
    port: 9090,
    ui: false,
    webConfigFile: "",
    authExempt: ["/health", "/ready"],
    web: null,
  },
  logging: { level: "debug", format: "text" },
  events: { rtcp: true, qos: false },
  metrics: { perLeg: false },
  logs: { enabled: false },
  ha: {
    enabled: true,
    leaseTtlMs: 20_000,
    unreachableReleaseAfterMs: 45_000,
    replicaId: "agent-a",
  },
  health: { pollIntervalMs: 45_000 },
  lookups: { ratePerSecond: 25, notFoundTtlMs: 120_000, maxWaitingBytes: 1_048_576 },
};

describe("loadConfig: valid files", () => {
  it("reads every key of a complete file into the exact Config", () => {
    const cwd = dirWithFixture("full.yaml");
    const config = load({ cwd });
    assert.deepEqual(config, { ...FULL, source: path.join(cwd, "config.yaml") });
  });

  it("reads the SPEC section 5 example unchanged", () => {
    const config = load({ configPath: path.join(FIXTURES, "spec-example.yaml") });
    assert.deepEqual(config, {
      ...DEFAULTS,
      freeswitchInstances: [{ name: "fs1", host: "192.168.1.10", port: 8021, password: "ClueCon" }],
      opentelemetry: {
        ...DEFAULTS.opentelemetry,
        endpointExplicit: true,
        headers: { "x-api-key": "..." },
      },
      source: path.join(FIXTURES, "spec-example.yaml"),
    });
  });

  it("fills every key the file leaves out with its default; empty sections are all defaults", () => {
    const cwd = dirWithFixture("minimal.yaml");
    assert.deepEqual(load({ cwd }), {
      ...DEFAULTS,
      freeswitchInstances: [{ name: "fs1", host: "10.0.0.1", port: 8021, password: "ClueCon" }],
      source: path.join(cwd, "config.yaml"),
    });
  });

  it("treats an empty file as an empty mapping", () => {
    const cwd = dirWith({ "config.yaml": "" });
    const config = load({ cwd, requireInstances: false });
    assert.deepEqual(config, {
      ...DEFAULTS,
      freeswitchInstances: [],
      source: path.join(cwd, "config.yaml"),
    });
  });

  it("returns a deeply frozen object", () => {
    const config = load({ cwd: dirWithFixture("full.yaml") });
    const nested: unknown[] = [
      config,
      config.freeswitchInstances,
      config.freeswitchInstances[0],
      config.esl.backoff,
      config.storage.redis,
      config.opentelemetry.headers,
      config.opentelemetry.resourceAttributes,
    ];
    for (const value of nested) assert.ok(Object.isFrozen(value));
    assert.throws(() => {
      (config.http as { port: number }).port = 1;
    }, TypeError);
  });

  it("accepts numbers written as strings and booleans in every spelling", () => {
    const cwd = dirWith({
      "config.yaml": `${ONE_INSTANCE}http: { port: "0" }\nstorage: { redis: { port: " 6390 ", db: "2" } }\nevents: { rtcp: 0, qos: TRUE }\nopentelemetry: { insecure: "No" }\n`,
    });
    const config = load({ cwd });
    assert.equal(config.http.port, 0);
    assert.equal(config.storage.redis.port, 6390);
    assert.equal(config.storage.redis.db, 2);
    assert.deepEqual(config.events, { rtcp: false, qos: true });
    assert.equal(config.opentelemetry.insecure, false);
  });

  it("normalises the case of choices (FSAGENT_LOG_LEVEL=DEBUG)", () => {
    const config = load({
      env: {
        FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
        FSAGENT_LOG_LEVEL: "DEBUG",
        FSAGENT_LOG_FORMAT: "Text",
        FSAGENT_STORAGE_TYPE: "REDIS",
      },
    });
    assert.deepEqual(config.logging, { level: "debug", format: "text" });
    assert.equal(config.storage.type, "redis");
  });

  it("lets the demo load without instances", () => {
    assert.deepEqual(load({ requireInstances: false }).freeswitchInstances, []);
  });
});

describe("loadConfig: sources", () => {
  it("uses ./config.yaml from cwd when no path is given, and reports its absolute path", () => {
    const cwd = dirWith({ "config.yaml": ONE_INSTANCE });
    const config = load({ cwd });
    assert.equal(config.source, path.join(cwd, "config.yaml"));
    assert.equal(config.freeswitchInstances[0]?.name, "fs1");
  });

  it("resolves a relative --config path against cwd, not against the process", () => {
    const cwd = dirWith({ "other.yaml": ONE_INSTANCE, "config.yaml": "http: { port: 1 }\n" });
    const config = load({ cwd, configPath: "other.yaml" });
    assert.equal(config.source, path.join(cwd, "other.yaml"));
    assert.equal(config.http.port, 8080);
  });

  it("needs no file at all when the environment is enough", () => {
    const config = load({
      cwd: dirWith(),
      env: { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES, FSAGENT_HTTP_PORT: "9191" },
    });
    assert.equal(config.source, null);
    assert.deepEqual(config.freeswitchInstances, [
      { name: "env1", host: "10.9.9.9", port: 8021, password: "env-pw" },
    ]);
    assert.equal(config.http.port, 9191);
  });

  it("lets every FSAGENT_* variable override the file", () => {
    const cwd = dirWithFixture("full.yaml");
    const config = load({
      cwd,
      env: {
        FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
          { name: "e1", host: "e1.example", port: "7021", password: "pw-e1" },
          { name: "e2", host: "::1", port: 8022 },
        ]),
        FSAGENT_STORAGE_TYPE: "memory",
        FSAGENT_STORAGE_MAX_LEGS: "5000",
        FSAGENT_STORAGE_LEG_TTL: "6h",
        FSAGENT_REDIS_KEY_PREFIX: "env:",
        FSAGENT_OTEL_EXPORT_INTERVAL: "20s",
        FSAGENT_OTEL_EXPORT_TIMEOUT: "2s",
        FSAGENT_OTEL_RETRY_QUEUE_SIZE: "0",
        FSAGENT_REDIS_HOST: "r.env",
        FSAGENT_REDIS_PORT: "7000",
        FSAGENT_REDIS_PASSWORD: "pw-redis-env",
        FSAGENT_REDIS_DB: "9",
        FSAGENT_OTEL_ENABLED: "yes",
        FSAGENT_OTEL_PROTOCOL: "GRPC",
        FSAGENT_OTEL_ENDPOINT: "collector.env:4317",
        FSAGENT_OTEL_INSECURE: "TRUE",
        FSAGENT_OTEL_COMPRESSION: "Gzip",
        FSAGENT_OTEL_HEADERS: "authorization=Basic dXNlcjpwYXNz==, x-org = acme",
        FSAGENT_HTTP_HOST: "::",
        FSAGENT_HTTP_PORT: "8181",
        FSAGENT_HTTP_UI: "NO",
        FSAGENT_HTTP_AUTH_EXEMPT: "/health, /metrics",
        FSAGENT_LOG_LEVEL: "warn",
        FSAGENT_LOG_FORMAT: "json",
        FSAGENT_EVENTS_RTCP: "no",
        FSAGENT_EVENTS_QOS: "1",
        FSAGENT_METRICS_PER_LEG: "true",
        FSAGENT_LOGS_ENABLED: "yes",
        FSAGENT_ESL_CONNECT_TIMEOUT: "3",
        FSAGENT_ESL_COMMAND_TIMEOUT: "250ms",
        FSAGENT_ESL_IDLE_TIMEOUT: "45s",
        FSAGENT_ESL_MAX_FRAME_BYTES: "2048",
        FSAGENT_ESL_BACKOFF_INITIAL: "0.2",
        FSAGENT_ESL_BACKOFF_FACTOR: "3",
        FSAGENT_ESL_BACKOFF_MAX: "2m",
        FSAGENT_ESL_BACKOFF_RESET_AFTER: "1h",
        // The file enables HA; with memory storage from the environment it must be off again.
        FSAGENT_HA_ENABLED: "no",
        FSAGENT_HA_LEASE_TTL: "7.5",
        FSAGENT_HA_UNREACHABLE_RELEASE_AFTER: "12",
        FSAGENT_HA_REPLICA_ID: "pod-fsagent-0",
        FSAGENT_HEALTH_POLL_INTERVAL: "0",
        FSAGENT_LOOKUPS_RATE: "0",
        FSAGENT_LOOKUPS_NOT_FOUND_TTL: "90s",
        FSAGENT_LOOKUPS_MAX_WAITING_BYTES: "65536",
      },
    });
    assert.deepEqual(config, {
      freeswitchInstances: [
        { name: "e1", host: "e1.example", port: 7021, password: "pw-e1" },
        { name: "e2", host: "::1", port: 8022, password: "ClueCon" },
      ],
      esl: {
        connectTimeoutMs: 3_000,
        commandTimeoutMs: 250,
        idleTimeoutMs: 45_000,
        maxFrameBytes: 2048,
        backoff: { initialMs: 200, factor: 3, maxMs: 120_000, resetAfterMs: 3_600_000 },
      },
      storage: {
        type: "memory",
        maxLegs: 5000,
        legTtlMs: 21_600_000,
        redis: {
          host: "r.env",
          port: 7000,
          password: "pw-redis-env",
          db: 9,
          keyPrefix: "env:",
          username: "",
          tls: false,
          caFile: "",
        },
      },
      opentelemetry: {
        enabled: true,
        protocol: "grpc",
        endpoint: "collector.env:4317",
        endpointExplicit: true,
        insecure: true,
        headers: { authorization: "Basic dXNlcjpwYXNz==", "x-org": "acme" },
        compression: "gzip",
        serviceName: "fsagent",
        exportIntervalMs: 20_000,
        exportTimeoutMs: 2_000,
        retryQueueSize: 0,
        tls: { caFile: "", certFile: "", keyFile: "" },
        resourceAttributes: {},
      },
      http: {
        host: "::",
        port: 8181,
        ui: false,
        webConfigFile: "",
        authExempt: ["/health", "/metrics"],
        web: null,
      },
      logging: { level: "warn", format: "json" },
      events: { rtcp: false, qos: true },
      metrics: { perLeg: true },
      logs: { enabled: true },
      ha: {
        enabled: false,
        leaseTtlMs: 7_500,
        unreachableReleaseAfterMs: 12_000,
        replicaId: "pod-fsagent-0",
      },
      health: { pollIntervalMs: 0 },
      lookups: { ratePerSecond: 0, notFoundTtlMs: 90_000, maxWaitingBytes: 65_536 },
      source: path.join(cwd, "config.yaml"),
    });
  });

  it("overrides single keys and keeps the rest of the file", () => {
    const cwd = dirWithFixture("full.yaml");
    const config = load({ cwd, env: { FSAGENT_REDIS_PORT: "7001" } });
    assert.deepEqual(config.storage.redis, { ...FULL.storage.redis, port: 7001 });
    assert.deepEqual(config.freeswitchInstances, FULL.freeswitchInstances);
  });

  it("treats an empty variable as unset", () => {
    const cwd = dirWithFixture("full.yaml");
    const config = load({
      cwd,
      env: { FSAGENT_HTTP_PORT: "", FSAGENT_FREESWITCH_INSTANCES: "", FSAGENT_OTEL_ENDPOINT: "" },
    });
    assert.equal(config.http.port, 9090);
    assert.equal(config.freeswitchInstances.length, 2);
    assert.equal(config.opentelemetry.endpoint, FULL.opentelemetry.endpoint);
  });

  it("builds sections the file does not have from the environment", () => {
    const cwd = dirWith({ "config.yaml": ONE_INSTANCE });
    const config = load({ cwd, env: { FSAGENT_ESL_BACKOFF_MAX: "10s" } });
    assert.equal(config.esl.backoff.maxMs, 10_000);
  });
});

describe("loadConfig: OpenTelemetry variables", () => {
  const base = { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES };

  it("names the service fsagent unless told otherwise", () => {
    assert.equal(load({ env: base }).opentelemetry.serviceName, "fsagent");
    assert.equal(
      load({ env: { ...base, OTEL_SERVICE_NAME: "fsagent-eu" } }).opentelemetry.serviceName,
      "fsagent-eu",
    );
  });

  it("parses and percent-decodes OTEL_RESOURCE_ATTRIBUTES", () => {
    const otel = load({
      env: {
        ...base,
        OTEL_RESOURCE_ATTRIBUTES:
          "deployment.environment=prod, service.namespace = voice ,note=a%20b%2Cc%3Dd,",
      },
    }).opentelemetry;
    assert.deepEqual(otel.resourceAttributes, {
      "deployment.environment": "prod",
      "service.namespace": "voice",
      note: "a b,c=d",
    });
  });

  it("takes service.name from the resource attributes, but OTEL_SERVICE_NAME wins", () => {
    const attrs = "service.name=from-attrs";
    const fromAttrs = load({ env: { ...base, OTEL_RESOURCE_ATTRIBUTES: attrs } });
    assert.equal(fromAttrs.opentelemetry.serviceName, "from-attrs");
    const both = load({
      env: { ...base, OTEL_RESOURCE_ATTRIBUTES: attrs, OTEL_SERVICE_NAME: "sn" },
    });
    assert.equal(both.opentelemetry.serviceName, "sn");
  });

  // FSAGENT_OTEL_ENDPOINT > file > OTEL_EXPORTER_OTLP_METRICS_ENDPOINT > OTEL_EXPORTER_OTLP_ENDPOINT
  const endpointCases: {
    name: string;
    file?: string;
    env: Record<string, string>;
    endpoint: string;
    explicit: boolean;
  }[] = [
    { name: "nothing set: the default", env: {}, endpoint: "localhost:4317", explicit: false },
    {
      name: "OTEL_EXPORTER_OTLP_ENDPOINT alone",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4317" },
      endpoint: "http://generic:4317",
      explicit: true,
    },
    {
      name: "the metrics-specific variable beats the generic one",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4317",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://metrics:4317",
      },
      endpoint: "http://metrics:4317",
      explicit: true,
    },
    {
      name: "the file beats OTEL_*",
      file: "file:4317",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4317",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://metrics:4317",
      },
      endpoint: "file:4317",
      explicit: true,
    },
    {
      name: "FSAGENT_OTEL_ENDPOINT beats the file and OTEL_*",
      file: "file:4317",
      env: {
        FSAGENT_OTEL_ENDPOINT: "fsagent:4317",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://metrics:4317",
      },
      endpoint: "fsagent:4317",
      explicit: true,
    },
    {
      name: "a file endpoint is explicit even when it equals the default",
      file: "localhost:4317",
      env: {},
      endpoint: "localhost:4317",
      explicit: true,
    },
    {
      name: 'an empty endpoint in the file switches export off (types.ts: "" disables export)',
      file: '""',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4317" },
      endpoint: "",
      explicit: true,
    },
  ];
  for (const c of endpointCases) {
    it(`endpoint: ${c.name}`, () => {
      const yaml =
        c.file === undefined
          ? ONE_INSTANCE
          : `${ONE_INSTANCE}opentelemetry: { endpoint: ${c.file} }\n`;
      const otel = load({ cwd: dirWith({ "config.yaml": yaml }), env: c.env }).opentelemetry;
      assert.equal(otel.endpoint, c.endpoint);
      assert.equal(otel.endpointExplicit, c.explicit);
    });
  }

  it("accepts the endpoint forms OTLP users write", () => {
    for (const endpoint of [
      "localhost:4317",
      "10.1.2.3:4317",
      "[::1]:4317",
      "http://collector:4317",
      "https://otel.example.com:443/otlp",
      "HTTPS://otel.example.com:443",
    ]) {
      const config = load({ env: { ...base, FSAGENT_OTEL_ENDPOINT: endpoint } });
      assert.equal(config.opentelemetry.endpoint, endpoint);
    }
  });
});

describe("loadConfig: durations", () => {
  const cases: [string, number][] = [
    ["5", 5_000],
    ["0.25", 250],
    ['"5"', 5_000],
    ['"500ms"', 500],
    ["30s", 30_000],
    ["1.5m", 90_000],
    ["2h", 7_200_000],
    ["1m30s", 90_000],
    ["1.1s", 1_100],
    [".5s", 500],
  ];
  for (const [yaml, ms] of cases) {
    it(`idle_timeout: ${yaml} is ${ms} ms`, () => {
      const cwd = dirWith({ "config.yaml": `${ONE_INSTANCE}esl: { idle_timeout: ${yaml} }\n` });
      assert.equal(load({ cwd }).esl.idleTimeoutMs, ms);
    });
  }

  it("reads durations from the environment the same way", () => {
    const esl = load({
      env: {
        FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
        FSAGENT_ESL_CONNECT_TIMEOUT: "1.5",
        FSAGENT_ESL_COMMAND_TIMEOUT: "1500ms",
        FSAGENT_ESL_IDLE_TIMEOUT: "0.5m",
      },
    }).esl;
    assert.equal(esl.connectTimeoutMs, 1_500);
    assert.equal(esl.commandTimeoutMs, 1_500);
    assert.equal(esl.idleTimeoutMs, 30_000);
  });
});

interface InvalidCase {
  readonly name: string;
  /** config.yaml in cwd; ONE_INSTANCE when neither yaml nor noFile is given. */
  readonly yaml?: string;
  readonly noFile?: boolean;
  readonly env?: Record<string, string>;
  readonly configPath?: string;
  /** How the message must name the key (a YAML path or an env var name). */
  readonly key: string;
  /** The rendering of the bad value that must follow `key = `. */
  readonly value?: string;
  /** Something else the message must say (the allowed values, a reason). */
  readonly says?: string;
  /** A secret that must not appear in the message. */
  readonly secret?: string;
}

const withInstance = (yaml: string): string => `${ONE_INSTANCE}${yaml}\n`;
const INSTANCE_KEYS = "allowed keys here: name, host, port, password";

const INVALID: readonly InvalidCase[] = [
  {
    name: "port is a word",
    yaml: 'freeswitch_instances:\n  - { name: fs1, host: h, port: "abc" }',
    key: "freeswitch_instances[0].port",
    value: '"abc"',
    says: "(config.yaml): expected an integer from 1 to 65535",
  },
  {
    name: "negative port",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: h, port: -1 }",
    key: "freeswitch_instances[0].port",
    value: "-1",
  },
  {
    name: "port too large",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: h, port: 70000 }",
    key: "freeswitch_instances[0].port",
    value: "70000",
  },
  {
    name: "fractional port",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: h, port: 1.5 }",
    key: "freeswitch_instances[0].port",
    value: "1.5",
  },
  {
    name: "port with trailing garbage from env",
    env: { FSAGENT_REDIS_PORT: "80a" },
    key: "FSAGENT_REDIS_PORT",
    value: '"80a"',
    says: "(env): expected an integer from 1 to 65535",
  },
  {
    name: "negative http port from env",
    env: { FSAGENT_HTTP_PORT: "-1" },
    key: "FSAGENT_HTTP_PORT",
    value: '"-1"',
    says: "0 to 65535",
  },
  { name: "fractional http port", env: { FSAGENT_HTTP_PORT: "1.5" }, key: "FSAGENT_HTTP_PORT" },
  {
    name: "unknown storage type",
    yaml: withInstance("storage: { type: postgres }"),
    key: "storage.type",
    value: '"postgres"',
    says: "expected one of memory, redis",
  },
  {
    name: "unknown storage type from env",
    env: { FSAGENT_STORAGE_TYPE: "etcd" },
    key: "FSAGENT_STORAGE_TYPE",
  },
  {
    name: "empty instance list",
    yaml: "freeswitch_instances: []",
    key: "freeswitch_instances",
    value: "[]",
    says: "at least one FreeSWITCH instance",
  },
  {
    name: "no instances anywhere",
    noFile: true,
    key: "freeswitch_instances is missing",
    says: "(no config file)",
  },
  {
    name: "empty instance list from env",
    env: { FSAGENT_FREESWITCH_INSTANCES: "[]" },
    key: "FSAGENT_FREESWITCH_INSTANCES",
    value: "***",
  },
  {
    name: "duplicate instance names",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: a }\n  - { name: fs2, host: b }\n  - { name: fs1, host: c }",
    key: "freeswitch_instances[2].name",
    value: '"fs1"',
    says: "duplicate",
  },
  {
    name: "instance name with a space",
    yaml: 'freeswitch_instances:\n  - { name: "fs 1", host: a }',
    key: "freeswitch_instances[0].name",
  },
  {
    name: "empty instance name",
    yaml: 'freeswitch_instances:\n  - { name: "", host: a }',
    key: "freeswitch_instances[0].name",
    value: '""',
  },
  {
    name: "instance without a host",
    yaml: "freeswitch_instances:\n  - { name: fs1 }",
    key: "freeswitch_instances[0].host is missing",
    says: "(config.yaml)",
  },
  {
    name: "host with the port glued on",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: '10.0.0.1:8021' }",
    key: "freeswitch_instances[0].host",
    says: "no port",
  },
  {
    name: "instances as a mapping",
    yaml: "freeswitch_instances:\n  fs1: { host: a }",
    key: "freeswitch_instances",
    value: "{...}",
  },
  {
    name: "instance that is not a mapping",
    yaml: "freeswitch_instances:\n  - fs1",
    key: "freeswitch_instances[0]",
  },
  {
    name: "numeric ESL password (YAML would drop leading zeros)",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: a, password: 912345 }",
    key: "freeswitch_instances[0].password",
    value: "***",
    secret: "912345",
  },
  {
    name: "misspelt instance key with a secret value",
    yaml: "freeswitch_instances:\n  - { name: fs1, host: a, pasword: hunter2-secret }",
    key: "freeswitch_instances[0].pasword",
    says: INSTANCE_KEYS,
    secret: "hunter2-secret",
  },
  {
    name: "endpoint that is not a URL",
    yaml: withInstance('opentelemetry: { endpoint: "not a url" }'),
    key: "opentelemetry.endpoint",
    value: '"not a url"',
    says: "host:port or http(s)://host[:port]",
  },
  {
    name: "endpoint without a port, from env",
    env: { FSAGENT_OTEL_ENDPOINT: "localhost" },
    key: "FSAGENT_OTEL_ENDPOINT",
    value: '"localhost"',
  },
  {
    name: "endpoint without a host, from OTEL_EXPORTER_OTLP_ENDPOINT",
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: ":4317" },
    key: "OTEL_EXPORTER_OTLP_ENDPOINT",
    value: '":4317"',
  },
  {
    name: "endpoint with a path but no scheme",
    env: { FSAGENT_OTEL_ENDPOINT: "collector:4317/v1/metrics" },
    key: "FSAGENT_OTEL_ENDPOINT",
  },
  {
    name: "endpoint with another scheme",
    env: { FSAGENT_OTEL_ENDPOINT: "grpc://collector:4317" },
    key: "FSAGENT_OTEL_ENDPOINT",
  },
  {
    name: "header pair without =",
    env: { FSAGENT_OTEL_HEADERS: "x-a=1,sk-live-abcdef" },
    key: "FSAGENT_OTEL_HEADERS",
    value: "***",
    says: 'item 2 has no "="',
    secret: "sk-live-abcdef",
  },
  {
    name: "header pair with an empty key",
    env: { FSAGENT_OTEL_HEADERS: "=sk-live-abcdef" },
    key: "FSAGENT_OTEL_HEADERS",
    says: "empty key",
    secret: "sk-live-abcdef",
  },
  {
    name: "header with an invalid name from env",
    env: { FSAGENT_OTEL_HEADERS: "x api=sk-live-abcdef" },
    key: 'FSAGENT_OTEL_HEADERS["x api"]',
    secret: "sk-live-abcdef",
  },
  {
    name: "header with a non-string value",
    yaml: withInstance("opentelemetry: { headers: { x-api-key: 424242 } }"),
    key: "opentelemetry.headers.x-api-key",
    value: "***",
    secret: "424242",
  },
  {
    name: "headers as a list",
    yaml: withInstance("opentelemetry: { headers: [ 'x-api-key: sk-live-abcdef' ] }"),
    key: "opentelemetry.headers",
    value: "***",
    secret: "sk-live-abcdef",
  },
  {
    name: "headers spelled the same twice",
    yaml: withInstance("opentelemetry: { headers: { X-Key: a1, x-key: b2 } }"),
    key: "opentelemetry.headers.x-key",
    says: "duplicate header name",
  },
  {
    name: "a boolean nobody can read",
    env: { FSAGENT_EVENTS_RTCP: "maybe" },
    key: "FSAGENT_EVENTS_RTCP",
    value: '"maybe"',
    says: "expected one of true, false, 1, 0, yes, no",
  },
  {
    name: "a boolean in the file nobody can read",
    yaml: withInstance("events: { qos: maybe }"),
    key: "events.qos",
    value: '"maybe"',
  },
  {
    name: "a number that is not 0 or 1 as a boolean",
    yaml: withInstance("opentelemetry: { insecure: 2 }"),
    key: "opentelemetry.insecure",
    value: "2",
  },
  {
    name: "unknown log level",
    yaml: withInstance("logging: { level: verbose }"),
    key: "logging.level",
    says: "expected one of debug, info, warn, error",
  },
  {
    name: "unknown log format",
    env: { FSAGENT_LOG_FORMAT: "xml" },
    key: "FSAGENT_LOG_FORMAT",
    says: "expected one of json, text",
  },
  {
    name: "negative redis db",
    yaml: withInstance("storage: { redis: { db: -1 } }"),
    key: "storage.redis.db",
    value: "-1",
  },
  { name: "redis db as a word", env: { FSAGENT_REDIS_DB: "zero" }, key: "FSAGENT_REDIS_DB" },
  {
    name: "numeric redis password",
    yaml: withInstance("storage: { redis: { password: 77665544 } }"),
    key: "storage.redis.password",
    value: "***",
    secret: "77665544",
  },
  {
    name: "misspelt top-level key",
    yaml: withInstance("evnets: { rtcp: true }"),
    key: "evnets (config.yaml): unknown key",
    says: 'did you mean "events"?',
  },
  {
    name: "misspelt nested key",
    yaml: withInstance("storage: { redis: { hots: r1 } }"),
    key: "storage.redis.hots",
    says: "allowed keys here: host, port, password, db",
  },
  {
    name: "section that is not a mapping",
    yaml: withInstance("storage: redis"),
    key: "storage",
    value: '"redis"',
    says: "expected a mapping",
  },
  {
    name: "FSAGENT_FREESWITCH_INSTANCES that is not JSON",
    noFile: true,
    env: { FSAGENT_FREESWITCH_INSTANCES: "[{name: fs1, password: Sup3rS3cret}]" },
    key: "FSAGENT_FREESWITCH_INSTANCES",
    value: "***",
    says: "invalid JSON",
    secret: "Sup3rS3cret",
  },
  {
    name: "FSAGENT_FREESWITCH_INSTANCES that is an object",
    env: { FSAGENT_FREESWITCH_INSTANCES: '{"name":"a","host":"b","password":"Sup3rS3cret"}' },
    key: "FSAGENT_FREESWITCH_INSTANCES",
    secret: "Sup3rS3cret",
  },
  {
    name: "FSAGENT_FREESWITCH_INSTANCES with a bad port",
    env: {
      FSAGENT_FREESWITCH_INSTANCES: '[{"name":"a","host":"b","port":"x","password":"Sup3rS3cret"}]',
    },
    key: "FSAGENT_FREESWITCH_INSTANCES[0].port",
    value: '"x"',
    says: "(env)",
    secret: "Sup3rS3cret",
  },
  {
    name: "FSAGENT_FREESWITCH_INSTANCES with a misspelt key",
    env: { FSAGENT_FREESWITCH_INSTANCES: '[{"name":"a","host":"b","pass":"Sup3rS3cret"}]' },
    key: "FSAGENT_FREESWITCH_INSTANCES[0].pass",
    says: INSTANCE_KEYS,
    secret: "Sup3rS3cret",
  },
  {
    name: "FSAGENT_REDIS_PASSWORD never shown, even when it breaks nothing else",
    env: { FSAGENT_REDIS_PASSWORD: "r3d1s-pw", FSAGENT_REDIS_PORT: "0" },
    key: "FSAGENT_REDIS_PORT",
    secret: "r3d1s-pw",
  },
  {
    name: "duration with an unknown unit",
    yaml: withInstance('esl: { idle_timeout: "10x" }'),
    key: "esl.idle_timeout",
    value: '"10x"',
    says: "expected a duration > 0",
  },
  {
    name: "zero duration",
    yaml: withInstance("esl: { connect_timeout: 0 }"),
    key: "esl.connect_timeout",
  },
  {
    name: "negative duration",
    env: { FSAGENT_ESL_COMMAND_TIMEOUT: "-5s" },
    key: "FSAGENT_ESL_COMMAND_TIMEOUT",
  },
  {
    name: "duration below a millisecond",
    yaml: withInstance("esl: { backoff: { initial: 0.0001 } }"),
    key: "esl.backoff.initial",
  },
  {
    name: "duration too long for a timer",
    env: { FSAGENT_ESL_BACKOFF_RESET_AFTER: "1000h" },
    key: "FSAGENT_ESL_BACKOFF_RESET_AFTER",
  },
  {
    name: "duration as a boolean",
    yaml: withInstance("esl: { idle_timeout: true }"),
    key: "esl.idle_timeout",
  },
  {
    name: "frame limit too small",
    yaml: withInstance("esl: { max_frame_bytes: 512 }"),
    key: "esl.max_frame_bytes",
    says: ">= 1024",
  },
  {
    name: "frame limit with a unit",
    env: { FSAGENT_ESL_MAX_FRAME_BYTES: "16MiB" },
    key: "FSAGENT_ESL_MAX_FRAME_BYTES",
  },
  {
    name: "negative look-up rate",
    yaml: withInstance("lookups: { rate: -1 }"),
    key: "lookups.rate",
    says: "expected an integer from 0",
  },
  {
    name: "look-up rate as a fraction",
    env: { FSAGENT_LOOKUPS_RATE: "2.5" },
    key: "FSAGENT_LOOKUPS_RATE",
  },
  {
    name: "zero not-found TTL",
    yaml: withInstance("lookups: { not_found_ttl: 0 }"),
    key: "lookups.not_found_ttl",
    says: "expected a duration > 0",
  },
  {
    name: "waiting bytes below one large event",
    env: { FSAGENT_LOOKUPS_MAX_WAITING_BYTES: "4096" },
    key: "FSAGENT_LOOKUPS_MAX_WAITING_BYTES",
    says: ">= 65536",
  },
  {
    name: "backoff factor below 1",
    yaml: withInstance("esl: { backoff: { factor: 0.5 } }"),
    key: "esl.backoff.factor",
    says: "expected a number >= 1",
  },
  {
    name: "backoff that starts above its cap",
    yaml: withInstance("esl: { backoff: { initial: 1m, max: 10s } }"),
    key: "esl.backoff.initial",
    value: '"1m"',
    says: "no longer than esl.backoff.max (10s)",
  },
  {
    name: "backoff cap below the default start",
    env: { FSAGENT_ESL_BACKOFF_MAX: "500ms" },
    key: "FSAGENT_ESL_BACKOFF_MAX",
    value: '"500ms"',
    says: "no shorter than esl.backoff.initial (1s)",
  },
  {
    name: "http host with a space",
    env: { FSAGENT_HTTP_HOST: "0.0.0.0 " },
    key: "FSAGENT_HTTP_HOST",
  },
  {
    name: "malformed OTEL_RESOURCE_ATTRIBUTES",
    env: { OTEL_RESOURCE_ATTRIBUTES: "deployment.environment" },
    key: "OTEL_RESOURCE_ATTRIBUTES",
    says: 'item 1 has no "="',
  },
  {
    name: "bad percent-encoding in OTEL_RESOURCE_ATTRIBUTES",
    env: { OTEL_RESOURCE_ATTRIBUTES: "k=%zz" },
    key: "OTEL_RESOURCE_ATTRIBUTES",
    says: "percent-encoding",
  },
  {
    name: "HA without Redis storage",
    yaml: withInstance("ha: { enabled: true }"),
    key: "ha.enabled",
    value: "true",
    says: "expected false while storage.type is memory: replicas share the FreeSWITCH instances through Redis",
  },
  {
    name: "HA from env without Redis storage",
    env: { FSAGENT_HA_ENABLED: "true" },
    key: "FSAGENT_HA_ENABLED",
    value: '"true"',
    says: "(env): expected false while storage.type is memory",
  },
  {
    name: "HA with storage switched back to memory from env",
    yaml: withInstance("storage: { type: redis }\nha: { enabled: yes }"),
    env: { FSAGENT_STORAGE_TYPE: "memory" },
    key: "ha.enabled",
    says: "set storage.type: redis",
  },
  {
    name: "HA enabled is not a boolean",
    env: { FSAGENT_HA_ENABLED: "sometimes" },
    key: "FSAGENT_HA_ENABLED",
    says: "expected one of true, false",
  },
  {
    name: "lease TTL below one second",
    env: { FSAGENT_STORAGE_TYPE: "redis", FSAGENT_HA_ENABLED: "1", FSAGENT_HA_LEASE_TTL: "0.5" },
    key: "FSAGENT_HA_LEASE_TTL",
    value: '"0.5"',
    says: "expected a duration from 1s to 1h",
  },
  {
    name: "unreachable release delay below one second",
    env: {
      FSAGENT_STORAGE_TYPE: "redis",
      FSAGENT_HA_ENABLED: "1",
      FSAGENT_HA_UNREACHABLE_RELEASE_AFTER: "200ms",
    },
    key: "FSAGENT_HA_UNREACHABLE_RELEASE_AFTER",
    value: '"200ms"',
    says: "expected a duration from 1s to 1h",
  },
  {
    name: "lease TTL that is not a duration",
    yaml: withInstance("ha: { lease_ttl: fifteen }"),
    key: "ha.lease_ttl",
    value: '"fifteen"',
  },
  {
    name: "lease TTL above an hour",
    yaml: withInstance("ha: { lease_ttl: 2h }"),
    key: "ha.lease_ttl",
  },
  {
    name: "replica id with a space",
    env: { FSAGENT_HA_REPLICA_ID: "agent 1" },
    key: "FSAGENT_HA_REPLICA_ID",
    value: '"agent 1"',
    says: "without whitespace",
  },
  {
    name: "misspelt ha key",
    yaml: withInstance("ha: { lease_tll: 10s }"),
    key: "ha.lease_tll",
    says: '(did you mean "lease_ttl"?)',
  },
  {
    name: "YAML syntax error",
    yaml: 'freeswitch_instances:\n  - name: fs1\n    password: "Unterminated-S3cret\n',
    key: "config.yaml:4:1: YAML syntax error",
    secret: "Unterminated-S3cret",
  },
  {
    name: "duplicate key in the YAML",
    yaml: `${ONE_INSTANCE}http: { port: 1 }\nhttp: { port: 2 }\n`,
    key: "config.yaml:",
    says: "Map keys must be unique",
  },
  {
    name: "a list at the top of the file",
    yaml: "- name: fs1\n",
    key: "config.yaml",
    says: "expected a YAML mapping at the top level",
  },
  {
    name: "--config naming a missing file",
    configPath: "missing.yaml",
    key: "missing.yaml",
    says: "no such file",
  },
  {
    name: "--config naming a directory",
    configPath: ".",
    key: "cannot read .",
    says: "is a directory",
  },
];

describe("loadConfig: invalid configurations", () => {
  it("has a table of at least 30 cases", () => {
    assert.ok(INVALID.length >= 30);
  });

  for (const c of INVALID) {
    it(c.name, () => {
      const files: Record<string, string> = {};
      if (!c.noFile) files["config.yaml"] = c.yaml ?? ONE_INSTANCE;
      const cwd = dirWith(files);
      const error = configError(() =>
        loadConfig({ cwd, env: c.env ?? {}, configPath: c.configPath }),
      );
      const { message } = error;
      assert.ok(message.includes(c.key), `"${message}" does not name ${c.key}`);
      if (c.value !== undefined) {
        assert.ok(
          message.includes(`${c.key} = ${c.value}`),
          `"${message}" lacks ${c.key} = ${c.value}`,
        );
      }
      if (c.says !== undefined)
        assert.ok(message.includes(c.says), `"${message}" lacks "${c.says}"`);
      if (c.secret !== undefined)
        assert.ok(!message.includes(c.secret), `"${message}" leaks a secret`);
    });
  }

  it("reports a file the process may not read", { skip: process.getuid?.() === 0 }, () => {
    const cwd = dirWith({ "config.yaml": ONE_INSTANCE });
    const file = path.join(cwd, "config.yaml");
    chmodSync(file, 0o000);
    const error = configError(() => load({ cwd }));
    assert.match(error.message, /config\.yaml: permission denied/);
  });

  it("names every problem, one line each", () => {
    const cwd = dirWith({
      "config.yaml": withInstance("http: { port: x }\nlogging: { level: loud, format: xml }"),
    });
    const error = configError(() => load({ cwd, env: { FSAGENT_EVENTS_QOS: "perhaps" } }));
    const lines = error.message.split("\n");
    assert.equal(lines.length, 4, error.message);
    for (const line of lines) assert.match(line, /^config error: /);
    assert.match(lines[0] ?? "", /^config error: http\.port = "x" \(config\.yaml\): /);
    for (const key of ['logging.level = "loud"', 'logging.format = "xml"', "FSAGENT_EVENTS_QOS"]) {
      assert.ok(
        lines.some((line) => line.includes(key)),
        `${key} in:\n${error.message}`,
      );
    }
    assert.deepEqual(
      error.problems,
      lines.map((l) => l.slice("config error: ".length)),
    );
  });

  it("puts a misspelt key before the missing key it causes", () => {
    const cwd = dirWith({ "config.yaml": "freeswitch_instances:\n  - { name: fs1, hots: a }\n" });
    const error = configError(() => load({ cwd }));
    const [first, second, ...rest] = error.message.split("\n");
    assert.match(first ?? "", /^config error: freeswitch_instances\[0\]\.hots /);
    assert.match(second ?? "", /^config error: freeswitch_instances\[0\]\.host is missing/);
    assert.deepEqual(rest, []);
  });

  it("quotes odd keys instead of breaking the line", () => {
    const cwd = dirWith({ "config.yaml": `${ONE_INSTANCE}"bad\\nkey": 1\n` });
    const error = configError(() => load({ cwd }));
    assert.ok(error.message.includes('["bad\\nkey"]'), error.message);
  });
});

describe("extractConfigFlag", () => {
  const forms: [string[], string | undefined, string[]][] = [
    [["--config", "a.yaml"], "a.yaml", []],
    [["--config=a.yaml"], "a.yaml", []],
    [["-config", "a.yaml"], "a.yaml", []],
    [["-config=a.yaml"], "a.yaml", []],
    [["run", "--config", "a.yaml", "--verbose"], "a.yaml", ["run", "--verbose"]],
    [["--config=a=b.yaml"], "a=b.yaml", []],
    [["--config", "a.yaml", "-config", "b.yaml"], "b.yaml", []],
    [["--configs", "x"], undefined, ["--configs", "x"]],
    [["--", "--config", "a.yaml"], undefined, ["--", "--config", "a.yaml"]],
    [[], undefined, []],
  ];
  for (const [argv, configPath, rest] of forms) {
    it(`${JSON.stringify(argv)} → ${String(configPath)}`, () => {
      assert.deepEqual(extractConfigFlag(argv), { configPath, rest });
    });
  }

  for (const argv of [
    ["--config"],
    ["-config"],
    ["--config="],
    ["-config="],
    ["--config", "--help"],
  ]) {
    it(`${JSON.stringify(argv)} is a ConfigError`, () => {
      const error = configError(() => extractConfigFlag(argv));
      assert.match(error.message, /config needs a file path/);
    });
  }

  it("feeds loadConfig: -config and --config= load the same file", () => {
    const cwd = dirWithFixture("full.yaml", "fs.yaml");
    for (const argv of [["-config", "fs.yaml"], ["--config=fs.yaml"]]) {
      const { configPath } = extractConfigFlag(argv);
      assert.deepEqual(load({ cwd, configPath }), { ...FULL, source: path.join(cwd, "fs.yaml") });
    }
  });
});

describe("renderConfig and secretsOf", () => {
  const env = {
    FSAGENT_REDIS_PASSWORD: "redis-env-secret",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod",
  };

  it("lists every non-empty secret once", () => {
    const config = load({ cwd: dirWithFixture("full.yaml"), env });
    assert.deepEqual(secretsOf(config).sort(), [
      "ClueCon-fs1",
      "acme-tenant-token",
      "api-key-value",
      "redis-env-secret",
      "s3cr3t fs2",
    ]);
    const defaults = load({ env: { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES } });
    assert.deepEqual(secretsOf(defaults), ["env-pw"]);
  });

  it("masks every secret and parses back as YAML with the file's keys", () => {
    const config = load({ cwd: dirWithFixture("full.yaml"), env });
    const text = renderConfig(config);
    for (const secret of secretsOf(config)) assert.ok(!text.includes(secret), `leaks ${secret}`);
    const parsed = YAML.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), [
      "freeswitch_instances",
      "storage",
      "opentelemetry",
      "http",
      "logging",
      "events",
      "metrics",
      "logs",
      "esl",
      "ha",
      "health",
      "lookups",
    ]);
    assert.deepEqual(parsed.freeswitch_instances, [
      { name: "fs1", host: "192.168.1.10", port: 8021, password: "***" },
      { name: "fs2", host: "fs2.example.net", port: 9021, password: "***" },
    ]);
    assert.deepEqual(parsed.storage, {
      type: "redis",
      max_legs: 250000,
      leg_ttl: "2h",
      redis: {
        host: "redis.internal",
        port: 6380,
        password: "***",
        db: 3,
        key_prefix: "voip:fsagent:",
        username: "",
        tls: false,
        ca_file: "",
      },
    });
    assert.deepEqual(parsed.opentelemetry, {
      enabled: true,
      protocol: "grpc",
      endpoint: "https://otel.example.net:4317",
      insecure: false,
      headers: { "x-api-key": "***", "x-tenant": "***" },
      compression: "none",
      export_interval: "15s",
      export_timeout: "3s",
      retry_queue_size: 2500,
      tls: { ca_file: "", cert_file: "", key_file: "" },
    });
    assert.deepEqual(parsed.esl, {
      connect_timeout: "2500ms",
      command_timeout: "750ms",
      idle_timeout: "1m",
      max_frame_bytes: 1048576,
      backoff: { initial: "500ms", factor: 1.5, max: "90s", reset_after: "2h" },
    });
    assert.deepEqual(parsed.ha, {
      enabled: true,
      lease_ttl: "20s",
      unreachable_release_after: "45s",
      replica_id: "agent-a",
    });
    assert.deepEqual(parsed.lookups, { rate: 25, not_found_ttl: "2m", max_waiting_bytes: 1048576 });
    assert.match(text, /resource attributes: \{"deployment.environment":"prod"\}/);
  });

  it("leaves an empty password empty", () => {
    const text = renderConfig(load({ requireInstances: false }));
    assert.equal(
      (YAML.parse(text) as { storage: { redis: { password: string } } }).storage.redis.password,
      "",
    );
  });

  it("renders a file the loader reads back to the same configuration, secrets aside", () => {
    const config = load({ cwd: dirWithFixture("full.yaml"), env });
    const cwd = dirWith({ "config.yaml": renderConfig(config) });
    const again = load({ cwd });
    const masked = (c: Config) => ({
      ...c,
      source: null,
      freeswitchInstances: c.freeswitchInstances.map((i) => ({ ...i, password: "***" })),
      storage: { ...c.storage, redis: { ...c.storage.redis, password: "***" } },
      opentelemetry: {
        ...c.opentelemetry,
        headers: { "x-api-key": "***", "x-tenant": "***" },
        resourceAttributes: {},
      },
    });
    assert.deepEqual(masked(again), masked(config));
  });
});

describe("ENV_VARS", () => {
  it("lists every variable the loader reads, once", () => {
    assert.equal(new Set(ENV_VARS).size, ENV_VARS.length);
    for (const name of [
      "FSAGENT_FREESWITCH_INSTANCES",
      "FSAGENT_HTTP_HOST",
      "FSAGENT_ESL_BACKOFF_RESET_AFTER",
      "OTEL_SERVICE_NAME",
      "OTEL_RESOURCE_ATTRIBUTES",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      "OTEL_EXPORTER_OTLP_COMPRESSION",
      "FSAGENT_OTEL_PROTOCOL",
      "FSAGENT_OTEL_COMPRESSION",
    ]) {
      assert.ok(ENV_VARS.includes(name), name);
    }
    assert.equal(ENV_VARS.length, 60);
  });

  it("ignores variables it does not list", () => {
    const config = load({
      env: {
        FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
        FSAGENT_HTTP_PROT: "1",
        OTEL_EXPORTER_OTLP_HEADERS: "a=b",
      },
    });
    assert.equal(config.http.port, 8080);
    assert.deepEqual(config.opentelemetry.headers, {});
  });
});

it("config.example.yaml loads and equals the defaults for one instance", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const example = loadConfig({
    configPath: path.join(root, "config.example.yaml"),
    env: {},
    cwd: root,
  });
  const defaults = loadConfig({
    env: { FSAGENT_FREESWITCH_INSTANCES: '[{"name":"fs1","host":"127.0.0.1"}]' },
    cwd: tmpdir(),
  });
  const { source: _a, opentelemetry: otelA, ...restA } = example;
  const { source: _b, opentelemetry: otelB, ...restB } = defaults;
  assert.deepEqual(restA, restB);
  assert.deepEqual({ ...otelA, endpointExplicit: false }, otelB);
});

it("reads the HA settings: off by default, a 15 s lease TTL, the replica id resolved at start", () => {
  const defaults = load({ env: { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES } });
  assert.deepEqual(defaults.ha, {
    enabled: false,
    leaseTtlMs: 15_000,
    unreachableReleaseAfterMs: 30_000,
    replicaId: "",
  });
  const env = {
    FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
    FSAGENT_STORAGE_TYPE: "redis",
    FSAGENT_HA_ENABLED: "TRUE",
  };
  // FSAGENT_HA_LEASE_TTL is seconds, like every duration given as a bare number; units work too.
  for (const [ttl, ms] of [
    ["15", 15_000],
    ["4.5", 4_500],
    ["1", 1_000],
    ["30s", 30_000],
    ["2500ms", 2_500],
    ["1h", 3_600_000],
  ] as const) {
    const config = load({ env: { ...env, FSAGENT_HA_LEASE_TTL: ttl } });
    assert.deepEqual(
      config.ha,
      { enabled: true, leaseTtlMs: ms, unreachableReleaseAfterMs: 30_000, replicaId: "" },
      ttl,
    );
  }
  const named = load({ env: { ...env, FSAGENT_HA_REPLICA_ID: "fsagent-7d9c5-x2k4q" } });
  assert.equal(named.ha.replicaId, "fsagent-7d9c5-x2k4q");
  const fromYaml = load({
    cwd: dirWith({
      "config.yaml": `${ONE_INSTANCE}storage: { type: redis }\nha: { enabled: true, lease_ttl: 3, replica_id: 7 }\n`,
    }),
  });
  assert.deepEqual(fromYaml.ha, {
    enabled: true,
    leaseTtlMs: 3_000,
    unreachableReleaseAfterMs: 30_000,
    replicaId: "7",
  });
});

it("switches OTLP export off through the file, FSAGENT_OTEL_ENABLED or OTEL_SDK_DISABLED", () => {
  const enabled = (env: Record<string, string>, yaml = "") =>
    loadConfig({
      env: { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES, ...env },
      cwd: yaml === "" ? tmpdir() : dirWith({ "config.yaml": yaml }),
    }).opentelemetry.enabled;
  assert.equal(enabled({}), true);
  assert.equal(enabled({}, "opentelemetry: { enabled: false }\n"), false);
  // An empty endpoint in the file has always meant no export.
  assert.equal(enabled({}, 'opentelemetry: { endpoint: "" }\n'), false);
  assert.equal(enabled({ FSAGENT_OTEL_ENABLED: "false" }), false);
  assert.equal(
    enabled({ FSAGENT_OTEL_ENABLED: "false" }, "opentelemetry: { enabled: true }\n"),
    false,
  );
  // OTEL_SDK_DISABLED=true (the OTel spec's switch for every signal), unless the file or
  // FSAGENT_OTEL_ENABLED says otherwise; another value changes nothing.
  assert.equal(enabled({ OTEL_SDK_DISABLED: "true" }), false);
  assert.equal(enabled({ OTEL_SDK_DISABLED: "TRUE" }), false);
  assert.equal(enabled({ OTEL_SDK_DISABLED: "false" }), true);
  assert.equal(enabled({ OTEL_SDK_DISABLED: "true", FSAGENT_OTEL_ENABLED: "true" }), true);
  assert.equal(enabled({ OTEL_SDK_DISABLED: "true" }, "opentelemetry: { enabled: true }\n"), true);
  const error = configError(() =>
    load({ env: { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES, FSAGENT_OTEL_ENABLED: "off-ish" } }),
  );
  assert.match(
    error.message,
    /^config error: FSAGENT_OTEL_ENABLED = "off-ish" \(env\): expected one of true, false/,
  );
});

it("takes OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT (milliseconds) when nothing else sets them", () => {
  const env = {
    FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
    OTEL_METRIC_EXPORT_INTERVAL: "30000",
    OTEL_METRIC_EXPORT_TIMEOUT: "4000",
  };
  const config = loadConfig({ env, cwd: tmpdir() });
  assert.equal(config.opentelemetry.exportIntervalMs, 30_000);
  assert.equal(config.opentelemetry.exportTimeoutMs, 4_000);
  const overridden = loadConfig({
    env: { ...env, FSAGENT_OTEL_EXPORT_INTERVAL: "5s", FSAGENT_OTEL_EXPORT_TIMEOUT: "1s" },
    cwd: tmpdir(),
  });
  assert.equal(overridden.opentelemetry.exportIntervalMs, 5_000);
  assert.equal(overridden.opentelemetry.exportTimeoutMs, 1_000);
});

it("a lone export interval brings the timeout down with it; a lone timeout brings the interval up", () => {
  const timing = (env: Record<string, string>, yaml = "") => {
    const cwd = yaml === "" ? tmpdir() : dirWith({ "config.yaml": `${ONE_INSTANCE}${yaml}` });
    const otel = loadConfig({
      env: yaml === "" ? { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES, ...env } : env,
      cwd,
    }).opentelemetry;
    return [otel.exportIntervalMs, otel.exportTimeoutMs];
  };
  // The OTel variable alone: 1 s, no timeout anywhere (this was refused: "no shorter than 5s").
  assert.deepEqual(timing({ OTEL_METRIC_EXPORT_INTERVAL: "1000" }), [1_000, 1_000]);
  assert.deepEqual(timing({ FSAGENT_OTEL_EXPORT_INTERVAL: "2s" }), [2_000, 2_000]);
  assert.deepEqual(timing({ FSAGENT_OTEL_EXPORT_INTERVAL: "30s" }), [30_000, 5_000]);
  assert.deepEqual(timing({}, "opentelemetry: { export_interval: 500ms }\n"), [500, 500]);
  assert.deepEqual(timing({ OTEL_METRIC_EXPORT_TIMEOUT: "20000" }), [20_000, 20_000]);
  assert.deepEqual(timing({ FSAGENT_OTEL_EXPORT_TIMEOUT: "3s" }), [10_000, 3_000]);
  assert.deepEqual(timing({}), [10_000, 5_000]);
});

it("rejects an export timeout longer than the export interval", () => {
  const env = {
    FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
    FSAGENT_OTEL_EXPORT_INTERVAL: "2s",
    FSAGENT_OTEL_EXPORT_TIMEOUT: "5s",
  };
  assert.throws(
    () => loadConfig({ env, cwd: tmpdir() }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes("FSAGENT_OTEL_EXPORT_TIMEOUT") &&
      error.message.includes("no longer than opentelemetry.export_interval"),
  );
});

it("rejects a line break in a password: it would smuggle a second command into `auth`", () => {
  const env = {
    FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
      { name: "fs1", host: "127.0.0.1", password: "ClueCon\n\nevent plain ALL" },
    ]),
  };
  assert.throws(
    () => loadConfig({ env, cwd: tmpdir() }),
    (error: unknown) =>
      error instanceof ConfigError &&
      !error.message.includes("\n") &&
      error.message.includes("FSAGENT_FREESWITCH_INSTANCES[0].password") &&
      error.message.includes("without line breaks") &&
      !error.message.includes("event plain"),
  );
});

it("reads the TLS and Redis ACL settings from env and checks the files exist", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "fsagent-tls-"));
  const ca = path.join(dir, "ca.pem");
  const cert = path.join(dir, "client.pem");
  const key = path.join(dir, "client.key");
  for (const file of [ca, cert, key]) writeFileSync(file, "-----BEGIN CERTIFICATE-----\n");
  try {
    const config = loadConfig({
      env: {
        FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES,
        FSAGENT_OTEL_CA_FILE: ca,
        FSAGENT_OTEL_CERT_FILE: cert,
        FSAGENT_OTEL_KEY_FILE: key,
        FSAGENT_REDIS_USERNAME: "fsagent",
        FSAGENT_REDIS_TLS: "yes",
        FSAGENT_REDIS_CA_FILE: ca,
      },
      cwd: dir,
    });
    assert.deepEqual(config.opentelemetry.tls, { caFile: ca, certFile: cert, keyFile: key });
    assert.equal(config.storage.redis.username, "fsagent");
    assert.equal(config.storage.redis.tls, true);
    assert.equal(config.storage.redis.caFile, ca);

    const failing = (env: Record<string, string>, needle: string): void => {
      assert.throws(
        () =>
          loadConfig({ env: { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES, ...env }, cwd: dir }),
        (error: unknown) =>
          error instanceof ConfigError &&
          !error.message.includes("\n") &&
          error.message.includes(needle),
      );
    };
    failing({ FSAGENT_OTEL_CERT_FILE: cert }, "opentelemetry.tls.key_file");
    failing({ FSAGENT_OTEL_KEY_FILE: key }, "opentelemetry.tls.cert_file");
    failing({ FSAGENT_OTEL_CA_FILE: path.join(dir, "missing.pem") }, "no such file");
    failing({ FSAGENT_REDIS_CA_FILE: path.join(dir, "missing.pem") }, "FSAGENT_REDIS_CA_FILE");
    failing({ FSAGENT_REDIS_TLS: "maybe" }, "FSAGENT_REDIS_TLS");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("loadConfig: OTLP protocol, endpoints and compression", () => {
  const base = { FSAGENT_FREESWITCH_INSTANCES: ENV_INSTANCES };
  const otel = (env: Record<string, string>, yaml?: string) =>
    load({
      env: yaml === undefined ? { ...base, ...env } : env,
      ...(yaml === undefined ? {} : { cwd: dirWith({ "config.yaml": ONE_INSTANCE + yaml }) }),
    }).opentelemetry;

  it("defaults to gRPC on localhost:4317, without compression", () => {
    const c = otel({});
    assert.equal(c.protocol, "grpc");
    assert.equal(c.endpoint, "localhost:4317");
    assert.equal(c.signalEndpoints, undefined);
    assert.equal(c.compression, "none");
  });

  it("http/protobuf defaults to http://localhost:4318 and appends /v1/metrics and /v1/logs", () => {
    const c = otel({ FSAGENT_OTEL_PROTOCOL: "http/protobuf" });
    assert.equal(c.protocol, "http/protobuf");
    assert.equal(c.endpoint, "http://localhost:4318");
    assert.equal(c.endpointExplicit, false);
    assert.deepEqual(c.signalEndpoints, {
      metrics: "http://localhost:4318/v1/metrics",
      logs: "http://localhost:4318/v1/logs",
    });
  });

  it("keeps a base URL's path and takes a URL without a port (Grafana Cloud's gateway)", () => {
    const c = otel({
      FSAGENT_OTEL_PROTOCOL: "HTTP/PROTOBUF",
      FSAGENT_OTEL_ENDPOINT: "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/",
    });
    assert.deepEqual(c.signalEndpoints, {
      metrics: "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/metrics",
      logs: "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/logs",
    });
  });

  // FSAGENT_OTEL_PROTOCOL > file > OTEL_EXPORTER_OTLP_PROTOCOL > grpc; the same for compression.
  it("takes OTEL_EXPORTER_OTLP_PROTOCOL and _COMPRESSION below FSAGENT_* and the file", () => {
    const std = {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
    };
    const alone = otel(std);
    assert.equal(alone.protocol, "http/protobuf");
    assert.equal(alone.compression, "gzip");
    const file = otel(std, "opentelemetry: { protocol: grpc, compression: none }\n");
    assert.equal(file.protocol, "grpc");
    assert.equal(file.compression, "none");
    const fsagent = otel(
      { ...std, FSAGENT_OTEL_PROTOCOL: "grpc", FSAGENT_OTEL_COMPRESSION: "none" },
      "opentelemetry: { protocol: http/protobuf, compression: gzip }\n",
    );
    assert.equal(fsagent.protocol, "grpc");
    assert.equal(fsagent.compression, "none");
  });

  const httpCases: {
    name: string;
    env: Record<string, string>;
    file?: string;
    metrics: string;
    logs: string;
  }[] = [
    {
      name: "OTEL_EXPORTER_OTLP_ENDPOINT is a base URL",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4318/prefix" },
      metrics: "http://generic:4318/prefix/v1/metrics",
      logs: "http://generic:4318/prefix/v1/logs",
    },
    {
      name: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is used as it is; the logs take the generic base",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://generic:4318",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://prom:9090/api/v1/otlp/v1/metrics",
      },
      metrics: "http://prom:9090/api/v1/otlp/v1/metrics",
      logs: "http://generic:4318/v1/logs",
    },
    {
      name: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT alone: the logs go beside it",
      env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "https://gw.example/otlp/v1/metrics" },
      metrics: "https://gw.example/otlp/v1/metrics",
      logs: "https://gw.example/otlp/v1/logs",
    },
    {
      name: "a metrics URL with another path: the logs go to that server's /v1/logs",
      env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://m:4318/ingest" },
      metrics: "http://m:4318/ingest",
      logs: "http://m:4318/v1/logs",
    },
    {
      name: "the file beats OTEL_*, and is a base URL",
      env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://metrics:4318/v1/metrics" },
      file: "http://file:4318",
      metrics: "http://file:4318/v1/metrics",
      logs: "http://file:4318/v1/logs",
    },
  ];
  for (const c of httpCases) {
    it(`http/protobuf: ${c.name}`, () => {
      const env = { ...base, FSAGENT_OTEL_PROTOCOL: "http/protobuf", ...c.env };
      const loaded =
        c.file === undefined ? otel(env) : otel(env, `opentelemetry: { endpoint: "${c.file}" }\n`);
      assert.deepEqual(loaded.signalEndpoints, { metrics: c.metrics, logs: c.logs });
    });
  }

  const misfits: { name: string; env: Record<string, string>; file?: string; line: RegExp }[] = [
    {
      name: "a bad protocol",
      env: { FSAGENT_OTEL_PROTOCOL: "http/json" },
      line: /^config error: FSAGENT_OTEL_PROTOCOL = "http\/json" \(env\): expected one of grpc, http\/protobuf \(http\/json is not supported\)$/,
    },
    {
      name: "a bad OTEL_EXPORTER_OTLP_PROTOCOL",
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc/json" },
      line: /^config error: OTEL_EXPORTER_OTLP_PROTOCOL = "grpc\/json" \(env\): expected one of grpc, http\/protobuf/,
    },
    {
      name: "a bad compression",
      env: { OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" },
      line: /^config error: OTEL_EXPORTER_OTLP_COMPRESSION = "zstd" \(env\): expected one of none, gzip$/,
    },
    {
      name: "host:port with http/protobuf",
      env: { FSAGENT_OTEL_PROTOCOL: "http/protobuf", FSAGENT_OTEL_ENDPOINT: "collector:4317" },
      line: /^config error: FSAGENT_OTEL_ENDPOINT = "collector:4317" \(env\): expected an http:\/\/ or https:\/\/ URL with opentelemetry.protocol http\/protobuf \(e.g. http:\/\/collector:4318\)$/,
    },
    {
      name: "a URL without a port with gRPC",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "https://collector.example" },
      line: /^config error: OTEL_EXPORTER_OTLP_ENDPOINT = "https:\/\/collector.example" \(env\): expected a port with opentelemetry.protocol grpc/,
    },
    {
      name: "a signal URL where the base URL belongs",
      env: { FSAGENT_OTEL_PROTOCOL: "http/protobuf" },
      file: "http://c:4318/v1/metrics",
      line: /^config error: opentelemetry.endpoint = "http:\/\/c:4318\/v1\/metrics" \(.*config.yaml\): expected the base URL with opentelemetry.protocol http\/protobuf \(http:\/\/c:4318\): \/v1\/metrics and \/v1\/logs are appended to it$/,
    },
  ];
  for (const c of misfits) {
    it(`refuses ${c.name} with one line naming where it came from`, () => {
      const error = configError(() =>
        c.file === undefined
          ? otel(c.env)
          : otel(c.env, `opentelemetry: { endpoint: "${c.file}" }\n`),
      );
      assert.equal(error.problems.length, 1, error.message);
      assert.match(error.message, c.line);
    });
  }

  it("check-config shows the protocol, the compression and the URLs OTLP/HTTP posts to", () => {
    const config = load({
      env: {
        ...base,
        FSAGENT_OTEL_PROTOCOL: "http/protobuf",
        FSAGENT_OTEL_ENDPOINT: "https://gw.example/otlp",
        FSAGENT_OTEL_COMPRESSION: "gzip",
      },
    });
    const text = renderConfig(config);
    const parsed = YAML.parse(text) as { opentelemetry: Record<string, unknown> };
    assert.equal(parsed.opentelemetry.protocol, "http/protobuf");
    assert.equal(parsed.opentelemetry.compression, "gzip");
    assert.match(
      text,
      /# OTLP\/HTTP: metrics to "https:\/\/gw.example\/otlp\/v1\/metrics", quality records to "https:\/\/gw.example\/otlp\/v1\/logs"/,
    );
    // And the rendered file loads back to the same place.
    const again = load({ cwd: dirWith({ "config.yaml": text }) });
    assert.deepEqual(again.opentelemetry.signalEndpoints, config.opentelemetry.signalEndpoints);
  });
});
