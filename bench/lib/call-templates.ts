// Calls for the whole-agent benchmarks, made by the simulator's CallGenerator once and then
// stamped out by the hundred thousand.
//
// Why not the generator for every call: measured on the bench machine, it costs about 0.4 ms of
// CPU per bridged call, ~40 µs to serialise each channel event (4-8 KB) and 10-30 µs per RTCP
// report, so the parent would be the bottleneck at 100,000 events/s and 100,000 calls would take
// over a minute per run on the simulator side alone. Instead a few dozen template calls are generated (real events: channel
// data, media statistics, RTCP layouts, end-of-call QoS) and encoded to ESL frames once; a new
// call is a copy of a template's frames with its identifiers (both legs' Unique-IDs, hence
// Channel-Call-UUID and Other-Leg-*, and both SIP Call-IDs) overwritten by fresh ones of the same
// length, so Content-Length stays right. The agent reads exactly what the simulator would send.

import { randomBytes, randomUUID } from "node:crypto";
import { eventsToSubscribe } from "../../src/pipeline/subscriptions.js";
import {
  CallGenerator,
  ChannelRegistry,
  CODEC_NAMES,
  EventFactory,
  type SimEvent,
} from "../../src/sim/index.js";
import { OutgoingEvent } from "../../src/sim/outgoing.js";

/** What the agent subscribes to: frames of other events would never reach it from FreeSWITCH. */
const SUBSCRIBED = new Set(eventsToSubscribe({ rtcp: true, qos: true }));

/** The identifiers of a call, by slot: A Unique-ID, B Unique-ID, A Call-ID (hex part), B Call-ID. */
const SLOT_COUNT = 4;

/** RTCP period of the templates' reports, on the simulated timeline. */
const RTCP_INTERVAL_MS = 5_000;

/** An encoded event frame and where the call's identifiers sit in it. */
export interface TemplateFrame {
  readonly bytes: Buffer;
  /** Byte offsets of identifiers, and which slot each one is. */
  readonly offsets: readonly number[];
  readonly slots: readonly number[];
}

export interface CallTemplate {
  /** The template's own identifiers, by slot. */
  readonly ids: readonly string[];
  /** CHANNEL_CREATE ×2, CHANNEL_ANSWER ×2, CHANNEL_BRIDGE, in FreeSWITCH's order. */
  readonly setup: readonly TemplateFrame[];
  /** CHANNEL_HANGUP_COMPLETE ×2, CHANNEL_DESTROY ×2. */
  readonly hangup: readonly TemplateFrame[];
  /** Per leg (0 = A, 1 = B), consecutive RECV_RTCP_MESSAGE / SEND_RTCP_MESSAGE reports. */
  readonly recv: readonly (readonly TemplateFrame[])[];
  readonly send: readonly (readonly TemplateFrame[])[];
  /** The RECV reports as events, for SimServer.publish (the latency suite's send path). */
  readonly recvEvents: readonly (readonly SimEvent[])[];
}

/** One stamped-out call: its template and its own identifiers. */
export interface BenchCall {
  readonly template: CallTemplate;
  /** By slot, as ASCII bytes (same lengths as the template's). */
  readonly ids: readonly Buffer[];
  /** The A-leg's and the B-leg's Unique-IDs. */
  readonly legs: readonly [string, string];
}

function encode(event: SimEvent, ids: readonly string[]): TemplateFrame {
  const bytes = new OutgoingEvent(event).frame("plain");
  const found: Array<[number, number]> = [];
  ids.forEach((id, slot) => {
    const needle = Buffer.from(id, "latin1");
    for (
      let at = bytes.indexOf(needle);
      at !== -1;
      at = bytes.indexOf(needle, at + needle.length)
    ) {
      found.push([at, slot]);
    }
  });
  if (found.length === 0) throw new Error(`template ${event.name} carries none of its call's ids`);
  found.sort((a, b) => a[0] - b[0]);
  return { bytes, offsets: found.map((f) => f[0]), slots: found.map((f) => f[1]) };
}

export interface CallTemplatesOptions {
  /** Distinct template calls (codecs, domains, network profiles, SSRCs vary between them). */
  readonly count: number;
  /** RECV and SEND reports generated per leg; a leg's reports are replayed in a cycle. */
  readonly reportsPerLeg: number;
  readonly seed: number;
}

export class CallTemplates {
  readonly templates: readonly CallTemplate[];
  private next = 0;

