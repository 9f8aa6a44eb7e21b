// `fsagent simulate`: the ESL server and the call generator wired together, running in real time.

import { type Logger, silentLogger } from "../log/logger.js";
import type { SimulateOptions } from "./args.js";
import { CallGenerator } from "./calls.js";
import { ChannelRegistry } from "./channels.js";
import { EventFactory } from "./events.js";
import { SimServer } from "./server.js";

export interface SimulatorHandle {
  readonly server: SimServer;
  readonly generator: CallGenerator;
  readonly port: number;
  readonly seed: number;
  stop(): Promise<void>;
}

/** Starts the simulator; resolves once it listens. */
export async function runSimulator(
  options: SimulateOptions,
  logger: Logger = silentLogger(),
): Promise<SimulatorHandle> {
  const seed = options.seed ?? Date.now() % 2147483647;
  const channels = new ChannelRegistry();
  const factory = new EventFactory(
    options.hostname === undefined ? {} : { hostname: options.hostname },
  );
  const server = new SimServer({
    password: options.password,
    rudeReject: options.rude,
    gateways: options.gateways,
    heartbeatIntervalMs: Math.round(options.heartbeatS * 1000),
    channels,
    factory,
    logger,
  });
  const port = await server.listen(options.port, options.host);
  const generator = new CallGenerator({
    factory,
    channels,
    sink: (event) => server.publish(event),
    seed,
    callsPerSecond: options.rate,
    maxConcurrentCalls: options.calls,
    meanDurationMs: options.durationS * 1000,
    bridgedShare: options.bridged,
    unansweredShare: options.unanswered,
    domains: options.domains,
    codecs: options.codecs,
    rtcpIntervalMs: Math.round(options.rtcpIntervalS * 1000),
    sendRtcp: options.sendRtcp,
    profileWeights: options.profiles,
  });
  generator.start(100);
  logger.info(
    {
      host: options.host,
      port,
      seed,
      rate: options.rate,
      maxCalls: options.calls,
      rtcpIntervalS: options.rtcpIntervalS,
      sendRtcp: options.sendRtcp,
    },
    "FreeSWITCH simulator listening",
  );
  let stopped = false;
  return {
    server,
    generator,
    port,
    seed,
    async stop() {
      if (stopped) return;
      stopped = true;
      generator.stop();
      await server.stop();
      const s = generator.stats;
      logger.info(
        { calls: s.callsStarted, events: s.eventsEmitted, rejected: s.callsRejected },
        "FreeSWITCH simulator stopped",
      );
    },
  };
}
