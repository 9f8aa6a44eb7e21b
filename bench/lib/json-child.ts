// Runs a TypeScript file in a fresh Node process (with tsx) and returns the first JSON line it
// prints. Benchmarks use it to give each measured subject its own clean heap.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface JsonChildOptions {
  /** Extra node options before `--import tsx` (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** The child is SIGKILLed and the promise rejects after this long. */
  readonly timeoutMs: number;
}

/** The spawned child: its first JSON line, and a way to kill it early. */
export interface JsonChild<T> {
  readonly result: Promise<T>;
  kill(): void;
}

export function runJsonChild<T>(
  script: string,
  args: readonly string[],
  options: JsonChildOptions,
): JsonChild<T> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), "--import", "tsx", script, ...args],
    // cwd = project root, where `--import tsx` resolves; stdin closed, stderr kept for errors.
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const result = new Promise<T>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let settled = false;
    const settle = (error: Error | null, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== null) reject(error);
      else resolve(value as T);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle(new Error(`no result within ${(options.timeoutMs / 1000).toFixed(0)} s`));
    }, options.timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      const nl = stdout.indexOf("\n");
      if (nl === -1) return;
      try {
        settle(null, JSON.parse(stdout.slice(0, nl)) as T);
      } catch {
        settle(new Error(`not JSON: ${stdout.slice(0, Math.min(nl, 200))}`));
      }
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      stderr = (stderr + text).slice(-2000); // the tail is what explains a crash
    });
    child.on("error", (error) => settle(error));
    // 'close', not 'exit': stdout may still hold the result line when the process has exited.
    child.on("close", (code, signal) => {
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      settle(new Error(`exited (${signal ?? code}) without a result${tail ? `: ${tail}` : ""}`));
    });
  });
  return {
    result,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
