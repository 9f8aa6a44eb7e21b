// The media model of one leg: packets each way, losses, jitter, the RTCP reports FreeSWITCH
// receives (RECV) and sends (SEND), and the end-of-call statistics. Everything is derived from the
// same counters so that the events of a leg agree with each other: the peer's last SR is
// `rtcp_packet_count`, the jitter variances match the jitter the leg's reports carried, and
// `in_flaw_total` is the inbound loss plus FreeSWITCH's consecutive-loss penalties.

import { type Codec, timestampStep } from "./codecs.js";
import type {
  RecvReportBlock,
  RecvRtcpReport,
  ReportBlock,
  SenderInfo,
  SendRtcpReport,
} from "./events.js";
import { toMicros } from "./format.js";
import { ntpMiddle, ntpWords, toUnits65536 } from "./ntp.js";
import type { Prng } from "./prng.js";
import { emptyQos, fsMos, fsQuality, type QosStats } from "./qos.js";

export type ProfileName = "good" | "average" | "bad";
export const PROFILE_NAMES: readonly ProfileName[] = ["good", "average", "bad"];

/** Network path quality of a leg, the same both ways. */
export interface NetProfile {
  readonly name: string;
  /** Mean interarrival jitter, ms. */
  readonly jitterMs: number;
  /** Probability that a packet is lost. */
  readonly lossRate: number;
  readonly rttMs: number;
  /** Probability that a loss follows the previous one directly (FreeSWITCH adds a penalty). */
  readonly burst: number;
}

const PROFILE_RANGES: Record<
  ProfileName,
  { jitter: [number, number]; loss: [number, number]; rtt: [number, number]; burst: number }
> = {
  good: { jitter: [0.5, 4], loss: [0, 0.002], rtt: [15, 60], burst: 0.05 },
  average: { jitter: [4, 15], loss: [0.005, 0.02], rtt: [60, 150], burst: 0.2 },
  bad: { jitter: [15, 50], loss: [0.03, 0.1], rtt: [150, 400], burst: 0.4 },
};

export function drawProfile(name: ProfileName, prng: Prng): NetProfile {
  const r = PROFILE_RANGES[name];
  return {
    name,
    jitterMs: prng.range(r.jitter[0], r.jitter[1]),
    lossRate: prng.range(r.loss[0], r.loss[1]),
    rttMs: prng.range(r.rtt[0], r.rtt[1]),
    burst: r.burst,
  };
}

/** Scripted legs: nothing happens unless the script says so. */
export const SCRIPTED_PROFILE: NetProfile = {
  name: "scripted",
  jitterMs: 0,
  lossRate: 0,
  rttMs: 40,
  burst: 0,
};

export interface LegMediaInit {
  uuid: string;
  codec: Codec;
  profile: NetProfile;
  fsSsrc: number;
  peerSsrc: number;
  fsSeqBase: number;
  peerSeqBase: number;
  fsTsBase: number;
  peerTsBase: number;
}

/** Explicit values for a RECV_RTCP_MESSAGE; whatever is left out is computed from the model. */
export interface RtcpOverrides {
  /** Source0-Jitter in RTP timestamp units. */
  jitter?: number;
  /** Source0-Jitter given in ms (converted with `rate`). */
  jitterMs?: number;
  /** Source0-Lost: cumulative, signed (−1 is printed as 4294967295). */
  lost?: number;
  /** Source0-Fraction, 0..255. */
  fraction?: number;
  /** Source0-SSRC, the SSRC reported on (default: the leg's own). */
  ssrc?: number;
  /** SSRC header, the sender of the report (default: the far end's). */
  senderSsrc?: number;
  /** RTP-Rate (default: the codec's RTP clock). */
  rate?: number;
  /** A receiver report without sender info: SR fields repeat the last SR (or are zero). */
  rrOnly?: boolean;
  lsr?: number;
  dlsr?: number;
  rttAvg?: number;
  lossAvg?: number;
  highestSeq?: number;
  packetCount?: number;
  octetCount?: number;
  /** Further report blocks (Source1..4), printed as given. */
  extraBlocks?: RecvReportBlock[];
}

/** Explicit end-of-call values for a scripted hangup. */
export interface QosOverrides {
  inPacketCount?: number;
  inLost?: number;
  inFlaws?: number;
  inSkip?: number;
  jitterMs?: number;
}

const ZERO_SENDER: SenderInfo = {
  ssrc: 0,
  ntpMsw: 0,
  ntpLsw: 0,
  rtpTimestamp: 0,
  packetCount: 0,
  octetCount: 0,
};

/** RTP header bytes counted in `*_raw_bytes` and `*_media_bytes` besides the payload. */
const RTP_HEADER_BYTES = 12;

