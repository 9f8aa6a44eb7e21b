// Events as ordered header lists (decoded values; esl/wire.ts encodes them), each beginning with
// FreeSWITCH's standard block in SPEC section 1 order. The RTCP layouts follow
// switch_core_media.c (RECV) and switch_rtp.c (SEND) field by field, as the captures in
// test/fixtures/freeswitch-1.11 show them.

import { randomUUID } from "node:crypto";
import { cFloat, gmtStamp, hex8, localStamp, toMicros, uptimeText } from "./format.js";

export type HeaderList = Array<[string, string]>;

export interface SimEvent {
  readonly name: string;
  /** Event-Subclass of a CUSTOM event. */
  readonly subclass?: string;
  /** Every header in wire order, standard block first; values decoded. */
  readonly headers: HeaderList;
  /** The event's own body (BACKGROUND_JOB output), if any. */
  readonly body?: string;
}

/** Where FreeSWITCH fires an event: Event-Calling-File/-Function/-Line-Number. */
export interface CallingSite {
  readonly file: string;
  readonly func: string;
  readonly line: number;
}

/**
 * Calling sites of the FreeSWITCH 1.11.3 build of the captures (test/fixtures/freeswitch-1.11),
 * for realism only (nothing should depend on them).
 */
export const SITES = {
  CHANNEL_OUTGOING: {
    file: "switch_core_session.c",
    func: "switch_core_session_outgoing_channel",
    line: 768,
  },
  CHANNEL_CREATE: {
    file: "switch_core_state_machine.c",
    func: "switch_core_session_run",
    line: 626,
  },
  CHANNEL_ANSWER: {
    file: "switch_channel.c",
    func: "switch_channel_perform_mark_answered",
    line: 3848,
  },
  CHANNEL_BRIDGE: {
    file: "switch_ivr_bridge.c",
    func: "switch_ivr_multi_threaded_bridge",
    line: 1689,
  },
  CHANNEL_UNBRIDGE: {
    file: "switch_ivr_bridge.c",
    func: "switch_ivr_multi_threaded_bridge",
    line: 1879,
  },
  CHANNEL_HANGUP: { file: "switch_channel.c", func: "switch_channel_perform_hangup", line: 3447 },
  CHANNEL_HANGUP_COMPLETE: {
    file: "switch_core_state_machine.c",
    func: "switch_core_session_reporting_state",
    line: 943,
  },
  CHANNEL_DESTROY: {
    file: "switch_core_session.c",
    func: "switch_core_session_perform_destroy",
    line: 1588,
  },
  CHANNEL_DATA: { file: "mod_commands.c", func: "uuid_dump_function", line: 6495 },
  HEARTBEAT: { file: "switch_core.c", func: "send_heartbeat", line: 95 },
  RECV_RTCP_MESSAGE: {
    file: "switch_core_media.c",
    func: "switch_core_media_read_frame",
    line: 2960,
  },
  SEND_RTCP_MESSAGE: { file: "switch_rtp.c", func: "switch_send_rtcp_event", line: 2144 },
  BACKGROUND_JOB: { file: "mod_event_socket.c", func: "api_exec", line: 1580 },
  CUSTOM: { file: "switch_event.c", func: "switch_event_fire_detailed", line: 2110 },
} as const satisfies Record<string, CallingSite>;

export interface EventFactoryOptions {
  coreUuid?: string;
  hostname?: string;
  /** FreeSWITCH-Switchname; defaults to the hostname. */
  switchname?: string;
  ipv4?: string;
  ipv6?: string;
  /** First Event-Sequence handed out. */
  sequenceStart?: number;
}

/**
 * Builds events with the standard block and hands out Event-Sequence numbers. One factory per
 * simulated server, so sequences increase across every event it fires, as FreeSWITCH's do.
 */
export class EventFactory {
  readonly coreUuid: string;
  readonly hostname: string;
  readonly switchname: string;
  readonly ipv4: string;
  readonly ipv6: string;
  private sequence: number;

  constructor(options: EventFactoryOptions = {}) {
    this.coreUuid = options.coreUuid ?? randomUUID();
    this.hostname = options.hostname ?? "fs-sim";
    this.switchname = options.switchname ?? this.hostname;
    this.ipv4 = options.ipv4 ?? "192.0.2.10";
    this.ipv6 = options.ipv6 ?? "::1";
    this.sequence = options.sequenceStart ?? 1;
  }

