import { ConfigError } from "./errors.js";

const FLAGS = ["--config", "-config"] as const;

/**
 * Takes the config file flag out of the command-line arguments. Accepts `--config <path>`,
 * `--config=<path>` and the original Go agent's `-config` forms; as with Go's flag package the
 * last one wins. Arguments after `--` are left alone.
 */
export function extractConfigFlag(argv: readonly string[]): {
  configPath: string | undefined;
  rest: string[];
} {
  let configPath: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const flag = FLAGS.find((f) => arg === f || arg.startsWith(`${f}=`));
    if (flag === undefined) {
      rest.push(arg);
      continue;
    }
    let value: string | undefined;
    if (arg === flag) {
      value = argv[i + 1];
      // "--config --help" is a forgotten path, not a file called "--help".
      if (value?.startsWith("-")) value = undefined;
      else i++;
    } else {
      value = arg.slice(flag.length + 1);
    }
    if (value === undefined || value === "") {
      throw new ConfigError(`${flag} needs a file path, e.g. ${flag} /etc/fsagent/config.yaml`);
    }
    configPath = value;
  }
  return { configPath, rest };
}