/**
 * The packet FreeSWITCH's RTCP counts as lost on every stream, loss or not: on the loss-free
 * lab calls of capture-plain.esl and capture-long-plain.esl a stream's first report reads
 * Lost 1, Fraction 1 (1 of the 4 s worth of 200 packets) and every later one Lost 1, Fraction 0.
 * It is in the reports only: the end-of-call `in_flaw_total` of those legs is 0.
 */
export const RTCP_PHANTOM_LOST = 1;

function sampleLoss(n: number, p: number, prng: Prng): number {
  if (n <= 0 || p <= 0) return 0;
  const mean = n * p;
  const sd = Math.sqrt(mean * (1 - p));
  return Math.max(0, Math.min(n, Math.round(mean + sd * prng.normal())));
}

function fractionOf(lostDelta: number, expectedDelta: number): number {
  if (expectedDelta <= 0 || lostDelta <= 0) return 0;
  return Math.min(255, Math.floor((lostDelta * 256) / expectedDelta));
}

export class LegMedia {
  readonly uuid: string;
  readonly codec: Codec;
  readonly profile: NetProfile;
  readonly fsSsrc: number;
  readonly peerSsrc: number;
  private readonly fsSeqBase: number;
  private readonly peerSeqBase: number;
  private readonly fsTsBase: number;
  private readonly peerTsBase: number;

  private startMs: number | undefined;
  private endMs: number | undefined;
  private hasMedia = true;
  private advancedMs = 0;
  /** FreeSWITCH's stream lost on the way to the peer, as the peer counts it. */
  private outLost = 0;
  /** The peer's stream lost on the way to FreeSWITCH. */
  private inLost = 0;
  private inPenalty = 0;
  /** FreeSWITCH's consecutive_flaws. */
  private flawRun = 0;
  private recvCount = 0;
  private recvPrev = { expected: 0, lost: 0 };
  private sendPrev = { expected: 0, lost: 0 };
  /**
   * Whether FreeSWITCH has had a sender report from the peer: until then its own reports say
   * Source-SSRC 00000000, not knowing whom they report on.
   */
  private peerSrSeen = false;
  private lossAvg = 0;
  private rttAvg = 0;
  private lastPeerSr: SenderInfo | undefined;
  private lastPeerSrMs = 0;
  private jitterSumMs = 0;
  private jitterCount = 0;

  constructor(init: LegMediaInit) {
    this.uuid = init.uuid;
    this.codec = init.codec;
    this.profile = init.profile;
    this.fsSsrc = init.fsSsrc >>> 0;
    this.peerSsrc = init.peerSsrc >>> 0;
    this.fsSeqBase = init.fsSeqBase;
    this.peerSeqBase = init.peerSeqBase;
    this.fsTsBase = init.fsTsBase >>> 0;
    this.peerTsBase = init.peerTsBase >>> 0;
  }

  /** Whether an RTP session was set up (the leg was answered). */
  get started(): boolean {
    return this.startMs !== undefined;
  }

  /** Mean of the jitter values (ms) this leg's RTCP reports carried so far; NaN without any. */
  get meanReportedJitterMs(): number {
    return this.jitterCount === 0 ? Number.NaN : this.jitterSumMs / this.jitterCount;
  }

  start(ms: number): void {
    if (this.startMs === undefined) {
      this.startMs = ms;
      this.advancedMs = ms;
    }
  }

  /** An RTP session that never carries a packet (one-way or failed media). */
  disableMedia(): void {
    this.hasMedia = false;
  }

  /** Packets sent each way by `ms` (both ends packetise at the codec's ptime). */
  packets(ms: number): number {
    if (this.startMs === undefined || !this.hasMedia) return 0;
    const until = this.endMs === undefined ? ms : Math.min(ms, this.endMs);
    return Math.max(0, Math.floor((until - this.startMs) / this.codec.ptimeMs));
  }

  private rtpTimestamp(base: number, ms: number): number {
    if (this.startMs === undefined) return base;
    return (base + Math.floor(((ms - this.startMs) * this.codec.rtpRate) / 1000)) >>> 0;
  }

  /** Samples the losses of the packets sent since the last call. */
  advance(ms: number, prng: Prng): void {
    if (this.startMs === undefined || ms <= this.advancedMs) return;
    const n = this.packets(ms) - this.packets(this.advancedMs);
    this.advancedMs = ms;
    if (n <= 0) return;
    this.outLost += sampleLoss(n, this.profile.lossRate, prng);
    const lost = sampleLoss(n, this.profile.lossRate, prng);
    for (let i = 0; i < lost; i++) {
      // do_mos(): a flaw right after another one costs consecutive_flaws extra flaws.
      if (this.flawRun > 0 && prng.chance(this.profile.burst)) {
        this.flawRun++;
        this.inPenalty += this.flawRun;
      } else {
        this.flawRun = 1;
      }
    }
    this.inLost += lost;
  }

