// End-of-call QoS (SPEC §2 "End-of-call variables", §4 freeswitch.qos.*): the seven values of a
// leg from its CHANNEL_HANGUP_COMPLETE (or CHANNEL_DESTROY) and the leg's RTCP history.

import type { EslEvent } from "../esl/event.js";
import { parseUint, readUfixed, readUint } from "./numbers.js";
import type { LegState, QosValues, Unusable } from "./types.js";
import { REFUSAL } from "./unusable.js";

const IN_PACKETS = "variable_rtp_audio_in_packet_count";
const OUT_PACKETS = "variable_rtp_audio_out_packet_count";
const IN_BYTES = "variable_rtp_audio_in_raw_bytes";
const OUT_BYTES = "variable_rtp_audio_out_raw_bytes";
const IN_FLAWS = "variable_rtp_audio_in_flaw_total";
const IN_MIN_VARIANCE = "variable_rtp_audio_in_jitter_min_variance";
const IN_MAX_VARIANCE = "variable_rtp_audio_in_jitter_max_variance";
const IN_MOS = "variable_rtp_audio_in_mos";

/** FreeSWITCH's MOS ranges from 1 (R = 0) to 4.5 (R = 100); 5 leaves room, nothing else does. */
const MOS_MIN = 1;
const MOS_MAX = 5;

/**
 * The freeswitch.qos.* values of one leg.
 *
 * @param event CHANNEL_HANGUP_COMPLETE or CHANNEL_DESTROY (both carry the variables; the
 *              pipeline reports a leg once). The event name is not checked.
 * @param leg   the leg's state: its RTCP jitter history and the far end's last cumulative loss.
 *              Undefined = no RTCP seen for the leg.
 * @returns the values, or a refusal:
 *   - `no_media`: no `rtp_audio_*` packet counts at all, or 0 packets both ways. FreeSWITCH
 *     reports such a leg as 100.00 / MOS 4.50: exporting that would show a perfect call that
 *     never had audio.
 *   - `qos_malformed`: a variable absent (once the counts say there was media), not a plain
 *     non-negative number (`abc`, `-3`, `nan`), or a MOS outside 1..5.
 *
 * A leg that sent audio but received none gets `mosScore: undefined`: its in_mos of 4.50
 * describes no received packet at all. Its other values are still exported.
 */
export function computeQos(event: EslEvent, leg: LegState | undefined): QosValues | Unusable {
  const receivedText = event.get(IN_PACKETS);
  const sentText = event.get(OUT_PACKETS);
  if (receivedText === undefined && sentText === undefined) return REFUSAL.noMedia;
  const received = parseUint(receivedText);
  const sent = parseUint(sentText);
  if (received === undefined || sent === undefined) return REFUSAL.qosMalformed;
  if (received === 0 && sent === 0) return REFUSAL.noMedia;

  const inBytes = readUint(event, IN_BYTES);
  const outBytes = readUint(event, OUT_BYTES);
  const flaws = readUint(event, IN_FLAWS);
  const minVariance = readUfixed(event, IN_MIN_VARIANCE);
  const maxVariance = readUfixed(event, IN_MAX_VARIANCE);
  if (
    inBytes === undefined ||
    outBytes === undefined ||
    flaws === undefined ||
    minVariance === undefined ||
    maxVariance === undefined
  ) {
    return REFUSAL.qosMalformed;
  }

  let mosScore: number | undefined;
  if (received > 0) {
    mosScore = readUfixed(event, IN_MOS);
    if (mosScore === undefined || mosScore < MOS_MIN || mosScore > MOS_MAX) {
      return REFUSAL.qosMalformed;
    }
  }

  // The variances are of packet inter-arrival time in ms², so their roots are in ms. Without
  // RTCP the mean of the two extremes' variances is the best stand-in for an average.
  const jitterAvgMs =
    leg !== undefined && leg.jitterCount > 0
      ? leg.jitterSumMs / leg.jitterCount
      : Math.sqrt((minVariance + maxVariance) / 2);

  return {
    mosScore,
    jitterMinMs: Math.sqrt(minVariance),
    jitterMaxMs: Math.sqrt(maxVariance),
    jitterAvgMs,
    totalPackets: received + sent,
    // What FreeSWITCH found missing in what it received, plus what the far end reported
    // missing of what FreeSWITCH sent (0 when no RTCP report came).
    packetLoss: flaws + (leg?.farEndLost ?? 0),
    totalBytes: inBytes + outBytes,
  };
}

/** FreeSWITCH's MOS from its R (do_mos in switch_rtp.c; the ITU-T G.107 R-to-MOS curve). */
export function mosFromR(r: number): number {
  return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}

/**
 * FreeSWITCH's R (in_quality_percentage) from packets received and flaws, as do_mos computes
 * it: (received − flaws) / received × 100 TRUNCATED to an integer (`int R`), 100 when outside
 * 0..100, and 100 when there is no flaw (do_mos never runs then, R keeps its initial 100).
 *
 * do_mos recomputes R only when a flaw happens, with the counts of that moment: the final
 * in_packet_count / in_flaw_total reproduce in_mos only when the result does not depend on when
 * the last flaw came (true of one flaw in ≥ 100 packets, the cgrates G722 sample). That is why
 * the agent exports in_mos as FreeSWITCH printed it and never recomputes it.
 */
export function freeswitchR(received: number, flaws: number): number {
  if (received <= 0 || flaws <= 0) return 100;
  const r = Math.trunc(((received - flaws) / received) * 100);
  return r < 0 || r > 100 ? 100 : r;
}

/** FreeSWITCH's unrounded MOS for packets received and flaws: mosFromR(freeswitchR(...)). */
export function freeswitchMos(received: number, flaws: number): number {
  return mosFromR(freeswitchR(received, flaws));
}
