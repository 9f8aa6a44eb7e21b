// Audio codecs the simulator negotiates. The two rates differ for G722: its RTP clock is 8000
// (RFC 3551) while it samples at 16000, so `variable_rtp_use_codec_rate` says 8000 and
// `Channel-Read-Codec-Rate` says 16000 (see the cgrates G722 sample).

export type CodecName = "PCMU" | "PCMA" | "G722" | "opus";

export interface Codec {
  readonly name: CodecName;
  /** RTP timestamp clock: `rtp_use_codec_rate`, RTCP's RTP-Rate, jitter units. */
  readonly rtpRate: number;
  /** Codec sample rate: `Channel-Read-Codec-Rate`, `read_rate`. */
  readonly sampleRate: number;
  /** `Channel-Read-Codec-Bit-Rate` (opus reports 0). */
  readonly bitRate: number;
  readonly payloadType: number;
  readonly ptimeMs: number;
  /** Average RTP payload per packet. */
  readonly payloadBytes: number;
  /** The module prefix in `ep_codec_string`. */
  readonly module: string;
}

export const CODECS: Readonly<Record<CodecName, Codec>> = {
  PCMU: {
    name: "PCMU",
    rtpRate: 8000,
    sampleRate: 8000,
    bitRate: 64000,
    payloadType: 0,
    ptimeMs: 20,
    payloadBytes: 160,
    module: "CORE_PCM_MODULE",
  },
  PCMA: {
    name: "PCMA",
    rtpRate: 8000,
    sampleRate: 8000,
    bitRate: 64000,
    payloadType: 8,
    ptimeMs: 20,
    payloadBytes: 160,
    module: "CORE_PCM_MODULE",
  },
  G722: {
    name: "G722",
    rtpRate: 8000,
    sampleRate: 16000,
    bitRate: 64000,
    payloadType: 9,
    ptimeMs: 20,
    payloadBytes: 160,
    module: "mod_spandsp",
  },
  opus: {
    name: "opus",
    rtpRate: 48000,
    sampleRate: 48000,
    bitRate: 0,
    payloadType: 102,
    ptimeMs: 20,
    payloadBytes: 82,
    module: "mod_opus",
  },
};

export const CODEC_NAMES: readonly CodecName[] = ["PCMU", "PCMA", "G722", "opus"];

/** Case-insensitive lookup ("pcmu", "OPUS"); undefined for codecs the simulator lacks. */
export function findCodec(name: string): Codec | undefined {
  const lower = name.toLowerCase();
  for (const codec of Object.values(CODECS)) {
    if (codec.name.toLowerCase() === lower) return codec;
  }
  return undefined;
}

/** RTP timestamp increment per packet. */
export function timestampStep(codec: Codec): number {
  return (codec.rtpRate * codec.ptimeMs) / 1000;
}
