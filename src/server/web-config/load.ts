import { readFileSync } from "node:fs";
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
    const code = (error as NodeJS.ErrnoException).code;
    throw new WebConfigError(
      `cannot read the file: ${code === "ENOENT" ? "no such file" : (code ?? "unreadable")}`,
    );
  }
  const config = parseWebConfig(text, file);
  return { config, tls: config.tls === null ? null : readTlsFiles(config.tls) };
}
