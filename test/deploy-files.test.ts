// The deployment files, checked without a Docker engine or a cluster: they parse, they point at
// each other consistently (services, ports, mounted files, endpoints), and every setting they
// give the agent is one its real configuration loader accepts.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ENV_VARS, extractConfigFlag, loadConfig } from "../src/config/load.js";
import type { Config } from "../src/config/types.js";
import { BasicAuth } from "../src/server/web-config/basic-auth.js";
import { parseWebConfig, type WebConfig } from "../src/server/web-config/parse.js";
import { parseSimulateArgs } from "../src/sim/args.js";
import {
  composeCommand,
  composeEnv,
  composeMounts,
  dependsOn,
  dockerCopies,
  dockerEnv,
  dockerRuns,
  existsInRepo,
  filesUnder,
  finalWorkdir,
  hostPort,
  isTree,
  lastInstruction,
  list,
  type Mount,
  mountedFile,
  parseDockerfile,
  parseEnvFile,
  parseUnit,
  prometheusScrapes,
  readJson,
  readText,
  readYaml,
  readYamlDocs,
  splitCommandLine,
  type Tree,
  text,
  tree,
} from "./support/deploy.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** The agent's effective configuration for a config.yaml (or none) and an environment. */
function effectiveConfig(configYaml: string | null, env: Record<string, string>): Config {
  const dir = mkdtempSync(path.join(tmpdir(), "fsagent-deploy-"));
  temps.push(dir);
  if (configYaml !== null) writeFileSync(path.join(dir, "config.yaml"), configYaml);
  return loadConfig({ env, cwd: dir });
}

const compose = tree(readYaml("docker-compose.yml"), "docker-compose.yml");
const services = tree(compose.services, "services");

function service(name: string): Tree {
  return tree(services[name], `service ${name}`);
}

const dockerfile = parseDockerfile(readText("Dockerfile"));
const runtime = dockerfile.at(-1)!;
/** Where the image runs the agent, and so where ./config.yaml is looked for. */
const imageWorkdir = finalWorkdir(runtime);

/** The fsagent service's configuration as the container would load it. */
function composeAgentConfig(): Config {
  const agent = service("fsagent");
  const file = mountedFile(agent, `${imageWorkdir}/config.yaml`);
  return effectiveConfig(file === null ? null : readText(file), {
    ...dockerEnv(runtime),
    ...composeEnv(agent),
  });
}

/** Collector config as mounted in the otel-collector service (found through its --config). */
function collectorConfig(): { file: string; config: Tree } {
  const collector = service("otel-collector");
  const flag = composeCommand(collector).find((a) => a.startsWith("--config="));
  assert.ok(flag, "the otel-collector service names its --config file");
  const file = mountedFile(collector, flag.slice("--config=".length));
  assert.ok(file, `${flag} is a mounted file`);
  return { file, config: tree(readYaml(file), file) };
}

function prometheusConfigFile(): string {
  const prometheus = service("prometheus");
  const flag = composeCommand(prometheus).find((a) => a.startsWith("--config.file="));
  assert.ok(flag, "the prometheus service names its --config.file");
  const file = mountedFile(prometheus, flag.slice("--config.file=".length));
  assert.ok(file, `${flag} is a mounted file`);
  return file;
}

/** Does the agent's own basic auth let `user`:`password` in with these users? */
async function admits(
  users: Readonly<Record<string, string>>,
  user: string,
  password: string,
): Promise<boolean> {
  const header = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  return (await new BasicAuth(users).check(header)) === null;
}

/** Client certificate policies the kubelet's probes and the HEALTHCHECK get through (they have none). */
const NO_CLIENT_CERT_NEEDED = ["NoClientCert", "RequestClientCert", "VerifyClientCertIfGiven"];

/** Where make-certs.sh writes the secured Compose stack's certificates: git-ignored. */
const SECURE_COMPOSE = "deploy/compose/secure.example";
const SECURE_TLS = `${SECURE_COMPOSE}/tls`;

// ---------------------------------------------------------------------------------------------

describe("deploy files parse", () => {
  it("every YAML and JSON file under deploy/, and the Compose file, parses", () => {
    // make-certs.sh's output, if an operator ran it in this checkout, is theirs.
    const files = filesUnder("deploy").filter((f) => !f.startsWith(`${SECURE_TLS}/`));
    const yaml = files.filter((f) => /\.ya?ml$/.test(f));
    const json = files.filter((f) => f.endsWith(".json"));
    assert.ok(yaml.length >= 10, `YAML files: ${yaml.join(", ")}`);
    assert.ok(json.length >= 2, `JSON files: ${json.join(", ")}`);
    for (const file of [...yaml, "docker-compose.yml"]) {
      const docs = readYamlDocs(file);
      assert.ok(docs.length > 0 && docs.every(isTree), `${file}: every document is a mapping`);
    }
    for (const file of json) assert.ok(isTree(readJson(file)), `${file} is a JSON object`);
    // Nothing else hides there unchecked: the other files are read by the tests below.
    const others = files.filter((f) => !/\.(ya?ml|json)$/.test(f));
    assert.deepEqual(others, [
      "deploy/compose/secure.example/fsagent-password",
      "deploy/compose/secure.example/make-certs.sh",
      "deploy/docker/healthcheck.mjs",
      "deploy/systemd/fsagent.env.example",
      "deploy/systemd/fsagent.service",
    ]);
  });
});

