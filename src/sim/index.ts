// The FreeSWITCH simulator: an ESL server (SimServer), a call generator (CallGenerator) and the
// `fsagent simulate` entry points.

export {
  DEFAULT_SIMULATE_OPTIONS,
  parseSimulateArgs,
  SIMULATE_HELP,
  type SimulateOptions,
} from "./args.js";
export {
  CallGenerator,
  type CallGeneratorOptions,
  type CallGeneratorStats,
  type HangupOptions,
  type ScriptedCall,
  type ScriptedCallOptions,
} from "./calls.js";
export { CHANNEL_COLUMNS, ChannelRegistry, type ChannelRow } from "./channels.js";
export { CODEC_NAMES, CODECS, type Codec, type CodecName } from "./codecs.js";
export {
  EventFactory,
  type EventFactoryOptions,
  type HeaderList,
  headerValue,
  SITES,
  type SimEvent,
} from "./events.js";
export { FS_VERSION } from "./heartbeat.js";
export type { SimLeg } from "./leg.js";
export type { NetProfile, ProfileName, QosOverrides, RtcpOverrides } from "./media.js";
export { EslProbe } from "./probe.js";
export { fsMos, fsQuality, type QosStats } from "./qos.js";
export { runSimulator, type SimulatorHandle } from "./run.js";
export {
  type SimClientInfo,
  type SimCommandInfo,
  SimServer,
  type SimServerOptions,
  type SimServerStats,
} from "./server.js";
export type { EventFormat, SubscriptionInfo } from "./subscription.js";
