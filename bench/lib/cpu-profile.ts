// Summarises a V8 .cpuprofile (written by `node --cpu-prof`, e.g. an agent child run with
// FSAGENT_BENCH_CPU_PROF=<dir>): self time per function with its file:line, and total (inclusive)
// time per function, largest first. Positions in dist/*.js are mapped back to src/*.ts through
// the build's source maps, so the lines are the ones to open.
//
//   node --import tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top=25]

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionTime {
  /** `name file:line` (line 1-based; the repository prefix removed). */
  readonly where: string;
  readonly selfMs: number;
  readonly totalMs: number;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** One generated line's mappings: [generated column, source index, source line, source column]. */
type Segment = readonly [number, number, number, number];

interface SourceMap {
  readonly sources: readonly string[];
  readonly lines: readonly (readonly Segment[])[];
}

/** Decodes a v3 source map's VLQ `mappings` (only what a position lookup needs). */
function decodeSourceMap(file: string): SourceMap | null {
  const mapFile = `${file}.map`;
  if (!existsSync(mapFile)) return null;
  const raw = JSON.parse(readFileSync(mapFile, "utf8")) as {
    sources: string[];
    sourceRoot?: string;
    mappings: string;
  };
  const dir = path.dirname(file);
  const sources = raw.sources.map((s) => path.resolve(dir, raw.sourceRoot ?? "", s));
  const lines: Segment[][] = [];
  let source = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  for (const line of raw.mappings.split(";")) {
    const segments: Segment[] = [];
    let column = 0;
    for (const text of line.split(",")) {
      if (text === "") continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of text) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0] ?? 0;
      if (values.length >= 4) {
        source += values[1]!;
        sourceLine += values[2]!;
        sourceColumn += values[3]!;
        segments.push([column, source, sourceLine, sourceColumn]);
      }
    }
    lines.push(segments);
  }
  return { sources, lines };
}

const maps = new Map<string, SourceMap | null>();

/** The source file and 1-based line of a 0-based position in a generated file, if mapped. */
function original(file: string, line: number, column: number): [string, number] | null {
  let map = maps.get(file);
  if (map === undefined) {
    map = decodeSourceMap(file);
    maps.set(file, map);
  }
  const segments = map?.lines[line];
  if (map === null || map === undefined || segments === undefined) return null;
  let best: Segment | undefined;
  for (const segment of segments) {
    if (segment[0] <= column) best = segment;
    else break;
  }
  best ??= segments[0];
  if (best === undefined) return null;
  return [map.sources[best[1]] ?? file, best[2] + 1];
}

/** `name file:line` of a profile's call frame, dist/ positions mapped back to src/. */
export function frameLabel(callFrame: ProfileNode["callFrame"]): string {
  const { functionName, url, lineNumber, columnNumber } = callFrame;
  let file = url.startsWith("file://") ? fileURLToPath(url) : url;
  let line = lineNumber + 1;
  if (file.startsWith(path.join(ROOT, "dist"))) {
    const mapped = original(file, lineNumber, columnNumber);
    if (mapped !== null) [file, line] = mapped;
  }
  if (file.startsWith(ROOT)) file = path.relative(ROOT, file);
  const name = functionName === "" ? "(anonymous)" : functionName;
  return file === "" ? name : `${name} ${file}:${line}`;
}

function label(node: ProfileNode): string {
  return frameLabel(node.callFrame);
}

/** Self and inclusive time per function label, over the whole profile. */
export function summarise(profile: CpuProfile): { totalMs: number; functions: FunctionTime[] } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const own = label(node);
    self.set(own, (self.get(own) ?? 0) + us);
    // Inclusive time: once per distinct function on the sample's stack (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n === undefined) break;
      const name = label(n);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + us);
    }
  }
  const functions = [...self.keys(), ...[...total.keys()].filter((k) => !self.has(k))].map(
    (where) => ({
      where,
      selfMs: (self.get(where) ?? 0) / 1000,
      totalMs: (total.get(where) ?? 0) / 1000,
    }),
  );
  return { totalMs: (profile.endTime - profile.startTime) / 1000, functions };
}

export interface BusyStretch {
  /** Offset from the profile's start, and length, ms. */
  readonly atMs: number;
  readonly durationMs: number;
  /** The functions with the most self time within the stretch. */
  readonly top: readonly FunctionTime[];
}

/**
 * The longest runs of consecutive samples in which the thread was never idle: the event loop
 * blocked that long, and every event arriving meanwhile waited (what a latency p99 sees).
 */
export function busyStretches(profile: CpuProfile, count: number): BusyStretch[] {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const stretches: { at: number; duration: number; self: Map<string, number> }[] = [];
  let current: { at: number; duration: number; self: Map<string, number> } | null = null;
  let t = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    const node = byId.get(id);
    const name = node?.callFrame.functionName ?? "";
    if (node === undefined || name === "(idle)") {
      if (current !== null) stretches.push(current);
      current = null;
      return;
    }
    current ??= { at: t, duration: 0, self: new Map() };
    current.duration += delta;
    const where = label(node);
    current.self.set(where, (current.self.get(where) ?? 0) + delta);
  });
  if (current !== null) stretches.push(current);
  return stretches
    .sort((a, b) => b.duration - a.duration)
    .slice(0, count)
    .map((s) => ({
      atMs: s.at / 1000,
      durationMs: s.duration / 1000,
      top: [...s.self.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([where, us]) => ({ where, selfMs: us / 1000, totalMs: us / 1000 })),
    }));
}

function main(): void {
  const [file, topText] = process.argv.slice(2);
  if (file === undefined) throw new Error("usage: cpu-profile.ts <file.cpuprofile> [top]");
  const top = Number(topText ?? 25);
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const { totalMs, functions } = summarise(profile);
  const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1).padStart(5)} %`;
  console.log(`profile ${path.basename(file)}: ${(totalMs / 1000).toFixed(1)} s`);
  console.log("\nself time:");
  for (const f of [...functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) {
    console.log(`  ${pct(f.selfMs)}  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.where}`);
  }
  console.log("\ninclusive time:");
  for (const f of [...functions].sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) {
    console.log(`  ${pct(f.totalMs)}  ${f.totalMs.toFixed(0).padStart(7)} ms  ${f.where}`);
  }
  console.log("\nlongest busy stretches (event loop never idle):");
  for (const stretch of busyStretches(profile, 8)) {
    const what = stretch.top.map((f) => `${f.where} ${f.selfMs.toFixed(0)} ms`).join("; ");
    console.log(
      `  ${stretch.durationMs.toFixed(0).padStart(5)} ms at ${(stretch.atMs / 1000).toFixed(2)} s: ${what}`,
    );
  }
}

if (
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === path.resolve(process.argv[1])
) {
  main();
}