describe("Dockerfile", () => {
  it("builds in one stage with npm ci + npm run build and runs a slim production stage", () => {
    assert.ok(dockerfile.length >= 2, "multi-stage");
    const build = dockerfile.find((s) => s.name === "build");
    assert.ok(build, "a stage named build");
    const buildRuns = dockerRuns(build).join("\n");
    assert.match(buildRuns, /\bnpm ci\b/);
    assert.match(buildRuns, /\bnpm run build\b/);
    assert.match(runtime.from, /^node:(\$\{NODE_VERSION\}|20)[^\s]*-slim$/);
    assert.match(readText("Dockerfile"), /^ARG NODE_VERSION=20$/m);
    assert.match(dockerRuns(runtime).join("\n"), /\bnpm ci --omit=dev --ignore-scripts\b/);
    // The runtime stage holds no sources and no dev dependencies, only what the build produced.
    const copies = dockerCopies(runtime);
    const fromBuild = copies.filter((c) => c.from === "build");
    assert.deepEqual(
      fromBuild.map((c) => c.sources),
      [[`${finalWorkdir(build)}/dist`]],
    );
    assert.ok(!copies.some((c) => c.sources.includes("src")), "no src/ in the runtime stage");
  });

  it("runs as a numeric non-root user, stops on SIGTERM, exposes the default HTTP port", () => {
    const user = lastInstruction(runtime, "USER")?.raw ?? "";
    const [uid = "", gid = uid] = user.split(":");
    assert.match(uid, /^\d+$/, "numeric, so Kubernetes runAsNonRoot can check it");
    assert.notEqual(Number(uid), 0);
    assert.notEqual(Number(gid), 0);
    assert.equal(lastInstruction(runtime, "STOPSIGNAL")?.raw, "SIGTERM");
    const defaults = effectiveConfig(null, {
      FSAGENT_FREESWITCH_INSTANCES: '[{"name":"fs1","host":"127.0.0.1"}]',
    });
    assert.equal(lastInstruction(runtime, "EXPOSE")?.raw, String(defaults.http.port));
    assert.doesNotMatch(readText("Dockerfile"), /curl|wget/, "no curl dependency");
    const healthcheck = lastInstruction(runtime, "HEALTHCHECK");
    assert.ok(healthcheck?.exec, "HEALTHCHECK CMD in exec form");
    assert.equal(healthcheck.exec[0], "node");
    assert.doesNotMatch(healthcheck.raw, /\b8080\b/, "the port is not hard-coded");
  });

  it("ENTRYPOINT runs the CLI that npm run build produces (package.json bin)", () => {
    const entrypoint = lastInstruction(runtime, "ENTRYPOINT")?.exec;
    assert.ok(entrypoint, "ENTRYPOINT in exec form");
    assert.equal(entrypoint[0], "node");
    const pkg = JSON.parse(readText("package.json")) as { bin: Record<string, string> };
    const build = tree(readJson("tsconfig.build.json"), "tsconfig.build.json");
    const outDir = text(tree(build.compilerOptions, "compilerOptions").outDir, "outDir");
    assert.equal(pkg.bin.fsagent, `${outDir}/cli.js`);
    const distCopy = dockerCopies(runtime).find((c) => c.from === "build");
    assert.ok(distCopy);
    assert.equal(entrypoint[1], `${distCopy.dest}/cli.js`);
    const cmd = lastInstruction(runtime, "CMD")?.exec;
    assert.deepEqual(cmd, ["run"], "CMD runs the agent (Compose and Kubernetes give other args)");
  });

  it("copies only files that exist and that .dockerignore lets into the build context", () => {
    const ignore = readText(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    const ignored = (file: string): boolean => {
      let result = false;
      for (const pattern of ignore) {
        const negated = pattern.startsWith("!");
        const glob = negated ? pattern.slice(1) : pattern;
        const regex = new RegExp(
          `^${glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/.*)?$`,
        );
        if (regex.test(file)) result = !negated;
      }
      return result;
    };
    for (const stage of dockerfile) {
      for (const copy of dockerCopies(stage)) {
        if (copy.from !== null) {
          assert.ok(
            dockerfile.some((s) => s.name === copy.from),
            `COPY --from=${copy.from} names a stage`,
          );
          continue;
        }
        for (const source of copy.sources) {
          assert.ok(existsInRepo(source), `COPY ${source}: exists`);
          assert.ok(!ignored(source), `COPY ${source}: not excluded by .dockerignore`);
        }
      }
    }
    for (const excluded of ["node_modules", "dist", ".git", "config.yaml", "test/http.test.ts"]) {
      assert.ok(ignored(excluded), `${excluded} stays out of the build context`);
    }
  });
});

describe("docker-compose.yml", () => {
  it("depends only on services it defines, and mounts only files of the repository", () => {
    const names = Object.keys(services);
    for (const expected of ["fsagent", "redis", "otel-collector", "prometheus", "grafana"]) {
      assert.ok(names.includes(expected), `service ${expected}`);
    }
    for (const name of names) {
      for (const dep of dependsOn(service(name))) {
        assert.ok(names.includes(dep), `${name} depends on ${dep}, which exists`);
      }
      for (const mount of composeMounts(service(name))) {
        assert.ok(mount.source.startsWith("deploy/"), `${name}: ${mount.source} under deploy/`);
        assert.ok(existsInRepo(mount.source), `${name}: ${mount.source} exists`);
      }
    }
  });

  it("builds the fsagent image wherever it is used, from the repository's Dockerfile", () => {
    const image = service("fsagent").image;
    for (const [name, value] of Object.entries(services)) {
      const svc = tree(value, name);
      if (svc.image !== image) continue;
      assert.equal(svc.build, ".", `${name} builds the image rather than pulling ${image}`);
    }
    assert.ok(existsInRepo("Dockerfile"));
  });

  it("points fsagent at the simulators it starts, with their ports and passwords", () => {
    const config = composeAgentConfig();
    assert.ok(config.freeswitchInstances.length >= 2, "two simulated FreeSWITCH servers");
    for (const instance of config.freeswitchInstances) {
      const sim = service(instance.host);
      const [command, ...args] = composeCommand(sim);
      assert.equal(command, "simulate", `${instance.host} runs fsagent simulate`);
      const options = parseSimulateArgs(args);
      assert.equal(options.host, "0.0.0.0", `${instance.host} listens beyond its loopback`);
      assert.equal(options.port, instance.port, `${instance.name}: port`);
      assert.equal(options.password, instance.password, `${instance.name}: password`);
      assert.ok(options.rtcpIntervalS > 0, "with RTCP");
      const healthcheck = list(tree(sim.healthcheck, "healthcheck").test, "test").join(" ");
      assert.match(healthcheck, new RegExp(`connect\\(${options.port},`), "healthcheck port");
      assert.ok(dependsOn(service("fsagent")).includes(instance.host));
    }
  });

  it("sends OTLP to the Collector's OTLP gRPC receiver port", () => {
    const config = composeAgentConfig();
    const [host, port] = hostPort(config.opentelemetry.endpoint);
    assert.equal(host, "otel-collector");
    const { config: collector } = collectorConfig();
    const grpc = tree(
      tree(tree(tree(collector.receivers, "receivers").otlp, "otlp").protocols, "protocols").grpc,
      "grpc",
    );
    const [receiverHost, receiverPort] = hostPort(text(grpc.endpoint, "grpc.endpoint"));
    assert.equal(receiverHost, "0.0.0.0", "the receiver listens beyond the container");
    assert.equal(receiverPort, port);
    assert.equal(config.opentelemetry.insecure, true, "the receiver has no TLS");
    const pipeline = tree(
      tree(tree(collector.service, "service").pipelines, "pipelines").metrics,
      "metrics",
    );
    assert.ok(list(pipeline.receivers, "receivers").includes("otlp"));
    assert.ok(list(pipeline.exporters, "exporters").includes("prometheus"));
    const exporter = tree(tree(collector.exporters, "exporters").prometheus, "prometheus");
    const r2t = tree(exporter.resource_to_telemetry_conversion, "resource_to_telemetry");
    assert.equal(r2t.enabled, true, "resource attributes become labels");
  });

  it("gives the quality records a logs pipeline: into Loki, which Grafana has as a datasource", () => {
    // Without one the Collector answers every record with UNIMPLEMENTED, forever.
    const config = composeAgentConfig();
    assert.equal(config.logs.enabled, true, "the agent sends quality records");
    const { config: collector } = collectorConfig();
    const logs = tree(tree(tree(collector.service, "service").pipelines, "pipelines").logs, "logs");
    assert.ok(list(logs.receivers, "receivers").includes("otlp"), "on the agent's OTLP receiver");
    const exporters = list(logs.exporters, "exporters").map(String);
    const defined = tree(collector.exporters, "exporters");
    for (const name of exporters) assert.ok(name in defined, `exporter ${name} is defined`);
    assert.ok(exporters.includes("debug"));
    const loki = tree(defined["otlphttp/loki"], "otlphttp/loki");
    const url = new URL(text(loki.endpoint, "otlphttp/loki.endpoint"));
    assert.equal(url.pathname, "/otlp", "Loki's native OTLP endpoint");
    assert.ok(url.hostname in services, `${url.hostname} is a Compose service`);
    const lokiArgs = composeCommand(service(url.hostname)).join(" ");
    assert.match(lokiArgs, /-config\.file=/);
    assert.ok(dependsOn(service("otel-collector")).includes(url.hostname));
    const datasources = readYaml("deploy/grafana/provisioning/datasources/loki.yaml") as {
      datasources: Array<{ type: string; url: string }>;
    };
    const source = datasources.datasources.find((d) => d.type === "loki");
    assert.ok(source !== undefined, "Grafana has a Loki datasource");
    assert.equal(new URL(source.url).host, `${url.hostname}:${url.port}`);
    // Grafana mounts the provisioning folder the file is in.
    const mounts = list(service("grafana").volumes, "volumes").map(String);
    assert.ok(mounts.some((m) => m.startsWith("./deploy/grafana/provisioning:")));
  });

  it("keeps state in the Redis service", () => {
    const config = composeAgentConfig();
    assert.equal(config.storage.type, "redis");
    assert.equal(config.storage.redis.host, "redis");
    const args = composeCommand(service("redis"));
    const portFlag = args.indexOf("--port");
    assert.equal(portFlag === -1 ? 6379 : Number(args[portFlag + 1]), config.storage.redis.port);
  });

  it("publishes the agent's HTTP port and has Prometheus scrape it and the Collector", () => {
    const config = composeAgentConfig();
    const published = list(service("fsagent").ports, "ports").map((p) => String(p));
    assert.ok(
      published.some((p) => p.endsWith(`:${config.http.port}`)),
      `fsagent publishes container port ${config.http.port}: ${published.join(", ")}`,
    );
    const file = prometheusConfigFile();
    const scrapes = prometheusScrapes(readYaml(file));
    const { config: collector } = collectorConfig();
    const exporter = tree(tree(collector.exporters, "exporters").prometheus, "prometheus");
    const [, exporterPort] = hostPort(text(exporter.endpoint, "prometheus.endpoint"));
    const expected = new Map([
      ["fsagent", config.http.port],
      ["otel-collector", exporterPort],
    ]);
    const seen = new Set<string>();
    for (const scrape of scrapes) {
      assert.equal(scrape.metricsPath, "/metrics");
      for (const target of scrape.targets) {
        const [host, port] = hostPort(target);
        assert.ok(host in services, `${scrape.job}: ${host} is a Compose service`);
        assert.equal(port, expected.get(host), `${scrape.job}: port of ${host}`);
        seen.add(host);
      }
    }
    assert.deepEqual([...seen].sort(), [...expected.keys()].sort());
  });

  it("gives Prometheus the rule files it loads", () => {
    const prometheus = tree(readYaml(prometheusConfigFile()), "prometheus.yml");
    for (const rules of list(prometheus.rule_files, "rule_files")) {
      const file = mountedFile(service("prometheus"), text(rules, "rule file"));
      assert.ok(file !== null && existsInRepo(file), `${rules} is mounted`);
      assert.ok(list(tree(readYaml(file), file).groups, "groups").length > 0);
    }
  });

  it("provisions Grafana with the Prometheus service and the dashboards", () => {
    const grafana = service("grafana");
    const provisioning = mountedFile(grafana, "/etc/grafana/provisioning/datasources");
    assert.ok(provisioning, "datasources are provisioned");
    const datasources = filesUnder(provisioning).flatMap((f) =>
      list(tree(readYaml(f), f).datasources, "datasources").map((d) => tree(d, f)),
    );
    const prometheus = datasources.find((d) => d.type === "prometheus");
    assert.ok(prometheus, "a Prometheus datasource");
    const [host, port] = hostPort(text(prometheus.url, "url"));
    assert.equal(host, "prometheus");
    const listen = composeCommand(service("prometheus")).find((a) =>
      a.startsWith("--web.listen-address="),
    );
    assert.equal(port, listen === undefined ? 9090 : hostPort(listen.split("=")[1] ?? "")[1]);
    const global = tree(tree(readYaml(prometheusConfigFile()), "prometheus.yml").global, "global");
    assert.equal(
      tree(prometheus.jsonData, "jsonData").timeInterval,
      global.scrape_interval,
      "the datasource knows the scrape interval ($__rate_interval)",
    );

    const providers = mountedFile(grafana, "/etc/grafana/provisioning/dashboards");
    assert.ok(providers, "dashboard providers are provisioned");
    const dashboardDirs = filesUnder(providers).flatMap((f) =>
      list(tree(readYaml(f), f).providers, "providers").map((p) =>
        text(tree(tree(p, f).options, "options").path, "options.path"),
      ),
    );
    assert.ok(dashboardDirs.length > 0);
    for (const dir of dashboardDirs) {
      const repoDir = mountedFile(grafana, dir);
      assert.ok(repoDir !== null, `${dir} is mounted`);
      const files = filesUnder(repoDir).filter((f) => f.endsWith(".json"));
      assert.deepEqual(
        files.map((f) => path.basename(f)),
        ["fsagent-agent-health.json", "fsagent-call-quality.json"],
      );
    }
    const home = composeEnv(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home !== undefined) {
      const file = mountedFile(grafana, home);
      assert.ok(file !== null && existsInRepo(file), `home dashboard ${home} is mounted`);
    }
  });
});

describe("the secured Compose stack (deploy/compose/secure.example)", () => {
  const override = tree(readYaml(`${SECURE_COMPOSE}/compose.yaml`), "compose.yaml");
  const overrides = tree(override.services, "override services");

  /** A service as Compose merges the override into it: environment by name, volumes by target. */
  function merged(name: string): Tree {
    const base = service(name);
    const extra = tree(overrides[name], `override of ${name}`);
    const byTarget = new Map<string, Mount>();
    for (const mount of [...composeMounts(base), ...composeMounts(extra)]) {
      byTarget.set(mount.target, mount);
    }
    return {
      ...base,
      environment: { ...composeEnv(base), ...composeEnv(extra) },
      volumes: [...byTarget.values()].map((m) => ({ source: m.source, target: m.target })),
    };
  }

  it("overrides only services the stack has, with files of the repository or make-certs.sh's", () => {
    for (const [name, value] of Object.entries(overrides)) {
      assert.ok(name in services, `${name} is a service of docker-compose.yml`);
      for (const mount of composeMounts(tree(value, name))) {
        const made = mount.source === SECURE_TLS || mount.source.startsWith(`${SECURE_TLS}/`);
        assert.ok(made || existsInRepo(mount.source), `${name}: ${mount.source} exists`);
      }
    }
    // make-certs.sh writes to tls/ beside itself by default, the files the override mounts.
    const script = readText(`${SECURE_COMPOSE}/make-certs.sh`);
    assert.match(script, /dir=\$\{1:-"\$\(dirname "\$0"\)\/tls"\}/);
    for (const file of ["ca.crt", "tls.crt", "tls.key"]) {
      assert.match(script, new RegExp(`-(out|keyout) ${file.replace(".", "\\.")}\\b`), file);
    }
    assert.match(readText(".gitignore"), /^deploy\/compose\/secure\.example\/tls\/$/m);
  });

  it("gives the agent a web config whose certificate and key are make-certs.sh's, and /health open", () => {
    const agent = merged("fsagent");
    const env = composeEnv(agent);
    const target = env.FSAGENT_HTTP_WEB_CONFIG_FILE ?? "";
    const file = mountedFile(agent, target);
    assert.equal(file, `${SECURE_COMPOSE}/web-config.yml`);
    const web = parseWebConfig(readText(file), target);
    assert.ok(web.tls, "HTTPS");
    assert.equal(mountedFile(agent, web.tls.certFile), `${SECURE_TLS}/tls.crt`);
    assert.equal(mountedFile(agent, web.tls.keyFile), `${SECURE_TLS}/tls.key`);
    assert.ok(
      NO_CLIENT_CERT_NEEDED.includes(web.tls.clientAuthType),
      "the HEALTHCHECK has no cert",
    );
    // The rest of the agent's configuration is the demo's, /health exempt for the HEALTHCHECK.
    const config = effectiveConfig(readText("deploy/compose/fsagent.yaml"), {
      ...dockerEnv(runtime),
      ...env,
      FSAGENT_HTTP_WEB_CONFIG_FILE: "",
    });
    assert.ok(config.http.authExempt.includes("/health"));
  });

  it("has Prometheus scrape the agent over HTTPS with the password the web config admits", async () => {
    const prometheus = merged("prometheus");
    const agent = merged("fsagent");
    const flag = composeCommand(prometheus).find((a) => a.startsWith("--config.file="));
    const file = mountedFile(prometheus, flag?.slice("--config.file=".length) ?? "");
    assert.equal(file, `${SECURE_COMPOSE}/prometheus.yml`);
    const secure = tree(readYaml(file), file);
    const plain = tree(readYaml(prometheusConfigFile()), "prometheus.yml");
    // The same Prometheus as the demo's but for the fsagent job's scheme, TLS and auth.
    const jobs = (config: Tree) =>
      list(config.scrape_configs, "scrape_configs").map((j) => tree(j, "scrape_config"));
    const fsagentJob = jobs(secure).find((j) => j.job_name === "fsagent");
    assert.ok(fsagentJob);
    const { scheme, tls_config, basic_auth, ...rest } = fsagentJob;
    assert.deepEqual(
      { ...secure, scrape_configs: jobs(secure).map((j) => (j === fsagentJob ? rest : j)) },
      plain,
    );
    assert.equal(scheme, "https");
    const tlsConfig = tree(tls_config, "tls_config");
    assert.equal(
      mountedFile(prometheus, text(tlsConfig.ca_file, "ca_file")),
      `${SECURE_TLS}/ca.crt`,
    );
    const [host] = hostPort(
      text(list(tree(list(fsagentJob.static_configs, "sc")[0], "sc").targets, "t")[0], "target"),
    );
    const serverName = text(tlsConfig.server_name ?? host, "server_name");
    assert.match(readText(`${SECURE_COMPOSE}/make-certs.sh`), new RegExp(`DNS:${serverName}\\b`));
    const auth = tree(basic_auth, "basic_auth");
    const passwordFile = mountedFile(prometheus, text(auth.password_file, "password_file"));
    assert.ok(passwordFile !== null && existsInRepo(passwordFile));
    const webFile = mountedFile(agent, composeEnv(agent).FSAGENT_HTTP_WEB_CONFIG_FILE ?? "");
    const web = parseWebConfig(readText(webFile ?? ""), "/etc/fsagent-web/web-config.yml");
    assert.ok(
      await admits(web.users, text(auth.username, "username"), readText(passwordFile).trim()),
      "the password file's password matches the web config's hash",
    );
  });
});

// ---------------------------------------------------------------------------------------------

const k8sDocs = filesUnder("deploy/kubernetes")
  .filter((f) => f.endsWith(".yaml") && !f.endsWith("kustomization.yaml"))
  .flatMap((f) => readYamlDocs(f).map((d) => tree(d, f)));

function k8s(kind: string, name?: string): Tree {
  const found = k8sDocs.find(
    (d) =>
      d.kind === kind && (name === undefined || tree(d.metadata, `${kind} metadata`).name === name),
  );
  assert.ok(found, `a ${kind}${name === undefined ? "" : ` named ${name}`}`);
  return found;
}

function matches(selector: unknown, labels: unknown): boolean {
  const wanted = Object.entries(tree(selector, "selector"));
  const have = tree(labels, "labels");
  return wanted.length > 0 && wanted.every(([k, v]) => have[k] === v);
}

describe("Kubernetes manifests", () => {
  const deployment = k8s("Deployment", "fsagent");
  const spec = tree(deployment.spec, "spec");
  const pod = tree(tree(spec.template, "template").spec, "pod spec");
  const podLabels = tree(tree(spec.template, "template").metadata, "template metadata").labels;
  const containers = list(pod.containers, "containers").map((c) => tree(c, "container"));
  assert.equal(containers.length, 1);
  const container = containers[0]!;
  const env = list(container.env ?? [], "env").map((e) => tree(e, "env entry"));

  /** The container's environment, Secret references resolved from the example Secret. */
  function containerEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of env) {
      const name = text(entry.name, "env name");
      if (entry.value !== undefined) {
        out[name] = String(entry.value);
        continue;
      }
      const ref = tree(tree(entry.valueFrom, `${name}.valueFrom`).secretKeyRef, "secretKeyRef");
      const secret = k8s("Secret", text(ref.name, "secretKeyRef.name"));
      const data = tree(secret.stringData, "stringData");
      const key = text(ref.key, "secretKeyRef.key");
      assert.ok(key in data, `Secret ${String(ref.name)} has ${key}`);
      out[name] = String(data[key]);
    }
    return out;
  }

  function podConfig(): Config {
    const mounts = list(container.volumeMounts, "volumeMounts").map((m) => tree(m, "mount"));
    const mount = mounts.find((m) => m.mountPath === imageWorkdir);
    assert.ok(mount, `a volume mounted at the image's working directory ${imageWorkdir}`);
    const volume = list(pod.volumes, "volumes")
      .map((v) => tree(v, "volume"))
      .find((v) => v.name === mount.name);
    assert.ok(volume, `volume ${String(mount.name)}`);
    const configMap = k8s("ConfigMap", text(tree(volume.configMap, "configMap").name, "name"));
    const yaml = text(tree(configMap.data, "data")["config.yaml"], "config.yaml");
    // The web config file names a certificate only cert-manager (or the operator) provides:
    // podWebConfig() checks the file; test/system/deploy-run.test.ts runs the pod's files whole.
    return effectiveConfig(yaml, {
      ...dockerEnv(runtime),
      ...containerEnv(),
      FSAGENT_HTTP_WEB_CONFIG_FILE: "",
    });
  }

  const certificate = k8s("Certificate", "fsagent");
  const tlsSecret = text(tree(certificate.spec, "Certificate spec").secretName, "secretName");
  /** The keys of a cert-manager Secret (kubernetes.io/tls plus the issuing CA). */
  const CERT_MANAGER_KEYS = ["tls.crt", "tls.key", "ca.crt"];

  /** A key of an example Secret, or of the Secret cert-manager writes for certificate.yaml. */
  function secretKey(name: string, key: string): string | null {
    if (name === tlsSecret) {
      assert.ok(CERT_MANAGER_KEYS.includes(key), `${name} (cert-manager) has no key ${key}`);
      return null;
    }
    const data = tree(k8s("Secret", name).stringData, `Secret ${name} stringData`);
    assert.ok(key in data, `Secret ${name} has ${key}`);
    return text(data[key], `${name}.${key}`);
  }

  /**
   * The web config as the pod sees it: the file FSAGENT_HTTP_WEB_CONFIG_FILE names, in the
   * volume mounted over its directory, and what that volume holds (file → Secret and key).
   */
  function podWebConfig(): { file: string; web: WebConfig; files: Map<string, [string, string]> } {
    const file = containerEnv().FSAGENT_HTTP_WEB_CONFIG_FILE ?? "";
    assert.ok(path.posix.isAbsolute(file), `FSAGENT_HTTP_WEB_CONFIG_FILE is set: ${file}`);
    const mounts = list(container.volumeMounts, "volumeMounts").map((m) => tree(m, "mount"));
    const mount = mounts.find((m) => path.posix.dirname(file) === m.mountPath);
    assert.ok(mount, `a volume mounted at ${path.posix.dirname(file)}`);
    assert.equal(mount.readOnly, true);
    const volume = list(pod.volumes, "volumes")
      .map((v) => tree(v, "volume"))
      .find((v) => v.name === mount.name);
    assert.ok(volume, `volume ${String(mount.name)}`);
    const files = new Map<string, [string, string]>();
    for (const source of list(tree(volume.projected, "projected").sources, "sources")) {
      const secret = tree(tree(source, "source").secret, "projected secret");
      const name = text(secret.name, "secret name");
      for (const item of list(secret.items, "items").map((i) => tree(i, "item"))) {
        const key = text(item.key, "key");
        secretKey(name, key);
        files.set(path.posix.join(text(mount.mountPath, "mountPath"), text(item.path, "path")), [
          name,
          key,
        ]);
      }
    }
    const [secret, key] = files.get(file) ?? [];
    assert.ok(secret && key, `${file} is in the volume`);
    const content = secretKey(secret, key);
    assert.ok(content !== null, `${file} comes from an example Secret`);
    return { file, web: parseWebConfig(content, file), files };
  }

  function monitorEndpoint(): Tree {
    const monitor = tree(readYaml("deploy/kubernetes/servicemonitor.yaml"), "servicemonitor");
    const [endpoint] = list(tree(monitor.spec, "spec").endpoints, "endpoints");
    return tree(endpoint, "endpoint");
  }

  it("lists in kustomization.yaml only files that exist", () => {
    const kustomization = tree(readYaml("deploy/kubernetes/kustomization.yaml"), "kustomization");
    for (const resource of list(kustomization.resources, "resources")) {
      assert.ok(existsInRepo(`deploy/kubernetes/${text(resource, "resource")}`), `${resource}`);
    }
  });

  it("uses only environment variables the configuration loader reads", () => {
    assert.ok(env.length > 0);
    for (const entry of env) {
      const name = text(entry.name, "env name");
      assert.ok(ENV_VARS.includes(name), `${name} is read by the agent`);
    }
    assert.equal(container.envFrom, undefined, "every variable is named in the manifest");
  });

  it("gives the agent a configuration it loads, with the HTTP port the probes use", () => {
    const config = podConfig();
    assert.ok(config.freeswitchInstances.length > 0, "instances come from the Secret");
    const ports = list(container.ports, "ports").map((p) => tree(p, "port"));
    const http = ports.find((p) => p.name === "http");
    assert.ok(http, "a container port named http");
    assert.equal(http.containerPort, config.http.port);
    assert.notEqual(config.http.host, "127.0.0.1", "reachable by the kubelet's probes");
    const probes = [
      ["livenessProbe", "/health"],
      ["readinessProbe", "/ready"],
    ] as const;
    for (const [probe, expectedPath] of probes) {
      const get = tree(tree(container[probe], probe).httpGet, `${probe}.httpGet`);
      assert.equal(get.path, expectedPath, `${probe} path`);
      const port: unknown = get.port === "http" ? http.containerPort : get.port;
      assert.equal(port, config.http.port, `${probe} port`);
    }
  });

  it("mounts the example web config where FSAGENT_HTTP_WEB_CONFIG_FILE names it, with its certificate", () => {
    const { web, files } = podWebConfig();
    assert.ok(web.tls, "the example serves HTTPS");
    assert.deepEqual(files.get(web.tls.certFile), [tlsSecret, "tls.crt"]);
    assert.deepEqual(files.get(web.tls.keyFile), [tlsSecret, "tls.key"]);
    if (web.tls.clientCaFile !== "") assert.ok(files.has(web.tls.clientCaFile));
    // The kubelet's HTTPS probes present no client certificate.
    assert.ok(NO_CLIENT_CERT_NEEDED.includes(web.tls.clientAuthType), web.tls.clientAuthType);
    assert.ok(Object.keys(web.users).length > 0, "basic auth");
    // The kustomization applies the example Secret; certificate.yaml needs cert-manager.
    const kustomization = tree(readYaml("deploy/kubernetes/kustomization.yaml"), "kustomization");
    const resources = list(kustomization.resources, "resources");
    assert.ok(resources.includes("web-config.example.yaml"));
    assert.ok(!resources.includes("certificate.yaml"));
  });

  it("probes paths the web config leaves open, over HTTPS when it turns TLS on", () => {
    const { web } = podWebConfig();
    const exempt = podConfig().http.authExempt;
    for (const probe of ["livenessProbe", "readinessProbe"]) {
      const get = tree(tree(container[probe], probe).httpGet, `${probe}.httpGet`);
      assert.ok(exempt.includes(text(get.path, "path")), `${probe}: ${get.path} is exempt`);
      assert.equal(get.scheme ?? "HTTP", web.tls === null ? "HTTP" : "HTTPS", `${probe} scheme`);
    }
  });

  it("has the ServiceMonitor scrape over HTTPS with a password and CA the Secrets provide", async () => {
    const { web } = podWebConfig();
    const endpoint = monitorEndpoint();
    assert.equal(endpoint.scheme, web.tls === null ? "http" : "https");
    const tls = tree(endpoint.tlsConfig, "tlsConfig");
    const ca = tree(tree(tls.ca, "tlsConfig.ca").secret, "tlsConfig.ca.secret");
    assert.equal(ca.name, tlsSecret, "the CA cert-manager writes beside the certificate");
    assert.equal(ca.key, "ca.crt");
    secretKey(tlsSecret, text(ca.key, "key"));
    const dnsNames = list(tree(certificate.spec, "spec").dnsNames, "dnsNames");
    assert.ok(dnsNames.includes(tls.serverName), `serverName ${tls.serverName} is certified`);
    assert.equal(tls.insecureSkipVerify, undefined);
    const auth = tree(endpoint.basicAuth, "basicAuth");
    const ref = (which: string): string => {
      const selector = tree(auth[which], `basicAuth.${which}`);
      const value = secretKey(text(selector.name, "name"), text(selector.key, "key"));
      assert.ok(value !== null, `basicAuth.${which} comes from an example Secret`);
      return value;
    };
    const [user, password] = [ref("username"), ref("password")];
    assert.ok(await admits(web.users, user, password), `${user}'s password matches its hash`);
    // The scrape credentials stay out of the agent's pod.
    const mounted = [...podWebConfig().files.values()].map(([name]) => name);
    const selectorName = text(tree(auth.password, "password").name, "name");
    assert.ok(!mounted.includes(selectorName));
    assert.ok(!Object.values(containerEnv()).includes(password));
  });

  it("runs the image's CLI as its non-root user, with resources and a grace period", () => {
    const args = list(container.args ?? [], "args").map((a) => text(a, "arg"));
    assert.equal(container.command, undefined, "the image's ENTRYPOINT runs");
    const [command, ...rest] = args;
    assert.equal(command, "run");
    assert.deepEqual(extractConfigFlag(rest).rest, [], "valid fsagent run arguments");
    const pkg = JSON.parse(readText("package.json")) as { version: string };
    assert.match(text(container.image, "image"), new RegExp(`:${pkg.version}$`));
    const user = (lastInstruction(runtime, "USER")?.raw ?? "").split(":")[0];
    const security = tree(pod.securityContext, "securityContext");
    assert.equal(security.runAsNonRoot, true);
    assert.equal(String(security.runAsUser), user);
    const resources = tree(container.resources, "resources");
    assert.deepEqual(resources.requests, { cpu: "250m", memory: "256Mi" });
    assert.deepEqual(resources.limits, { cpu: "1", memory: "512Mi" });
    assert.ok(Number(pod.terminationGracePeriodSeconds) >= 10, "the agent stops within 10 s");
  });

  it("selects its pods in the Deployment, the Service and the ServiceMonitor", () => {
    const selector = tree(spec.selector, "selector").matchLabels;
    assert.ok(matches(selector, podLabels), "Deployment selector matches its pods");
    const svc = k8s("Service", "fsagent");
    const svcSpec = tree(svc.spec, "service spec");
    assert.ok(matches(svcSpec.selector, podLabels), "Service selects the pods");
    const svcPorts = list(svcSpec.ports, "service ports").map((p) => tree(p, "service port"));
    const containerPorts = list(container.ports, "ports").map((p) => tree(p, "port").name);
    for (const port of svcPorts) assert.ok(containerPorts.includes(port.targetPort));
    const monitor = tree(readYaml("deploy/kubernetes/servicemonitor.yaml"), "servicemonitor");
    assert.equal(monitor.kind, "ServiceMonitor");
    const monitorSpec = tree(monitor.spec, "ServiceMonitor spec");
    assert.ok(
      matches(tree(monitorSpec.selector, "selector").matchLabels, tree(svc.metadata, "").labels),
    );
    for (const endpoint of list(monitorSpec.endpoints, "endpoints").map((e) => tree(e, "ep"))) {
      assert.ok(
        svcPorts.some((p) => p.name === endpoint.port),
        `endpoint port ${endpoint.port}`,
      );
      assert.equal(endpoint.path, "/metrics");
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("systemd unit", () => {
  const unit = parseUnit(readText("deploy/systemd/fsagent.service"));
  const serviceSection = unit.get("Service");

  function one(key: string): string | undefined {
    const values = serviceSection?.get(key);
    return values?.at(-1);
  }

  it("is hardened", () => {
    assert.ok(serviceSection, "[Service]");
    const required: Record<string, string> = {
      DynamicUser: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      Restart: "always",
      NoNewPrivileges: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      ProtectKernelTunables: "yes",
      ProtectKernelModules: "yes",
      ProtectControlGroups: "yes",
      RestrictNamespaces: "yes",
      RestrictSUIDSGID: "yes",
      LockPersonality: "yes",
      CapabilityBoundingSet: "",
      SystemCallArchitectures: "native",
      KillSignal: "SIGTERM",
    };
    for (const [key, value] of Object.entries(required)) {
      assert.equal(one(key), value, `${key}=${value}`);
    }
    // A syscall filter must not kill Node for a call outside the set (e.g. io_uring): EPERM.
    assert.ok(one("SystemCallFilter"));
    assert.equal(one("SystemCallErrorNumber"), "EPERM");
    // V8's JIT needs writable+executable memory.
    assert.notEqual(one("MemoryDenyWriteExecute"), "yes");
    assert.ok(Number.parseInt(one("TimeoutStopSec") ?? "0", 10) >= 10);
    assert.ok(unit.get("Install")?.get("WantedBy")?.includes("multi-user.target"));
  });

  it("starts the CLI with valid arguments and reads the config at /etc/fsagent/config.yaml", () => {
    const [node = "", script = "", ...args] = splitCommandLine(one("ExecStart") ?? "");
    assert.ok(path.isAbsolute(node) && path.basename(node) === "node", node);
    assert.ok(script.endsWith("/dist/cli.js"), script);
    const [command, ...rest] = args;
    assert.equal(command, "run");
    const { configPath, rest: unknown } = extractConfigFlag(rest);
    assert.equal(configPath, "/etc/fsagent/config.yaml");
    assert.deepEqual(unknown, []);
  });

  it("takes secrets from an optional environment file whose variables the agent reads", () => {
    const envFile = one("EnvironmentFile") ?? "";
    assert.ok(envFile.startsWith("-/etc/fsagent/"), "optional (-), next to the config");
    const example = parseEnvFile(readText("deploy/systemd/fsagent.env.example"));
    for (const name of Object.keys(example)) assert.ok(ENV_VARS.includes(name), name);
    // With config.example.yaml as /etc/fsagent/config.yaml, the example loads.
    const config = effectiveConfig(readText("config.example.yaml"), example);
    assert.deepEqual(
      config.freeswitchInstances.map((i) => i.name),
      JSON.parse(example.FSAGENT_FREESWITCH_INSTANCES ?? "[]").map((i: { name: string }) => i.name),
    );
  });
});

describe("config.example.yaml", () => {
  it("is what the deploy files point operators to", () => {
    assert.match(readText("deploy/systemd/fsagent.service"), /config\.example\.yaml/);
    assert.match(readText("deploy/kubernetes/configmap.yaml"), /config\.example\.yaml/);
    assert.match(readText("deploy/compose/fsagent.yaml"), /config\.example\.yaml/);
    // The configuration reference moved from the README to docs/configuration.md.
    assert.match(readText("docs/configuration.md"), /config\.example\.yaml/);
  });
});

describe("names shared by the deploy files and the documentation", () => {
  const pkg = JSON.parse(readText("package.json")) as { version: string };
  /** Files that build, run or describe the image, and the Secret the manifests read. */
  const sources = [
    "Dockerfile",
    "docker-compose.yml",
    ...filesUnder("deploy/kubernetes"),
    "README.md",
    ...filesUnder("docs").filter((f) => f.endsWith(".md")),
  ];

  it("tag the image fsagent:<package version> everywhere", () => {
    let seen = 0;
    for (const file of sources) {
      // fsagent:<tag> as an image, not fsagent:8080 (a host and port) or the key prefix fsagent:.
      for (const match of readText(file).matchAll(
        /\bfsagent:(\d+\.\d+\.\d+[\w.-]*|[a-z][\w.-]*)/gi,
      )) {
        seen += 1;
        assert.equal(match[0], `fsagent:${pkg.version}`, `${file}: ${match[0]}`);
      }
    }
    assert.ok(seen >= 5, `image references found: ${seen}`);
    assert.match(readText("Dockerfile"), new RegExp(`docker build -t fsagent:${pkg.version} `));
  });

  it("call the Secrets by the example Secrets' names everywhere", () => {
    const secret = readYamlDocs("deploy/kubernetes/secret.example.yaml")
      .map((doc) => tree(doc, "secret.example.yaml"))
      .find((doc) => doc.kind === "Secret");
    const name = text(tree(secret?.metadata, "Secret metadata").name, "Secret name");
    // The web config's Secrets, and the one cert-manager writes, go by their own names.
    const others = [
      ...readYamlDocs("deploy/kubernetes/web-config.example.yaml").map((doc) =>
        text(tree(tree(doc, "web-config.example.yaml").metadata, "metadata").name, "name"),
      ),
      text(
        tree(tree(readYaml("deploy/kubernetes/certificate.yaml"), "Certificate").spec, "spec")
          .secretName,
        "secretName",
      ),
    ];
    let seen = 0;
    for (const file of sources) {
      const content = readText(file);
      const names = [
        ...content.matchAll(/secretKeyRef:\s*\{?\s*name:\s*([\w.-]+)/g),
        ...content.matchAll(/create secret generic ([\w.-]+)/g),
      ].map((m) => m[1]);
      for (const found of names) {
        seen += 1;
        if (found !== undefined && others.includes(found)) continue;
        assert.equal(found, name, `${file}: Secret ${found}`);
      }
    }
    assert.ok(seen >= 4, `Secret references found: ${seen}`);
  });
});
