// The event streams the ESL client benchmark sends: `text/event-plain` frames byte for byte as
// FreeSWITCH writes them (esl/wire.ts serializers, URL-encoded values, Content-Length first),
// built from the simulator's RTCP layout and from real CHANNEL_HANGUP_COMPLETE captures.

import { readFileSync } from "node:fs";
import { urlDecode } from "../../src/esl/urlcodec.js";
import { eventFrame, jsonEventBody, plainEventBody } from "../../src/esl/wire.js";
import {
  EventFactory,
  type HeaderList,
  heartbeatEvent,
  recvRtcpEvent,
  SITES,
} from "../../src/sim/events.js";
import { Prng } from "../../src/sim/prng.js";

export const RTCP_EVENT = "RECV_RTCP_MESSAGE";
export const HANGUP_EVENT = "CHANNEL_HANGUP_COMPLETE";
/**
 * Sent once after the N events: a client that loses events (esl-lite does, see esl-clients.ts)
 * still sees the end of the stream, and reports how many it delivered instead of waiting.
 */
export const END_MARKER_EVENT = "HEARTBEAT";
/** The header each client reads from each event (one lookup per event). */
export const LOOKUP: Readonly<Record<string, string>> = {
  [RTCP_EVENT]: "Source0-Jitter",
  [HANGUP_EVENT]: "variable_rtp_audio_in_mos",
};

/**
 * N frames to send, as frame-aligned slices of a pool of distinct frames, then the end marker.
 * Writing whole frames per slice lets the peer answer a late command between two writes without
 * cutting a frame in two.
 */
export interface EventStream {
  readonly name: string;
  readonly format: "plain" | "json";
  /** N, the end marker not included. */
  readonly events: number;
  /** Bytes of the N events, the end marker not included. */
  readonly bytes: number;
  /** What the peer writes, in order: the N events, then one END_MARKER_EVENT frame. */
  readonly pieces: readonly Buffer[];
  /** Distinct frames in the pool the stream cycles through. */
  readonly distinct: number;
  /** Mean frame size (envelope included) per event name, over the pool. */
  readonly meanBytes: Readonly<Record<string, number>>;
  /** Header count of each event name's frames, over the pool (mean, rounded). */
  readonly meanHeaders: Readonly<Record<string, number>>;
  /** Sum over the N events of Number(the LOOKUP header): what every client must arrive at. */
  readonly expectedSum: number;
}

interface PoolFrame {
  readonly name: string;
  readonly frame: Buffer;
  readonly headers: number;
  readonly lookupValue: number;
}

/** The real hangup captures the mixed stream uses (~14 KB, ~300 headers each). */
const HANGUP_SAMPLES = [
  "chc-qos-plain-cgrates-2015-speex.txt",
  "chc-qos-plain-cgrates-2018-g722-flaw1.txt",
] as const;

const SAMPLES_DIR = new URL("../../test/fixtures/samples/", import.meta.url);

/**
 * A cgrates capture as a decoded header list. The captures are FreeSWITCH's own plain bodies;
 * re-encoding the decoded values with urlEncode (switch_url_encode's rules) gives what FreeSWITCH
 * sends. Only the hand-edited `cgr_*` values differ from the capture (literal `;` become `%3B`).
 */
function loadHangupSample(file: string): HeaderList {
  const text = readFileSync(new URL(file, SAMPLES_DIR), "utf8");
  const headers: HeaderList = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const colon = line.indexOf(": ");
    if (colon <= 0) throw new Error(`${file}: not a header line: ${JSON.stringify(line)}`);
    headers.push([line.slice(0, colon), urlDecode(line.slice(colon + 2))]);
  }
  return headers;
}

function headerOf(headers: HeaderList, name: string): string {
  const found = headers.find(([n]) => n === name);
  if (found === undefined) throw new Error(`sample has no ${name}`);
  return found[1];
}

/**
 * Hangups from one sample, each a different call: the standard block is the simulated server's
 * (same header names and order as the capture's, so its Core-UUID and Event-Sequence continue the
 * RTCP events'), and the call's two leg UUIDs are replaced wherever they appear (Unique-ID,
 * Channel-Call-UUID, variable_uuid, ...). No two frames in the pool are identical.
 */
