// What the agent must export for a stream of real FreeSWITCH events, worked out by the test from
// the raw events (raw-esl.ts) and the formulas of SPEC sections 3, 4 and 7, written out here
// independently of src/quality. The agent's output is compared with this, never with itself.

import type { RawEvent } from "./raw-esl.js";

export type Direction = "inbound" | "outbound";

/** One RTCP report as the agent must export it (SPEC §4, §7). */
export interface ExpectedReport {
  readonly uuid: string;
  readonly direction: Direction;
  readonly ssrc: string;
  readonly jitterMs: number;
  readonly fractionLost: number;
  /** Lost since the previous report of the same stream (SPEC §4). */
  readonly packetsLost: number;
  /** The report's cumulative lost, read signed. */
  readonly cumulativeLost: number;
  readonly rttMs: number | undefined;
  readonly mos: number;
}

/** SPEC §3 label values of a leg. */
export interface ExpectedLabels {
  readonly channel_id: string;
  readonly correlation_id: string;
  readonly domain_name: string;
}

/** The QoS labels and values of a leg (SPEC §3, §4), from its CHANNEL_HANGUP_COMPLETE. */
export interface ExpectedQos {
  readonly labels: ExpectedLabels & {
    readonly call_direction: string;
    readonly codec_name: string;
    readonly src_ip: string;
    readonly dst_ip: string;
  };
  /** SPEC §4 instrument name → value; mos_score absent when the leg received nothing. */
  readonly values: Readonly<Record<string, number>>;
  /** The leg's own variable_domain_name at hangup ("" when none). */
  readonly ownDomainAtHangup: string;
  /** The jitter (ms) of the leg's reports before its hangup, in order: jitter_avg's inputs. */
  readonly jitterBeforeHangup: readonly number[];
}

export interface ExpectedLeg {
  readonly uuid: string;
  readonly labels: ExpectedLabels;
  readonly reports: readonly ExpectedReport[];
  /**
   * Undefined when the leg had no CHANNEL_HANGUP_COMPLETE in the stream, or never had media
   * (SPEC §4: not reported as a perfect call).
   */
  readonly qos: ExpectedQos | undefined;
  /** Its hangup says it had no RTP at all: 0 packets (or none counted) both ways. */
  readonly noMedia: boolean;
  /** The last cumulative lost per direction: what the exported increments must add up to. */
  readonly finalLost: Readonly<Partial<Record<Direction, number>>>;
}

const CHANNEL_EVENTS = new Set(["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE"]);
const UNKNOWN_SSRC = "00000000";

/** RTCP's cumulative lost is a signed 24-bit field FreeSWITCH prints unsigned (24 or 32 bits). */
export function signedLost(text: string): number {
  const v = Number(text);
  if (v >= 2 ** 31) return v - 2 ** 32;
  if (v >= 2 ** 23 && v < 2 ** 24) return v - 2 ** 24;
  return v;
}

/** SPEC §7: RTT from LSR/DLSR against Capture-Time, else Rtt-Avg, else unknown. */
export function specRtt(report: RawEvent): number | undefined {
  const lsr = Number(report.get("Source0-LSR") ?? 0);
  if (lsr !== 0) {
    const captureUs = BigInt(report.get("Capture-Time") ?? "0");
    const ntpSeconds = captureUs / 1_000_000n + 2_208_988_800n;
    const fraction = ((captureUs % 1_000_000n) << 32n) / 1_000_000n;
    const middle = Number(((ntpSeconds & 0xffffn) << 16n) | (fraction >> 16n));
    const dlsr = Number(report.get("Source0-DLSR") ?? 0);
    const units = (((middle - lsr - dlsr) % 2 ** 32) + 2 ** 32) % 2 ** 32;
    const ms = (units / 65536) * 1000;
    if (ms >= 0 && ms <= 10_000) return ms;
  }
  const avg = Number(report.get("Rtt0-Avg") ?? 0);
  return avg > 0 ? avg * 1000 : undefined;
}

/** SPEC §7: the E-model estimate; RTT 0 when unknown. */
export function specMos(jitterMs: number, fraction: number, rttMs: number | undefined): number {
  const le = (rttMs ?? 0) / 2 + 2 * jitterMs + 10;
  let r = le < 160 ? 93.2 - le / 40 : 93.2 - (le - 120) / 10;
  r -= 2.5 * fraction * 100;
  r = Math.min(100, Math.max(0, r));
  return r === 0 ? 1 : 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}

