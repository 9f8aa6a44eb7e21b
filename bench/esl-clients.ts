// `npm run bench -- --suite esl` (issue 5 point 1): ESL client throughput, ours side by side with
// the two Node ESL libraries users pick today (modesl@1.2.1, esl-lite@3.2.0) and with a floor that
// only finds frame boundaries. One local peer sends each client the same N events; each client
// runs in its own fresh process and must deliver every event with one header lookup.
//
// esl-lite 3.2.0 loses events: its parser looks for an envelope's blank line only in the newest
// socket chunk, so when a TCP read ends between the two "\n" of an envelope, that frame is misread
// (counted as missingContentType, or bodyParseErrors with JSON), and on any such error it drops
// the connection and reconnects (after a 200 ms sleep when the drop ends in a reset, which it
// does while events are arriving). The peer continues the stream on the new connection; what was
// in flight is lost. (FreeSWITCH would also keep firing while the client is away; the peer pauses,
// so real losses are larger.) How often this happens depends on where TCP cuts the stream, so it
// varies from run to run. Such a run ends at the end marker that follows the N events
// (esl-streams.ts). Lost events, reconnects and time away are reported; events/s counts only
// delivered events over the time connected, i.e. the library's speed, not its reliability.
//
// Extra node flags for the children (e.g. to profile): BENCH_ESL_NODE_ARGS="--cpu-prof
// --cpu-prof-dir=/tmp/prof", optionally only for some clients: BENCH_ESL_PROFILE=ours.

import { fileURLToPath } from "node:url";
import { type ChildResult, type ClientName, PEER_PASSWORD } from "./lib/esl-child-result.js";
import { EslPeer, type StreamReport } from "./lib/esl-peer.js";
import {
  buildStream,
  type EventStream,
  HANGUP_EVENT,
  LOOKUP,
  RTCP_EVENT,
  type StreamSpec,
} from "./lib/esl-streams.js";
import { runJsonChild } from "./lib/json-child.js";
import type { BenchRow, Suite, SuiteResult, TargetCheck } from "./lib/result.js";
import { median } from "./lib/stats.js";

const CHILD = fileURLToPath(new URL("./esl-client-child.ts", import.meta.url));
const SUBSCRIBED_NAMES = [RTCP_EVENT, HANGUP_EVENT];
/** Time for a child to start (tsx compiles on load), connect, authenticate and subscribe. */
const SUBSCRIBE_TIMEOUT_MS = 20_000;
/** Time for a client that dropped its connection to come back and subscribe again. */
const RESUME_TIMEOUT_MS = 5000;

/** One measured configuration: a client and the encoding of the stream it receives. */
interface Subject {
  readonly label: string;
  readonly client: ClientName;
  readonly format: "plain" | "json";
  /** Not part of the comparison; shown for context only. */
  readonly informational?: boolean;
}

const SUBJECTS: readonly Subject[] = [
  { label: "ours", client: "ours", format: "plain" },
  { label: "esl-lite", client: "esl-lite", format: "plain" },
  { label: "modesl", client: "modesl", format: "plain" },
  { label: "floor", client: "floor", format: "plain" },
  // esl-lite always subscribes with `event json`, so against FreeSWITCH it gets JSON bodies:
  // the same events JSON-encoded, to show whether the plain comparison flatters us.
  { label: "esl-lite json", client: "esl-lite", format: "json", informational: true },
];

interface Measurement {
  /** From the peer's first write to the N-th event (or the end marker) delivered. */
  readonly totalMs: number;
  /** totalMs less the time the client was away after dropping its connection. */
  readonly ms: number;
  readonly delivered: number;
  /** Times the client dropped the connection and came back (the stream continued there). */
  readonly reconnects: number;
  /** Of totalMs, the time the client was away (dropped connection to renewed subscription). */
  readonly resumeWaitMs: number;
  readonly note: string | undefined;
}

interface Failure {
  readonly error: string;
}

