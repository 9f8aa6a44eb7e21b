import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CallGenerator } from "../../src/sim/index.js";
import { killAllChildren, tempDir } from "../support/child.js";
import {
  generatorFor,
  health,
  LOAD_INSTANCE,
  type LoadSim,
  loadAgentEnv,
  requireSample,
  scrape,
  startLoadAgent,
  startLoadSim,
} from "../support/load.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";
import { sleep } from "../support/wait.js";

// Issue 4, fault 7: a slow consumer. The simulator sends as fast as a loaded FreeSWITCH would
// (hundreds of concurrent calls, RTCP every 100 ms per leg, calls starting and ending all the
// time) for 60 s while the Collector NEVER answers (`hang`: every export runs into its timeout,
// the slowest consumer there is). The export side must not slow the ESL side down: the socket is
// read continuously (the simulator, which applies FreeSWITCH's bounded event queue and kills a
// listener after >500 lost events, never loses an event for this agent), the agent stays
// connected, what cannot be exported is dropped and counted, and memory stays bounded.

const OVERLOAD_MS = 60_000;
/** Simulator queue per listener: small, so that a listener lagging for a moment shows. */
const QUEUE_LIMIT = 1000;
/**
 * storage.max_legs: small (the minimum is 100) so that the leg store is kept full and evicts:
 * ~900 legs are live, so the store thrashes, and every event of an evicted leg makes the agent
 * look the leg up again with `api uuid_dump` (bounded in flight and by lookups.rate, 100/s by
 * default: the legs over it go out with partial labels until their retry; all counted in
 * fsagent_leg_lookups_total). The ESL socket must be read regardless.
 */
const MAX_LEGS = 200;
/** opentelemetry.retry_queue_size: small, so that it fills and QoS drops become visible. */
const RETRY_QUEUE = 300;

// The memory bound. What the agent may hold, whatever the length of the overload:
// - the leg store: MAX_LEGS legs of a few KiB each (< 1 MiB);
// - the exporter: one collection of RTCP points (per leg and instrument, the SDK's cardinality
//   limit is sized from max_legs) plus the QoS retry queue (RETRY_QUEUE points) plus the
//   request(s) in flight to the hanging Collector until their export timeout (1 s): a few MiB;
// - ESL read buffers: bounded by esl.max_frame_bytes per connection, normally one socket read.
// Node 20's baseline RSS for this process is ~60-90 MiB. 256 MiB RSS leaves ample room for V8's
// lazy collection and fails an unbounded queue (which at ~4,500 events/s × 60 s ≈ 270 k events or
// points would grow by hundreds of MiB). Growth: the heap used at the end must not exceed the
// heap used after the warm-up by more than HEAP_GROWTH_BYTES (a leak at this rate grows tens of
// MiB per 10 s; GC noise is a few MiB).
const RSS_BOUND_BYTES = 256 * 1024 * 1024;
const HEAP_GROWTH_BYTES = 48 * 1024 * 1024;

interface MemorySample {
  readonly atMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly retryQueue: number;
}

let cwd = "";
let removeCwd = (): void => undefined;
const cleanups: Array<() => Promise<void>> = [];

before(() => {
  const temp = tempDir();
  cwd = temp.dir;
  removeCwd = temp.remove;
});

after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup().catch(() => undefined);
  }
  await killAllChildren();
  removeCwd();
});

/**
 * Steps `generator` to the wall clock every millisecond or so (timer-driven, so that this
 * process's socket writes get their turn), until stopped. Events are produced at the rate the
 * generator's configuration implies, in real time.
 */
