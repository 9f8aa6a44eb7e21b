// Readers for the deployment files (Dockerfile, Compose, Kubernetes, systemd, Collector,
// Prometheus, Grafana) and the catalogue of metric names and labels as Prometheus stores them,
// derived from the agent's real instruments. Used by test/deploy-*.test.ts.

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { createMetricsSink } from "../../src/export/metrics.js";
import type { ServerSnapshot } from "../../src/fs-health/server-health.js";
import { silentLogger } from "../../src/log/logger.js";
import type { LegLabels } from "../../src/quality/types.js";
import { createInternalMetrics } from "../../src/server/internal-metrics.js";
import type { AgentView } from "../../src/server/source.js";
import { OtlpReceiver, type PbKeyValue } from "./otlp-receiver.js";
import {
  exporterLabels,
  type OtlpMetricShape,
  type PrometheusExporterSettings,
  prometheusMetricName,
  scrapedLabels,
  seriesNames,
} from "./prom-names.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

export function repoPath(relative: string): string {
  return path.join(REPO, relative);
}

export function readText(relative: string): string {
  return readFileSync(repoPath(relative), "utf8");
}

/** Parses a YAML file (all documents), failing on any YAML error or duplicate key. */
export function readYamlDocs(relative: string): unknown[] {
  const docs = YAML.parseAllDocuments(readText(relative), { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  return list.map((doc) => {
    const [error] = doc.errors;
    if (error !== undefined) throw new Error(`${relative}: ${error.message}`);
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  });
}

export function readYaml(relative: string): unknown {
  const docs = readYamlDocs(relative);
  if (docs.length !== 1) throw new Error(`${relative}: expected one YAML document`);
  return docs[0];
}

export function readJson(relative: string): unknown {
  return JSON.parse(readText(relative));
}

/** Every file below `relative` (a directory of the repository), repository-relative. */
export function filesUnder(relative: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(repoPath(dir), { withFileTypes: true })) {
      const child = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk(relative);
  return out.sort();
}

export function existsInRepo(relative: string): boolean {
  try {
    statSync(repoPath(relative));
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Small typed accessors for parsed YAML/JSON.

export type Tree = Record<string, unknown>;

export function isTree(value: unknown): value is Tree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function tree(value: unknown, what: string): Tree {
  if (!isTree(value)) throw new Error(`${what}: expected a mapping`);
  return value;
}

export function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`);
  return value;
}

export function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new Error(`${what}: expected a string`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface DockerInstruction {
  readonly keyword: string;
  /** The arguments as written (continuation lines joined). */
  readonly raw: string;
  /** Exec-form JSON arguments, or null for the shell form. */
  readonly exec: string[] | null;
}

export interface DockerStage {
  readonly from: string;
  readonly name: string | null;
  readonly instructions: DockerInstruction[];
}

export function parseDockerfile(source: string): DockerStage[] {
  const joined = source.replace(/\\\r?\n/g, " ");
  const stages: DockerStage[] = [];
  for (const line of joined.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const match = /^(\S+)\s+(.*)$/.exec(trimmed);
    if (match === null) throw new Error(`Dockerfile: cannot read ${trimmed}`);
    const keyword = (match[1] ?? "").toUpperCase();
    const raw = (match[2] ?? "").trim();
    if (keyword === "FROM") {
      const [image = "", as, name] = raw.split(/\s+/);
      stages.push({
        from: image,
        name: as?.toUpperCase() === "AS" ? (name ?? null) : null,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) {
      if (keyword === "ARG") continue;
      throw new Error(`Dockerfile: ${keyword} before FROM`);
    }
    stage.instructions.push({ keyword, raw, exec: execForm(raw) });
  }
  return stages;
}

function execForm(raw: string): string[] | null {
  const start = raw.indexOf("[");
  if (start === -1) return null;
  try {
    const parsed: unknown = JSON.parse(raw.slice(start));
    return Array.isArray(parsed) && parsed.every((a) => typeof a === "string") ? parsed : null;
  } catch {
    return null;
  }
}

/** The last value of an instruction in a stage (e.g. the WORKDIR in force at the end). */
export function lastInstruction(stage: DockerStage, keyword: string): DockerInstruction | null {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1) ?? null;
}

/** ENV instructions of a stage (KEY=VALUE form). */
export function dockerEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== "ENV") continue;
    for (const pair of instruction.raw.split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new Error(`Dockerfile ENV: use KEY=VALUE (${instruction.raw})`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"(.*)"$/, "$1");
    }
  }
  return env;
}

export interface DockerCopy {
  readonly from: string | null;
  readonly sources: string[];
  /** Absolute destination in the stage's filesystem. */
  readonly dest: string;
}

/** COPY instructions of a stage with their destinations made absolute (WORKDIR applied). */
export function dockerCopies(stage: DockerStage): DockerCopy[] {
  const out: DockerCopy[] = [];
  let workdir = "/";
  for (const instruction of stage.instructions) {
    if (instruction.keyword === "WORKDIR") {
      workdir = path.posix.resolve(workdir, instruction.raw);
      continue;
    }
    if (instruction.keyword !== "COPY") continue;
    const words = instruction.raw.split(/\s+/);
    let from: string | null = null;
    const args: string[] = [];
    for (const word of words) {
      if (word.startsWith("--from=")) from = word.slice("--from=".length);
      else if (!word.startsWith("--")) args.push(word);
    }
    const dest = args.pop();
    if (dest === undefined || args.length === 0) throw new Error(`COPY ${instruction.raw}`);
    out.push({ from, sources: args, dest: path.posix.resolve(workdir, dest) });
  }
  return out;
}

/** The WORKDIR in force at the end of a stage. */
export function finalWorkdir(stage: DockerStage): string {
  let workdir = "/";
  for (const instruction of stage.instructions) {
    if (instruction.keyword === "WORKDIR") workdir = path.posix.resolve(workdir, instruction.raw);
  }
  return workdir;
}

/** RUN commands of a stage. */
export function dockerRuns(stage: DockerStage): string[] {
  return stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.raw);
}

// ---------------------------------------------------------------------------------------------
// Compose

export interface Mount {
  /** Repository-relative path of the bind-mounted file or directory. */
  readonly source: string;
  readonly target: string;
}

/** Bind mounts of a Compose service (short `./src:/target[:ro]` and long syntax). */
export function composeMounts(service: Tree): Mount[] {
  const volumes = service.volumes === undefined ? [] : list(service.volumes, "volumes");
  return volumes.map((volume) => {
    if (typeof volume === "string") {
      const [source = "", target = ""] = volume.split(":");
      return { source: path.posix.normalize(source), target };
    }
    const long = tree(volume, "volume");
    return {
      source: path.posix.normalize(text(long.source, "volume.source")),
      target: text(long.target, "volume.target"),
    };
  });
}

/** The repository file behind a path inside a container, through the service's bind mounts. */
export function mountedFile(service: Tree, containerPath: string): string | null {
  for (const mount of composeMounts(service)) {
    if (containerPath === mount.target) return mount.source;
    if (containerPath.startsWith(`${mount.target}/`)) {
      return path.posix.join(mount.source, containerPath.slice(mount.target.length + 1));
    }
  }
  return null;
}

/** A Compose service's environment as a record (map or KEY=VALUE list form). */
export function composeEnv(service: Tree): Record<string, string> {
  const env = service.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((item) => {
        const entry = text(item, "environment item");
        const eq = entry.indexOf("=");
        return eq === -1 ? [entry, ""] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(tree(env, "environment")).map(([k, v]) => [k, v === null ? "" : String(v)]),
  );
}

/** A Compose `command` as an argument list. */
export function composeCommand(service: Tree): string[] {
  const command = service.command;
  if (command === undefined) return [];
  if (typeof command === "string") return command.split(/\s+/).filter((w) => w !== "");
  return list(command, "command").map((a) => text(a, "command argument"));
}

export function dependsOn(service: Tree): string[] {
  const deps = service.depends_on;
  if (deps === undefined) return [];
  if (Array.isArray(deps)) return deps.map((d) => text(d, "depends_on"));
  return Object.keys(tree(deps, "depends_on"));
}

/** host:port → [host, port]; a port-less address gets `defaultPort`. */
export function hostPort(address: string, defaultPort?: number): [string, number] {
  const url = /^[a-z]+:\/\//.test(address) ? new URL(address) : new URL(`tcp://${address}`);
  const port = url.port === "" ? defaultPort : Number(url.port);
  if (port === undefined) throw new Error(`${address}: no port`);
  return [url.hostname.replace(/^\[(.*)\]$/, "$1"), port];
}

// ---------------------------------------------------------------------------------------------
// systemd

/** An ini-like unit file: section → key → values in order (keys may repeat). */
export function parseUnit(source: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  const joined = source.replace(/\\\r?\n/g, " ");
  for (const line of joined.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const section = /^\[([^\]]+)\]$/.exec(trimmed);
    if (section !== null) {
      current = new Map();
      sections.set(section[1] ?? "", current);
      continue;
    }
    const eq = trimmed.indexOf("=");
    if (current === undefined || eq <= 0) throw new Error(`unit file: cannot read ${trimmed}`);
    const key = trimmed.slice(0, eq).trim();
    const values = current.get(key) ?? [];
    values.push(trimmed.slice(eq + 1).trim());
    current.set(key, values);
  }
  return sections;
}

/**
 * A systemd EnvironmentFile: KEY=VALUE lines; a value in single quotes is literal, one in double
 * quotes has backslash escapes, and quotes inside an unquoted value are removed (as systemd does,
 * which is why JSON values must be single-quoted).
 */
export function parseEnvFile(source: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of source.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) throw new Error(`environment file: cannot read ${trimmed}`);
    const raw = trimmed.slice(eq + 1).trim();
    let value = "";
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i] ?? "";
      if (c === "'") {
        const end = raw.indexOf("'", i + 1);
        if (end === -1) throw new Error(`environment file: unterminated ' in ${trimmed}`);
        value += raw.slice(i + 1, end);
        i = end;
      } else if (c === '"') {
        let j = i + 1;
        while (j < raw.length && raw[j] !== '"') {
          if (raw[j] === "\\") j++;
          value += raw[j] ?? "";
          j++;
        }
        i = j;
      } else if (c === "\\") {
        i++;
        value += raw[i] ?? "";
      } else {
        value += c;
      }
    }
    env[trimmed.slice(0, eq).trim()] = value;
  }
  return env;
}

