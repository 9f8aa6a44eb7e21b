import path from "node:path";
import { loadWebConfig } from "../server/web-config/load.js";
import type { WebConfig } from "../server/web-config/parse.js";
import { type Env, envValue, OTEL_ENV, parsePairs } from "./env.js";
import { readConfigFile } from "./file.js";
import { layer, valueAt } from "./layers.js";
import {
  DEFAULT_ENDPOINTS,
  ENDPOINT_PATH,
  type EndpointSource,
  endpointMisfit,
  signalEndpoints,
} from "./otlp-endpoints.js";
import { formatPath, type Path } from "./paths.js";
import { type Problem, problemsFromIssues, reportProblems } from "./report.js";
import { crossCheck, exportTiming, type FileConfig, fileSchema } from "./schema.js";
import type { Config } from "./types.js";

export { ENV_VARS } from "./env.js";
export { extractConfigFlag } from "./flag.js";
export { renderConfig, secretsOf } from "./render.js";

export interface LoadConfigOptions {
  /** From --config; when absent, <cwd>/config.yaml is used if it exists. */
  readonly configPath?: string | undefined;
  readonly env: Env;
  readonly cwd: string;
  /** Default true; the demo passes false because it brings its own simulated instance. */
  readonly requireInstances?: boolean;
}

const DEFAULT_SERVICE_NAME = "fsagent";

/**
 * Defaults, then the YAML file, then the environment; validated and deeply frozen. Throws
 * ConfigError, and nothing else, with a one-line message naming the key, the value, where it
 * came from and what is allowed.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const file = readConfigFile(options.configPath, options.cwd);
  const layers = layer(file?.tree ?? {}, options.env);
  const problems: Problem[] = [...layers.problems];

  const resourceAttributes = readResourceAttributes(options.env, problems);
  const schema = fileSchema({ requireInstances: options.requireInstances ?? true });
  const result = schema.safeParse(layers.tree);
  const isSet = (path: Path): boolean => valueAt(layers.tree, path) !== undefined;
  let endpoints: EndpointSource | undefined;
  let web: WebConfig | null = null;
  if (result.success) {
    for (const { path, message } of crossCheck(result.data, isSet)) {
      problems.push({ kind: "tree", path, message, unknownKey: false, count: 1 });
    }
    web = readWebConfig(result.data.http.web_config_file, problems);
    const otel = result.data.opentelemetry;
    endpoints = {
      protocol: otel.protocol,
      endpoint: otel.endpoint ?? DEFAULT_ENDPOINTS[otel.protocol],
      endpointVariable: layers.envOrigins.get(formatPath(ENDPOINT_PATH)),
      genericVariable: envValue(options.env, OTEL_ENV.endpoint),
    };
    const misfit = endpointMisfit(endpoints);
    if (misfit !== undefined) {
      problems.push({
        kind: "tree",
        path: ENDPOINT_PATH,
        message: misfit,
        unknownKey: false,
        count: 1,
      });
    }
  } else {
    problems.push(...problemsFromIssues(result.error.issues));
  }
  if (problems.length > 0 || !result.success || endpoints === undefined) {
    throw reportProblems(problems, {
      tree: layers.tree,
      envOrigins: layers.envOrigins,
      fileLabel: file?.label ?? null,
    });
  }

  // OTEL_SERVICE_NAME beats a service.name resource attribute, as the OTel spec says.
  const serviceName =
    envValue(options.env, OTEL_ENV.serviceName) ??
    resourceAttributes["service.name"] ??
    DEFAULT_SERVICE_NAME;
  return deepFreeze(
    toConfig(result.data, {
      serviceName,
      resourceAttributes,
      source: file?.path ?? null,
      timing: exportTiming(result.data, isSet),
      endpoints,
      web,
    }),
  );
}

function readResourceAttributes(env: Env, problems: Problem[]): Record<string, string> {
  const name = OTEL_ENV.resourceAttributes;
  const text = envValue(env, name);
  if (text === undefined) return {};
  const parsed = parsePairs(text, true);
  if (parsed.ok) return parsed.pairs;
  problems.push({ kind: "env", name, value: text, secret: false, message: parsed.problem });
  return {};
}

interface Extras {
  readonly timing: { readonly intervalMs: number; readonly timeoutMs: number };
  readonly serviceName: string;
  readonly resourceAttributes: Record<string, string>;
  readonly source: string | null;
  readonly endpoints: EndpointSource;
  readonly web: WebConfig | null;
}

const WEB_CONFIG_PATH: Path = ["http", "web_config_file"];

/**
 * The web config file and everything it names (certificates, keys), read and checked once: the
 * agent must not start with a mistake in it. null without one.
 */
