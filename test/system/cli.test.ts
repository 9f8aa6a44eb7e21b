import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import YAML from "yaml";
import { type CliResult, killAllChildren, runCli, tempDir } from "../support/child.js";

// The built command line (dist/cli.js) as a user runs it: exit codes, what goes to stdout and
// stderr, and that no secret is ever printed.

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

// Distinctive, so that a leak cannot hide behind a coincidence.
const SECRETS = {
  esl1: "EslPw-fs1-7hQ2xZ",
  esl2: "Esl Pw fs2 K9mW",
  redis: "RedisPw-Vb41Lq",
  apiKey: "OtlpApiKey-Zx81Pq",
  tenant: "OtlpTenantTok-Ee52Rt",
} as const;
const ALL_SECRETS: readonly string[] = Object.values(SECRETS);

let cwd = "";
let removeCwd = (): void => undefined;

before(() => {
  const temp = tempDir();
  cwd = temp.dir;
  removeCwd = temp.remove;
});

after(async () => {
  await killAllChildren();
  removeCwd();
});

function writeConfig(name: string, text: string): string {
  const file = path.join(cwd, name);
  writeFileSync(file, text);
  return file;
}

function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { cwd, env });
}

function assertNoSecrets(result: CliResult, secrets: readonly string[] = ALL_SECRETS): void {
  for (const secret of secrets) {
    assert.ok(!result.stdout.includes(secret), `stdout leaks ${secret}:\n${result.stdout}`);
    assert.ok(!result.stderr.includes(secret), `stderr leaks ${secret}:\n${result.stderr}`);
  }
}

/** Exit 2, nothing on stdout, exactly one line on stderr, no stack trace; returns the line. */
function assertOneLineFailure(result: CliResult): string {
  const shown = `stdout: ${JSON.stringify(result.stdout)}\nstderr: ${JSON.stringify(result.stderr)}`;
  assert.equal(result.code, 2, shown);
  assert.equal(result.stdout, "", shown);
  assert.ok(result.stderr.endsWith("\n"), shown);
  const lines = result.stderr.slice(0, -1).split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr\n${shown}`);
  assert.ok(!/^\s+at /m.test(result.stderr), `stack trace on stderr\n${shown}`);
  const [line = ""] = lines;
  assert.ok(line.trim().length > 0, shown);
  return line;
}

const FULL_CONFIG = `
freeswitch_instances:
  - name: fs1
    host: 127.0.0.1
    port: 8021
    password: ${SECRETS.esl1}
  - name: fs2
    host: fs2.example.net
    port: 9021
    password: "${SECRETS.esl2}"
storage:
  type: redis
  redis:
    host: redis.internal
    port: 6380
    password: ${SECRETS.redis}
    db: 3
opentelemetry:
  endpoint: otel.example.net:4317
  insecure: false
  headers:
    x-api-key: ${SECRETS.apiKey}
    x-tenant: ${SECRETS.tenant}
http:
  port: 9090
logging:
  level: debug
  format: text
`;

describe("fsagent --help / --version", () => {
  for (const args of [["--help"], ["-h"], ["help"]]) {
    it(`${args.join(" ")} prints the usage and exits 0`, async () => {
      const result = await cli(args);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
      assert.match(result.stdout, new RegExp(`^fsagent ${VERSION.replaceAll(".", "\\.")} `));
      assert.match(result.stdout, /Usage:/);
      for (const command of ["check-config", "demo", "simulate", "--config"]) {
        assert.ok(result.stdout.includes(command), `help does not mention ${command}`);
      }
      assert.match(result.stdout, /Exit codes: 0 .*2 invalid configuration or usage/);
    });
  }

  for (const args of [["--version"], ["-v"], ["version"]]) {
    it(`${args.join(" ")} prints the package version and exits 0`, async () => {
      const result = await cli(args);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${VERSION}\n`);
      assert.equal(result.stderr, "");
    });
  }
});

