// The reference tables in docs/ say what the code does: the `/metrics` table of docs/metrics.md
// lists every fsagent_* metric the agent registers, with its type and labels (read from the real
// prom-client registry, not a hand-kept list), every other table of fsagent_* metrics agrees with
// the registry too, and the configuration table of docs/configuration.md has every key with the
// environment variable that overrides it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ENV_BINDINGS, OTEL_ENV } from "../src/config/env.js";
import { type InternalMetric, internalMetrics, readText } from "./support/deploy.js";
import { codeSpans, type MarkdownTable, markdownTables } from "./support/markdown.js";

const registered = new Map<string, InternalMetric>(
  internalMetrics()
    .filter((m) => m.name.startsWith("fsagent_"))
    .map((m) => [m.name, m]),
);

interface DocumentedMetric {
  readonly name: string;
  readonly type: string;
  readonly labels: string[];
}

/** The rows of a `| metric | type | labels | meaning |` table, one entry per metric named. */
function documentedMetrics(table: MarkdownTable): DocumentedMetric[] {
  return table.rows.flatMap((row) => {
    const [names = "", type = "", labels = ""] = row;
    return codeSpans(names)
      .filter((name) => name.startsWith("fsagent_"))
      .map((name) => ({
        name,
        type,
        labels: labels
          .split(",")
          .map((l) => l.trim())
          .filter((l) => l !== ""),
      }));
  });
}

function isMetricTable(table: MarkdownTable): boolean {
  return table.header[0] === "metric" && table.header[1] === "type" && table.header[2] === "labels";
}

function checkAgainstRegistry(where: string, documented: readonly DocumentedMetric[]): void {
  for (const doc of documented) {
    const metric = registered.get(doc.name);
    assert.ok(metric, `${where}: ${doc.name} is not a metric the agent registers`);
    assert.equal(doc.type, metric.type, `${where}: ${doc.name}'s type`);
    assert.deepEqual(
      [...doc.labels].sort(),
      [...metric.labels].sort(),
      `${where}: ${doc.name}'s labels`,
    );
  }
}

describe("docs/metrics.md, the /metrics table", () => {
  const tables = markdownTables(readText("docs/metrics.md")).filter(
    (t) => isMetricTable(t) && t.section.includes("/metrics"),
  );

  it("is there, once", () => {
    assert.equal(tables.length, 1);
    assert.ok(registered.size > 30, "the registry has the agent's metrics");
  });

  it("lists every fsagent_* metric the agent registers, HA ones included", () => {
    const documented = new Set(documentedMetrics(tables[0]!).map((m) => m.name));
    const missing = [...registered.keys()].filter((name) => !documented.has(name));
    assert.deepEqual(missing, [], `not in the table: ${missing.join(", ")}`);
    // The metrics the alert rules depend on (FsagentExportFailing, FsagentQualityRecordsFailing)
    // among them.
    for (const name of [
      "fsagent_exports_total",
      "fsagent_export_errors_total",
      "fsagent_export_items_sent_total",
      "fsagent_export_queue_items",
      "fsagent_qos_variables_unreadable_total",
    ]) {
      assert.ok(documented.has(name), name);
    }
  });

  it("gives each metric the type and labels it has, and names no other", () => {
    checkAgainstRegistry("docs/metrics.md", documentedMetrics(tables[0]!));
  });
});

describe("every table of fsagent_* metrics in docs/", () => {
  for (const page of ["docs/metrics.md", "docs/replicas.md"]) {
    it(`${page}: agrees with the registry`, () => {
      const tables = markdownTables(readText(page)).filter(isMetricTable);
      assert.ok(tables.length > 0, `${page} has a metric table`);
      for (const table of tables) checkAgainstRegistry(page, documentedMetrics(table));
    });
  }
});

/** The YAML keys of a configuration-table cell: `a.b.c` / `.d` means a.b.c and a.b.d. */
function keysOf(cell: string): string[] {
  const keys: string[] = [];
  let last = "";
  for (const span of codeSpans(cell)) {
    if (span.startsWith("{")) continue; // the fields of an array item
    const key = span.startsWith(".") ? `${last.slice(0, last.lastIndexOf("."))}${span}` : span;
    last = key.replace(/\[\]$/, "");
    keys.push(last);
  }
  return keys;
}

/**
 * The variables a cell may name: `FSAGENT_REDIS_HOST` / `_PORT` is FSAGENT_REDIS_HOST and a
 * suffix that replaces some tail of it (so FSAGENT_REDIS_PORT among the candidates).
 */
function variablesOf(cell: string): Set<string> {
  const names = new Set<string>();
  let last = "";
  for (const span of codeSpans(cell)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(span)) {
      last = span;
      names.add(span);
    } else if (/^_[A-Z0-9_]+$/.test(span) && last !== "") {
      const parts = last.split("_");
      for (let keep = 1; keep < parts.length; keep++) {
        names.add(`${parts.slice(0, keep).join("_")}${span}`);
      }
    }
  }
  return names;
}

describe("docs/configuration.md, the configuration table", () => {
  const text = readText("docs/configuration.md");
  const table = markdownTables(text).find((t) => t.header[0] === "key" && t.header[1] === "env");

  it("has every key with the FSAGENT_* variable that overrides it", () => {
    assert.ok(table, "a | key | env | default | allowed | table");
    const rows = table.rows.map((row) => ({
      keys: keysOf(row[0] ?? ""),
      variables: variablesOf(row[1] ?? ""),
    }));
    for (const binding of ENV_BINDINGS) {
      const key = binding.path.join(".");
      const row = rows.find((r) => r.keys.includes(key));
      assert.ok(row, `${key} has a row`);
      assert.ok(row.variables.has(binding.name), `${key}'s row names ${binding.name}`);
    }
  });

  it("names the standard OpenTelemetry variables the agent reads", () => {
    for (const name of Object.values(OTEL_ENV)) assert.ok(text.includes(name), name);
  });

  it("points to config.example.yaml", () => {
    assert.match(text, /\]\(\.\.\/config\.example\.yaml\)/);
  });
});