  private drawJitterMs(prng: Prng): number {
    return Math.max(0, this.profile.jitterMs * (1 + 0.3 * prng.normal()));
  }

  private recordJitter(units: number, rate: number): void {
    if (rate <= 0) return;
    this.jitterSumMs += (units * 1000) / rate;
    this.jitterCount++;
  }

  /** The report FreeSWITCH receives from the far end about the stream FreeSWITCH sends. */
  recvReport(ms: number, prng: Prng, o: RtcpOverrides = {}): RecvRtcpReport {
    this.advance(ms, prng);
    const owdMs = this.profile.rttMs / 2;
    const rate = o.rate ?? this.codec.rtpRate;
    const expected = this.packets(ms);
    // An explicit Lost is where the stream's count stands from then on.
    if (o.lost !== undefined) this.outLost = o.lost - RTCP_PHANTOM_LOST;
    const lost = this.outLost + RTCP_PHANTOM_LOST;
    const fraction =
      o.fraction ?? fractionOf(lost - this.recvPrev.lost, expected - this.recvPrev.expected);
    this.recvPrev = { expected, lost };

    const jitter = o.jitter ?? Math.round((o.jitterMs ?? this.drawJitterMs(prng)) * (rate / 1000));
    this.recordJitter(jitter, rate);

    let lsr = 0;
    let dlsr = 0;
    if (o.lsr !== undefined || o.dlsr !== undefined) {
      lsr = o.lsr ?? 0;
      dlsr = o.dlsr ?? 0;
    } else if (this.recvCount > 0) {
      // The peer answers FreeSWITCH's last SR: it left rtt + dlsr ago.
      const dlsrMs = prng.range(10, 1000);
      lsr = ntpMiddle(ms - this.profile.rttMs - dlsrMs);
      dlsr = toUnits65536(dlsrMs);
    }
    if (lsr !== 0) {
      const rttS = ((ntpMiddle(ms) - lsr - dlsr) >>> 0) / 65536;
      if (rttS > 0 && rttS < 10) {
        this.rttAvg = this.rttAvg === 0 ? rttS : this.rttAvg * 0.7 + rttS * 0.3;
      }
    }
    const percent = Math.floor((100 * fraction) / 256);
    this.lossAvg = this.recvCount === 0 ? percent : Math.trunc(this.lossAvg * 0.7 + percent * 0.3);
    this.recvCount++;

    let sender: SenderInfo;
    if (o.rrOnly === true) {
      sender = this.lastPeerSr ?? ZERO_SENDER;
    } else {
      const sentAt = ms - owdMs;
      const peerPackets = o.packetCount ?? this.packets(sentAt);
      const ntp = ntpWords(sentAt);
      sender = {
        ssrc: o.senderSsrc ?? this.peerSsrc,
        ntpMsw: ntp.msw,
        ntpLsw: ntp.lsw,
        rtpTimestamp: this.rtpTimestamp(this.peerTsBase, sentAt),
        packetCount: peerPackets,
        octetCount: o.octetCount ?? peerPackets * this.codec.payloadBytes,
      };
      this.lastPeerSr = sender;
      this.lastPeerSrMs = ms;
      this.peerSrSeen = true;
    }
    const received = this.packets(ms - owdMs);
    const block: RecvReportBlock = {
      ssrc: o.ssrc ?? this.fsSsrc,
      fraction,
      lost,
      lossAvg: o.lossAvg ?? this.lossAvg,
      highestSeq: o.highestSeq ?? this.fsSeqBase + Math.max(0, expected - 1),
      jitter,
      lsr,
      dlsr,
      rttAvg: o.rttAvg ?? this.rttAvg,
    };
    return {
      uniqueId: this.uuid,
      sender,
      lastRtpTimestamp:
        (this.peerTsBase + Math.max(0, received - 1) * timestampStep(this.codec)) >>> 0,
      rtpRate: rate,
      captureTimeUs: toMicros(ms),
      blocks: [block, ...(o.extraBlocks ?? [])],
    };
  }