class HangupMaker {
  private readonly headers: HeaderList;
  private readonly legA: string;
  private readonly legB: string | undefined;

  constructor(
    file: string,
    private readonly factory: EventFactory,
    private readonly prng: Prng,
    private readonly encode: Encode,
  ) {
    this.headers = loadHangupSample(file);
    this.legA = headerOf(this.headers, "Unique-ID");
    this.legB = this.headers.find(([n]) => n === "Other-Leg-Unique-ID")?.[1];
    const names = factory.standardBlock(HANGUP_EVENT, 0, SITES[HANGUP_EVENT]).map(([n]) => n);
    const sampleNames = this.headers.slice(0, names.length).map(([n]) => n);
    if (names.join() !== sampleNames.join()) {
      throw new Error(`${file}: standard block differs from the simulator's`);
    }
  }

  make(timeMs: number): PoolFrame {
    const a = this.prng.uuid();
    const b = this.prng.uuid();
    const block = this.factory.standardBlock(HANGUP_EVENT, timeMs, SITES[HANGUP_EVENT]);
    const headers: HeaderList = [...block];
    for (const [name, value] of this.headers.slice(block.length)) {
      let v = value.replaceAll(this.legA, a);
      if (this.legB !== undefined) v = v.replaceAll(this.legB, b);
      headers.push([name, v]);
    }
    const mos = Number(headerOf(headers, LOOKUP[HANGUP_EVENT]!));
    return {
      name: HANGUP_EVENT,
      frame: this.encode(headers),
      headers: headers.length,
      lookupValue: mos,
    };
  }
}

interface Leg {
  readonly uuid: string;
  readonly ssrc: number;
  readonly peerSsrc: number;
  readonly rate: number;
  packets: number;
  highestSeq: number;
  lost: number;
}

/** RECV_RTCP_MESSAGE frames of a few hundred legs, one report block each, as on a busy server. */
class RtcpMaker {
  private readonly legs: Leg[] = [];

  constructor(
    private readonly factory: EventFactory,
    private readonly prng: Prng,
    private readonly encode: Encode,
    legs: number,
  ) {
    const rates = [8000, 8000, 16000, 48000];
    for (let i = 0; i < legs; i++) {
      this.legs.push({
        uuid: prng.uuid(),
        ssrc: prng.uint32(),
        peerSsrc: prng.uint32(),
        rate: rates[i % rates.length]!,
        packets: prng.int(100, 50_000),
        highestSeq: prng.int(1000, 60_000),
        lost: prng.int(0, 50),
      });
    }
  }

  make(index: number, timeMs: number): PoolFrame {
    const { prng } = this;
    const leg = this.legs[index % this.legs.length]!;
    leg.packets += 250; // 5 s of 20 ms packets between two reports
    leg.highestSeq += 250;
    const fraction = prng.chance(0.8) ? 0 : prng.int(1, 20);
    leg.lost += fraction === 0 ? 0 : prng.int(1, 10);
    const jitter = prng.int(0, (leg.rate / 1000) * 40); // 0..40 ms in timestamp units
    const captureUs = Math.round(timeMs * 1000);
    const event = recvRtcpEvent(this.factory, timeMs, {
      uniqueId: leg.uuid,
      sender: {
        ssrc: leg.peerSsrc,
        ntpMsw: Math.floor(timeMs / 1000) + 2_208_988_800,
        ntpLsw: prng.uint32(),
        rtpTimestamp: prng.uint32(),
        packetCount: leg.packets,
        octetCount: leg.packets * 160,
      },
      lastRtpTimestamp: prng.uint32(),
      rtpRate: leg.rate,
      captureTimeUs: captureUs,
      blocks: [
        {
          ssrc: leg.ssrc,
          fraction,
          lost: leg.lost,
          lossAvg: Math.round((fraction / 256) * 100),
          highestSeq: leg.highestSeq,
          jitter,
          lsr: prng.uint32(),
          dlsr: prng.int(0, 65_536 * 5),
          rttAvg: prng.range(0.005, 0.2),
        },
      ],
    });
    return {
      name: RTCP_EVENT,
      frame: this.encode(event.headers),
      headers: event.headers.length,
      lookupValue: jitter,
    };
  }
}