  /** The Event-Sequence the next event will get. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** The standard block of a new event fired at `timeMs`; consumes a sequence number. */
  standardBlock(name: string, timeMs: number, site: CallingSite): HeaderList {
    return [
      ["Event-Name", name],
      ["Core-UUID", this.coreUuid],
      ["FreeSWITCH-Hostname", this.hostname],
      ["FreeSWITCH-Switchname", this.switchname],
      ["FreeSWITCH-IPv4", this.ipv4],
      ["FreeSWITCH-IPv6", this.ipv6],
      ["Event-Date-Local", localStamp(timeMs)],
      ["Event-Date-GMT", gmtStamp(timeMs)],
      ["Event-Date-Timestamp", String(toMicros(timeMs))],
      ["Event-Calling-File", site.file],
      ["Event-Calling-Function", site.func],
      ["Event-Calling-Line-Number", String(site.line)],
      ["Event-Sequence", String(this.sequence++)],
    ];
  }

  /** An event: standard block, then `headers`. CUSTOM events get Event-Subclass first. */
  create(
    name: string,
    timeMs: number,
    headers: HeaderList,
    options: { body?: string; subclass?: string; site?: CallingSite } = {},
  ): SimEvent {
    const site = options.site ?? siteFor(name);
    const all = this.standardBlock(name, timeMs, site);
    if (options.subclass !== undefined) all.push(["Event-Subclass", options.subclass]);
    for (const h of headers) all.push(h);
    const event: {
      name: string;
      headers: HeaderList;
      subclass?: string;
      body?: string;
    } = { name, headers: all };
    if (options.subclass !== undefined) event.subclass = options.subclass;
    if (options.body !== undefined) event.body = options.body;
    return event;
  }
}

function siteFor(name: string): CallingSite {
  return (SITES as Record<string, CallingSite>)[name] ?? SITES.CUSTOM;
}

/** First value of a header, compared case-insensitively as switch_event_get_header does. */
export function headerValue(event: SimEvent, name: string): string | undefined {
  for (const [n, v] of event.headers) {
    if (n === name) return v;
  }
  const lower = name.toLowerCase();
  for (const [n, v] of event.headers) {
    if (n.toLowerCase() === lower) return v;
  }
  return undefined;
}

// ----- HEARTBEAT --------------------------------------------------------------------------

export interface HeartbeatFigures {
  uptimeUs: number;
  version: string;
  sessionCount: number;
  maxSessions: number;
  /**
   * Session-Per-Sec: what is left of switch.conf `sessions-per-second` in the current second
   * (the limit when no session was created in it).
   */
  sessionsPerSecond: number;
  sessionsPerSecondLast: number;
  sessionsPerSecondMax: number;
  sessionsPerSecondFiveMin: number;
  sessionsSinceStartup: number;
  sessionPeakMax: number;
  sessionPeakFiveMin: number;
  idleCpu: number;
}

/** HEARTBEAT as send_heartbeat() in switch_core.c builds it. */
export function heartbeatEvent(
  factory: EventFactory,
  timeMs: number,
  f: HeartbeatFigures,
): SimEvent {
  return factory.create("HEARTBEAT", timeMs, [
    ["Event-Info", "System Ready"],
    ["Up-Time", uptimeText(f.uptimeUs)],
    ["FreeSWITCH-Version", f.version],
    ["Uptime-msec", String(Math.floor(f.uptimeUs / 1000))],
    ["Session-Count", String(f.sessionCount)],
    ["Max-Sessions", String(f.maxSessions)],
    ["Session-Per-Sec", String(f.sessionsPerSecond)],
    ["Session-Per-Sec-Last", String(f.sessionsPerSecondLast)],
    ["Session-Per-Sec-Max", String(f.sessionsPerSecondMax)],
    ["Session-Per-Sec-FiveMin", String(f.sessionsPerSecondFiveMin)],
    ["Session-Since-Startup", String(f.sessionsSinceStartup)],
    ["Session-Peak-Max", String(f.sessionPeakMax)],
    ["Session-Peak-FiveMin", String(f.sessionPeakFiveMin)],
    ["Idle-CPU", cFloat(f.idleCpu)],
  ]);
}

// ----- BACKGROUND_JOB ---------------------------------------------------------------------

/** The event api_exec() fires for `bgapi`; the command output is its body. */
export function backgroundJobEvent(
  factory: EventFactory,
  timeMs: number,
  jobUuid: string,
  command: string,
  arg: string | undefined,
  output: string,
): SimEvent {
  const headers: HeaderList = [
    ["Job-UUID", jobUuid],
    ["Job-Command", command],
  ];
  if (arg !== undefined) headers.push(["Job-Command-Arg", arg]);
  return factory.create("BACKGROUND_JOB", timeMs, headers, { body: output });
}

