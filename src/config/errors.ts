/**
 * The only error the configuration loader throws. Its message is what the CLI prints before
 * exiting with code 2: one line per problem, each `config error: <key> = <value> (<source>):
 * <what is allowed>`, kept to one line even when a value (a YAML key, a file name) smuggles in a
 * line break.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** The problems, one line each, without the `config error: ` prefix. */
  readonly problems: readonly string[];

  constructor(details: string | readonly string[]) {
    const lines = (typeof details === "string" ? [details] : details).map(oneLine);
    super(lines.map((line) => `config error: ${line}`).join("\n"));
    this.problems = lines;
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]+/g, " ");
}
