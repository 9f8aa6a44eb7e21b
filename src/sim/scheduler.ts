// A timeline of simulated actions: a binary min-heap by time, ties in insertion order, so that
// stepping the same schedule always runs actions in the same order.

interface Task {
  readonly at: number;
  readonly seq: number;
  readonly run: (at: number) => void;
}

export class Scheduler {
  private readonly heap: Task[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Time of the earliest pending action. */
  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  schedule(at: number, run: (at: number) => void): void {
    const task: Task = { at, seq: this.seq++, run };
    const h = this.heap;
    h.push(task);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  /** Removes and returns the earliest action if it is due at or before `now`. */
  popDue(now: number): Task | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined || top.at > now) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