interface LegModel {
  callUuid: string;
  sipCallId: string;
  ownDomain: string;
  fromHost: string;
  toHost: string;
  codecRate: number;
  lastRecvRate: number;
  reports: ExpectedReport[];
  baselines: Record<Direction, Map<string, number>>;
  hangup: RawEvent | undefined;
  jitterBeforeHangup: number[];
  farEndLost: number;
}

/**
 * The expected output for one FreeSWITCH instance's events, in the order FreeSWITCH sent them.
 * Only legs with a channel event (CREATE/ANSWER/BRIDGE) are modelled; `legs` is keyed by uuid.
 */
export function expectFromEvents(events: readonly RawEvent[]): Map<string, ExpectedLeg> {
  const legs = new Map<string, LegModel>();
  const leg = (uuid: string): LegModel => {
    let l = legs.get(uuid);
    if (l === undefined) {
      l = {
        callUuid: "",
        sipCallId: "",
        ownDomain: "",
        fromHost: "",
        toHost: "",
        codecRate: 0,
        lastRecvRate: 0,
        reports: [],
        baselines: { inbound: new Map(), outbound: new Map() },
        hangup: undefined,
        jitterBeforeHangup: [],
        farEndLost: 0,
      };
      legs.set(uuid, l);
    }
    return l;
  };
  const sticky = (next: string | undefined, held: string): string => next || held;

  for (const e of events) {
    const uuid = e.get("Unique-ID");
    if (uuid === undefined) continue;
    if (CHANNEL_EVENTS.has(e.name)) {
      const l = leg(uuid);
      // SPEC §3: a leg's call comes from CREATE/ANSWER/BRIDGE, never from its hangup events.
      l.callUuid = sticky(e.get("Channel-Call-UUID"), l.callUuid);
      l.sipCallId = sticky(e.get("variable_sip_call_id"), l.sipCallId);
      l.ownDomain = sticky(e.get("variable_domain_name"), l.ownDomain);
      l.fromHost = sticky(e.get("variable_sip_from_host"), l.fromHost);
      l.toHost = sticky(e.get("variable_sip_to_host"), l.toHost);
      const rate = Number(e.get("variable_rtp_use_codec_rate") ?? 0);
      if (rate > 0) l.codecRate = rate;
    } else if (e.name === "CHANNEL_HANGUP_COMPLETE") {
      const l = legs.get(uuid);
      if (l !== undefined && l.hangup === undefined) l.hangup = e;
    } else if (e.name === "RECV_RTCP_MESSAGE" || e.name === "SEND_RTCP_MESSAGE") {
      const l = leg(uuid);
      const recv = e.name === "RECV_RTCP_MESSAGE";
      const p = recv ? "Source0-" : "Source-";
      const reportedRate = recv ? Number(e.get("RTP-Rate") ?? 0) : 0;
      if (reportedRate === 90000) continue; // video never feeds the audio metrics
      const rate = reportedRate > 0 ? reportedRate : l.lastRecvRate || l.codecRate;
      if (reportedRate > 0) l.lastRecvRate = reportedRate;
      const ssrc = e.get(`${p}SSRC`) ?? "";
      const lost = signedLost(e.get(`${p}Lost`) ?? "0");
      const direction: Direction = recv ? "inbound" : "outbound";
      // SPEC §4: a baseline per SSRC; 00000000 is the first report of the real SSRC after it.
      const baselines = l.baselines[direction];
      let previous = baselines.get(ssrc);
      if (previous === undefined && ssrc !== UNKNOWN_SSRC && baselines.has(UNKNOWN_SSRC)) {
        previous = baselines.get(UNKNOWN_SSRC);
        baselines.delete(UNKNOWN_SSRC);
      }
      baselines.set(ssrc, lost);
      const jitterMs = (Number(e.get(`${p}Jitter`) ?? 0) * 1000) / rate;
      const fractionLost = Number(e.get(`${p}Fraction`) ?? 0) / 256;
      const rttMs = recv ? specRtt(e) : undefined;
      l.reports.push({
        uuid,
        direction,
        ssrc,
        jitterMs,
        fractionLost,
        packetsLost: Math.max(0, lost - (previous ?? 0)),
        cumulativeLost: lost,
        rttMs,
        mos: specMos(jitterMs, fractionLost, rttMs),
      });
      if (l.hangup === undefined) {
        l.jitterBeforeHangup.push(jitterMs);
        if (recv) l.farEndLost = Math.max(0, lost);
      }
    }
  }

  const out = new Map<string, ExpectedLeg>();
  for (const [uuid, l] of legs) {
    if (l.callUuid === "" && l.sipCallId === "") continue; // reports only: no channel event
    const isALeg = l.callUuid === "" || l.callUuid === uuid;
    const a = isALeg ? undefined : legs.get(l.callUuid);
    const aDomain = a === undefined ? "" : a.ownDomain || a.fromHost || a.toHost;
    const labels: ExpectedLabels = {
      channel_id: uuid,
      correlation_id: isALeg
        ? l.sipCallId || l.callUuid || uuid
        : (a?.sipCallId ?? "") || l.callUuid,
      domain_name: l.ownDomain || aDomain || l.fromHost || l.toHost,
    };
    const finalLost: Partial<Record<Direction, number>> = {};
    for (const r of l.reports) finalLost[r.direction] = r.cumulativeLost;
    out.set(uuid, {
      uuid,
      labels,
      reports: l.reports,
      qos: l.hangup === undefined || noMedia(l.hangup) ? undefined : expectQos(l, labels, l.hangup),
      noMedia: l.hangup !== undefined && noMedia(l.hangup),
      finalLost,
    });
  }
  return out;
}

