// A lease holder that cannot reach its FreeSWITCH (issue 21): a network path broken for it alone,
// a wrong route, an ACL. Each replica marks in Redis, per instance, that it cannot reach it once
// its connection has failed for `ha.unreachable_release_after`; the holder then gives the lease to
// a live replica that has not marked it, and a marked replica does not take the instance while
// such a replica exists. Pure: the lease manager reads the marks, calls decideUnreachable, acts.

/** How long a mark lives after its replica stopped failing to reach the instance: the cool-down. */
export const UNREACHABLE_MARK_TTL_MS = 300_000;

/** At most one release for unreachability per instance and this interval, fleet-wide. */
export const UNREACHABLE_RELEASE_INTERVAL_MS = 60_000;

/** This replica's connection to an instance, as the lease manager sees it. */
export interface Reachability {
  /** Since when the connection has been trying without success; null when connected or idle. */
  readonly failingSince: number | null;
  /** The connection's last error, one line. */
  readonly error: string | null;
}

export interface UnreachableInput {
  readonly now: number;
  readonly releaseAfterMs: number;
  /** This replica's member string. */
  readonly self: string;
  /** Live replicas' member strings (this one may be missing). */
  readonly members: readonly string[];
  /** Live replicas (members) whose unreachable mark on the instance lives, this one included. */
  readonly marks: ReadonlySet<string>;
  /** This replica holds the lease (and is not handing it over). */
  readonly held: boolean;
  readonly reach: Reachability;
  /** An unreachable release of this instance happened less than a minute ago (any replica). */
  readonly releasedRecently: boolean;
}

export interface UnreachableDecision {
  /** Write (or refresh) this replica's mark: it holds the instance and has failed long enough. */
  readonly mark: boolean;
  /** Delete this replica's mark: it is connected. */
  readonly clear: boolean;
  /** Hand the lease over: another live replica has not marked the instance. */
  readonly release: boolean;
  /** Do not take the instance: this replica marked it and another live one has not. */
  readonly avoid: boolean;
  /** Live replicas other than this one that have not marked the instance. */
  readonly others: readonly string[];
}

/** How long this replica's connection has failed, 0 when it has not. */
export function failingFor(reach: Reachability, now: number): number {
  return reach.failingSince === null ? 0 : Math.max(0, now - reach.failingSince);
}

export function decideUnreachable(input: UnreachableInput): UnreachableDecision {
  const { self, marks, held, reach } = input;
  const others = [...new Set(input.members)].filter((m) => m !== self && !marks.has(m)).sort();
  const failing = held && reach.failingSince !== null;
  const mark = failing && failingFor(reach, input.now) >= input.releaseAfterMs;
  const clear = held && reach.failingSince === null && marks.has(self);
  // Marked now (the mark is written in the round that reads the marks back) or earlier.
  const marked = mark || marks.has(self);
  return {
    mark,
    clear,
    release: mark && others.length > 0 && !input.releasedRecently,
    avoid: !held && marked && others.length > 0,
    others,
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

export interface NoteInput {
  readonly decision: UnreachableDecision;
  readonly held: boolean;
  /** Replica id of the holder (null when free). */
  readonly owner: string | null;
  /** Replica ids of the other live replicas that marked the instance. */
  readonly markedBy: readonly string[];
  readonly failedForMs: number;
  readonly error: string | null;
  /** This replica's last unreachable release of the instance, if its mark may still live. */
  readonly released: { readonly failedForMs: number; readonly error: string | null } | null;
  readonly releasedRecently: boolean;
}

/** Why the instance is (or is not) this replica's, for /health; null when nothing is unusual. */
export function unreachableNote(input: NoteInput): string | null {
  const { decision, owner, markedBy } = input;
  const why = (ms: number, error: string | null): string =>
    `unreachable from this replica for ${seconds(ms)}${error === null ? "" : ` (${error})`}`;
  const elsewhere = markedBy.length > 0 ? `; unreachable from ${markedBy.join(", ")} too` : "";
  if (input.held && decision.mark) {
    if (decision.release) return `releasing: ${why(input.failedForMs, input.error)}`;
    if (decision.others.length === 0) {
      return `held although ${why(input.failedForMs, input.error)}: no other live replica can reach it${elsewhere}`;
    }
    return `held although ${why(input.failedForMs, input.error)}: the lease moved less than ${seconds(UNREACHABLE_RELEASE_INTERVAL_MS)} ago`;
  }
  if (!input.held && input.released !== null && decision.avoid) {
    const holder = owner === null ? "free for the others" : `held by ${owner}`;
    return `released: ${why(input.released.failedForMs, input.released.error)}; ${holder}`;
  }
  if (!input.held && decision.avoid) {
    const holder = owner === null ? "free for the others" : `held by ${owner}`;
    return `not taken: marked unreachable from this replica; ${holder}`;
  }
  if (markedBy.length > 0) {
    const holder = owner === null ? "free" : `held by ${owner}`;
    return `${holder}; unreachable from ${markedBy.join(", ")}`;
  }
  return null;
}