function pump(generator: CallGenerator): { stop(): void } {
  let running = true;
  const loop = (): void => {
    if (!running) return;
    generator.step(Date.now());
    setTimeout(loop, 1);
  };
  loop();
  return {
    stop: () => {
      running = false;
      generator.stop();
    },
  };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function overload(behaviour: "hang" | "fail"): Promise<void> {
  const sim: LoadSim = await startLoadSim(QUEUE_LIMIT);
  cleanups.push(() => sim.server.stop());
  const receiver = await OtlpReceiver.start();
  cleanups.push(() => receiver.close());
  receiver.behave(behaviour);

  const { agent, url } = await startLoadAgent(
    cwd,
    sim,
    loadAgentEnv(sim.port, receiver.endpoint, {
      FSAGENT_STORAGE_MAX_LEGS: String(MAX_LEGS),
      FSAGENT_OTEL_RETRY_QUEUE_SIZE: String(RETRY_QUEUE),
      FSAGENT_OTEL_EXPORT_INTERVAL: "1s",
      FSAGENT_OTEL_EXPORT_TIMEOUT: "1s",
      // info: the startup line carries the HTTP URL; nothing is logged per event at info.
      FSAGENT_LOG_LEVEL: "info",
    }),
  );
  cleanups.push(() => agent.kill());

  // ~600 concurrent calls (≈ 900 legs with media, four to five times max_legs), RTCP on each
  // answered leg and SEND_RTCP too, every 100 ms once FreeSWITCH's warm-up is over (a stream's
  // first 4 reports come 4 s apart, so only calls longer than 16 s report that fast): talk times
  // of 2-38 s give ≈ 4-5 k events/s, with calls ending every few seconds so that QoS records
  // keep coming.
  const generator = generatorFor(sim, {
    seed: 7,
    callsPerSecond: 100,
    maxConcurrentCalls: 600,
    meanDurationMs: 20_000,
    durationSpread: 0.9,
    rtcpIntervalMs: 100,
    sendRtcp: true,
    bridgedShare: 0.5,
    unansweredShare: 0.05,
  });
  const load = pump(generator);
  cleanups.push(async () => load.stop());

  const samples: MemorySample[] = [];
  const killed: number[] = [];
  // Commands the agent sent FreeSWITCH, by verb (e.g. `api uuid_dump`: leg look-ups).
  const commands = new Map<string, number>();
  sim.server.on("command", ({ line }) => {
    const verb = line.split(" ").slice(0, 2).join(" ");
    commands.set(verb, (commands.get(verb) ?? 0) + 1);
  });
  sim.server.on("killed", (id) => killed.push(id));
  const started = Date.now();
  let maxQueued = 0;
  const queueWatch = setInterval(() => {
    for (const c of sim.server.clientInfo()) maxQueued = Math.max(maxQueued, c.queuedEvents);
  }, 20);
  cleanups.push(async () => clearInterval(queueWatch));

  while (Date.now() - started < OVERLOAD_MS) {
    await sleep(5000);
    assert.ok(agent.running, `the agent exited under overload:\n${agent}`);
    const text = await scrape(url);
    samples.push({
      atMs: Date.now() - started,
      rss: requireSample(text, "process_resident_memory_bytes"),
      heapUsed: requireSample(text, "nodejs_heap_size_used_bytes"),
      retryQueue: requireSample(text, "fsagent_export_queue_items", { signal: "metrics" }),
    });
    const clients = sim.server.clientInfo();
    assert.equal(killed.length, 0, "the simulator killed the agent's listener");
    assert.equal(clients.length, 1, "the agent is still connected to the simulator");
    assert.equal(clients[0]?.lostEvents, 0, "the simulator lost events for the agent");
  }
  load.stop();
  clearInterval(queueWatch);

  const stats = generator.stats;
  const clients = sim.server.clientInfo();
  const text = await scrape(url);
  const report = {
    behaviour,
    generator: stats,
    published: Object.fromEntries(sim.published),
    simulator: sim.server.stats,
    commands: Object.fromEntries(commands),
    maxQueuedEvents: maxQueued,
    agentLogBytes: agent.stdout.length,
    samples: samples.map((s) => ({
      s: Math.round(s.atMs / 1000),
      rss: mib(s.rss),
      heap: mib(s.heapUsed),
      retryQueue: s.retryQueue,
    })),
  };
  // The figures, for the record (node --test prints diagnostics of a passing test too).
  console.log(JSON.stringify(report));

  // The load was real: tens of thousands of events per 10 s, calls ending throughout.
  const eventsPerSecond = sim.server.stats.eventsPublished / (OVERLOAD_MS / 1000);
  assert.ok(eventsPerSecond > 2000, `only ${eventsPerSecond.toFixed(0)} events/s published`);
  assert.ok(stats.callsEnded > 1000, `only ${stats.callsEnded} calls ended`);

  // The socket was read continuously: FreeSWITCH (the simulator) never lost an event for this
  // listener and never killed it, and the agent is still connected and healthy.
  assert.equal(killed.length, 0);
  assert.equal(sim.server.stats.listenersKilled, 0);
  assert.equal(sim.server.stats.eventsDropped, 0);
  assert.equal(clients.length, 1);
  assert.equal(clients[0]?.lostEvents, 0);
  assert.ok(agent.running);
  assert.equal((await health(url)).connections[LOAD_INSTANCE]?.state, "connected");
  assert.ok(
    requireSample(text, "fsagent_fs_connections", { fs_instance: LOAD_INSTANCE }) === 1,
    "fsagent_fs_connections is 1",
  );

  // Exports failed and what could not be kept was dropped and counted.
  const metrics = (labels: Record<string, string> = {}) => ({ signal: "metrics", ...labels });
  const exportErrors = requireSample(text, "fsagent_export_errors_total", metrics());
  const dropped = (reason: string) =>
    requireSample(text, "fsagent_export_items_dropped_total", metrics({ reason }));
  const rtcpDropped = dropped("not_retried");
  const qosDropped = dropped("queue_full");
  assert.ok(exportErrors >= 10, `export errors counted (${exportErrors})`);
  assert.ok(rtcpDropped > 0, `RTCP points dropped and counted (${rtcpDropped})`);
  assert.ok(
    qosDropped > 0,
    `QoS points beyond the retry queue dropped and counted (${qosDropped})`,
  );
  for (const s of samples) {
    assert.ok(s.retryQueue <= RETRY_QUEUE, `retry queue ${s.retryQueue} > ${RETRY_QUEUE}`);
  }
  // The leg store is bounded by max_legs.
  const legs = requireSample(text, "fsagent_legs_active");
  assert.ok(legs <= MAX_LEGS, `${legs} legs active > max_legs ${MAX_LEGS}`);

  // Memory bounded: every sample under the RSS bound, and no steady heap growth from the
  // warm-up (the sample after 15 s) to the end (the mean of the last two).
  for (const s of samples) {
    assert.ok(
      s.rss <= RSS_BOUND_BYTES,
      `RSS ${mib(s.rss)} at ${s.atMs} ms > ${mib(RSS_BOUND_BYTES)}`,
    );
  }
  const warm = samples[2];
  const last = samples.slice(-2);
  assert.ok(warm !== undefined && last.length === 2);
  const endHeap = (last[0]!.heapUsed + last[1]!.heapUsed) / 2;
  assert.ok(
    endHeap <= warm.heapUsed + HEAP_GROWTH_BYTES,
    `heap grew from ${mib(warm.heapUsed)} (15 s) to ${mib(endHeap)} (end)`,
  );
}

describe("fault: slow consumer (the Collector cannot keep up)", { timeout: 90_000 }, () => {
  it("keeps reading the ESL socket, stays connected, drops and counts, memory bounded (Collector hangs)", async () => {
    await overload("hang");
  });
});