function extraNodeArgs(client: ClientName): string[] {
  const args = process.env.BENCH_ESL_NODE_ARGS?.split(" ").filter((a) => a !== "") ?? [];
  const only = process.env.BENCH_ESL_PROFILE?.split(",");
  return only === undefined || only.includes(client) ? args : [];
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One client, one fresh process, one pass over the stream. */
async function measure(
  peer: EslPeer,
  port: number,
  client: ClientName,
  stream: EventStream,
): Promise<Measurement | Failure> {
  const wait = peer.subscriber(SUBSCRIBED_NAMES, SUBSCRIBE_TIMEOUT_MS);
  // A slow library at ~20k events/s still finishes well inside this; a stuck one reports itself
  // after 3 s without progress, and this is the backstop.
  const timeoutMs = SUBSCRIBE_TIMEOUT_MS + 30_000 + stream.events * 0.25;
  const child = runJsonChild<ChildResult>(CHILD, [client, String(port), String(stream.events)], {
    timeoutMs,
    nodeArgs: extraNodeArgs(client),
  });
  let session: Awaited<typeof wait.session>;
  try {
    session = await Promise.race([
      wait.session,
      child.result.then((r) => {
        throw new Error(`exited before subscribing: ${r.error ?? "no error given"}`);
      }),
    ]);
  } catch (error) {
    wait.cancel();
    child.kill();
    return { error: message(error) };
  }
  const startNs = process.hrtime.bigint();
  const writing = peer.stream(session, stream, SUBSCRIBED_NAMES, RESUME_TIMEOUT_MS);
  let result: ChildResult;
  let report: StreamReport;
  try {
    result = await child.result;
  } catch (error) {
    child.kill();
    return { error: message(error) };
  } finally {
    // The child exits at once; stop writing the rest (a client that lost events finishes at the
    // end marker, the others just before it).
    writing.stop();
    report = await writing.done;
  }
  const note = result.note === undefined ? "" : `; library counters: ${result.note}`;
  if (result.error !== undefined) {
    return { error: `${result.error} (${result.events} of ${stream.events} delivered${note})` };
  }
  if (
    result.events === stream.events &&
    client !== "floor" &&
    Math.abs(result.sum - stream.expectedSum) > 1e-9 * Math.max(1, Math.abs(stream.expectedSum))
  ) {
    return { error: `lookup sum ${result.sum} differs from the stream's ${stream.expectedSum}` };
  }
  // Both ends read CLOCK_MONOTONIC; the child's own first-to-last time is only a fallback.
  const crossMs = Number(BigInt(result.endNs) - startNs) / 1e6;
  const totalMs = crossMs > 0 ? crossMs : result.ms;
  return {
    // Time away after dropping the connection is a reliability cost (reported as such), not
    // parsing speed: esl-lite sleeps 200 ms before reconnecting when the drop ends in a reset.
    ms: totalMs - report.resumeWaitMs,
    totalMs,
    delivered: result.events,
    reconnects: report.sessions - 1,
    resumeWaitMs: report.resumeWaitMs,
    note: result.note,
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

interface SubjectRuns {
  readonly eventsPerS: number[];
  readonly mbPerS: number[];
  readonly failures: string[];
  lost: number;
  reconnects: number;
  /** Completed runs in which events were lost. */
  lossyRuns: number;
  readonly notes: Set<string>;
}

interface StreamFigures {
  readonly rows: BenchRow[];
  /** Medians of per-run ratios. */
  readonly liteX: number;
  readonly modeslX: number;
  readonly floorX: number;
  readonly method: string[];
}

async function measureStream(
  peer: EslPeer,
  port: number,
  streams: Readonly<Record<"plain" | "json", EventStream>>,
  runs: number,
): Promise<StreamFigures> {
  const name = streams.plain.name;
  const bySubject = new Map<string, SubjectRuns>(
    SUBJECTS.map((s) => [
      s.label,
      {
        eventsPerS: [],
        mbPerS: [],
        failures: [],
        lost: 0,
        reconnects: 0,
        lossyRuns: 0,
        notes: new Set<string>(),
      },
    ]),
  );
  const ratios = { lite: [] as number[], liteJson: [] as number[], modesl: [] as number[] };
  const floorRatios: number[] = [];
  for (let run = 0; run < runs; run++) {
    // Interleaved (A,B,C,D, A,B,C,D, ...): drift on a shared machine hits every client alike.
    const eps: Record<string, number> = {};
    for (const subject of SUBJECTS) {
      const stream = streams[subject.format];
      const record = bySubject.get(subject.label)!;
      const m = await measure(peer, port, subject.client, stream);
      const tag = `  esl ${name} run ${run + 1}/${runs} ${subject.label}:`;
      if ("error" in m) {
        record.failures.push(m.error);
        console.error(`${tag} FAILED ${m.error}`);
        continue;
      }
      const rate = m.delivered / (m.ms / 1000);
      eps[subject.label] = rate;
      record.eventsPerS.push(rate);
      record.mbPerS.push(stream.bytes / 1e6 / (m.ms / 1000));
      record.lost += stream.events - m.delivered;
      record.reconnects += m.reconnects;
      if (m.delivered < stream.events) record.lossyRuns++;
      if (m.note !== undefined) record.notes.add(m.note);
      const lost =
        m.delivered < stream.events
          ? ` (lost ${stream.events - m.delivered}, ${m.reconnects} reconnects, away ` +
            `${m.resumeWaitMs.toFixed(0)} of ${m.totalMs.toFixed(0)} ms)`
          : "";
      console.error(`${tag} ${fmt(rate)} events/s${lost}`);
    }
    const ours = eps.ours;
    if (ours !== undefined) {
      if (eps["esl-lite"] !== undefined) ratios.lite.push(ours / eps["esl-lite"]);
      if (eps["esl-lite json"] !== undefined) ratios.liteJson.push(ours / eps["esl-lite json"]);
      if (eps.modesl !== undefined) ratios.modesl.push(ours / eps.modesl);
      if (eps.floor !== undefined) floorRatios.push(eps.floor / ours);
    }
  }

  const rows: BenchRow[] = [];
  const method: string[] = [];
  for (const subject of SUBJECTS) {
    const r = bySubject.get(subject.label)!;
    const figures: Record<string, number> = {
      events_per_s: median(r.eventsPerS),
      mb_per_s: median(r.mbPerS),
    };
    if (subject.client === "ours") {
      figures["x_esl-lite"] = median(ratios.lite);
      figures.x_modesl = median(ratios.modesl);
      figures["floor/ours"] = median(floorRatios);
      figures["x_esl-lite_json"] = median(ratios.liteJson);
    }
    // Counts go in the row name, not in figures: the table prints small numbers with decimals.
    const flags = [
      ...(subject.informational === true ? ["info"] : []),
      ...(r.lost > 0 ? [`lost ${r.lost}`] : []),
      ...(r.failures.length > 0 ? [`${r.failures.length}/${runs} runs failed`] : []),
    ];
    const suffix = flags.length > 0 ? ` (${flags.join("; ")})` : "";
    rows.push({ name: `${name} ${subject.label}${suffix}`, figures });
    const ok = r.eventsPerS.length;
    if (r.lost > 0 || r.reconnects > 0) {
      method.push(
        `${name} ${subject.label}: in ${r.lossyRuns} of ${ok} completed runs lost ` +
          `${fmt(r.lost)} events in all and dropped the connection ${r.reconnects} times ` +
          "(events/s counts only delivered events, and not the time away)" +
          (r.notes.size > 0 ? `; library counters: ${[...r.notes].join(", ")}` : ""),
      );
    }
    for (const failure of new Set(r.failures)) {
      const times = r.failures.filter((f) => f === failure).length;
      method.push(
        `${name} ${subject.label}: ${times} of ${runs} runs could not deliver the stream: ${failure}`,
      );
    }
  }
  return {
    rows,
    liteX: median(ratios.lite),
    modeslX: median(ratios.modesl),
    floorX: median(floorRatios),
    method,
  };
}

function describeStream(stream: EventStream, json: EventStream): string {
  const parts = Object.keys(stream.meanBytes).map(
    (event) =>
      `${event} ${fmt(stream.meanBytes[event]!)} B, ${stream.meanHeaders[event]} headers` +
      ` (lookup ${LOOKUP[event]})`,
  );
  return (
    `${stream.name} stream: ${fmt(stream.events)} events, ${(stream.bytes / 1e6).toFixed(1)} MB,` +
    ` mean ${fmt(stream.bytes / stream.events)} B/event (json ${fmt(json.bytes / json.events)});` +
    ` ${parts.join("; ")}; ${fmt(stream.distinct)} distinct frames cycled, then one HEARTBEAT` +
    " as end marker"
  );
}

export const eslClients: Suite = async (options): Promise<SuiteResult> => {
  const started = Date.now();
  const runs = options.quick ? 2 : 5;
  const specs: StreamSpec[] = [
    { name: "rtcp", events: options.quick ? 50_000 : 200_000, hangupEvery: 0 },
    { name: "mixed", events: options.quick ? 25_000 : 100_000, hangupEvery: 10 },
  ];
  const peer = new EslPeer(PEER_PASSWORD);
  const port = await peer.listen();
  const method: string[] = [];
  const rows: BenchRow[] = [];
  const targets: TargetCheck[] = [];
  try {
    const streams = specs.map((spec) => ({
      plain: buildStream(spec),
      json: buildStream({ ...spec, format: "json" }),
    }));
    method.push(
      "peer: TCP server in the parent doing the inbound handshake (auth/request, auth -> +OK " +
        "accepted, +OK to every other command), then writing one pre-encoded stream of " +
        "text/event-plain frames (esl/wire.ts: URL-encoded values, Content-Length first) in " +
        "frame-aligned ~256 KB writes, waiting for 'drain'; every client gets the same bytes",
      ...streams.map((s) => describeStream(s.plain, s.json)),
      "ours = EslConnection (auth, event plain, onEvent, EslEvent.name + get); esl-lite = " +
        "FreeSwitchClient.on(name), msg.body.data[h]; modesl = Connection + events('plain'), " +
        "'esl::event::**' listener, getHeader; floor = raw socket, envelope end + " +
        "Content-Length only, no header decoded. esl-lite json (info, no target): esl-lite " +
        "asks for `event json`, so this is what FreeSWITCH would send it",
      "each client in a fresh node process (tsx); time = peer's first write to the N-th event " +
        "delivered (CLOCK_MONOTONIC in both processes), less any time away after a dropped " +
        "connection; each complete client's lookup sum is checked against the stream's",
      `runs interleave ${SUBJECTS.map((s) => s.label).join(", ")}; figures = median of ` +
        `${runs} runs; x_ = ours/peer events/s and floor/ours = floor/ours events/s, medians ` +
        "of per-run ratios (side by side in the same run); MB = 10^6 bytes",
    );
    for (const pair of streams) {
      const figures = await measureStream(peer, port, pair, runs);
      rows.push(...figures.rows);
      method.push(...figures.method);
      const name = pair.plain.name;
      const check = (what: string, value: number, goal: string, met: boolean): void => {
        targets.push({ name: `${name}: ${what}`, value, goal, met });
      };
      check("ours / esl-lite", figures.liteX, ">= 3x", figures.liteX >= 3);
      check("ours / modesl", figures.modeslX, ">= 4x", figures.modeslX >= 4);
      check("floor / ours", figures.floorX, "<= 3 (aim)", figures.floorX <= 3);
    }
  } finally {
    await peer.close();
  }
  method.push(`suite time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { suite: "esl: ESL client throughput", method, rows, targets };
};
