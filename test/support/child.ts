import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

// Spawning the BUILT command line (dist/cli.js) as a real child process, with an environment
// the test controls completely: the developer's FSAGENT_* / OTEL_* variables never leak in.

/** dist/cli.js; `npm run build` must have run (the test script builds first). */
export const CLI_PATH = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** Only PATH from the parent, plus what the test asks for. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "", ...extra };
}

/** A fresh empty directory to run in (no ./config.yaml to pick up by accident). */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "fsagent-test-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** The child is SIGKILLed and the promise rejects after this long (default 10 s). */
  readonly timeoutMs?: number;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const live = new Set<ChildProcess>();

function spawnCli(args: readonly string[], options: CliOptions): ChildProcess {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Runs a command that is expected to finish on its own (help, check-config, bad usage). */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fsagent ${args.join(" ")} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A long-running fsagent (run, demo): its output so far, signals, and its exit. */
export class CliProcess {
  stdout = "";
  stderr = "";
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private exit: Exit | null = null;

  constructor(args: readonly string[], options: CliOptions) {
    this.child = spawnCli(args, options);
    this.child.stdout?.setEncoding("utf8").on("data", (s: string) => {
      this.stdout += s;
    });
    this.child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      this.stderr += s;
    });
    this.exited = new Promise((resolve) => {
      this.child.once("close", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Complete stdout lines so far. */
  lines(): string[] {
    const end = this.stdout.lastIndexOf("\n");
    return end === -1 ? [] : this.stdout.slice(0, end).split("\n");
  }

  /** Complete stdout lines that are JSON objects (the default log format), parsed. */
  jsonLines(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.lines()) {
      const parsed = tryJson(line);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        out.push(parsed as Record<string, unknown>);
      }
    }
    return out;
  }

  /** Waits for a complete stdout line matching `pattern`; returns it. */
  async waitForLine(pattern: RegExp, what: string, timeoutMs = 5000): Promise<string> {
    let found: string | undefined;
    await waitFor(
      () => {
        if (!this.running) throw new Error(`fsagent exited while waiting for ${what}:\n${this}`);
        found = this.lines().find((line) => pattern.test(line));
        return found !== undefined;
      },
      what,
      timeoutMs,
    );
    return found ?? "";
  }

  /** The HTTP base URL from the JSON startup line ("fsagent x started ...", field `http`). */
  async jsonHttpUrl(timeoutMs = 5000): Promise<string> {
    await this.waitForLine(/"http":"https?:/, "the startup log line", timeoutMs);
    const line = this.jsonLines().find((l) => typeof l.http === "string");
    if (typeof line?.http !== "string") throw new Error(`no http field in:\n${this.stdout}`);
    return line.http;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves with the exit, or rejects (leaving the process to kill()) after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`fsagent did not exit within ${timeoutMs} ms:\n${this}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILLs the process if it still runs, and waits for it to be gone. Idempotent. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }

  toString(): string {
    return `--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** For `after` hooks: no child outlives the test file, whatever failed. */
export async function killAllChildren(): Promise<void> {
  const children = [...live];
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once("exit", () => resolve());
        }),
    ),
  );
}