export interface StreamSpec {
  readonly name: string;
  readonly events: number;
  /** Every `hangupEvery`-th event is a CHANNEL_HANGUP_COMPLETE (0: none). */
  readonly hangupEvery: number;
  /** Distinct frames to build; the stream cycles through them. */
  readonly poolSize?: number;
  /** Bytes per write (rounded up to whole frames). */
  readonly pieceBytes?: number;
  readonly seed?: number;
  /** text/event-plain (default; what ours and modesl ask for) or text/event-json. */
  readonly format?: "plain" | "json";
}

type Encode = (headers: HeaderList) => Buffer;

function encoder(format: "plain" | "json"): Encode {
  return format === "plain"
    ? (headers) => eventFrame(plainEventBody(headers))
    : (headers) => eventFrame(jsonEventBody(headers), "json");
}

export function buildStream(spec: StreamSpec): EventStream {
  const poolSize = Math.min(spec.poolSize ?? 5000, spec.events);
  const pieceBytes = spec.pieceBytes ?? 256 * 1024;
  const prng = new Prng(spec.seed ?? 5);
  const factory = new EventFactory({
    coreUuid: prng.uuid(),
    hostname: "fs-prod-01.example.net",
    ipv4: "10.20.30.40",
  });
  const encode = encoder(spec.format ?? "plain");
  const rtcp = new RtcpMaker(factory, prng, encode, 500);
  const hangups = HANGUP_SAMPLES.map((file) => new HangupMaker(file, factory, prng, encode));
  const startMs = Date.UTC(2025, 4, 12, 9, 30, 0);

  const pool: PoolFrame[] = [];
  for (let i = 0; i < poolSize; i++) {
    const timeMs = startMs + i * 4; // 250 events/s on the simulated server
    if (spec.hangupEvery > 0 && i % spec.hangupEvery === spec.hangupEvery - 1) {
      const maker = hangups[Math.floor(i / spec.hangupEvery) % hangups.length]!;
      pool.push(maker.make(timeMs));
    } else {
      pool.push(rtcp.make(i, timeMs));
    }
  }

  // The pool as one block; pieces are frame-aligned views into it, never spanning its end.
  const block = Buffer.concat(pool.map((p) => p.frame));
  const ends: number[] = [];
  let offset = 0;
  for (const p of pool) {
    offset += p.frame.length;
    ends.push(offset);
  }
  const pieces: Buffer[] = [];
  let bytes = 0;
  let expectedSum = 0;
  let sent = 0;
  while (sent < spec.events) {
    const first = sent % poolSize;
    const from = first === 0 ? 0 : ends[first - 1]!;
    let last = first; // index of the last frame in this piece
    while (
      last + 1 < poolSize &&
      sent + (last - first) + 1 < spec.events &&
      ends[last]! - from < pieceBytes
    ) {
      last++;
    }
    const piece = block.subarray(from, ends[last]!);
    pieces.push(piece);
    bytes += piece.length;
    for (let i = first; i <= last; i++) expectedSum += pool[i]!.lookupValue;
    sent += last - first + 1;
  }

  pieces.push(
    encode(
      heartbeatEvent(factory, startMs + poolSize * 4, {
        uptimeUs: 86_400_000_000,
        version: "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit",
        sessionCount: 250,
        maxSessions: 5000,
        sessionsPerSecond: 30,
        sessionsPerSecondLast: 2,
        sessionsPerSecondMax: 12,
        sessionsPerSecondFiveMin: 3,
        sessionsSinceStartup: 41_233,
        sessionPeakMax: 411,
        sessionPeakFiveMin: 260,
        idleCpu: 71.5,
      }).headers,
    ),
  );

  const meanBytes: Record<string, number> = {};
  const meanHeaders: Record<string, number> = {};
  for (const name of new Set(pool.map((p) => p.name))) {
    const of = pool.filter((p) => p.name === name);
    meanBytes[name] = of.reduce((s, p) => s + p.frame.length, 0) / of.length;
    meanHeaders[name] = Math.round(of.reduce((s, p) => s + p.headers, 0) / of.length);
  }
  return {
    name: spec.name,
    format: spec.format ?? "plain",
    events: spec.events,
    bytes,
    pieces,
    distinct: poolSize,
    meanBytes,
    meanHeaders,
    expectedSum,
  };
}