// ----- RTCP -------------------------------------------------------------------------------

/** Sender-report fields as carried by both RTCP events. */
export interface SenderInfo {
  /**
   * The `SSRC` header (unsigned 32-bit): the sender's SSRC in RECV_RTCP_MESSAGE; in
   * SEND_RTCP_MESSAGE, as FreeSWITCH fills it, the remote stream's, not its own.
   */
  ssrc: number;
  ntpMsw: number;
  ntpLsw: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

/** One RTCP report block. */
export interface ReportBlock {
  /** SSRC reported on. */
  ssrc: number;
  /** Fraction lost since the previous report, 0..255. */
  fraction: number;
  /** Cumulative lost: a signed 24-bit quantity; negative values are printed as unsigned 32-bit. */
  lost: number;
  highestSeq: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
  lsr: number;
  dlsr: number;
}

export interface RecvReportBlock extends ReportBlock {
  /** FreeSWITCH's smoothed loss percent. */
  lossAvg: number;
  /** FreeSWITCH's smoothed round-trip time in seconds; 0 when unknown. */
  rttAvg: number;
}

export interface RecvRtcpReport {
  uniqueId: string;
  sender: SenderInfo;
  lastRtpTimestamp: number;
  rtpRate: number;
  captureTimeUs: number;
  blocks: RecvReportBlock[];
}

export interface SendRtcpReport {
  uniqueId: string;
  sender: SenderInfo;
  lastRtpTimestamp: number;
  captureTimeUs: number;
  block: ReportBlock;
}

function u32(value: number): string {
  return String(value >>> 0);
}

function senderHeaders(s: SenderInfo): HeaderList {
  return [
    ["SSRC", hex8(s.ssrc)],
    ["NTP-Most-Significant-Word", u32(s.ntpMsw)],
    ["NTP-Least-Significant-Word", u32(s.ntpLsw)],
    ["RTP-Timestamp", u32(s.rtpTimestamp)],
    ["Sender-Packet-Count", u32(s.packetCount)],
    ["Octect-Packet-Count", u32(s.octetCount)],
  ];
}

/** RECV_RTCP_MESSAGE: no channel variables, report blocks numbered 0..4. */
export function recvRtcpEvent(factory: EventFactory, timeMs: number, r: RecvRtcpReport): SimEvent {
  const headers: HeaderList = [["Unique-ID", r.uniqueId], ...senderHeaders(r.sender)];
  headers.push(["Last-RTP-Timestamp", String(r.lastRtpTimestamp)]);
  headers.push(["RTP-Rate", String(r.rtpRate)]);
  headers.push(["Capture-Time", String(r.captureTimeUs)]);
  r.blocks.slice(0, 5).forEach((b, i) => {
    headers.push([`Source${i}-SSRC`, hex8(b.ssrc)]);
    headers.push([`Source${i}-Fraction`, String(b.fraction & 0xff)]);
    headers.push([`Source${i}-Lost`, u32(b.lost)]);
    headers.push([`Source${i}-Loss-Avg`, String(b.lossAvg)]);
    headers.push([`Source${i}-Highest-Sequence-Number-Received`, u32(b.highestSeq)]);
    headers.push([`Source${i}-Jitter`, u32(b.jitter)]);
    headers.push([`Source${i}-LSR`, u32(b.lsr)]);
    headers.push([`Source${i}-DLSR`, u32(b.dlsr)]);
    headers.push([`Rtt${i}-Avg`, cFloat(b.rttAvg)]);
  });
  return factory.create("RECV_RTCP_MESSAGE", timeMs, headers);
}

/** SEND_RTCP_MESSAGE: unnumbered Source-* fields; no RTP-Rate, Loss-Avg or Rtt. */
export function sendRtcpEvent(factory: EventFactory, timeMs: number, r: SendRtcpReport): SimEvent {
  const b = r.block;
  return factory.create("SEND_RTCP_MESSAGE", timeMs, [
    ["Unique-ID", r.uniqueId],
    ...senderHeaders(r.sender),
    ["Last-RTP-Timestamp", String(r.lastRtpTimestamp)],
    ["Capture-Time", String(r.captureTimeUs)],
    ["Source-SSRC", hex8(b.ssrc)],
    ["Source-Fraction", String(b.fraction & 0xff)],
    ["Source-Lost", u32(b.lost)],
    ["Source-Highest-Sequence-Number-Received", u32(b.highestSeq)],
    ["Source-Jitter", u32(b.jitter)],
    ["Source-LSR", u32(b.lsr)],
    ["Source-DLSR", u32(b.dlsr)],
  ]);
}
