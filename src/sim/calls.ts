// The call generator: random calls at a rate (Poisson arrivals, bounded concurrency) and a
// scripted API for tests that need exact values, on a simulated timeline that a timer or the
// caller steps. Each call's channel events come from CallFlow (call-flow.ts), in FreeSWITCH's
// order and layouts; RTCP reports follow FreeSWITCH's schedule (rtcp-schedule.ts).
// Deterministic for a seed: all randomness comes from one seeded PRNG.

import { type Clock, systemClock } from "../util/clock.js";
import { type BLegReport, CallFlow, type EndOptions, type SimCall } from "./call-flow.js";
import { ChannelRegistry } from "./channels.js";
import { CODEC_NAMES, CODECS, type CodecName } from "./codecs.js";
import { type EventFactory, recvRtcpEvent, type SimEvent, sendRtcpEvent } from "./events.js";
import { heartbeatFor, SESSIONS_PER_SECOND_LIMIT } from "./heartbeat.js";
import type { LegRole, SimLeg } from "./leg.js";
import { buildALeg, buildBLeg, gatewayIp } from "./leg-builder.js";
import { runDialplan } from "./leg-lifecycle.js";
import {
  drawProfile,
  type NetProfile,
  PROFILE_NAMES,
  type ProfileName,
  type QosOverrides,
  type RtcpOverrides,
  SCRIPTED_PROFILE,
} from "./media.js";
import { Prng } from "./prng.js";
import { nextReportDelayMs } from "./rtcp-schedule.js";
import { Scheduler } from "./scheduler.js";

export interface CallGeneratorOptions {
  factory: EventFactory;
  /** Receives every event, in order (SimServer.publish in the simulator). */
  sink: (event: SimEvent) => void;
  /** The registry behind `show channels`; the generator adds and removes legs. */
  channels?: ChannelRegistry;
  clock?: Clock;
  seed?: number;
  /** New calls per second (Poisson arrivals); 0 generates none (scripted use). */
  callsPerSecond?: number;
  /** Arrivals beyond this many active calls are rejected (counted, not started). */
  maxConcurrentCalls?: number;
  /** Mean talk time after answer. */
  meanDurationMs?: number;
  /** Talk time is uniform in mean·(1 ± spread); 0..1. */
  durationSpread?: number;
  /** Share of calls bridged to an outbound B-leg; the others are answered by the switch. */
  bridgedShare?: number;
  /** Share of calls cancelled while ringing (no media, no `rtp_audio_*` variables). */
  unansweredShare?: number;
  /** Tenant domains of A-legs; empty for calls without a domain. */
  domains?: readonly string[];
  codecs?: readonly CodecName[];
  /**
   * `rtcp_audio_interval_msec` the dialplan sets on every call: the RTCP report interval after
   * the 4-s warm-up (rtcp-schedule.ts); 0 disables RTCP.
   */
  rtcpIntervalMs?: number;
  /**
   * The dialplan also sets `fire_rtcp_events=true`: only then does FreeSWITCH fire
   * SEND_RTCP_MESSAGE for its own reports.
   */
  sendRtcp?: boolean;
  /** Share of received reports that are RR-only. */
  rrOnlyShare?: number;
  /** Relative weights of the network quality profiles (default good 70, average 20, bad 10). */
  profileWeights?: Partial<Record<ProfileName, number>>;
  /** HEARTBEAT on the simulated timeline; 0 (default) leaves heartbeats to the server's timer. */
  heartbeatIntervalMs?: number;
  maxSessions?: number;
  /** switch.conf `sessions-per-second` its HEARTBEATs report against (default 200, the test bed's). */
  sessionsPerSecond?: number;
}

export interface CallGeneratorStats {
  callsStarted: number;
  callsAnswered: number;
  callsEnded: number;
  callsRejected: number;
  activeCalls: number;
  eventsEmitted: number;
}

export interface ScriptedCallOptions {
  bridged?: boolean;
  /** The A-leg's domain; null for none; default the first configured domain. */
  domain?: string | null;
  codec?: CodecName;
  /** B-leg codec (default the A-leg's). */
  bCodec?: CodecName;
  /** Answer (and bridge) right away; default true. */
  answer?: boolean;
  /** False: answered but no RTP packet ever flows (FreeSWITCH then reports 100.00 / 4.50). */
  media?: boolean;
  atMs?: number;
  uuid?: string;
  bUuid?: string;
  sipCallId?: string;
  bSipCallId?: string;
  callerNumber?: string;
  destination?: string;
}

