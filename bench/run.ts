// `npm run bench [-- --quick] [-- --suite esl,agent]`: runs the suites one after the other (never
// in parallel: they measure CPU), prints a table per suite and writes bench/results/latest.json.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderSuite, type Suite, type SuiteResult } from "./lib/result.js";

const SUITES: Record<string, () => Promise<Suite>> = {
  esl: async () => (await import("./esl-clients.js")).eslClients,
  agent: async () => (await import("./agent-throughput.js")).agentThroughput,
  latency: async () => (await import("./agent-latency.js")).agentLatency,
  memory: async () => (await import("./agent-memory.js")).agentMemory,
  freeswitch: async () => (await import("./freeswitch-calls.js")).freeswitchCalls,
  leaves: async () => (await import("./leaves.js")).leaves,
  lookups: async () => (await import("./lookup-storms.js")).lookupStorms,
};

function parseArgs(argv: readonly string[]): { quick: boolean; suites: string[] } {
  let quick = false;
  let suites = Object.keys(SUITES);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") quick = true;
    else if (arg === "--suite" || arg.startsWith("--suite=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : (argv[++i] ?? "");
      suites = value.split(",").filter((s) => s !== "");
      const unknown = suites.filter((s) => !(s in SUITES));
      if (unknown.length > 0) {
        throw new Error(
          `unknown suite ${unknown.join(",")}; known: ${Object.keys(SUITES).join(",")}`,
        );
      }
    } else throw new Error(`unknown option ${arg}; use --quick and --suite a,b`);
  }
  return { quick, suites };
}

async function main(): Promise<void> {
  const { quick, suites } = parseArgs(process.argv.slice(2));
  const results: SuiteResult[] = [];
  for (const name of suites) {
    const suite = await SUITES[name]!();
    const result = await suite({ quick });
    results.push(result);
    console.log(`${renderSuite(result)}\n`);
  }
  const file = join(dirname(fileURLToPath(import.meta.url)), "results", "latest.json");
  mkdirSync(dirname(file), { recursive: true });
  const machine = {
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryBytes: totalmem(),
  };
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), quick, machine, results }, null, 2)}\n`,
  );
  console.log(`written ${file}`);
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