describe("fsagent check-config", () => {
  it("prints the effective YAML with every secret masked", async () => {
    const file = writeConfig("full.yaml", FULL_CONFIG);
    const result = await cli(["check-config", "--config", file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assertNoSecrets(result);

    // The output is itself a valid configuration file.
    const tree = YAML.parse(result.stdout) as {
      freeswitch_instances: Array<{ name: string; host: string; port: number; password: string }>;
      storage: { type: string; redis: { host: string; port: number; password: string } };
      opentelemetry: { endpoint: string; insecure: boolean; headers: Record<string, string> };
      http: { port: number };
      logging: { level: string; format: string };
    };
    assert.deepEqual(tree.freeswitch_instances, [
      { name: "fs1", host: "127.0.0.1", port: 8021, password: "***" },
      { name: "fs2", host: "fs2.example.net", port: 9021, password: "***" },
    ]);
    assert.equal(tree.storage.type, "redis");
    assert.equal(tree.storage.redis.host, "redis.internal");
    assert.equal(tree.storage.redis.password, "***");
    assert.deepEqual(tree.opentelemetry.headers, { "x-api-key": "***", "x-tenant": "***" });
    assert.equal(tree.opentelemetry.endpoint, "otel.example.net:4317");
    assert.equal(tree.opentelemetry.insecure, false);
    assert.equal(tree.http.port, 9090);
    assert.deepEqual(tree.logging, { level: "debug", format: "text" });
    assert.ok(result.stdout.includes(JSON.stringify(file)), "the source file is named");
  });

  it("accepts the Go agent's -config form and --config=<file>", async () => {
    const file = writeConfig("go-form.yaml", FULL_CONFIG);
    const go = await cli(["check-config", "-config", file]);
    assert.equal(go.code, 0, go.stderr);
    assertNoSecrets(go);
    const equals = await cli(["check-config", `--config=${file}`]);
    assert.equal(equals.code, 0, equals.stderr);
    assert.equal(equals.stdout, go.stdout);
  });

  it("works from the environment alone, secrets from env masked too", async () => {
    const result = await cli(["check-config"], {
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
        { name: "env-fs", host: "10.1.2.3", port: 8022, password: SECRETS.esl1 },
      ]),
      FSAGENT_REDIS_PASSWORD: SECRETS.redis,
      FSAGENT_OTEL_HEADERS: `x-api-key=${SECRETS.apiKey}`,
      FSAGENT_HTTP_PORT: "0",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assertNoSecrets(result);
    const tree = YAML.parse(result.stdout) as {
      freeswitch_instances: unknown[];
      storage: { redis: { password: string } };
      opentelemetry: { headers: Record<string, string> };
      http: { port: number };
    };
    assert.deepEqual(tree.freeswitch_instances, [
      { name: "env-fs", host: "10.1.2.3", port: 8022, password: "***" },
    ]);
    assert.equal(tree.storage.redis.password, "***");
    assert.deepEqual(tree.opentelemetry.headers, { "x-api-key": "***" });
    assert.equal(tree.http.port, 0);
    assert.match(result.stdout, /source: environment and defaults \(no file\)/);
  });

  it("lets the environment override the file's secrets without printing either", async () => {
    const file = writeConfig("override.yaml", FULL_CONFIG);
    const envSecret = "EnvRedisPw-Qq93Lm";
    const result = await cli(["check-config", "--config", file], {
      FSAGENT_REDIS_PASSWORD: envSecret,
    });
    assert.equal(result.code, 0, result.stderr);
    assertNoSecrets(result, [...ALL_SECRETS, envSecret]);
  });
});

interface BadCase {
  readonly name: string;
  /** A file to write and pass with --config; omitted for env-only cases. */
  readonly file?: string;
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Substrings the one error line must contain (the key, at least). */
  readonly mentions: readonly string[];
}

const INSTANCE = `  - {name: fs1, host: 127.0.0.1, password: ${SECRETS.esl1}}`;

const BAD_CASES: readonly BadCase[] = [
  {
    name: "port out of range",
    file: `freeswitch_instances:\n  - {name: fs1, host: 127.0.0.1, port: 70000, password: ${SECRETS.esl1}}\n`,
    mentions: ["freeswitch_instances[0].port", "70000", "1 to 65535"],
  },
  {
    name: 'boolean "maybe"',
    file: `freeswitch_instances:\n${INSTANCE}\nevents:\n  rtcp: maybe\n`,
    mentions: ["events.rtcp", "maybe", "true, false"],
  },
  {
    name: "unknown storage type",
    file: `freeswitch_instances:\n${INSTANCE}\nstorage:\n  type: mongo\n  redis: {password: ${SECRETS.redis}}\n`,
    mentions: ["storage.type", "mongo", "memory, redis"],
  },
  {
    name: "YAML syntax error",
    file: `freeswitch_instances:\n  - name: fs1\n    password: "${SECRETS.esl1}\n  host: [\n`,
    mentions: ["bad-yaml-syntax-error.yaml", "YAML syntax error"],
  },
  {
    name: "missing file",
    args: ["--config", "does-not-exist.yaml"],
    mentions: ["does-not-exist.yaml", "no such file"],
  },
  {
    name: "duplicate instance names",
    file: `freeswitch_instances:\n${INSTANCE}\n  - {name: fs1, host: 127.0.0.2, password: ${SECRETS.esl2}}\n`,
    mentions: ["freeswitch_instances[1].name", "duplicate"],
  },
  {
    name: "no instances in the file",
    file: "freeswitch_instances: []\nhttp: {port: 8080}\n",
    mentions: ["freeswitch_instances", "at least one"],
  },
  {
    name: "no instances anywhere (no file, no env)",
    args: [],
    mentions: ["freeswitch_instances", "FSAGENT_FREESWITCH_INSTANCES"],
  },
  {
    name: "a number where the ESL password must be a string",
    file: "freeswitch_instances:\n  - {name: fs1, host: 127.0.0.1, password: 918273645}\n",
    mentions: ["freeswitch_instances[0].password", "***"],
  },
  {
    name: "unknown key with a secret next to it",
    file: `freeswitch_instances:\n${INSTANCE}\nstorage:\n  redis: {pasword: ${SECRETS.redis}}\n`,
    mentions: ["storage.redis.pasword", "password"],
  },
  {
    name: "bad port from the environment",
    env: { FSAGENT_HTTP_PORT: "99999" },
    file: `freeswitch_instances:\n${INSTANCE}\n`,
    mentions: ["FSAGENT_HTTP_PORT", "99999", "(env)"],
  },
  {
    name: "invalid JSON in FSAGENT_FREESWITCH_INSTANCES",
    env: {
      FSAGENT_FREESWITCH_INSTANCES: `[{"name":"fs1","host":"127.0.0.1","password":"${SECRETS.esl1}"`,
    },
    args: [],
    mentions: ["FSAGENT_FREESWITCH_INSTANCES", "invalid JSON", "***"],
  },
  {
    name: "bad value inside FSAGENT_FREESWITCH_INSTANCES",
    env: {
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
        { name: "fs1", host: "127.0.0.1", port: "abc", password: SECRETS.esl1 },
      ]),
    },
    args: [],
    mentions: ["FSAGENT_FREESWITCH_INSTANCES[0].port", "abc"],
  },
  {
    name: "--config without a path",
    args: ["--config"],
    mentions: ["--config", "needs a file path"],
  },
];