function readWebConfig(file: string, problems: Problem[]): WebConfig | null {
  if (file === "") return null;
  try {
    return loadWebConfig(path.resolve(file)).config;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    problems.push({ kind: "tree", path: WEB_CONFIG_PATH, message, unknownKey: false, count: 1 });
    return null;
  }
}

function toConfig(file: FileConfig, extras: Extras): Config {
  const { esl, storage, opentelemetry: otel } = file;
  const urls = signalEndpoints(extras.endpoints);
  return {
    freeswitchInstances: file.freeswitch_instances.map((instance) => ({ ...instance })),
    esl: {
      connectTimeoutMs: esl.connect_timeout,
      commandTimeoutMs: esl.command_timeout,
      idleTimeoutMs: esl.idle_timeout,
      maxFrameBytes: esl.max_frame_bytes,
      backoff: {
        initialMs: esl.backoff.initial,
        factor: esl.backoff.factor,
        maxMs: esl.backoff.max,
        resetAfterMs: esl.backoff.reset_after,
      },
    },
    storage: {
      type: storage.type,
      maxLegs: storage.max_legs,
      legTtlMs: storage.leg_ttl,
      redis: {
        host: storage.redis.host,
        port: storage.redis.port,
        password: storage.redis.password,
        db: storage.redis.db,
        keyPrefix: storage.redis.key_prefix,
        username: storage.redis.username,
        tls: storage.redis.tls,
        caFile: storage.redis.ca_file,
      },
    },
    opentelemetry: {
      // An empty endpoint has always meant "no export"; `enabled: false` says it outright.
      enabled: otel.enabled && otel.endpoint !== "",
      protocol: otel.protocol,
      endpoint: extras.endpoints.endpoint,
      ...(urls === undefined ? {} : { signalEndpoints: urls }),
      endpointExplicit: otel.endpoint !== undefined,
      insecure: otel.insecure,
      headers: { ...otel.headers },
      compression: otel.compression,
      serviceName: extras.serviceName,
      exportIntervalMs: extras.timing.intervalMs,
      exportTimeoutMs: extras.timing.timeoutMs,
      retryQueueSize: otel.retry_queue_size,
      tls: {
        caFile: otel.tls.ca_file,
        certFile: otel.tls.cert_file,
        keyFile: otel.tls.key_file,
      },
      resourceAttributes: extras.resourceAttributes,
    },
    http: {
      host: file.http.host,
      port: file.http.port,
      ui: file.http.ui,
      webConfigFile: file.http.web_config_file,
      authExempt: [...file.http.auth_exempt],
      web: extras.web,
    },
    logging: { ...file.logging },
    events: { ...file.events },
    metrics: { perLeg: file.metrics.per_leg },
    logs: { enabled: file.logs.enabled },
    ha: {
      enabled: file.ha.enabled,
      leaseTtlMs: file.ha.lease_ttl,
      unreachableReleaseAfterMs: file.ha.unreachable_release_after,
      replicaId: file.ha.replica_id,
    },
    health: { pollIntervalMs: file.health.poll_interval },
    lookups: {
      ratePerSecond: file.lookups.rate,
      notFoundTtlMs: file.lookups.not_found_ttl,
      maxWaitingBytes: file.lookups.max_waiting_bytes,
    },
    source: extras.source,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
