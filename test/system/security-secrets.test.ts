import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CallGenerator, SimServer } from "../../src/sim/index.js";
import { CliProcess, killAllChildren, runCli, tempDir } from "../support/child.js";
import { closedPort, httpRequest, pollUntil } from "../support/net.js";
import { sleep } from "../support/wait.js";

// Issue 4, Security: no secret (ESL passwords, Redis password, OTLP header values) ever appears
// in the agent's logs at any level, /health, /metrics, /api/status, the status page,
// check-config output or config errors.
// Every secret is distinctive and carries characters that URL-encoding and JSON-escaping change,
// so a leak in any of those forms is caught, not just the raw text.

/** Accepted by fs1's simulator. */
const ESL_GOOD = 'EslGood"S3cr3t/Qx71+a';
/** Sent to fs2, whose simulator expects something else: the auth failure path logs. */
const ESL_WRONG = "EslWrong\\S3cr3t%Zp42&b";
/** For fs3, where nothing listens: the connection-refused path logs. */
const ESL_REFUSED = "EslRefused S3cr3t=Mv93?c";
/** Sent with an ACL user that does not exist, so Redis answers WRONGPASS and the store logs. */
const REDIS_PW = "RedisPw+S3cr3t/Hn55\\d";
/** gRPC metadata value: printable ASCII only. */
const OTEL_HEADER = "OtelHdr+S3cr3t/Kd08=e";

const SECRETS: Readonly<Record<string, string>> = {
  ESL_GOOD,
  ESL_WRONG,
  ESL_REFUSED,
  REDIS_PW,
  OTEL_HEADER,
};

/** The forms a secret could take on the way out: raw, URL-encoded, JSON-escaped, base64. */
function forms(secret: string): string[] {
  // The alphanumeric core ("S3cr3t/Qx71" -> "Qx71") also catches a truncated excerpt.
  const core = /S3cr3t.([A-Za-z0-9]+)/.exec(secret)?.[1] ?? secret;
  return [
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    secret.replaceAll(" ", "+"),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(JSON.stringify(secret)).slice(1, -1),
    Buffer.from(secret).toString("base64"),
    `S3cr3t${secret[secret.indexOf("S3cr3t") + 6] ?? ""}${core}`,
    core,
  ];
}

/** Fails naming the secret, the form and where it leaked, with some context around it. */
function assertNoSecret(where: string, text: string, secrets: Readonly<Record<string, string>>) {
  for (const [name, secret] of Object.entries(secrets)) {
    for (const form of forms(secret)) {
      const at = text.indexOf(form);
      assert.equal(
        at,
        -1,
        `${name} leaked into ${where} as ${JSON.stringify(form)}: …${text.slice(Math.max(0, at - 120), at + 120)}…`,
      );
    }
  }
}

let cwd = "";
let removeCwd = (): void => undefined;
const sims: SimServer[] = [];
let generator: CallGenerator | undefined;

before(() => {
  const temp = tempDir();
  cwd = temp.dir;
  removeCwd = temp.remove;
});

after(async () => {
  generator?.stop();
  await killAllChildren();
  await Promise.all(sims.map((s) => s.stop()));
  removeCwd();
});

/** The environment of the running agent; also what check-config is run with. */
async function secretEnv(port1: number, port2: number): Promise<Record<string, string>> {
  const refused = await closedPort();
  const otlp = await closedPort();
  return {
    FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
      { name: "fs1", host: "127.0.0.1", port: port1, password: ESL_GOOD },
      { name: "fs2", host: "127.0.0.1", port: port2, password: ESL_WRONG },
      { name: "fs3", host: "127.0.0.1", port: refused, password: ESL_REFUSED },
    ]),
    FSAGENT_STORAGE_TYPE: "redis",
    FSAGENT_REDIS_HOST: "127.0.0.1",
    FSAGENT_REDIS_PORT: "6379",
    // The shared Redis may have no password at all; an unknown ACL user makes AUTH fail
    // (WRONGPASS) either way, so the store's error paths run with the password in hand.
    FSAGENT_REDIS_USERNAME: "fsagent-security-test-no-such-user",
    FSAGENT_REDIS_PASSWORD: REDIS_PW,
    FSAGENT_REDIS_KEY_PREFIX: `fsagent-sec-${process.pid}:`,
    // Nothing listens there: every export fails and the exporter's error paths log.
    FSAGENT_OTEL_ENDPOINT: `127.0.0.1:${otlp}`,
    FSAGENT_OTEL_HEADERS: `x-api-key=${OTEL_HEADER},x-tenant=public-value`,
    FSAGENT_OTEL_EXPORT_INTERVAL: "500ms",
    FSAGENT_OTEL_EXPORT_TIMEOUT: "300ms",
    FSAGENT_ESL_BACKOFF_INITIAL: "50ms",
    FSAGENT_ESL_BACKOFF_MAX: "200ms",
    FSAGENT_HTTP_HOST: "127.0.0.1",
    FSAGENT_HTTP_PORT: "0",
    FSAGENT_LOG_LEVEL: "debug",
  };
}