  /**
   * The SR FreeSWITCH sends, with its report on the stream it receives. As switch_rtp.c fills
   * SEND_RTCP_MESSAGE, its `SSRC` header is the remote stream's SSRC (the one the report is
   * about), and the report's Source-SSRC is 00000000 until a sender report of the peer came in;
   * its cumulative Lost is the stream's either way (capture-plain.esl, capture-netem-plain.esl).
   */
  sendReport(ms: number, prng: Prng): SendRtcpReport {
    this.advance(ms, prng);
    const expected = this.packets(ms - this.profile.rttMs / 2);
    const lost = this.inLost + RTCP_PHANTOM_LOST;
    const fraction = fractionOf(lost - this.sendPrev.lost, expected - this.sendPrev.expected);
    this.sendPrev = { expected, lost };
    const rate = this.codec.rtpRate;
    const jitter = Math.round(this.drawJitterMs(prng) * (rate / 1000));
    this.recordJitter(jitter, rate);
    const sr = this.lastPeerSr;
    const block: ReportBlock = {
      ssrc: this.peerSrSeen ? this.peerSsrc : 0,
      fraction,
      lost,
      highestSeq: this.peerSeqBase + Math.max(0, expected - 1),
      jitter,
      lsr: sr === undefined ? 0 : (((sr.ntpMsw & 0xffff) << 16) | (sr.ntpLsw >>> 16)) >>> 0,
      dlsr: sr === undefined ? 0 : toUnits65536(ms - this.lastPeerSrMs),
    };
    const sent = this.packets(ms);
    const ntp = ntpWords(ms);
    return {
      uniqueId: this.uuid,
      sender: {
        ssrc: this.peerSsrc,
        ntpMsw: ntp.msw,
        ntpLsw: ntp.lsw,
        rtpTimestamp: this.rtpTimestamp(this.fsTsBase, ms),
        packetCount: sent,
        octetCount: sent * this.codec.payloadBytes,
      },
      lastRtpTimestamp: (this.fsTsBase + Math.max(0, sent - 1) * timestampStep(this.codec)) >>> 0,
      captureTimeUs: toMicros(ms),
      block,
    };
  }

  /**
   * Ends the media at `ms` and returns the statistics FreeSWITCH would set, or undefined when
   * the leg never had an RTP session (then FreeSWITCH sets no `rtp_audio_*` variable at all).
   */
  finish(ms: number, prng: Prng, o: QosOverrides = {}): QosStats | undefined {
    if (this.startMs === undefined) return undefined;
    this.advance(ms, prng);
    if (this.endMs === undefined) this.endMs = ms;
    if (!this.hasMedia) return emptyQos();

    const expected = this.packets(ms);
    const inLost = o.inLost ?? this.inLost;
    const received = o.inPacketCount ?? Math.max(0, expected - inLost);
    let flaws = o.inFlaws ?? inLost + (o.inLost === undefined ? this.inPenalty : 0);
    // do_mos() resets flaws that exceed the packets received.
    if (received < flaws) flaws = 0;
    const r = fsQuality(received, flaws);
    const jitterMs =
      o.jitterMs ??
      (this.jitterCount > 0 ? this.jitterSumMs / this.jitterCount : this.profile.jitterMs);
    const packetBytes = this.codec.payloadBytes + RTP_HEADER_BYTES;
    const sent = this.packets(ms);
    const sr = this.lastPeerSr;
    return {
      inRawBytes: received * packetBytes,
      inMediaBytes: received * packetBytes,
      inPacketCount: received,
      inMediaPacketCount: received,
      // Comfort frames FreeSWITCH plays for missing and late packets: related to loss, not loss.
      inSkipPacketCount:
        o.inSkip ?? inLost + Math.round(received * Math.min(0.02, jitterMs / 2000)),
      inJitterPacketCount: 0,
      inDtmfPacketCount: 0,
      inCngPacketCount: 0,
      inFlushPacketCount: Math.floor(jitterMs / 10),
      inLargestJbSize: 0,
      // Chosen so that sqrt((min + max) / 2) is the mean jitter of the leg's RTCP reports.
      inJitterMinVariance: 0.25 * jitterMs * jitterMs,
      inJitterMaxVariance: 1.75 * jitterMs * jitterMs,
      inJitterLossRate: 0,
      inJitterBurstRate: 0,
      inMeanInterval: received > 0 ? (this.codec.ptimeMs * expected) / received : 0,
      inFlawTotal: flaws,
      inQualityPercentage: r,
      inMos: fsMos(r),
      outRawBytes: sent * packetBytes,
      outMediaBytes: sent * packetBytes,
      outPacketCount: sent,
      outMediaPacketCount: sent,
      outSkipPacketCount: 0,
      outDtmfPacketCount: 0,
      outCngPacketCount: 0,
      rtcpPacketCount: sr?.packetCount ?? 0,
      rtcpOctetCount: sr?.octetCount ?? 0,
    };
  }
}
