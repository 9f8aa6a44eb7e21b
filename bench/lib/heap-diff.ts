// Where the heap went between two V8 heap snapshots (the memory suite writes them with
// FSAGENT_BENCH_HEAP_SNAPSHOT=<dir>): self size and count per node type and name, largest growth
// first. Usage: node --import tsx bench/lib/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [per]
// `per` divides the growth (e.g. 20000 for bytes per leg).

import { readFileSync } from "node:fs";

interface Snapshot {
  readonly snapshot: {
    readonly meta: { readonly node_fields: string[]; readonly node_types: [string[]] };
  };
  readonly nodes: number[];
  readonly strings: string[];
}

interface Bucket {
  count: number;
  bytes: number;
}

function buckets(file: string): Map<string, Bucket> {
  const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const out = new Map<string, Bucket>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    let name = snap.strings[snap.nodes[i + nameAt]!]!;
    // Strings and numbers by content would be one bucket each: group them by type alone.
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "";
    if (type === "number" || type === "heap number") name = "";
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}\t${name}`;
    let b = out.get(key);
    if (b === undefined) {
      b = { count: 0, bytes: 0 };
      out.set(key, b);
    }
    b.count++;
    b.bytes += snap.nodes[i + sizeAt]!;
  }
  return out;
}

// Piped into head: stop quietly when the reader goes.
process.stdout.on("error", () => process.exit(0));

const [beforeFile, afterFile, perText] = process.argv.slice(2);
if (beforeFile === undefined || afterFile === undefined) {
  console.error("usage: heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [per]");
  process.exit(2);
}
const per = perText === undefined ? 1 : Number(perText);
const before = buckets(beforeFile);
const after = buckets(afterFile);
const rows: { key: string; count: number; bytes: number }[] = [];
for (const [key, b] of after) {
  const a = before.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: b.count - a.count, bytes: b.bytes - a.bytes });
}
for (const [key, a] of before) {
  if (!after.has(key)) rows.push({ key, count: -a.count, bytes: -a.bytes });
}
rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
let total = 0;
for (const r of rows) total += r.bytes;
console.log(`total ${(total / per).toFixed(1)} B${per === 1 ? "" : ` per ${per}`}`);
console.log("bytes/per\tcount/per\ttype\tname");
for (const r of rows.slice(0, 40)) {
  console.log(`${(r.bytes / per).toFixed(1)}\t${(r.count / per).toFixed(3)}\t${r.key}`);
}