function noMedia(hangup: RawEvent): boolean {
  const count = (name: string) => Number(hangup.get(`variable_rtp_audio_${name}`) ?? 0);
  return count("in_packet_count") === 0 && count("out_packet_count") === 0;
}

/** SPEC §4 end-of-call values from the hangup event and the leg's RTCP before it. */
function expectQos(l: LegModel, labels: ExpectedLabels, hangup: RawEvent): ExpectedQos {
  const v = (name: string): number => Number(hangup.get(`variable_rtp_audio_${name}`));
  const values: Record<string, number> = {
    "freeswitch.qos.jitter_min": Math.sqrt(v("in_jitter_min_variance")),
    "freeswitch.qos.jitter_max": Math.sqrt(v("in_jitter_max_variance")),
    "freeswitch.qos.jitter_avg":
      l.jitterBeforeHangup.length > 0
        ? l.jitterBeforeHangup.reduce((s, x) => s + x, 0) / l.jitterBeforeHangup.length
        : Math.sqrt((v("in_jitter_min_variance") + v("in_jitter_max_variance")) / 2),
    "freeswitch.qos.total_packets": v("in_packet_count") + v("out_packet_count"),
    "freeswitch.qos.packet_loss": v("in_flaw_total") + l.farEndLost,
    "freeswitch.qos.total_bytes": v("in_raw_bytes") + v("out_raw_bytes"),
  };
  if (v("in_packet_count") > 0) values["freeswitch.qos.mos_score"] = v("in_mos");
  return {
    labels: {
      ...labels,
      // The leg's own domain may arrive late (a dialplan step after its answer): its hangup
      // event has it. Its call, and so a domain inherited from its A-leg, never changes there.
      domain_name: hangup.get("variable_domain_name") || labels.domain_name,
      call_direction: hangup.get("Call-Direction") ?? "",
      codec_name: hangup.get("variable_rtp_use_codec_name") ?? "",
      src_ip: hangup.get("variable_remote_media_ip") ?? "",
      dst_ip: hangup.get("variable_local_media_ip") ?? "",
    },
    values,
    ownDomainAtHangup: hangup.get("variable_domain_name") ?? "",
    jitterBeforeHangup: l.jitterBeforeHangup,
  };
}

/**
 * SPEC §3 labels of live legs from `uuid_dump <uuid> json` of each (what an agent started
 * mid-call learns by looking the legs up): the same rules as for channel events.
 */
export function labelsFromDumps(
  dumps: ReadonlyMap<string, Readonly<Record<string, string>>>,
): Map<string, ExpectedLabels> {
  const out = new Map<string, ExpectedLabels>();
  for (const [uuid, d] of dumps) {
    const callUuid = d["Channel-Call-UUID"] || uuid;
    const a = callUuid === uuid ? undefined : dumps.get(callUuid);
    const host = (x: Readonly<Record<string, string>>) =>
      x.variable_domain_name || x.variable_sip_from_host || x.variable_sip_to_host || "";
    out.set(uuid, {
      channel_id: uuid,
      correlation_id:
        a === undefined ? d.variable_sip_call_id || callUuid : a.variable_sip_call_id || callUuid,
      domain_name: d.variable_domain_name || (a === undefined ? "" : host(a)) || host(d),
    });
  }
  return out;
}
