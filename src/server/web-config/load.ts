import { readFileSync } from "node:fs";
import { readFailure } from "../../config/file.js";
import { parseWebConfig, type WebConfig, WebConfigError } from "./parse.js";
import { readTlsFiles, type TlsServerOptions } from "./tls-files.js";

/** A web config file read and checked, its TLS files included. */
export interface LoadedWebConfig {
  readonly config: WebConfig;
  readonly tls: TlsServerOptions | null;
}

/**
 * Reads `file` (absolute) and everything it names. Throws a one-line WebConfigError naming the
 * key (or the file when it cannot be read or parsed).
 */
export function loadWebConfig(file: string): LoadedWebConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new WebConfigError(`cannot read the file: ${readFailure(error)}`);
  }
  const config = parseWebConfig(text, file);
  return { config, tls: config.tls === null ? null : readTlsFiles(config.tls) };
}
