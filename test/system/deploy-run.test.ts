// The deployment commands run for real, outside Docker and systemd: the image's ENTRYPOINT + CMD
// (node dist/cli.js run, configured by environment only, in an empty working directory as the
// image's /etc/fsagent is without a mount), its HEALTHCHECK, the Compose simulator's command,
// the Kubernetes probe paths and the systemd ExecStart.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI_PATH, CliProcess, killAllChildren, tempDir } from "../support/child.js";
import {
  composeCommand,
  composeEnv,
  dockerCopies,
  dockerEnv,
  exportedOtlpMetrics,
  finalWorkdir,
  internalMetrics,
  lastInstruction,
  list,
  parseDockerfile,
  parseEnvFile,
  parseUnit,
  REPO,
  readText,
  readYaml,
  readYamlDocs,
  repoPath,
  splitCommandLine,
  type Tree,
  text,
  tree,
} from "../support/deploy.js";
import {
  closedPort,
  type HttpReply,
  httpRequest,
  httpsRequest,
  pollUntil,
} from "../support/net.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";

const dockerfile = parseDockerfile(readText("Dockerfile"));
const runtime = dockerfile.at(-1)!;
const build = dockerfile.find((s) => s.name === "build")!;

/**
 * The repository file behind a path of the runtime image: a COPY from the build context maps
 * back to its source; a COPY --from=build of the build stage's working directory maps to the
 * same path in the repository, since that stage copies the repository's files under it as they
 * are and `npm run build` writes dist/ there as it does here.
 */
function imageFile(containerPath: string): string {
  for (const copy of dockerCopies(runtime)) {
    const [source] = copy.sources;
    if (source === undefined || copy.sources.length !== 1) continue;
    if (containerPath !== copy.dest && !containerPath.startsWith(`${copy.dest}/`)) continue;
    const rest = containerPath.slice(copy.dest.length);
    if (copy.from === null) return repoPath(path.posix.join(source, rest));
    const stageDir = finalWorkdir(build);
    assert.ok(source.startsWith(`${stageDir}/`), `${source} is under ${stageDir}`);
    return repoPath(path.posix.join(source.slice(stageDir.length + 1), rest));
  }
  throw new Error(`${containerPath} comes from no COPY of the runtime stage`);
}