/** Splits a command line the way systemd's ExecStart does for plain words and quotes. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    words.push(match[1] ?? match[2] ?? match[3] ?? "");
  }
  return words;
}

// ---------------------------------------------------------------------------------------------
// The metric catalogue: every metric name as Prometheus stores it, with its labels.

export interface CatalogEntry {
  readonly labels: ReadonlySet<string>;
  /** A counter series (rate() and increase() apply): a monotonic sum, _total, _bucket/_sum/_count. */
  readonly counter: boolean;
  /** Where it comes from: the OTLP instrument, or the agent's /metrics registry. */
  readonly source: string;
}

/**
 * One FreeSWITCH's own figures (issue 20) with every part present: core figures, a profile with
 * its registrations and a pinged gateway, so the sink exports every server metric once.
 */
const SERVER: ServerSnapshot = {
  instance: "fs1",
  hostname: "pbx1",
  core: {
    sessions: 12,
    sessionsLimit: 1000,
    sessionsPeak: 40,
    sessionsPeak5min: 15,
    sessionsCreated: 5000,
    sessionRate: 2,
    sessionRateLimit: 30,
    rateLimitExact: true,
    sessionRatePeak: 9,
    sessionRatePeak5min: 4,
    idleCpu: 0.93,
    uptimeS: 86_400,
    version: "1.11.3-dev~64bit",
  },
  startedAtMs: Date.now() - 86_400_000,
  coreAtMs: Date.now(),
  profiles: [{ name: "external", state: "RUNNING", up: true, inUse: 0, registrations: 3 }],
  gateways: [
    {
      profile: "external",
      name: "carrier",
      state: "REGED",
      status: "UP",
      pingS: 0.012,
      callsIn: 10,
      callsOut: 20,
      failedCallsIn: 1,
      failedCallsOut: 2,
    },
  ],
  polledAtMs: Date.now(),
};