export interface ScriptedCall {
  readonly uuid: string;
  readonly aLeg: SimLeg;
  readonly bLeg: SimLeg | undefined;
}

export interface HangupOptions {
  cause?: string;
  atMs?: number;
  /** Which side hangs up (default "a"). */
  by?: "a" | "b";
  /**
   * When the A side hangs up a bridged call: whether the B-leg's CHANNEL_HANGUP_COMPLETE comes
   * before the unbridge (naming the A-leg, the default) or after it (naming itself). Its
   * CHANNEL_DESTROY names itself either way.
   */
  bLegReport?: BLegReport;
  /** End-of-call values for the A-leg. */
  qos?: QosOverrides;
  bQos?: QosOverrides;
}

interface CallRecord extends SimCall {
  readonly scripted: boolean;
}

const DEFAULT_DOMAINS = ["tenant-a.example", "tenant-b.example"];
const DEFAULT_PROFILE_WEIGHTS: Record<ProfileName, number> = { good: 70, average: 20, bad: 10 };

export class CallGenerator {
  readonly channels: ChannelRegistry;
  private readonly factory: EventFactory;
  private readonly sink: (event: SimEvent) => void;
  private readonly clock: Clock;
  private readonly prng: Prng;
  private readonly scheduler = new Scheduler();
  private readonly calls = new Map<string, CallRecord>();
  /** Legs between CREATE and HANGUP: the only ones that may still fire media events. */
  private readonly live = new Map<string, SimLeg>();
  private readonly o: Required<
    Omit<CallGeneratorOptions, "factory" | "sink" | "channels" | "clock" | "profileWeights">
  >;
  private readonly profileWeights: Array<[ProfileName, number]>;
  private readonly counters = {
    callsStarted: 0,
    callsAnswered: 0,
    callsEnded: 0,
    callsRejected: 0,
    eventsEmitted: 0,
  };
  private current: number | undefined;
  private originMs: number | undefined;
  private sessionSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly flow: CallFlow;

  constructor(options: CallGeneratorOptions) {
    this.factory = options.factory;
    this.sink = options.sink;
    this.channels = options.channels ?? new ChannelRegistry();
    this.clock = options.clock ?? systemClock;
    this.o = {
      seed: options.seed ?? 1,
      callsPerSecond: options.callsPerSecond ?? 1,
      maxConcurrentCalls: options.maxConcurrentCalls ?? 100,
      meanDurationMs: options.meanDurationMs ?? 30_000,
      durationSpread: clamp01(options.durationSpread ?? 0.5),
      bridgedShare: clamp01(options.bridgedShare ?? 0.5),
      unansweredShare: clamp01(options.unansweredShare ?? 0.05),
      domains: options.domains ?? DEFAULT_DOMAINS,
      codecs:
        options.codecs !== undefined && options.codecs.length > 0 ? options.codecs : CODEC_NAMES,
      rtcpIntervalMs: options.rtcpIntervalMs ?? 5000,
      sendRtcp: options.sendRtcp ?? false,
      rrOnlyShare: clamp01(options.rrOnlyShare ?? 0),
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0,
      maxSessions: options.maxSessions ?? 1000,
      sessionsPerSecond: options.sessionsPerSecond ?? SESSIONS_PER_SECOND_LIMIT,
    };
    const weights = { ...DEFAULT_PROFILE_WEIGHTS, ...(options.profileWeights ?? {}) };
    this.profileWeights = PROFILE_NAMES.map((n) => [n, Math.max(0, weights[n] ?? 0)]);
    if (this.profileWeights.every(([, w]) => w === 0)) this.profileWeights = [["good", 1]];
    this.prng = new Prng(this.o.seed);
    this.flow = new CallFlow({
      factory: this.factory,
      prng: this.prng,
      channels: this.channels,
      fire: (event) => this.fire(event),
    });
  }

  /** Current simulated time: the last step, or the clock before the first one. */
  get now(): number {
    return this.current ?? this.clock.now();
  }