/** An argument list with every path of the image replaced by the repository's file. */
function localArgs(args: readonly string[]): string[] {
  return args.map((a) => (a.startsWith("/app/") ? imageFile(a) : a));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Ran {
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs a command to completion with exactly `env` (plus PATH) in `cwd`. */
function run(argv: readonly string[], cwd: string, env: Record<string, string>): Promise<Ran> {
  const [command = "", ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command === "node" ? process.execPath : command, args, {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Starts `node <cli> <args>` the way a deployment does: the built CLI as a child process. */
function startCli(args: readonly string[], cwd: string, env: Record<string, string>): CliProcess {
  assert.equal(args[0], CLI_PATH, "the deployment runs the CLI the tests build");
  return new CliProcess(args.slice(1), { cwd, env, timeoutMs: 30_000 });
}

let receiver: OtlpReceiver;
const dirs: { remove(): void }[] = [];

function emptyDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir.dir;
}

before(async () => {
  assert.ok(existsSync(CLI_PATH), "dist/cli.js exists: run `npm run build` first");
  receiver = await OtlpReceiver.start();
});

after(async () => {
  await killAllChildren();
  await receiver.close();
  for (const dir of dirs) dir.remove();
});

const healthy = (reply: { status: number }) => reply.status === 200;

describe("the container image's command, outside Docker", () => {
  it("starts the agent from env alone, answers /health and the HEALTHCHECK, stops on SIGTERM", async () => {
    const entrypoint = lastInstruction(runtime, "ENTRYPOINT")?.exec ?? [];
    const cmd = lastInstruction(runtime, "CMD")?.exec ?? [];
    const [node, ...script] = [...entrypoint, ...cmd];
    assert.equal(node, "node");
    const agentArgs = localArgs(script);
    assert.equal(agentArgs[0], CLI_PATH, "ENTRYPOINT's script is the built dist/cli.js");

    // The simulator exactly as Compose runs it, on a free port of this machine's loopback.
    const compose = tree(readYaml("docker-compose.yml"), "compose");
    const simService = tree(tree(compose.services, "services").sim1, "sim1");
    const simPort = await freePort();
    const simArgs = composeCommand(simService).map((a) =>
      a.startsWith("--host=")
        ? "--host=127.0.0.1"
        : a.startsWith("--port=")
          ? `--port=${simPort}`
          : a,
    );
    const sim = new CliProcess(simArgs, { cwd: emptyDir(), env: {} });
    await pollUntil(
      () =>
        new Promise<boolean>((resolve) => {
          const socket = net.connect(simPort, "127.0.0.1", () => {
            socket.destroy();
            resolve(true);
          });
          socket.on("error", () => resolve(false));
        }),
      (up) => up,
      "the simulator to listen",
      10_000,
    );
    const password = /--password=(\S+)/.exec(simArgs.join(" "))?.[1] ?? "ClueCon";

    // The image's environment plus what an operator passes with `docker run -e`.
    const workdir = emptyDir(); // the image's /etc/fsagent with nothing mounted
    const httpPort = await freePort();
    const env = {
      ...dockerEnv(runtime),
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
        { name: "sim1", host: "127.0.0.1", port: simPort, password },
      ]),
      FSAGENT_HTTP_PORT: String(httpPort),
      FSAGENT_OTEL_ENDPOINT: receiver.endpoint,
      FSAGENT_OTEL_EXPORT_INTERVAL: "1s",
      FSAGENT_OTEL_EXPORT_TIMEOUT: "1s",
    };
    const agent = startCli(agentArgs, workdir, env);
    const url = `http://127.0.0.1:${httpPort}`;
    await pollUntil(() => httpRequest(`${url}/health`), healthy, "/health", 10_000);
    // Readiness, as the Kubernetes probe reads it: connected to the simulator.
    await pollUntil(() => httpRequest(`${url}/ready`), healthy, "/ready", 10_000);

    const healthcheck = lastInstruction(runtime, "HEALTHCHECK");
    assert.match(healthcheck?.raw ?? "", /\bCMD \[/);
    const local = localArgs(healthcheck?.exec ?? []);
    const ok = await run(local, workdir, env);
    assert.equal(ok.code, 0, `HEALTHCHECK against the running agent: ${ok.stderr}`);

    // Calls flow. What the real agent exports is what the dashboards' catalogue was derived
    // from (test/deploy-dashboards.test.ts records one observation of each kind into the sink).
    const derived = (await exportedOtlpMetrics()).map((m) => m.name);
    await receiver.waitFor(
      () => receiver.metricNames().includes("freeswitch.rtcp.jitter"),
      "RTCP metrics from the simulated calls",
      20_000,
    );
    for (const name of receiver.metricNames()) {
      assert.ok(derived.includes(name), `${name}, exported by the agent, is in the catalogue`);
    }
    // Its /metrics holds the registry's metrics with the registry's labels, and no others.
    const registry = new Map(internalMetrics().map((m) => [m.name, new Set(m.labels)]));
    const scrape = await httpRequest(`${url}/metrics`);
    let samples = 0;
    for (const line of scrape.body.split("\n")) {
      const sample = /^(fsagent_\w+?)(?:_bucket|_sum|_count)?(?:\{(.*)\})? \S+$/.exec(line);
      if (sample === null) continue;
      const [, name = "", labelText = ""] = sample;
      const declared = registry.get(name);
      assert.ok(declared, `${name} is in the registry the catalogue reads`);
      for (const label of labelText.matchAll(/(\w+)="/g)) {
        assert.ok(declared.has(label[1] ?? ""), `${name}: label ${label[1]}`);
      }
      samples++;
    }
    assert.ok(samples > 20, `${samples} fsagent_* samples`);

    // STOPSIGNAL: a clean exit within Docker's default 10 s.
    assert.equal(lastInstruction(runtime, "STOPSIGNAL")?.raw, "SIGTERM");
    agent.signal("SIGTERM");
    const exit = await agent.waitForExit(10_000);
    assert.equal(exit.code, 0, agent.toString());

    const down = await run(local, workdir, env);
    assert.notEqual(down.code, 0, "HEALTHCHECK fails once nothing listens");
    sim.signal("SIGTERM");
    await sim.waitForExit(10_000);
  });

  it("HEALTHCHECK follows a config.yaml mounted in the working directory", async () => {
    const healthcheck = localArgs(lastInstruction(runtime, "HEALTHCHECK")?.exec ?? []);
    const entrypoint = localArgs([
      ...(lastInstruction(runtime, "ENTRYPOINT")?.exec ?? []),
      ...(lastInstruction(runtime, "CMD")?.exec ?? []),
    ]).slice(1);
    const workdir = emptyDir();
    const httpPort = await freePort();
    const esl = await closedPort();
    writeFileSync(
      path.join(workdir, "config.yaml"),
      [
        "freeswitch_instances:",
        `  - { name: fs1, host: 127.0.0.1, port: ${esl} }`,
        "opentelemetry:",
        `  endpoint: ${receiver.endpoint}`,
        "http:",
        "  host: 127.0.0.1",
        `  port: ${httpPort}`,
        "",
      ].join("\n"),
    );
    const env = dockerEnv(runtime);
    const agent = startCli(entrypoint, workdir, env);
    await pollUntil(
      () => httpRequest(`http://127.0.0.1:${httpPort}/health`),
      healthy,
      "/health on the file's port",
      10_000,
    );
    const ok = await run(healthcheck, workdir, env);
    assert.equal(ok.code, 0, ok.stderr);
    // The same check with the port moved by env finds nothing there.
    const moved = await run(healthcheck, workdir, { ...env, FSAGENT_HTTP_PORT: String(esl) });
    assert.notEqual(moved.code, 0);
    assert.match(moved.stderr, new RegExp(`:${esl}`));
    agent.signal("SIGTERM");
    assert.equal((await agent.waitForExit(10_000)).code, 0);
  });
});

describe("the systemd unit's ExecStart, outside systemd", () => {
  it("starts the agent with config.example.yaml and the example EnvironmentFile", async () => {
    const unit = parseUnit(readText("deploy/systemd/fsagent.service"));
    const service = unit.get("Service");
    const [node = "", script = "", ...args] = splitCommandLine(
      service?.get("ExecStart")?.[0] ?? "",
    );
    assert.equal(path.basename(node), "node");
    // /opt/fsagent is the install directory: the repository with its build.
    const cli = path.join(REPO, script.replace(/^\/opt\/fsagent\//, ""));
    assert.equal(cli, CLI_PATH);
    const workdir = emptyDir(); // WorkingDirectory=/etc/fsagent
    assert.equal(service?.get("WorkingDirectory")?.[0], "/etc/fsagent");
    const configFile = path.join(workdir, "config.yaml");
    copyFileSync(repoPath("config.example.yaml"), configFile);
    const localArgs = args.map((a) => (a === "/etc/fsagent/config.yaml" ? configFile : a));

    const esl = await closedPort();
    const httpPort = await freePort();
    const env = {
      ...parseEnvFile(readText("deploy/systemd/fsagent.env.example")),
      NODE_ENV: "production",
      // This machine's stand-ins for the operator's edits.
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([{ name: "fs1", host: "127.0.0.1", port: esl }]),
      FSAGENT_HTTP_HOST: "127.0.0.1",
      FSAGENT_HTTP_PORT: String(httpPort),
      FSAGENT_OTEL_ENDPOINT: receiver.endpoint,
    };
    const agent = startCli([cli, ...localArgs], workdir, env);
    const reply = await pollUntil(
      () => httpRequest(`http://127.0.0.1:${httpPort}/health`),
      healthy,
      "/health",
      10_000,
    );
    assert.equal(JSON.parse(reply.body).connections.fs1.connected, false);
    // Readiness without FreeSWITCH: 503, as the Kubernetes readiness probe expects.
    assert.equal((await httpRequest(`http://127.0.0.1:${httpPort}/ready`)).status, 503);
    assert.equal(service?.get("KillSignal")?.[0], "SIGTERM");
    agent.signal("SIGTERM");
    assert.equal((await agent.waitForExit(10_000)).code, 0, agent.toString());
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * GET over HTTPS on a fresh connection, as a scraper or a probe would: with a CA (and server
 * name) like the ServiceMonitor and Prometheus, without one like the kubelet (no verification).
 */
function httpsGet(
  url: string,
  options: { ca?: Buffer; servername?: string; user?: string; password?: string },
): Promise<HttpReply> {
  const { ca, servername, user, password } = options;
  return httpsRequest(url, {
    ca,
    insecure: ca === undefined,
    servername,
    authorization:
      user === undefined
        ? undefined
        : `Basic ${Buffer.from(`${user}:${password ?? ""}`).toString("base64")}`,
  });
}

const MAKE_CERTS = "deploy/compose/secure.example/make-certs.sh";

/** The example's certificates, made by the script the Compose example ships (cert-manager's shape). */
async function makeCerts(dir: string): Promise<void> {
  const made = await run(["sh", repoPath(MAKE_CERTS), dir], emptyDir(), {});
  assert.equal(made.code, 0, made.stderr);
}

/** The agent started from the image's command with `env`, and its HTTPS /health answering. */
async function startSecuredAgent(
  env: Record<string, string>,
  port: number,
): Promise<{ agent: CliProcess; workdir: string }> {
  const workdir = emptyDir();
  const entrypoint = localArgs([
    ...(lastInstruction(runtime, "ENTRYPOINT")?.exec ?? []),
    ...(lastInstruction(runtime, "CMD")?.exec ?? []),
  ]).slice(1);
  const agent = startCli(entrypoint, workdir, env);
  await pollUntil(
    () => httpsGet(`https://127.0.0.1:${port}/health`, {}),
    healthy,
    "/health over HTTPS",
    10_000,
  );
  return { agent, workdir };
}

async function assertHealthcheckPasses(workdir: string, env: Record<string, string>) {
  const healthcheck = localArgs(lastInstruction(runtime, "HEALTHCHECK")?.exec ?? []);
  const ok = await run(healthcheck, workdir, env);
  assert.equal(ok.code, 0, `HEALTHCHECK against the HTTPS agent: ${ok.stderr}`);
}

describe("the secured examples, outside Kubernetes and Compose", () => {
  it("Kubernetes: the pod's web config and certificate serve the probes, the ServiceMonitor and the HEALTHCHECK", async () => {
    const docs = ["deployment.yaml", "web-config.example.yaml", "servicemonitor.yaml"].flatMap(
      (f) => readYamlDocs(`deploy/kubernetes/${f}`).map((d) => tree(d, f)),
    );
    const find = (kind: string, name: string): Tree => {
      const doc = docs.find((d) => d.kind === kind && tree(d.metadata, "metadata").name === name);
      assert.ok(doc, `${kind} ${name}`);
      return doc;
    };
    const secretValue = (name: string, key: string): string =>
      text(tree(find("Secret", name).stringData, "stringData")[key], `${name}.${key}`);
    const pod = tree(
      tree(tree(find("Deployment", "fsagent").spec, "spec").template, "t").spec,
      "pod",
    );
    const container = tree(list(pod.containers, "containers")[0], "container");
    const podEnv = Object.fromEntries(
      list(container.env, "env")
        .map((e) => tree(e, "env"))
        .filter((e) => e.value !== undefined)
        .map((e) => [text(e.name, "name"), String(e.value)]),
    );

    // cert-manager's Secret fsagent-tls, as make-certs.sh writes the same three files.
    const certs = path.join(emptyDir(), "certs");
    await makeCerts(certs);
    const tlsSecret = text(
      tree(tree(readYaml("deploy/kubernetes/certificate.yaml"), "Certificate").spec, "spec")
        .secretName,
      "secretName",
    );

    // The projected volume, laid out in a directory of this machine.
    const webFile = podEnv.FSAGENT_HTTP_WEB_CONFIG_FILE ?? "";
    const mounts = list(container.volumeMounts, "volumeMounts").map((m) => tree(m, "mount"));
    const mount = mounts.find((m) => m.mountPath === path.posix.dirname(webFile));
    assert.ok(mount, `a mount for ${webFile}`);
    const volume = list(pod.volumes, "volumes")
      .map((v) => tree(v, "volume"))
      .find((v) => v.name === mount.name);
    const volumeDir = emptyDir();
    for (const source of list(tree(volume?.projected, "projected").sources, "sources")) {
      const secret = tree(tree(source, "source").secret, "secret");
      for (const item of list(secret.items, "items").map((i) => tree(i, "item"))) {
        const target = path.join(volumeDir, text(item.path, "path"));
        const key = text(item.key, "key");
        if (secret.name === tlsSecret) copyFileSync(path.join(certs, key), target);
        else writeFileSync(target, secretValue(text(secret.name, "name"), key));
      }
    }

    const port = await freePort();
    const esl = await closedPort();
    const env = {
      ...dockerEnv(runtime),
      ...podEnv,
      FSAGENT_HTTP_WEB_CONFIG_FILE: path.join(volumeDir, path.posix.basename(webFile)),
      // This machine's stand-ins for the cluster's addresses.
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([{ name: "fs1", host: "127.0.0.1", port: esl }]),
      FSAGENT_HTTP_HOST: "127.0.0.1",
      FSAGENT_HTTP_PORT: String(port),
      FSAGENT_OTEL_ENDPOINT: receiver.endpoint,
    };
    const { agent, workdir } = await startSecuredAgent(env, port);
    const base = `https://127.0.0.1:${port}`;

    // The kubelet: HTTPS, no certificate check, no credentials.
    for (const probe of ["livenessProbe", "readinessProbe"]) {
      const get = tree(tree(container[probe], probe).httpGet, "httpGet");
      assert.equal(get.scheme, "HTTPS");
      const reply = await httpsGet(`${base}${text(get.path, "path")}`, {});
      // Readiness is 503 without FreeSWITCH; what matters is that no login is asked.
      assert.ok([200, 503].includes(reply.status), `${probe}: ${reply.status}`);
    }
    await assert.rejects(httpRequest(`http://127.0.0.1:${port}/health`), "no plain HTTP");

    // Prometheus as the ServiceMonitor configures it.
    const endpoint = tree(
      list(tree(find("ServiceMonitor", "fsagent").spec, "spec").endpoints, "e")[0],
      "ep",
    );
    const tls = tree(endpoint.tlsConfig, "tlsConfig");
    const caKey = text(tree(tree(tls.ca, "ca").secret, "secret").key, "key");
    const auth = tree(endpoint.basicAuth, "basicAuth");
    const credential = (which: string): string => {
      const ref = tree(auth[which], which);
      return secretValue(text(ref.name, "name"), text(ref.key, "key"));
    };
    const scraper = {
      ca: readFileSync(path.join(certs, caKey)),
      servername: text(tls.serverName, "serverName"),
    };
    const url = `${base}${text(endpoint.path, "path")}`;
    const scrape = await httpsGet(url, {
      ...scraper,
      user: credential("username"),
      password: credential("password"),
    });
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^fsagent_/m);
    const anonymous = await httpsGet(url, scraper);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers["www-authenticate"]), /^Basic/);

    await assertHealthcheckPasses(workdir, env);
    agent.signal("SIGTERM");
    assert.equal((await agent.waitForExit(10_000)).code, 0, agent.toString());
  });

  it("Compose: the secure.example override's web config, Prometheus job and HEALTHCHECK", async () => {
    const override = tree(readYaml("deploy/compose/secure.example/compose.yaml"), "override");
    const services = tree(override.services, "services");
    const fsagent = tree(services.fsagent, "fsagent");
    // The override's mounts, laid out in a directory of this machine.
    const root = emptyDir();
    const local = (containerPath: string): string => {
      for (const volume of list(fsagent.volumes, "volumes").map((v) => text(v, "volume"))) {
        const [source = "", target = ""] = volume.split(":");
        if (containerPath === target || containerPath.startsWith(`${target}/`)) {
          return path.join(
            root,
            path.relative("./deploy/compose/secure.example", source),
            containerPath.slice(target.length),
          );
        }
      }
      throw new Error(`${containerPath} is not mounted`);
    };
    const webTarget = composeEnv(fsagent).FSAGENT_HTTP_WEB_CONFIG_FILE ?? "";
    copyFileSync(repoPath("deploy/compose/secure.example/web-config.yml"), local(webTarget));
    await makeCerts(path.join(root, "tls")); // make-certs.sh's default: tls/ beside itself

    const port = await freePort();
    const esl = await closedPort();
    const env = {
      ...dockerEnv(runtime),
      ...composeEnv(fsagent),
      FSAGENT_HTTP_WEB_CONFIG_FILE: local(webTarget),
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([{ name: "fs1", host: "127.0.0.1", port: esl }]),
      FSAGENT_HTTP_HOST: "127.0.0.1",
      FSAGENT_HTTP_PORT: String(port),
      FSAGENT_OTEL_ENDPOINT: receiver.endpoint,
    };
    const { agent, workdir } = await startSecuredAgent(env, port);

    // Prometheus with the override's prometheus.yml: ca_file and password_file as it mounts them.
    const prometheus = tree(readYaml("deploy/compose/secure.example/prometheus.yml"), "prom");
    const job = list(prometheus.scrape_configs, "scrape_configs")
      .map((j) => tree(j, "job"))
      .find((j) => j.job_name === "fsagent");
    assert.ok(job);
    assert.equal(job.scheme, "https");
    const tlsConfig = tree(job.tls_config, "tls_config");
    const basicAuth = tree(job.basic_auth, "basic_auth");
    const promMounts = list(tree(services.prometheus, "prometheus").volumes, "volumes").map((v) =>
      text(v, "volume").split(":"),
    );
    const promFile = (target: string): string => {
      const mount = promMounts.find((m) => m[1] === target);
      assert.ok(mount, `${target} is mounted in prometheus`);
      const source = path.relative("deploy/compose/secure.example", mount[0] ?? "");
      return source.startsWith("tls")
        ? path.join(root, source)
        : repoPath(path.join("deploy/compose/secure.example", source));
    };
    const scrape = await httpsGet(
      `https://127.0.0.1:${port}${text(job.metrics_path, "metrics_path")}`,
      {
        ca: readFileSync(promFile(text(tlsConfig.ca_file, "ca_file"))),
        servername: text(tlsConfig.server_name, "server_name"),
        user: text(basicAuth.username, "username"),
        password: readFileSync(
          promFile(text(basicAuth.password_file, "password_file")),
          "utf8",
        ).trim(),
      },
    );
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^fsagent_/m);

    await assertHealthcheckPasses(workdir, env);
    agent.signal("SIGTERM");
    assert.equal((await agent.waitForExit(10_000)).code, 0, agent.toString());
  });
});