/** The agent's OTLP metrics as they arrive at a Collector: name, unit, type, attribute keys. */
export async function exportedOtlpMetrics(): Promise<OtlpMetricShape[]> {
  const receiver = await OtlpReceiver.start();
  const sink = createMetricsSink(
    {
      enabled: true,
      protocol: "grpc",
      endpoint: receiver.endpoint,
      endpointExplicit: true,
      insecure: true,
      headers: {},
      compression: "none",
      serviceName: "fsagent",
      exportIntervalMs: 60_000,
      exportTimeoutMs: 5_000,
      retryQueueSize: 100,
      tls: { caFile: "", certFile: "", keyFile: "" },
      resourceAttributes: {},
    },
    {
      maxLegs: 100,
      logger: silentLogger(),
      activeLegs: () => [{ instance: "fs1", domainName: "pbx.example.com", legs: 2 }],
      servers: () => [SERVER],
    },
  );
  try {
    const labels: LegLabels = {
      channelId: "leg-1",
      correlationId: "call-1@pbx.example.com",
      domainName: "pbx.example.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "198.51.100.7",
      dstIp: "203.0.113.5",
    };
    // One report each way with losses (so the counter has a point) and, for the received
    // report, a round-trip time; then the leg's end.
    for (const direction of ["inbound", "outbound"] as const) {
      sink.recordRtcp({
        instance: "fs1",
        labels,
        direction,
        jitterMs: 4.5,
        fractionLost: 0.02,
        packetsLost: 3,
        rttMs: direction === "inbound" ? 42 : undefined,
        mos: 4.3,
      });
    }
    sink.recordQos({
      instance: "fs1",
      labels,
      mosEstimate: 4.1,
      rtcpIn: null,
      rtcpOut: null,
      hangup: { cause: "NORMAL_CLEARING", durationS: 30, billsec: 21 },
      values: {
        mosScore: 4.2,
        jitterMinMs: 1,
        jitterMaxMs: 9,
        jitterAvgMs: 4.5,
        totalPackets: 3000,
        packetLoss: 6,
        totalBytes: 480_000,
        unreadable: [],
      },
    });
    sink.recordCompleted({ instance: "fs1", labels });
    await sink.forceFlush();
  } finally {
    await sink.shutdown();
    await receiver.close();
  }
  if (receiver.decodeErrors.length > 0) throw new Error(receiver.decodeErrors.join("; "));
  const shapes = new Map<string, OtlpMetricShape>();
  for (const request of receiver.metricRequests) {
    for (const rm of request.body.resourceMetrics ?? []) {
      const resourceAttributes = (rm.resource?.attributes ?? []).map((kv) => kv.key ?? "");
      for (const sm of rm.scopeMetrics ?? []) {
        for (const metric of sm.metrics ?? []) {
          const name = metric.name ?? "";
          const histogram = (
            metric as { histogram?: { dataPoints?: { attributes?: PbKeyValue[] }[] } }
          ).histogram;
          const points =
            metric.gauge?.dataPoints ?? metric.sum?.dataPoints ?? histogram?.dataPoints ?? [];
          const attributes = new Set(shapes.get(name)?.attributes ?? []);
          for (const point of points) {
            for (const kv of point.attributes ?? []) attributes.add(kv.key ?? "");
          }
          const type =
            metric.gauge !== undefined
              ? "gauge"
              : metric.sum !== undefined
                ? "sum"
                : histogram !== undefined
                  ? "histogram"
                  : undefined;
          if (type === undefined) {
            throw new Error(
              `${name}: a metric type the catalogue does not handle (${metric.data})`,
            );
          }
          shapes.set(name, {
            name,
            unit: metric.unit ?? "",
            type,
            monotonic: metric.sum?.isMonotonic ?? false,
            attributes: [...attributes].sort(),
            resourceAttributes: [...resourceAttributes].sort(),
          });
        }
      }
    }
  }
  return [...shapes.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface InternalMetric {
  readonly name: string;
  readonly type: "gauge" | "counter" | "histogram" | "summary";
  readonly labels: readonly string[];
}

/**
 * The agent's /metrics registry (fsagent_* and the Node.js process metrics): names, types and
 * declared label names. Only the definitions are read; nothing is collected, so the view behind
 * the registry is never called.
 */
export function internalMetrics(): InternalMetric[] {
  // Every view method answers an empty object: optional parts (e.g. HA) then register their
  // metrics too. The values are never read, because nothing is collected.
  const view = new Proxy({} as AgentView, {
    get: () => () => ({}),
  });
  const registry = createInternalMetrics(view, { version: "test" });
  return registry.getMetricsAsArray().map((metric) => {
    const raw = metric as unknown as { name: string; type: string; labelNames?: unknown };
    if (!Array.isArray(raw.labelNames)) {
      throw new Error(`prom-client metric ${raw.name} has no labelNames array`);
    }
    const type = raw.type;
    if (type !== "gauge" && type !== "counter" && type !== "histogram" && type !== "summary") {
      throw new Error(`prom-client metric ${raw.name} has type ${type}`);
    }
    return { name: raw.name, type, labels: raw.labelNames.map(String) };
  });
}

export interface PrometheusScrape {
  readonly job: string;
  readonly targets: readonly string[];
  readonly honorLabels: boolean;
  readonly metricsPath: string;
}

export function prometheusScrapes(config: unknown): PrometheusScrape[] {
  const scrapes = list(tree(config, "prometheus.yml").scrape_configs, "scrape_configs");
  return scrapes.map((item) => {
    const scrape = tree(item, "scrape_config");
    const targets = list(scrape.static_configs, "static_configs").flatMap((sc) =>
      list(tree(sc, "static_config").targets, "targets").map((t) => text(t, "target")),
    );
    return {
      job: text(scrape.job_name, "job_name"),
      targets,
      honorLabels: scrape.honor_labels === true,
      metricsPath: typeof scrape.metrics_path === "string" ? scrape.metrics_path : "/metrics",
    };
  });
}

/**
 * Every metric name Prometheus will hold, with its labels: the OTLP instruments through the
 * Collector's prometheus exporter (named by `settings`) and scraped with `collectorHonorLabels`,
 * the agent's registry scraped directly, and Prometheus' own per-target `up`.
 */
export function buildCatalog(
  otlp: readonly OtlpMetricShape[],
  settings: PrometheusExporterSettings,
  collectorHonorLabels: boolean,
  internal: readonly InternalMetric[],
): Map<string, CatalogEntry> {
  const catalog = new Map<string, CatalogEntry>();
  const add = (name: string, labels: Set<string>, source: string, counter: boolean): void => {
    const existing = catalog.get(name);
    if (existing !== undefined) {
      throw new Error(`${name} comes from both ${existing.source} and ${source}`);
    }
    catalog.set(name, { labels, source, counter });
  };
  for (const metric of otlp) {
    const name = prometheusMetricName(metric, settings);
    const labels = scrapedLabels(exporterLabels(metric, settings), collectorHonorLabels);
    // Gauges and sums are one series each; a histogram is _bucket (with le), _sum and _count.
    const kind = metric.type === "histogram" ? "histogram" : "gauge";
    const counter = kind === "histogram" || (metric.type === "sum" && metric.monotonic);
    for (const series of seriesNames(name, kind)) {
      add(series, series === `${name}_bucket` ? withLe(labels) : labels, metric.name, counter);
    }
  }
  for (const metric of internal) {
    const labels = scrapedLabels(new Set(metric.labels), false);
    for (const series of seriesNames(metric.name, metric.type)) {
      const withExtra =
        metric.type === "histogram" && series.endsWith("_bucket")
          ? withLe(labels)
          : metric.type === "summary" && series === metric.name
            ? new Set([...labels, "quantile"])
            : labels;
      const counter = metric.type === "counter" || series !== metric.name;
      add(series, withExtra, `/metrics ${metric.name}`, counter);
    }
  }
  // Prometheus itself writes `up` for every scrape target.
  add("up", new Set(["job", "instance"]), "Prometheus (per scrape target)", false);
  return catalog;
}

function withLe(labels: ReadonlySet<string>): Set<string> {
  return new Set([...labels, "le"]);
}
