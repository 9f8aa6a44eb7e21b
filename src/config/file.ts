import { readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { ConfigError } from "./errors.js";

export interface ConfigFile {
  /** Absolute path, reported as Config.source. */
  readonly path: string;
  /** The path as the operator wrote it (or "config.yaml"), used in error messages. */
  readonly label: string;
  /** The parsed YAML; an empty file is an empty mapping. */
  readonly tree: Record<string, unknown>;
}

const DEFAULT_FILE = "config.yaml";

/**
 * The explicit `--config` file, which must be readable; otherwise `<cwd>/config.yaml` if there is
 * one; otherwise null, and the environment alone configures the agent.
 */
export function readConfigFile(configPath: string | undefined, cwd: string): ConfigFile | null {
  const label = configPath ?? DEFAULT_FILE;
  const absolute = path.resolve(cwd, label);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    const code = errorCode(error);
    // Only absence is optional, and only for the default file: a config.yaml that exists but
    // cannot be read must not be silently replaced by defaults.
    if (configPath === undefined && code === "ENOENT") return null;
    throw new ConfigError(`cannot read ${label}: ${reason(code, error)}`);
  }
  return { path: absolute, label, tree: parseYaml(text, label) };
}

/** A YAML syntax error: its first line only, and where it is. */
export class YamlSyntaxError extends Error {
  override readonly name = "YamlSyntaxError";

  constructor(
    readonly summary: string,
    readonly where: { readonly line: number; readonly col: number } | undefined,
  ) {
    super(`YAML syntax error: ${summary}`);
  }
}

/**
 * The YAML text as plain data (duplicate keys refused, aliases bounded). Throws YamlSyntaxError,
 * or an Error of one line when alias expansion passes its bound.
 */
export function yamlTree(text: string): unknown {
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  const [error] = doc.errors;
  if (error !== undefined) {
    // Only the first line: the rest of the message quotes the source, which may hold a password.
    const [first = ""] = error.message.split("\n");
    const summary = first.replace(/ at line \d+, column \d+:?$/, "");
    const where = error.linePos?.[0];
    throw new YamlSyntaxError(summary, where);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Alias expansion limits (the "billion laughs" guard) surface here, not in doc.errors.
    throw new Error(errorLine(error));
  }
}

/** Why a file could not be read, in words: "no such file (ENOENT)". */
export function readFailure(error: unknown): string {
  return reason(errorCode(error), error);
}

function parseYaml(text: string, label: string): Record<string, unknown> {
  let tree: unknown;
  try {
    tree = yamlTree(text);
  } catch (error) {
    if (error instanceof YamlSyntaxError) {
      const position = error.where === undefined ? "" : `:${error.where.line}:${error.where.col}`;
      throw new ConfigError(`${label}${position}: ${error.message}`);
    }
    throw new ConfigError(`${label}: ${errorLine(error)}`);
  }
  if (tree === null || tree === undefined) return {};
  if (typeof tree !== "object" || Array.isArray(tree)) {
    throw new ConfigError(
      `${label}: expected a YAML mapping at the top level (freeswitch_instances, storage, ...), got ${Array.isArray(tree) ? "a list" : `a ${typeof tree}`}`,
    );
  }
  return tree as Record<string, unknown>;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a parent is not a directory",
  ELOOP: "too many symbolic links",
};

function reason(code: string | undefined, error: unknown): string {
  const known = code === undefined ? undefined : REASONS[code];
  if (known !== undefined) return `${known} (${code})`;
  return errorLine(error);
}

function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}