  get stats(): CallGeneratorStats {
    return { ...this.counters, activeCalls: this.calls.size };
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Steps the timeline with the clock every `tickMs`. */
  start(tickMs = 100): void {
    if (this.timer !== undefined) return;
    this.step(this.clock.now());
    this.timer = setInterval(() => this.step(this.clock.now()), tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Runs every action due up to `nowMs`; returns the number of events emitted. */
  step(nowMs: number): number {
    const before = this.counters.eventsEmitted;
    if (this.originMs === undefined) this.begin(nowMs);
    for (let task = this.scheduler.popDue(nowMs); task; task = this.scheduler.popDue(nowMs)) {
      this.current = task.at;
      task.run(task.at);
    }
    this.current = Math.max(this.current ?? nowMs, nowMs);
    return this.counters.eventsEmitted - before;
  }

  /** Steps from the current time to `endMs` in `stepMs` increments (full speed, no waiting). */
  runUntil(endMs: number, stepMs = 100): number {
    let emitted = 0;
    let t = this.current ?? endMs;
    if (this.originMs === undefined) emitted += this.step(t);
    while (t < endMs) {
      t = Math.min(endMs, t + stepMs);
      emitted += this.step(t);
    }
    return emitted;
  }

  /** Unique-IDs of the A-legs of active calls. */
  activeCalls(): string[] {
    return [...this.calls.keys()];
  }

  call(callUuid: string): ScriptedCall | undefined {
    const c = this.calls.get(callUuid);
    return c === undefined ? undefined : { uuid: c.uuid, aLeg: c.a, bLeg: c.b };
  }

  // ----- scripted API ---------------------------------------------------------------------

  /** Creates a call now (or at `atMs`): CREATE, and unless `answer: false`, ANSWER and BRIDGE. */
  startCall(options: ScriptedCallOptions = {}): ScriptedCall {
    const at = options.atMs ?? this.now;
    const bridged = options.bridged ?? false;
    const codec = CODECS[options.codec ?? "PCMU"];
    const domain =
      options.domain === null ? undefined : (options.domain ?? this.o.domains[0] ?? undefined);
    const uuid = options.uuid ?? this.prng.uuid();
    const destination = options.destination ?? (bridged ? "18005550100" : "5000");
    const a = buildALeg(this.prng, this.factory, {
      uuid,
      role: bridged ? "bridged-a" : "lone",
      sessionId: ++this.sessionSeq,
      nowMs: at,
      codec,
      domain,
      profile: SCRIPTED_PROFILE,
      callerNumber: options.callerNumber ?? "1000",
      destination,
      sipCallId: options.sipCallId ?? `${this.prng.hex(32)}@${callIdHost(domain)}`,
    });
    if (options.media === false) a.media.disableMedia();
    const call: CallRecord = {
      uuid,
      a,
      b: undefined,
      playback: "ivr/ivr-welcome.wav",
      scripted: true,
      answered: false,
      ended: false,
    };
    this.open(call, at);
    if (bridged) {
      const b = buildBLeg(this.prng, this.factory, a, {
        uuid: options.bUuid ?? this.prng.uuid(),
        sessionId: ++this.sessionSeq,
        nowMs: at,
        codec: CODECS[options.bCodec ?? options.codec ?? "PCMU"],
        profile: SCRIPTED_PROFILE,
        sipCallId: options.bSipCallId ?? this.prng.uuid(),
        gatewayIp: gatewayIp(this.prng),
      });
      if (options.media === false) b.media.disableMedia();
      this.addLeg(call, b, at);
    }
    if (options.answer !== false) this.answer(call, at);
    return { uuid, aLeg: a, bLeg: call.b };
  }

  /** Answers (and bridges) a call started with `answer: false`. */
  answerCall(callUuid: string, atMs?: number): void {
    const call = this.requireCall(callUuid);
    if (!call.answered) this.answer(call, atMs ?? this.now);
  }

  /** Fires a RECV_RTCP_MESSAGE for a leg with the given values (the rest computed). */
  sendRtcp(legUuid: string, overrides: RtcpOverrides & { atMs?: number } = {}): SimEvent {
    const leg = this.requireLiveLeg(legUuid);
    const at = overrides.atMs ?? this.now;
    return this.fire(
      recvRtcpEvent(this.factory, at, leg.media.recvReport(at, this.prng, overrides)),
    );
  }

  /** Fires a SEND_RTCP_MESSAGE for a leg (FreeSWITCH's own SR). */
  sendSenderReport(legUuid: string, atMs?: number): SimEvent {
    const leg = this.requireLiveLeg(legUuid);
    const at = atMs ?? this.now;
    return this.fire(sendRtcpEvent(this.factory, at, leg.media.sendReport(at, this.prng)));
  }

  /** Hangs a call up: every remaining channel event of its legs; returns those events. */
  hangupCall(callUuid: string, options: HangupOptions = {}): SimEvent[] {
    const call = this.requireCall(callUuid);
    const at = options.atMs ?? this.now;
    return this.end(call, at, {
      cause: options.cause ?? "NORMAL_CLEARING",
      by: options.by ?? "a",
      bLegReport: options.bLegReport ?? "before-unbridge",
      ...(options.qos === undefined ? {} : { qos: options.qos }),
      ...(options.bQos === undefined ? {} : { bQos: options.bQos }),
    });
  }

  // ----- random calls ---------------------------------------------------------------------

  private begin(nowMs: number): void {
    this.originMs = nowMs;
    this.current = nowMs;
    if (this.o.callsPerSecond > 0) {
      this.scheduler.schedule(nowMs + this.prng.exponential(1000 / this.o.callsPerSecond), (t) =>
        this.arrival(t),
      );
    }
    if (this.o.heartbeatIntervalMs > 0) {
      this.scheduler.schedule(nowMs + this.o.heartbeatIntervalMs, (t) => this.heartbeat(t));
    }
  }

  private heartbeat(t: number): void {
    this.fire(
      heartbeatFor(
        this.factory,
        this.channels,
        t,
        this.originMs ?? t,
        this.o.maxSessions,
        this.o.sessionsPerSecond,
      ),
    );
    this.scheduler.schedule(t + this.o.heartbeatIntervalMs, (next) => this.heartbeat(next));
  }

  private arrival(t: number): void {
    if (this.calls.size < this.o.maxConcurrentCalls) this.randomCall(t);
    else this.counters.callsRejected++;
    this.scheduler.schedule(t + this.prng.exponential(1000 / this.o.callsPerSecond), (next) =>
      this.arrival(next),
    );
  }

  private drawLegProfile(): NetProfile {
    return drawProfile(this.prng.weighted(this.profileWeights), this.prng);
  }

  private randomCall(t: number): void {
    const p = this.prng;
    const bridged = p.chance(this.o.bridgedShare);
    const answered = !p.chance(this.o.unansweredShare);
    const domain = this.o.domains.length > 0 ? p.pick(this.o.domains) : undefined;
    const codecName = p.pick(this.o.codecs);
    const codec = CODECS[codecName];
    const callerNumber = String(p.int(1000, 1999));
    const destination = bridged
      ? `1${p.int(200, 999)}${p.int(1000000, 9999999)}`
      : String(p.int(5000, 5099));
    const uuid = p.uuid();
    const role: LegRole = bridged ? "bridged-a" : "lone";
    const a = buildALeg(p, this.factory, {
      uuid,
      role,
      sessionId: ++this.sessionSeq,
      nowMs: t,
      codec,
      domain,
      profile: this.drawLegProfile(),
      callerNumber,
      destination,
      sipCallId: `${p.hex(32)}@${callIdHost(domain)}`,
    });
    const call: CallRecord = {
      uuid,
      a,
      b: undefined,
      playback: "ivr/ivr-welcome.wav",
      scripted: false,
      answered: false,
      ended: false,
    };
    this.open(call, t);

    if (bridged) {
      const bCodec = p.chance(0.7) ? codec : CODECS[p.pick(this.o.codecs)];
      this.scheduler.schedule(t + p.int(20, 120), (at) => {
        if (call.ended) return;
        const b = buildBLeg(p, this.factory, a, {
          uuid: p.uuid(),
          sessionId: ++this.sessionSeq,
          nowMs: at,
          codec: bCodec,
          profile: this.drawLegProfile(),
          sipCallId: p.uuid(),
          gatewayIp: gatewayIp(p),
        });
        this.addLeg(call, b, at);
      });
    }
    if (!answered) {
      this.scheduler.schedule(t + p.int(3000, 20_000), (at) => {
        if (!call.ended) this.end(call, at, this.randomEnd("ORIGINATOR_CANCEL", "a"));
      });
      return;
    }
    const answerAt = t + (bridged ? p.int(1000, 6000) : p.int(100, 1500));
    const spread = this.o.durationSpread;
    const talkMs = Math.max(1000, this.o.meanDurationMs * (1 + spread * (2 * p.next() - 1)));
    const by: "a" | "b" = bridged && p.chance(0.5) ? "b" : "a";
    this.scheduler.schedule(answerAt, (at) => {
      if (call.ended) return;
      this.answer(call, at);
      this.scheduler.schedule(at + talkMs, (end) => {
        if (!call.ended) this.end(call, end, this.randomEnd("NORMAL_CLEARING", by));
      });
    });
  }

  private randomEnd(cause: string, by: "a" | "b"): EndOptions {
    const bLegReport: BLegReport = this.prng.chance(0.5) ? "after-unbridge" : "before-unbridge";
    return { cause, by, bLegReport };
  }

  /**
   * RTCP of an answered leg: FreeSWITCH's own reports (SEND_RTCP_MESSAGE, with
   * `fire_rtcp_events`) and the far end's (RECV_RTCP_MESSAGE), both on FreeSWITCH's schedule.
   * The far end's come a few ms before or after FreeSWITCH's: before, and FreeSWITCH's first
   * report already knows the far end's SSRC (1 stream of 8 in capture-plain.esl).
   */
  private scheduleRtcp(leg: SimLeg, answeredAt: number): void {
    const interval = this.o.rtcpIntervalMs;
    if (interval <= 0) return;
    const p = this.prng;
    const farEndOffsetMs = p.int(-20, 60);
    let received = 0;
    const recv = (at: number) => {
      if (!this.live.has(leg.uuid)) return;
      const report = leg.media.recvReport(at, p, { rrOnly: p.chance(this.o.rrOnlyShare) });
      this.fire(recvRtcpEvent(this.factory, at, report));
      this.scheduler.schedule(at + nextReportDelayMs(++received, interval), recv);
    };
    const firstAt = answeredAt + nextReportDelayMs(0, interval);
    this.scheduler.schedule(firstAt + farEndOffsetMs, recv);
    if (!this.o.sendRtcp) return;
    let sent = 0;
    const send = (at: number) => {
      if (!this.live.has(leg.uuid)) return;
      this.fire(sendRtcpEvent(this.factory, at, leg.media.sendReport(at, p)));
      this.scheduler.schedule(at + nextReportDelayMs(++sent, interval), send);
    };
    this.scheduler.schedule(firstAt, send);
  }

  // ----- lifecycle ------------------------------------------------------------------------

  private open(call: CallRecord, at: number): void {
    this.calls.set(call.uuid, call);
    this.counters.callsStarted++;
    this.live.set(call.a.uuid, call.a);
    this.flow.created(call, at);
    runDialplan(
      call.a,
      {
        rtcpIntervalMs: this.o.rtcpIntervalMs,
        fireRtcpEvents: this.o.sendRtcp,
        dialString: `sofia/gateway/carrier/${call.a.profile.destination}`,
      },
      this.prng,
    );
  }

  private addLeg(call: CallRecord, b: SimLeg, at: number): void {
    this.live.set(b.uuid, b);
    this.flow.originated(call, b, at);
  }

  private answer(call: CallRecord, at: number): void {
    this.counters.callsAnswered++;
    this.flow.answered(call, at);
    if (call.scripted) return;
    if (call.b !== undefined) this.scheduleRtcp(call.b, at);
    this.scheduleRtcp(call.a, at);
  }

  private end(call: CallRecord, at: number, options: EndOptions): SimEvent[] {
    if (call.ended) return [];
    this.live.delete(call.a.uuid);
    if (call.b !== undefined) this.live.delete(call.b.uuid);
    const fired = this.flow.ended(call, at, options);
    this.calls.delete(call.uuid);
    this.counters.callsEnded++;
    return fired;
  }

  private fire(event: SimEvent): SimEvent {
    this.counters.eventsEmitted++;
    this.sink(event);
    return event;
  }

  private requireCall(callUuid: string): CallRecord {
    const call = this.calls.get(callUuid);
    if (call === undefined) throw new Error(`no active call ${callUuid}`);
    return call;
  }

  private requireLiveLeg(legUuid: string): SimLeg {
    const leg = this.live.get(legUuid);
    if (leg === undefined) throw new Error(`no live leg ${legUuid}`);
    return leg;
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function callIdHost(domain: string | undefined): string {
  return domain ?? "198.51.100.1";
}
