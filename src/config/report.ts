import type { z } from "zod";
import { ENV_BINDINGS } from "./env.js";
import { ConfigError } from "./errors.js";
import { isMapping, valueAt } from "./layers.js";
import { formatPath, formatSuffix, isSecretPath, type Path } from "./paths.js";

/** One thing wrong with the configuration, before it becomes a line of text. */
export type Problem =
  | {
      /** A value in the merged tree; where it came from is worked out when reporting. */
      readonly kind: "tree";
      readonly path: Path;
      readonly message: string;
      readonly unknownKey: boolean;
      /** How many problems this stands for (one zod issue can name several unknown keys). */
      readonly count: number;
    }
  | {
      /** An env var that could not even be turned into a value (bad JSON, bad k=v list). */
      readonly kind: "env";
      readonly name: string;
      readonly value: string;
      readonly secret: boolean;
      readonly message: string;
    };

export interface ReportContext {
  readonly tree: unknown;
  readonly envOrigins: ReadonlyMap<string, string>;
  /** The file's label, or null when there is no file. */
  readonly fileLabel: string | null;
}

export function problemsFromIssues(issues: readonly z.core.$ZodIssue[]): Problem[] {
  return issues.map((issue): Problem => {
    if (issue.code === "unrecognized_keys") {
      const path = [...issue.path, issue.keys[0] ?? ""];
      return {
        kind: "tree",
        path,
        message: issue.message,
        unknownKey: true,
        count: issue.keys.length,
      };
    }
    return { kind: "tree", path: issue.path, message: issue.message, unknownKey: false, count: 1 };
  });
}

/**
 * Every problem, one line each, so that one run of the agent (or check-config) shows all there is
 * to fix. Unknown keys go first: a misspelt key usually explains the "missing" errors after it.
 */
export function reportProblems(problems: readonly Problem[], context: ReportContext): ConfigError {
  // A variable that could not be read leaves its key unset: "missing" there would only repeat it.
  const unread = problems.flatMap((p) => {
    const path = p.kind === "env" ? ENV_BINDINGS.find((b) => b.name === p.name)?.path : undefined;
    return path === undefined ? [] : [formatPath(path)];
  });
  const consequence = (p: Problem) =>
    p.kind === "tree" && unread.some((key) => formatPath(p.path).startsWith(key));
  const ordered = [
    ...problems.filter((p) => p.kind === "env"),
    ...problems.filter((p) => p.kind === "tree" && p.unknownKey),
    ...problems.filter((p) => p.kind === "tree" && !p.unknownKey && !consequence(p)),
  ];
  if (ordered.length === 0) return new ConfigError("invalid configuration");
  return new ConfigError(ordered.map((p) => describe(p, context)));
}

function describe(problem: Problem, context: ReportContext): string {
  if (problem.kind === "env") {
    const shown = problem.secret ? "***" : quote(problem.value);
    return `${problem.name} = ${shown} (env): ${problem.message}`;
  }
  const origin = locate(problem.path, context);
  if (problem.unknownKey) return `${origin.key} (${origin.source}): ${problem.message}`;
  const value = valueAt(context.tree, problem.path);
  if (value === undefined) return `${origin.key} is missing (${origin.source}): ${problem.message}`;
  const shown = origin.secret || isSecretPath(problem.path) ? "***" : display(value);
  return `${origin.key} = ${shown} (${origin.source}): ${problem.message}`;
}

interface Origin {
  readonly key: string;
  readonly source: string;
  /** The whole value of a secret env var (a password, the instances JSON). */
  readonly secret: boolean;
}

/** The env var that set this path or one of its parents, else the file, else the defaults. */
function locate(path: Path, context: ReportContext): Origin {
  for (let length = path.length; length >= 0; length--) {
    const name = context.envOrigins.get(formatPath(path.slice(0, length)));
    if (name === undefined) continue;
    const whole = length === path.length;
    const secret = whole && ENV_BINDINGS.some((b) => b.name === name && b.secret);
    return { key: `${name}${formatSuffix(path.slice(length))}`, source: "env", secret };
  }
  return {
    key: formatPath(path),
    source: context.fileLabel ?? "no config file",
    secret: false,
  };
}

/** Mappings and lists are summarised, never printed: they may hold secrets, and lines stay short. */
function display(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? "[]" : "[...]";
  if (isMapping(value)) return Object.keys(value).length === 0 ? "{}" : "{...}";
  if (typeof value === "string") return quote(value);
  // String(), not JSON.stringify(): YAML's .inf must not be shown as null.
  return String(value);
}

const MAX_SHOWN = 60;

function quote(text: string): string {
  return JSON.stringify(text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text);
}
