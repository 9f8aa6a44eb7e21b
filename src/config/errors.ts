/**
 * The only error the configuration loader throws. Its message is the single line the CLI prints
 * before exiting with code 2, so it is kept to one line even when a value (a YAML key, a file
 * name) smuggles in a line break.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(detail: string) {
    super(`config error: ${oneLine(detail)}`);
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]+/g, " ");
}
