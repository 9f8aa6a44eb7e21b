// The shape every benchmark suite returns, and how run.ts prints and stores it.

/** One measured configuration (a client, a mode, a rate): named figures, already medians. */
export interface BenchRow {
  readonly name: string;
  readonly figures: Readonly<Record<string, number>>;
}

/** A goal from issue 5, checked against this run's figures. */
export interface TargetCheck {
  readonly name: string;
  readonly value: number;
  /** Human form of the goal, e.g. ">= 3x esl-lite" or "< 50 ms". */
  readonly goal: string;
  readonly met: boolean;
}

export interface SuiteResult {
  readonly suite: string;
  /** What was measured and how (runs per figure, event counts), one line each. */
  readonly method: readonly string[];
  readonly rows: readonly BenchRow[];
  readonly targets: readonly TargetCheck[];
  /** Why the suite did not run here (something it needs is missing); nothing else then. */
  readonly skipped?: string;
}

export interface SuiteOptions {
  /** --quick: fewer and shorter runs, for a smoke check; figures are then indicative only. */
  readonly quick: boolean;
}

export type Suite = (options: SuiteOptions) => Promise<SuiteResult>;

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

/** A plain-text table: one row per BenchRow, one column per figure name (union, in order). */
export function renderSuite(result: SuiteResult): string {
  if (result.skipped !== undefined) return `## ${result.suite}: skipped (${result.skipped})`;
  const columns: string[] = [];
  for (const row of result.rows) {
    for (const key of Object.keys(row.figures)) if (!columns.includes(key)) columns.push(key);
  }
  const table = [
    ["", ...columns],
    ...result.rows.map((row) => [
      row.name,
      ...columns.map((c) => (row.figures[c] === undefined ? "-" : format(row.figures[c]))),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
  const lines = table.map((line) =>
    line
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  "),
  );
  const out = [`## ${result.suite}`, ...result.method.map((m) => `  ${m}`), "", ...lines];
  if (result.targets.length > 0) {
    out.push("", "targets:");
    for (const t of result.targets) {
      out.push(`  ${t.met ? "met " : "MISS"}  ${t.name}: ${format(t.value)} (goal ${t.goal})`);
    }
  }
  return out.join("\n");
}
