// End-of-call QoS (SPEC §2 "End-of-call variables", §4 freeswitch.qos.*): the seven values of a
// leg from its CHANNEL_HANGUP_COMPLETE (or CHANNEL_DESTROY) and the leg's RTCP history.

import type { EslEvent } from "../esl/event.js";
import { parseUint, readUfixed, readUint } from "./numbers.js";
import type { LegState, QosValues, QosVariable, Unusable } from "./types.js";
import { REFUSAL } from "./unusable.js";

const PREFIX = "variable_rtp_audio_";

/**
 * FreeSWITCH's MOS runs from 4.5 (R = 100) down to 1 (R = 0), but not monotonically: for R = 1..5
 * its formula gives 0.989–0.994, printed "0.99" (SPEC §4). 0.99 is the lowest value it prints;
 * 5 leaves room above 4.5, nothing else does.
 */
const IN_MOS_MIN = 0.99;
const IN_MOS_MAX = 5;

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
 *   - `qos_malformed`: not one value could be computed.
 *
 * A variable that is absent (once the counts say there was media), not a plain non-negative
 * number (`abc`, `-3`, `nan`), or a MOS outside 0.99..5 is listed in `unreadable`, and only the
 * values that need it are left undefined: one bad variable never hides the others.
 *
 * A leg that sent audio but received none gets `mosScore: undefined`: its in_mos of 4.50
 * describes no received packet at all. Its other values are still exported.
 *
 * in_mos is exported as FreeSWITCH printed it, never recomputed from the counts: do_mos
 * (switch_rtp.c) computes R (in_quality_percentage, truncated to an integer) only when a flaw
 * happens, with the counts of that moment, so the final in_packet_count and in_flaw_total often
 * give another R (the libresbc A-leg, legs of the FreeSWITCH 1.11 capture with 5 % loss).
 */
export function computeQos(event: EslEvent, leg: LegState | undefined): QosValues | Unusable {
  const receivedText = event.get(`${PREFIX}in_packet_count`);
  const sentText = event.get(`${PREFIX}out_packet_count`);
  if (receivedText === undefined && sentText === undefined) return REFUSAL.noMedia;
  const received = parseUint(receivedText);
  const sent = parseUint(sentText);
  if (received === 0 && sent === 0) return REFUSAL.noMedia;

  const unreadable: QosVariable[] = [];
  if (received === undefined) unreadable.push("in_packet_count");
  if (sent === undefined) unreadable.push("out_packet_count");
  const read = (name: QosVariable, reader: typeof readUint): number | undefined => {
    const value = reader(event, PREFIX + name);
    if (value === undefined) unreadable.push(name);
    return value;
  };
  const inBytes = read("in_raw_bytes", readUint);
  const outBytes = read("out_raw_bytes", readUint);
  const flaws = read("in_flaw_total", readUint);
  const minVariance = read("in_jitter_min_variance", readUfixed);
  const maxVariance = read("in_jitter_max_variance", readUfixed);

  let mosScore: number | undefined;
  if (received !== undefined && received > 0) {
    mosScore = readUfixed(event, `${PREFIX}in_mos`);
    if (mosScore === undefined || mosScore < IN_MOS_MIN || mosScore > IN_MOS_MAX) {
      mosScore = undefined;
      unreadable.push("in_mos");
    }
  }

  // The variances are of packet inter-arrival time in ms², so their roots are in ms. Without
  // RTCP the mean of the two extremes' variances is the best stand-in for an average.
  const jitterAvgMs =
    leg !== undefined && leg.jitterCount > 0
      ? leg.jitterSumMs / leg.jitterCount
      : minVariance !== undefined && maxVariance !== undefined
        ? Math.sqrt((minVariance + maxVariance) / 2)
        : undefined;

  const values: QosValues = {
    mosScore,
    jitterMinMs: minVariance === undefined ? undefined : Math.sqrt(minVariance),
    jitterMaxMs: maxVariance === undefined ? undefined : Math.sqrt(maxVariance),
    jitterAvgMs,
    totalPackets: received === undefined || sent === undefined ? undefined : received + sent,
    // What FreeSWITCH found missing in what it received, plus what the far end reported
    // missing of what FreeSWITCH sent (0 when no RTCP report came).
    packetLoss: flaws === undefined ? undefined : flaws + (leg?.farEndLost ?? 0),
    totalBytes: inBytes === undefined || outBytes === undefined ? undefined : inBytes + outBytes,
    unreadable,
  };
  return hasAnyValue(values) ? values : REFUSAL.qosMalformed;
}

function hasAnyValue(v: QosValues): boolean {
  return (
    v.mosScore !== undefined ||
    v.jitterMinMs !== undefined ||
    v.jitterMaxMs !== undefined ||
    v.jitterAvgMs !== undefined ||
    v.totalPackets !== undefined ||
    v.packetLoss !== undefined ||
    v.totalBytes !== undefined
  );
}
