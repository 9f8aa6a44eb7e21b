// Summarises a V8 sampling heap profile (.heapprofile, e.g. from an agent child run with
// FSAGENT_BENCH_ALLOC_PROF=<dir>): bytes allocated per function (self), and per call path into
// the agent's own code, largest first. With the collected objects included (as the bench child
// samples), it shows what a window allocates, the figure that drives scavenges and promotion.
//
//   node --import tsx bench/lib/alloc-profile.ts <file.heapprofile> [top=25]

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { frameLabel } from "./cpu-profile.js";

interface AllocNode {
  readonly callFrame: Parameters<typeof frameLabel>[0];
  readonly selfSize: number;
  readonly children: readonly AllocNode[];
}

interface AllocProfile {
  readonly head: AllocNode;
}

/** Whether a frame is the agent's (src/, or dist/ mapped back to it). */
function ours(where: string): boolean {
  return where.includes(" src/");
}

/**
 * Bytes per function's own allocations, and per "caller in our code → allocating frame":
 * a library or builtin frame is charged to the nearest frame of ours above it.
 */
export function summariseAllocations(profile: AllocProfile): {
  total: number;
  self: Map<string, number>;
  fromOurs: Map<string, number>;
} {
  const self = new Map<string, number>();
  const fromOurs = new Map<string, number>();
  let total = 0;
  const walk = (node: AllocNode, nearestOurs: string): void => {
    const where = frameLabel(node.callFrame);
    const caller = ours(where) ? where : nearestOurs;
    if (node.selfSize > 0) {
      total += node.selfSize;
      self.set(where, (self.get(where) ?? 0) + node.selfSize);
      const key = caller === where ? where : `${caller} → ${where}`;
      fromOurs.set(key, (fromOurs.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, caller);
  };
  walk(profile.head, "(outside the agent)");
  return { total, self, fromOurs };
}

function main(): void {
  const [file, topText] = process.argv.slice(2);
  if (file === undefined) throw new Error("usage: alloc-profile.ts <file.heapprofile> [top]");
  const top = Number(topText ?? 25);
  const profile = JSON.parse(readFileSync(file, "utf8")) as AllocProfile;
  const { total, self, fromOurs } = summariseAllocations(profile);
  const row = ([where, bytes]: [string, number]) =>
    `  ${((bytes / total) * 100).toFixed(1).padStart(5)} %  ${(bytes / 1024).toFixed(0).padStart(8)} KiB  ${where}`;
  const largest = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`${path.basename(file)}: ${(total / 1024 / 1024).toFixed(1)} MiB sampled`);
  console.log("\nallocated by (self):");
  for (const entry of largest(self).slice(0, top)) console.log(row(entry));
  console.log("\nby the agent's frame that led to it:");
  for (const entry of largest(fromOurs).slice(0, top)) console.log(row(entry));
}

if (
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === path.resolve(process.argv[1])
) {
  main();
}
