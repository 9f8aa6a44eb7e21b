// Session descriptions as the channel variables hold them (`switch_r_sdp`, `switch_m_sdp`,
// `rtp_local_sdp_str`), CRLF line ends as on the wire, shaped like the captured ones.

import type { Codec } from "./codecs.js";
import type { Prng } from "./prng.js";

/** What a codec looks like in an `a=rtpmap` line. */
function encoding(codec: Codec): string {
  return codec.name === "opus" ? `opus/${codec.rtpRate}/2` : `${codec.name}/${codec.rtpRate}`;
}

/** The `a=fmtp` of a codec that has one (opus), as FreeSWITCH offers it. */
export const OPUS_FMTP =
  "useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40";

function media(ip: string, port: number, codec: Codec, direction: boolean): string[] {
  const lines = [
    `c=IN IP4 ${ip}`,
    "t=0 0",
    `m=audio ${port} RTP/AVP ${codec.payloadType} 101 13`,
    `a=rtpmap:${codec.payloadType} ${encoding(codec)}`,
  ];
  if (codec.name === "opus") lines.push(`a=fmtp:${codec.payloadType} ${OPUS_FMTP}`);
  lines.push("a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=rtpmap:13 CN/8000");
  lines.push("a=ptime:20");
  if (direction) lines.push("a=sendrecv");
  return lines;
}

/** The SDP of the far end (a phone, a carrier) for one codec. */
export function remoteSdp(prng: Prng, ip: string, port: number, codec: Codec): string {
  const session = prng.int(100000000, 999999999);
  return [
    `v=0`,
    `o=- ${session} ${session} IN IP4 ${ip}`,
    "s=-",
    ...media(ip, port, codec, true),
    "",
  ].join("\r\n");
}

/** The SDP FreeSWITCH sends (`rtp_local_sdp_str`, and `switch_m_sdp` on the other leg). */
export function freeswitchSdp(prng: Prng, ip: string, port: number, codec: Codec): string {
  const session = prng.int(1700000000, 1799999999);
  return [
    "v=0",
    `o=FreeSWITCH ${session} ${session + 1} IN IP4 ${ip}`,
    "s=FreeSWITCH",
    ...media(ip, port, codec, true),
    "",
  ].join("\r\n");
}
