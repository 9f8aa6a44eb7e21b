#!/usr/bin/env node
import { Agent } from "./agent.js";
import { ConfigError } from "./config/errors.js";
import { extractConfigFlag, loadConfig, renderConfig } from "./config/load.js";
import { runDemo } from "./demo.js";
import { HASH_PASSWORD_HELP, runHashPassword } from "./hash-password.js";
import { createLogger, type Logger } from "./log/logger.js";
import { parseSimulateArgs, runSimulator, SIMULATE_HELP } from "./sim/index.js";
import { UsageError } from "./usage-error.js";
import { VERSION } from "./version.js";

const HELP = `fsagent ${VERSION} — call-quality agent for FreeSWITCH

Usage:
  fsagent [run] [--config <file>]      run the agent (default ./config.yaml, or env alone)
  fsagent demo [--config <file>]       run the agent against its embedded FreeSWITCH simulator
  fsagent simulate [options]           run the FreeSWITCH simulator alone (see simulate --help)
  fsagent check-config [--config <f>]  print the effective configuration (secrets masked)
  fsagent hash-password [--cost N]     bcrypt a password (stdin) for the web config's users
  fsagent --help | --version

The original agent's "-config <file>" form is accepted too. Environment variables (FSAGENT_*,
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) override the file; see docs/configuration.md.

Exit codes: 0 clean stop, 1 runtime failure, 2 invalid configuration or usage.`;

const SHUTDOWN_DEADLINE_MS = 9_000;

/** Runs until a signal stops `stop`; exits 0 after a clean stop, 1 if it overruns or on a second signal. */
function exitOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, `second ${signal}: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, `${signal} received: shutting down`);
    const deadline = setTimeout(() => {
      logger.error(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s: exiting`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: errorLine(error) }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}

/** A bug must not take the agent down silently, nor print a bare stack trace to the terminal. */
function guardProcess(logger: Logger): void {
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, `internal error: ${errorLine(error)}`);
    process.exit(1);
  });
  process.on("unhandledRejection", (reason) => {
    logger.error(
      { err: reason instanceof Error ? reason : String(reason) },
      `unhandled rejection: ${errorLine(reason)}`,
    );
  });
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

async function runAgent(argv: string[]): Promise<void> {
  const { configPath, rest } = extractConfigFlag(argv);
  if (rest.length > 0)
    throw new UsageError(`unexpected argument "${rest[0]}" (see fsagent --help)`);
  const config = loadConfig({ configPath, env: process.env, cwd: process.cwd() });
  const logger = createLogger(config.logging);
  guardProcess(logger);
  const agent = new Agent({ config, logger, version: VERSION });
  // Handlers first: a SIGTERM that arrives while the agent starts must still stop it cleanly.
  exitOnSignals(() => agent.stop(), logger);
  await agent.start();
}

function checkConfig(argv: string[]): void {
  const { configPath, rest } = extractConfigFlag(argv);
  if (rest.length > 0)
    throw new UsageError(`unexpected argument "${rest[0]}" (see fsagent --help)`);
  const config = loadConfig({ configPath, env: process.env, cwd: process.cwd() });
  process.stdout.write(renderConfig(config));
}

async function simulate(argv: string[]): Promise<void> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${SIMULATE_HELP}\n`);
    return;
  }
  const options = parseSimulateArgs(argv);
  const logger = createLogger({ level: "info", format: "text" });
  guardProcess(logger);
  const simulator = await runSimulator(options, logger);
  exitOnSignals(() => simulator.stop(), logger);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "hash-password" && wantsHelp(argv)) {
    process.stdout.write(`${HASH_PASSWORD_HELP}\n`);
    return;
  }
  if (command !== "simulate" && wantsHelp(argv)) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  switch (command) {
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(`${HELP}\n`);
      return;
    case "--version":
    case "-v":
    case "version":
      process.stdout.write(`${VERSION}\n`);
      return;
    case "check-config":
      checkConfig(rest);
      return;
    case "hash-password":
      await runHashPassword(rest);
      return;
    case "demo":
      await runDemo(rest, exitOnSignals, guardProcess);
      return;
    case "simulate":
      await simulate(rest);
      return;
    case "run":
      await runAgent(rest);
      return;
    case undefined:
      await runAgent([]);
      return;
    default:
      if (command.startsWith("-")) {
        await runAgent(argv);
        return;
      }
      throw new UsageError(`unknown command "${command}" (see fsagent --help)`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`fsagent: ${errorLine(error)}\n`);
  process.exit(1);
});
