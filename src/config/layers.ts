import { ENV_BINDINGS, type Env, type EnvBinding, envValue, OTEL_ENV, parsePairs } from "./env.js";
import { formatPath, type Path } from "./paths.js";
import type { Problem } from "./report.js";

/**
 * The file's tree with the environment laid over it, still unvalidated, plus a record of which
 * keys the environment set: an error about such a key names the variable, not the YAML key.
 */
export interface Layers {
  readonly tree: Record<string, unknown>;
  /** formatPath(path) → the env var that set the value at that path. */
  readonly envOrigins: ReadonlyMap<string, string>;
  /** Problems found while reading the environment, before validation. */
  readonly problems: readonly Problem[];
}

export function layer(fileTree: Record<string, unknown>, env: Env): Layers {
  const tree = withoutNulls(fileTree) as Record<string, unknown>;
  const envOrigins = new Map<string, string>();
  const problems: Problem[] = [];

  for (const binding of ENV_BINDINGS) {
    const text = envValue(env, binding.name);
    if (text === undefined) continue;
    const value = envToValue(binding, text, problems);
    if (value !== undefined && setAt(tree, binding.path, value)) {
      envOrigins.set(formatPath(binding.path), binding.name);
    }
  }

  // opentelemetry.endpoint, highest priority first: FSAGENT_OTEL_ENDPOINT (applied above), the
  // file, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, no endpoint (the
  // default). The file beats the standard variables because platforms (the OpenTelemetry
  // Operator, shared pod templates) inject those into every container, while the file and
  // FSAGENT_* were written for this agent. The more specific metrics variable beats the
  // generic one, as in the OTel spec. Both are used as-is: for OTLP/gRPC no path is appended.
  const endpointPath = ["opentelemetry", "endpoint"];
  if (valueAt(tree, endpointPath) === undefined) {
    for (const name of [OTEL_ENV.metricsEndpoint, OTEL_ENV.endpoint]) {
      const text = envValue(env, name);
      if (text === undefined) continue;
      if (setAt(tree, endpointPath, text)) envOrigins.set(formatPath(endpointPath), name);
      break;
    }
  }
  // OTEL_SDK_DISABLED=true (the OTel spec: no signal exported at all) turns export off unless
  // FSAGENT_OTEL_ENABLED or the file said otherwise; any other value leaves it as it is.
  const enabledPath = ["opentelemetry", "enabled"];
  const disabled = envValue(env, OTEL_ENV.sdkDisabled);
  if (disabled?.trim().toLowerCase() === "true" && valueAt(tree, enabledPath) === undefined) {
    if (setAt(tree, enabledPath, false)) {
      envOrigins.set(formatPath(enabledPath), OTEL_ENV.sdkDisabled);
    }
  }
  // The standard OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT (milliseconds) apply only where neither
  // FSAGENT_* nor the file chose a value, for the same reason as the endpoint above.
  for (const [name, key] of [
    [OTEL_ENV.exportInterval, "export_interval"],
    [OTEL_ENV.exportTimeout, "export_timeout"],
  ] as const) {
    const path = ["opentelemetry", key];
    const text = envValue(env, name);
    if (text === undefined || valueAt(tree, path) !== undefined) continue;
    const value = /^\d+$/.test(text.trim()) ? `${text.trim()}ms` : text;
    if (setAt(tree, path, value)) envOrigins.set(formatPath(path), name);
  }
  return { tree, envOrigins, problems };
}

function envToValue(binding: EnvBinding, text: string, problems: Problem[]): unknown {
  if (binding.format === "text") return text;
  if (binding.format === "pairs") {
    const parsed = parsePairs(text, false);
    if (parsed.ok) return parsed.pairs;
    problems.push(envProblem(binding, text, parsed.problem));
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, passwords included, so it is not passed on.
    problems.push(
      envProblem(
        binding,
        text,
        "invalid JSON; expected a JSON array of {name, host, port, password} objects",
      ),
    );
    return undefined;
  }
  return withoutNulls(parsed);
}

function envProblem(binding: EnvBinding, value: string, message: string): Problem {
  return { kind: "env", name: binding.name, value, secret: binding.secret, message };
}

/**
 * `key:` with nothing after it is YAML null; it means "not set" (the default applies), which
 * is also how a section whose keys are all commented out reads.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isMapping(value)) return value;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => [k, withoutNulls(v)] as const);
  return Object.fromEntries(entries);
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function valueAt(tree: unknown, path: Path): unknown {
  let node: unknown = tree;
  for (const segment of path) {
    if (typeof segment === "number" && Array.isArray(node)) node = node[segment];
    else if (isMapping(node) && Object.hasOwn(node, segment)) node = node[segment as string];
    else return undefined;
  }
  return node;
}

/**
 * Sets a value, creating missing mappings on the way. Refuses (returns false) when the file has
 * something else than a mapping on the way, so that the file's own mistake gets reported.
 */
function setAt(tree: Record<string, unknown>, path: Path, value: unknown): boolean {
  let node = tree;
  for (const [index, segment] of path.entries()) {
    const key = String(segment);
    if (index === path.length - 1) {
      Object.defineProperty(node, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return true;
    }
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    } else if (isMapping(next)) {
      node = next;
    } else {
      return false;
    }
  }
  return false;
}
