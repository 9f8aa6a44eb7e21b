// What bench/esl-clients.ts and its child process (bench/esl-client-child.ts) share: the client
// names, the peer's password and the one JSON line a child prints.

export const CLIENTS = ["ours", "esl-lite", "modesl", "floor"] as const;
export type ClientName = (typeof CLIENTS)[number];

export function isClientName(value: string | undefined): value is ClientName {
  return (CLIENTS as readonly string[]).includes(value ?? "");
}

export const PEER_PASSWORD = "ClueCon";

/** What the child prints, as one JSON line on stdout, then exits. */
export interface ChildResult {
  readonly client: ClientName;
  /** Events delivered: N, or fewer if the client lost some (then it stopped at the end marker). */
  readonly events: number;
  /** ms from the first event delivered to the N-th, measured in the child. */
  readonly ms: number;
  /** process.hrtime.bigint() at the N-th event: CLOCK_MONOTONIC, comparable across processes. */
  readonly endNs: string;
  /** Bytes the client read from its socket, where the library exposes its socket (else null). */
  readonly bytes: number | null;
  /** Sum of Number(lookup header) over the events: the same for every client that got them all. */
  readonly sum: number;
  /** Library counters worth reporting, e.g. frames it dropped. */
  readonly note?: string;
  /** Set when the client stalled or failed before the end of the stream. */
  readonly error?: string;
}
