import { hashPassword } from "./server/web-config/basic-auth.js";
import { UsageError } from "./usage-error.js";

export const HASH_PASSWORD_HELP = `fsagent hash-password [--cost N]

Prints a bcrypt hash of a password for basic_auth_users in the web config file
(http.web_config_file). The password is read from standard input (one line; a pipe, or typed
without echo at a terminal), never from the command line, where ps and the shell history see it.
--cost: bcrypt's work factor, 10 by default (each step doubles the time a check takes).

  printf '%s' "$PASSWORD" | fsagent hash-password`;

/** `fsagent hash-password`: the hash on stdout; a usage mistake is a UsageError (exit 2). */
export async function runHashPassword(argv: readonly string[]): Promise<void> {
  let cost = 10;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--cost") {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 4 || value > 31) {
        throw new UsageError("--cost expects an integer from 4 to 31 (default 10)");
      }
      cost = value;
    } else {
      throw new UsageError(`unexpected argument "${arg}" (see fsagent hash-password --help)`);
    }
  }
  const password = await readPassword();
  if (password === "") throw new UsageError("hash-password: the password is empty");
  process.stdout.write(`${await hashPassword(password, cost)}\n`);
}

async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
  }
  process.stderr.write("Password: ");
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  return new Promise((resolve) => {
    let typed = "";
    const onData = (text: string): void => {
      for (const char of text) {
        if (char === "\r" || char === "\n" || char === "\u0004") {
          stdin.setRawMode(false);
          stdin.off("data", onData);
          stdin.pause();
          process.stderr.write("\n");
          resolve(typed);
          return;
        }
        if (char === "\u0003") {
          stdin.setRawMode(false);
          process.stderr.write("\n");
          process.exit(130);
        }
        typed = char === "\u007f" ? typed.slice(0, -1) : typed + char;
      }
    };
    stdin.on("data", onData);
  });
}