  constructor(options: CallTemplatesOptions) {
    let captured: SimEvent[] = [];
    const generator = new CallGenerator({
      factory: new EventFactory({ hostname: "fs-bench-host" }),
      channels: new ChannelRegistry(),
      sink: (event) => captured.push(event),
      callsPerSecond: 0,
      seed: options.seed,
    });
    const domains = ["tenant-a.example", "tenant-b.example", "tenant-c.example"];
    const templates: CallTemplate[] = [];
    let at = Date.UTC(2026, 0, 5, 9, 0, 0);
    for (let t = 0; t < options.count; t++) {
      const domain = domains[t % domains.length]!;
      const ids = [randomUUID(), randomUUID(), randomBytes(16).toString("hex"), randomUUID()];
      const frames = (events: SimEvent[]) =>
        events.filter((e) => SUBSCRIBED.has(e.name)).map((e) => encode(e, ids));
      captured = [];
      const call = generator.startCall({
        bridged: true,
        atMs: at,
        uuid: ids[0],
        bUuid: ids[1],
        sipCallId: `${ids[2]}@${domain}`,
        bSipCallId: ids[3],
        domain,
        codec: CODEC_NAMES[t % CODEC_NAMES.length],
        callerNumber: String(1000 + t),
      });
      const setup = frames(captured);
      const legs = [call.aLeg.uuid, call.bLeg?.uuid ?? ""];
      const recv: TemplateFrame[][] = [[], []];
      const send: TemplateFrame[][] = [[], []];
      const recvEvents: SimEvent[][] = [[], []];
      for (let r = 0; r < options.reportsPerLeg; r++) {
        at += RTCP_INTERVAL_MS;
        legs.forEach((leg, i) => {
          const report = generator.sendRtcp(leg, { atMs: at });
          recvEvents[i]!.push(report);
          recv[i]!.push(encode(report, ids));
          send[i]!.push(encode(generator.sendSenderReport(leg, at + RTCP_INTERVAL_MS / 2), ids));
        });
      }
      captured = [];
      generator.hangupCall(call.uuid, { atMs: at + RTCP_INTERVAL_MS });
      const hangup = frames(captured);
      templates.push({ ids, setup, hangup, recv, send, recvEvents });
      at += 60_000;
    }
    this.templates = templates;
  }

  /** A new call: the next template with fresh identifiers. */
  newCall(): BenchCall {
    const template = this.templates[this.next]!;
    this.next = (this.next + 1) % this.templates.length;
    const ids = template.ids.map((id, slot) =>
      Buffer.from(slot === 2 ? randomBytes(id.length / 2).toString("hex") : randomUUID(), "latin1"),
    );
    if (ids.length !== SLOT_COUNT) throw new Error("a template call has four identifiers");
    return { template, ids, legs: [ids[0]!.toString("latin1"), ids[1]!.toString("latin1")] };
  }
}

/** Writes `frame` with `call`'s identifiers into `out` at `position`; returns the new position. */
export function writeFrame(
  out: Buffer,
  position: number,
  frame: TemplateFrame,
  call: BenchCall,
): number {
  frame.bytes.copy(out, position);
  for (let i = 0; i < frame.offsets.length; i++) {
    call.ids[frame.slots[i]!]!.copy(out, position + frame.offsets[i]!);
  }
  return position + frame.bytes.length;
}

/** `event` (a template's) as `call`'s: every header value naming a template id gets the call's. */
export function eventFor(event: SimEvent, call: BenchCall): SimEvent {
  const from = call.template.ids;
  const to = call.ids.map((id) => id.toString("latin1"));
  return {
    name: event.name,
    headers: event.headers.map(([name, value]) => {
      let v = value;
      for (let slot = 0; slot < from.length; slot++) {
        if (v.includes(from[slot]!)) v = v.replaceAll(from[slot]!, to[slot]!);
      }
      return [name, v];
    }),
  };
}

/**
 * The RTCP stream both the agent and the look-up suites feed: report p goes to leg p mod the
 * legs, rounds alternate RECV and SEND (FreeSWITCH with fire_rtcp_events: two series per leg),
 * each leg walking through its template's reports. The returned `produce(budget)` adds `budget`
 * reports through `add` and always has more.
 */
export function rtcpRounds(
  calls: readonly BenchCall[],
  add: (frame: TemplateFrame, call: BenchCall) => void,
): (budget: number) => boolean {
  const legs = calls.length * 2;
  let p = 0;
  return (budget) => {
    for (let n = 0; n < budget; n++, p++) {
      const leg = p % legs;
      const round = Math.floor(p / legs);
      const call = calls[leg >> 1]!;
      const side = leg & 1;
      const reports = round % 2 === 0 ? call.template.recv[side]! : call.template.send[side]!;
      add(reports[(round >> 1) % reports.length]!, call);
    }
    return true;
  };
}
