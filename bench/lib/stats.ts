// Small statistics for benchmark figures. Shared machines are noisy: suites report medians of
// several runs, and comparisons are made between figures of the same run.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile, p in 0..100, of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Runs `measure` `runs` times and returns the median of each named figure. */
export async function medianOf<K extends string>(
  runs: number,
  measure: (run: number) => Promise<Record<K, number>>,
): Promise<Record<K, number>> {
  const samples: Record<K, number>[] = [];
  for (let i = 0; i < runs; i++) samples.push(await measure(i));
  const out = {} as Record<K, number>;
  for (const key of Object.keys(samples[0] ?? {}) as K[]) {
    out[key] = median(samples.map((s) => s[key]));
  }
  return out;
}