function argsFor(bad: BadCase, file: string | undefined): string[] {
  if (bad.args !== undefined) return [...bad.args];
  return file === undefined ? [] : ["--config", file];
}

describe("invalid configuration: exit 2 with one line naming the key", () => {
  for (const bad of BAD_CASES) {
    it(`check-config: ${bad.name}`, async () => {
      const slug = bad.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      const file = bad.file === undefined ? undefined : writeConfig(`bad-${slug}.yaml`, bad.file);
      const result = await cli(["check-config", ...argsFor(bad, file)], bad.env);
      const line = assertOneLineFailure(result);
      assert.match(line, /^config error: /);
      for (const text of bad.mentions) {
        assert.ok(line.includes(text), `expected ${JSON.stringify(text)} in: ${line}`);
      }
      assertNoSecrets(result);
    });
  }

  // `run` loads the configuration the same way, before it binds or connects anything.
  const runCases = BAD_CASES.filter((b) =>
    ["port out of range", "YAML syntax error"].includes(b.name),
  );
  for (const [index, bad] of runCases.entries()) {
    for (const form of ["run --config", "-config (no command)"] as const) {
      it(`${form}: ${bad.name}`, async () => {
        const file = writeConfig(`run-${index}.yaml`, bad.file ?? "");
        const args = form === "run --config" ? ["run", "--config", file] : ["-config", file];
        const line = assertOneLineFailure(await cli(args));
        assert.match(line, /^config error: /);
      });
    }
  }
});