describe("secrets never leak", () => {
  it("not from a running agent: logs at debug, /health, /metrics, through failures", async () => {
    const fs1 = new SimServer({ heartbeatIntervalMs: 200, password: ESL_GOOD });
    const fs2 = new SimServer({ heartbeatIntervalMs: 200, password: "the-simulators-own-pw" });
    sims.push(fs1, fs2);
    const port1 = await fs1.listen(0);
    const port2 = await fs2.listen(0);
    const env = await secretEnv(port1, port2);

    const agent = new CliProcess([], { cwd, env, timeoutMs: 20_000 });
    const url = await agent.jsonHttpUrl();
    await pollUntil(
      async () => JSON.parse((await httpRequest(`${url}/health`)).body) as unknown,
      (b) =>
        typeof b === "object" &&
        b !== null &&
        JSON.stringify(b).includes('"fs1":{"connected":true'),
      "fs1 connected",
      // The agent waits a while for the (failing) Redis store before it connects.
      15_000,
    );

    // Real call traffic on fs1, so the store (failing Redis) and the exporter have work.
    generator = new CallGenerator({
      factory: fs1.factory,
      channels: fs1.channels,
      sink: (event) => fs1.publish(event),
      callsPerSecond: 10,
      seed: 7,
    });
    generator.start(50);
    // Protocol-error path too: its log line quotes an excerpt of the offending bytes.
    fs1.sendRaw("Content-Length: nope\n\n");
    await sleep(3000);
    generator.stop();

    const healthReply = await httpRequest(`${url}/health`);
    const readyReply = await httpRequest(`${url}/ready`);
    const metricsReply = await httpRequest(`${url}/metrics`);
    assert.equal(metricsReply.status, 200);
    const statusReply = await httpRequest(`${url}/api/status?limit=500`);
    assert.equal(statusReply.status, 200);
    const pageReply = await httpRequest(`${url}/`);
    assert.equal(pageReply.status, 200);
    assert.equal(agent.running, true, `the agent survived the failures:\n${agent}`);

    // The failure paths really ran, or the absence of secrets would prove nothing.
    const health = healthReply.body;
    assert.match(
      health,
      /"fs2":\{"connected":false,"state":"(auth_failed|connecting|authenticating|disconnected)"/,
    );
    assert.match(health, /authentication failed/);
    assert.match(health, /"fs3":\{"connected":false/);
    // The status API shows the same failures, and the legs of fs1's calls.
    assert.match(statusReply.body, /"name":"fs2","state":"[a-z_]+","connected":false/);
    assert.match(statusReply.body, /"channel_id":"[0-9a-f-]{36}"/);
    assert.match(agent.stdout, /WRONGPASS|Redis unavailable/, "the Redis auth failure was logged");
    assert.match(agent.stdout + agent.stderr, /"level":(20|"debug")/, "debug lines were logged");

    agent.signal("SIGTERM");
    await agent.waitForExit(10_000).catch(() => agent.kill());

    assertNoSecret("stdout", agent.stdout, SECRETS);
    assertNoSecret("stderr", agent.stderr, SECRETS);
    assertNoSecret("/health", health, SECRETS);
    assertNoSecret("/ready", readyReply.body, SECRETS);
    assertNoSecret("/metrics", metricsReply.body, SECRETS);
    assertNoSecret("/api/status", statusReply.body, SECRETS);
    assertNoSecret("/ (status page)", pageReply.body, SECRETS);

    const check = await runCli(["check-config"], { cwd, env });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /\*\*\*/, "check-config masks the secrets");
    assert.match(check.stdout, /public-value|x-tenant/, "check-config shows the non-secret header");
    assertNoSecret("check-config stdout", check.stdout, SECRETS);
    assertNoSecret("check-config stderr", check.stderr, SECRETS);
  });

  it("not from config errors, even with the secret next to (or as) the bad value", async () => {
    const instance = (extra: Record<string, unknown>) =>
      JSON.stringify([
        { name: "fs1", host: "127.0.0.1", port: 8021, password: ESL_GOOD, ...extra },
      ]);
    const file = (name: string, yaml: string): string => {
      const p = path.join(cwd, name);
      writeFileSync(p, yaml);
      return p;
    };

    interface BadConfig {
      readonly what: string;
      readonly env?: Record<string, string>;
      readonly file?: string;
    }
    const cases: BadConfig[] = [
      {
        what: "bad port beside an ESL password",
        env: { FSAGENT_FREESWITCH_INSTANCES: instance({ port: "x8021" }) },
      },
      {
        what: "bad host beside an ESL password",
        env: { FSAGENT_FREESWITCH_INSTANCES: instance({ host: "bad host!" }) },
      },
      {
        what: "duplicate instance names",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
            { name: "fs1", host: "a", password: ESL_GOOD },
            { name: "fs1", host: "b", password: ESL_WRONG },
          ]),
        },
      },
      {
        what: "a password with a line break",
        env: { FSAGENT_FREESWITCH_INSTANCES: instance({ password: `${ESL_GOOD}\nmore` }) },
      },
      {
        what: "a number as password",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({ password: 7_391_846_205, extra: ESL_WRONG }),
        },
      },
      {
        what: "instances JSON broken after the password",
        env: { FSAGENT_FREESWITCH_INSTANCES: `${instance({}).slice(0, -3)} ,,` },
      },
      {
        what: "bad Redis port beside the Redis password",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({}),
          FSAGENT_REDIS_PASSWORD: REDIS_PW,
          FSAGENT_REDIS_PORT: "abc",
        },
      },
      {
        what: "a Redis password with a line break",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({}),
          FSAGENT_REDIS_PASSWORD: `${REDIS_PW}\nx`,
        },
      },
      {
        what: "OTLP headers with an item without '='",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({}),
          FSAGENT_OTEL_HEADERS: `x-api-key=${OTEL_HEADER},${REDIS_PW}`,
        },
      },
      {
        what: "OTLP header with a non-printable value",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({}),
          FSAGENT_OTEL_HEADERS: `x-api-key=${OTEL_HEADER}\u0001`,
        },
      },
      {
        what: "OTLP header with a bad name",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({}),
          FSAGENT_OTEL_HEADERS: `bad name!=${OTEL_HEADER}`,
        },
      },
      {
        what: "bad OTLP endpoint beside the headers",
        env: {
          FSAGENT_FREESWITCH_INSTANCES: instance({}),
          FSAGENT_OTEL_HEADERS: `x-api-key=${OTEL_HEADER}`,
          FSAGENT_OTEL_ENDPOINT: "ftp://nope:99999",
        },
      },
      {
        what: "YAML file: bad Redis port beside the password",
        file: file(
          "redis-port.yaml",
          `freeswitch_instances:\n  - {name: fs1, host: 127.0.0.1, password: ${JSON.stringify(ESL_GOOD)}}\nstorage:\n  type: redis\n  redis:\n    password: ${JSON.stringify(REDIS_PW)}\n    port: notaport\n`,
        ),
      },
      {
        what: "YAML file: syntax error on the password line",
        file: file(
          "syntax.yaml",
          `freeswitch_instances:\n  - name: fs1\n    host: 127.0.0.1\n    password: "${ESL_GOOD.replaceAll('"', "")}\n    port: [8021\n`,
        ),
      },
      {
        what: "YAML file: syntax error right after the Redis password",
        file: file(
          "syntax2.yaml",
          `storage:\n  redis:\n    password: ${JSON.stringify(REDIS_PW)}\n    port: : : 6379\n   bad: indent\n`,
        ),
      },
      {
        what: "YAML file: non-string header values",
        file: file(
          "headers.yaml",
          `freeswitch_instances:\n  - {name: fs1, host: 127.0.0.1}\nopentelemetry:\n  headers:\n    x-api-key: [${JSON.stringify(OTEL_HEADER)}]\n    x-other: {k: ${JSON.stringify(REDIS_PW)}}\n`,
        ),
      },
      {
        what: "YAML file: a mapping as the ESL password",
        file: file(
          "password-map.yaml",
          `freeswitch_instances:\n  - name: fs1\n    host: 127.0.0.1\n    password: {value: ${JSON.stringify(ESL_GOOD)}}\n`,
        ),
      },
      {
        what: "YAML file: unknown key next to secrets",
        file: file(
          "unknown.yaml",
          `freeswitch_instances:\n  - {name: fs1, host: 127.0.0.1, password: ${JSON.stringify(ESL_GOOD)}, passwrod: ${JSON.stringify(ESL_WRONG)}}\n`,
        ),
      },
    ];

    // The file's ESL_GOOD had its quote removed for the syntax-error case; check that form too.
    const secrets = { ...SECRETS, ESL_GOOD_UNQUOTED: ESL_GOOD.replaceAll('"', "") };
    for (const [index, c] of cases.entries()) {
      const args = c.file === undefined ? [] : ["--config", c.file];
      // `run` loads the config the same way; a few cases through it keep the file fast.
      const commands = index < 3 || index === 13 ? [["check-config"], []] : [["check-config"]];
      for (const command of commands) {
        const result = await runCli([...command, ...args], { cwd, env: c.env ?? {} });
        const where = `${command[0] ?? "run"} with ${c.what}`;
        assert.equal(result.code, 2, `${where} exits 2:\n${result.stdout}\n${result.stderr}`);
        assert.notEqual(result.stderr.trim(), "", `${where} explains itself`);
        assertNoSecret(`${where} (stderr)`, result.stderr, secrets);
        assertNoSecret(`${where} (stdout)`, result.stdout, secrets);
      }
    }
  });
});
