import { randomBytes } from "node:crypto";
import { Agent } from "./agent.js";
import { extractConfigFlag, loadConfig } from "./config/load.js";
import { HEALTH_POLL_DEFAULT_MS } from "./config/schema.js";
import type { Config } from "./config/types.js";
import { createLogger, type Logger, silentLogger } from "./log/logger.js";
import type { LiveSummary } from "./pipeline/live-summary.js";
import { DEFAULT_SIMULATE_OPTIONS, runSimulator } from "./sim/index.js";
import { UsageError } from "./usage-error.js";
import { VERSION } from "./version.js";

/** The demo's health.poll_interval when the configuration leaves it at its default. */
const DEMO_HEALTH_POLL_MS = 5_000;

const SUMMARY_INTERVAL_MS = 5_000;
const DEMO_INSTANCE = "demo-fs";

type ExitOnSignals = (stop: () => Promise<void>, logger: Logger) => void;
type GuardProcess = (logger: Logger) => void;

function isAddressInUse(error: unknown): boolean {
  const cause =
    error instanceof Error ? (error.cause as NodeJS.ErrnoException | undefined) : undefined;
  return cause?.code === "EADDRINUSE";
}

function browsable(url: string): string {
  return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//127.0.0.1:");
}

function summaryLine(agent: Agent, summary: LiveSummary, elapsedMs: number): string {
  const s = summary.take();
  const activeLegs = agent.legStore().legs;
  const state = agent.connections[0]?.state ?? "unknown";
  const time = new Date().toISOString().slice(11, 19);
  const perSecond = (s.events / (elapsedMs / 1000)).toFixed(1);
  const rtcp =
    s.rtcpReports > 0
      ? `RTCP ${s.rtcpReports} reports, jitter avg ${s.jitterAvgMs?.toFixed(1)} ms, worst loss ${((s.fractionLostMax ?? 0) * 100).toFixed(1)}%`
      : "RTCP none yet";
  const mos =
    s.legsEnded > 0
      ? `${s.legsEnded} ${s.legsEnded === 1 ? "leg" : "legs"} ended, MOS avg ${s.mosAvg?.toFixed(2)}`
      : "no legs ended";
  return `${time}  ${DEMO_INSTANCE} ${state} | ${activeLegs} active legs | ${perSecond} events/s | ${rtcp} | ${mos}\n`;
}

/**
 * `fsagent demo`: the simulator and the agent in one process, so a newcomer sees the agent work
 * with nothing else installed. The agent is the real one, connected over real TCP; only its
 * FreeSWITCH list is replaced by the simulator (memory state).
 */
export async function runDemo(
  argv: string[],
  exitOnSignals: ExitOnSignals,
  guardProcess: GuardProcess,
): Promise<void> {
  const { configPath, rest } = extractConfigFlag(argv);
  if (rest.length > 0)
    throw new UsageError(`unexpected argument "${rest[0]}" (see fsagent --help)`);
  const loaded = loadConfig({
    configPath,
    env: process.env,
    cwd: process.cwd(),
    requireInstances: false,
  });
  // The demo is watched at a terminal: human-readable logs, whatever the file says.
  const logger = createLogger({ level: loaded.logging.level, format: "text" });
  guardProcess(logger);

  const password = randomBytes(12).toString("hex");
  const simulator = await runSimulator(
    {
      ...DEFAULT_SIMULATE_OPTIONS,
      port: 0,
      password,
      rate: 2,
      calls: 40,
      durationS: 20,
      rtcpIntervalS: 2,
      // fire_rtcp_events=true: the reports FreeSWITCH sends too (the status page's "out" values)
      sendRtcp: true,
    },
    silentLogger(),
  );
  const config: Config = {
    ...loaded,
    freeswitchInstances: [
      { name: DEMO_INSTANCE, host: "127.0.0.1", port: simulator.port, password },
    ],
    storage: { ...loaded.storage, type: "memory" },
    // One agent and its own simulator: there is nothing to share.
    ha: { ...loaded.ha, enabled: false },
    // The simulator's gateways change state within seconds of its start (docs/simulator.md): at
    // the default 30 s the page would show the first ones only. A configured interval is kept.
    health: {
      pollIntervalMs:
        loaded.health.pollIntervalMs === HEALTH_POLL_DEFAULT_MS
          ? DEMO_HEALTH_POLL_MS
          : loaded.health.pollIntervalMs,
    },
    // Export only to a Collector someone configured: the default localhost:4317 would just fail,
    // for the metrics and the quality records alike.
    opentelemetry: {
      ...loaded.opentelemetry,
      enabled: loaded.opentelemetry.enabled && loaded.opentelemetry.endpointExplicit,
    },
  };
  const exporting = config.opentelemetry.enabled;
  let agent = new Agent({ config, logger, version: VERSION });
  try {
    await agent.start();
  } catch (error) {
    if (!isAddressInUse(error)) {
      await simulator.stop();
      throw error;
    }
    logger.warn(`HTTP port ${config.http.port} is in use; the demo takes a free port instead`);
    agent = new Agent({
      config: { ...config, http: { ...config.http, port: 0 } },
      logger,
      version: VERSION,
    });
    await agent.start();
  }

  const base = browsable(agent.url ?? "");
  process.stdout.write(
    [
      "",
      `fsagent demo — the agent watching its embedded FreeSWITCH simulator on 127.0.0.1:${simulator.port}`,
      config.http.ui
        ? `  status   ${base}/   <- open this in a browser: live legs, quality and charts`
        : "  status   page off (http.ui: false)",
      `  health   ${base}/health`,
      `  ready    ${base}/ready`,
      `  metrics  ${base}/metrics`,
      exporting
        ? `  OTLP     exporting to ${config.opentelemetry.endpoint}`
        : "  OTLP     off: nothing is exported (set FSAGENT_OTEL_ENDPOINT=host:4317 to export to a Collector)",
      `A summary follows every ${SUMMARY_INTERVAL_MS / 1000} s. Ctrl-C stops.`,
      "",
      "",
    ].join("\n"),
  );

  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    process.stdout.write(summaryLine(agent, agent.summary, now - last));
    last = now;
  }, SUMMARY_INTERVAL_MS);

  exitOnSignals(async () => {
    clearInterval(timer);
    await agent.stop();
    await simulator.stop();
  }, logger);
}