describe("several mistakes: exit 2 with one line for each, none left out", () => {
  for (const command of [["check-config"], ["run"]]) {
    it(`${command[0]}: three mistakes in the file and one in the environment`, async () => {
      const file = writeConfig(
        `several-${command[0]}.yaml`,
        "freeswitch_instances:\n  - { name: fs1, hots: a }\nhttp: { port: 99999 }\nlogging: { level: loud }\n",
      );
      const result = await cli([...command, "--config", file], { FSAGENT_EVENTS_QOS: "perhaps" });
      const shown = `stderr: ${result.stderr}`;
      assert.equal(result.code, 2, shown);
      assert.equal(result.stdout, "", shown);
      assert.ok(!/^\s+at /m.test(result.stderr), `stack trace on stderr\n${shown}`);
      const lines = result.stderr.trimEnd().split("\n");
      for (const line of lines) assert.match(line, /^config error: \S/);
      for (const key of [
        "freeswitch_instances[0].hots",
        "freeswitch_instances[0].host is missing",
        "http.port = 99999",
        'logging.level = "loud"',
        'FSAGENT_EVENTS_QOS = "perhaps"',
      ]) {
        assert.ok(
          lines.some((l) => l.includes(key)),
          `${key} not named\n${shown}`,
        );
      }
      assert.equal(lines.length, 5, shown);
      assert.doesNotMatch(result.stderr, /more\)/);
    });
  }
});

describe("usage errors: exit 2 with one line", () => {
  it("an unknown command", async () => {
    const line = assertOneLineFailure(await cli(["bogus"]));
    assert.match(line, /unknown command "bogus"/);
    assert.match(line, /--help/);
  });

  for (const args of [
    ["check-config", "extra"],
    ["run", "extra"],
    ["check-config", "--config", "x.yaml", "extra"],
  ]) {
    it(`an unexpected argument: ${args.join(" ")}`, async () => {
      const line = assertOneLineFailure(await cli(args));
      assert.match(line, /unexpected argument "extra"/);
    });
  }

  it("simulate --help exits 0 with the simulator's options", async () => {
    const result = await cli(["simulate", "--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /^fsagent simulate/);
    assert.match(result.stdout, /--port <n>/);
    assert.match(result.stdout, /--password <pw>/);
  });

  for (const command of ["run", "check-config", "demo"]) {
    it(`${command} --help prints the usage`, async () => {
      const result = await runCli([command, "--help"], { cwd, timeoutMs: 5000 });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Usage:/);
    });
  }

  it("simulate --port abc names the option", async () => {
    const line = assertOneLineFailure(await cli(["simulate", "--port", "abc"]));
    assert.match(line, /--port/);
    assert.match(line, /"abc"/);
  });

  it("simulate with an unknown option", async () => {
    const line = assertOneLineFailure(await cli(["simulate", "--no-such-option"]));
    assert.match(line, /--no-such-option/);
  });
});
