import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CallGenerator, ScriptedCall } from "../../src/sim/index.js";
import { type CliProcess, killAllChildren, tempDir } from "../support/child.js";
import {
  generatorFor,
  type LoadSim,
  loadAgentEnv,
  startLoadAgent,
  startLoadSim,
} from "../support/load.js";
import { OtlpReceiver, type ReceiverBehaviour } from "../support/otlp-receiver.js";
import { sleep } from "../support/wait.js";

// Issue 4, fault 8: SIGTERM under load. The built agent runs against a simulator producing a few
// hundred events per second, calls starting and hanging up all the time, and exports with a
// 60 s interval, so that nothing at all is exported before the signal: every end-of-call QoS
// point the receiver gets was written by the shutdown flush. SIGTERM arrives mid-load; the
// process must exit 0 within 10 s, and the QoS of every leg whose call ended before the signal
// (minus an in-flight window, below) must reach the Collector. With the Collector down
// (UNAVAILABLE, or never answering) it must still exit 0 within 10 s.

const MOS = "freeswitch.qos.mos_score";
/** The bound for the exit after SIGTERM. */
const EXIT_WITHIN_MS = 10_000;
/** Load before the signal. */
const LOAD_BEFORE_SIGNAL_MS = 4000;
/**
 * Legs hung up within this window before the signal may legitimately miss the flush: their
 * HANGUP_COMPLETE/DESTROY may still be in the simulator's queue or the socket buffers when the
 * agent says `exit` and stops reading. The agent reads continuously (fault 7), so its lag is
 * milliseconds; 500 ms is generous and still leaves ~90 % of the ended legs to check.
 */
const IN_FLIGHT_MS = 500;

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

interface EndedLeg {
  readonly uuid: string;
  readonly atMs: number;
}

/**
 * Scripted load: every 40 ms a bridged call with media starts (2 legs), every answered leg gets a
 * RECV_RTCP report every ~240 ms, and each call is hung up ~1 s after it started. ≈ 25 calls/s,
 * ≈ 50 legs live, ≈ 450-500 events/s. Records the legs hung up, with the wall-clock time.
 */
function scriptedLoad(generator: CallGenerator): {
  readonly ended: EndedLeg[];
  stop(): void;
} {
  const ended: EndedLeg[] = [];
  const live: Array<{ call: ScriptedCall; startedAt: number }> = [];
  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    const now = Date.now();
    live.push({ call: generator.startCall({ bridged: true }), startedAt: now });
    while (live.length > 0 && now - live[0]!.startedAt >= 1000) {
      const { call } = live.shift()!;
      generator.hangupCall(call.uuid);
      const at = Date.now();
      ended.push({ uuid: call.aLeg.uuid, atMs: at });
      if (call.bLeg !== undefined) ended.push({ uuid: call.bLeg.uuid, atMs: at });
    }
    for (const [i, { call }] of live.entries()) {
      if ((i + tick) % 6 !== 0) continue;
      generator.sendRtcp(call.aLeg.uuid);
      if (call.bLeg !== undefined) generator.sendRtcp(call.bLeg.uuid);
    }
  }, 40);
  return { ended, stop: () => clearInterval(timer) };
}

async function startUnderLoad(
  behaviour: ReceiverBehaviour,
  exportTimeout = "5s",
): Promise<{
  sim: LoadSim;
  receiver: OtlpReceiver;
  agent: CliProcess;
  load: ReturnType<typeof scriptedLoad>;
}> {
  const sim = await startLoadSim();
  cleanups.push(() => sim.server.stop());
  const receiver = await OtlpReceiver.start();
  cleanups.push(() => receiver.close());
  receiver.behave(behaviour);
  const { agent } = await startLoadAgent(
    cwd,
    sim,
    loadAgentEnv(sim.port, receiver.endpoint, {
      FSAGENT_OTEL_EXPORT_INTERVAL: "60s",
      FSAGENT_OTEL_EXPORT_TIMEOUT: exportTimeout,
      FSAGENT_LOG_LEVEL: "info",
    }),
  );
  cleanups.push(() => agent.kill());
  const generator = generatorFor(sim, { seed: 11, callsPerSecond: 0 });
  const load = scriptedLoad(generator);
  cleanups.push(async () => load.stop());
  return { sim, receiver, agent, load };
}

/** SIGTERM mid-load; resolves with the exit and how long it took, the load continuing 1 s. */
async function terminate(
  agent: CliProcess,
  load: ReturnType<typeof scriptedLoad>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; tookMs: number }> {
  const signalledAt = Date.now();
  agent.signal("SIGTERM");
  const exit = agent.waitForExit(EXIT_WITHIN_MS);
  let exitedAt = 0;
  void agent.exited.then(() => {
    exitedAt = Date.now();
  });
  // The simulator keeps generating for a while (or until the agent is gone): FreeSWITCH does
  // not stop because the agent does.
  await Promise.race([sleep(1000), agent.exited]);
  load.stop();
  const { code, signal } = await exit;
  return { code, signal, tookMs: (exitedAt === 0 ? Date.now() : exitedAt) - signalledAt };
}

describe("fault: SIGTERM under load", { timeout: 45_000 }, () => {
  it("exits 0 within 10 s and flushes the QoS of every leg that ended before the signal", async () => {
    const { sim, receiver, agent, load } = await startUnderLoad("ok");
    await sleep(LOAD_BEFORE_SIGNAL_MS);
    assert.ok(agent.running, `agent exited under load:\n${agent}`);
    assert.equal(sim.server.clientInfo()[0]?.lostEvents, 0);
    // The 60 s interval has not elapsed: whatever arrives below is the shutdown flush.
    assert.equal(receiver.points(MOS).length, 0, "nothing exported before the signal");

    const signalAt = Date.now();
    const endedBefore = load.ended.filter((l) => l.atMs <= signalAt);
    const expected = new Set(
      endedBefore.filter((l) => l.atMs <= signalAt - IN_FLIGHT_MS).map((l) => l.uuid),
    );
    const result = await terminate(agent, load);
    const allEnded = new Set(load.ended.map((l) => l.uuid));

    assert.equal(result.signal, null, `killed by ${result.signal}:\n${agent}`);
    assert.equal(result.code, 0, `exit code ${result.code}:\n${agent}`);
    assert.ok(result.tookMs <= EXIT_WITHIN_MS);

    const mosPoints = receiver.points(MOS);
    const received = new Map<string, number>();
    for (const p of mosPoints) {
      const id = p.attributes.channel_id ?? "";
      received.set(id, (received.get(id) ?? 0) + 1);
    }
    const missing = [...expected].filter((uuid) => !received.has(uuid));
    const notEnded = [...received.keys()].filter((uuid) => !allEnded.has(uuid));
    const duplicated = [...received.entries()].filter(([, n]) => n > 1).map(([id]) => id);
    console.log(
      JSON.stringify({
        exitMs: result.tookMs,
        published: Object.fromEntries(sim.published),
        legsEndedBeforeSignal: endedBefore.length,
        legsExpected: expected.size,
        legsEndedTotal: allEnded.size,
        mosPoints: mosPoints.length,
        mosLegsReceived: received.size,
        inWindowReceived: endedBefore.filter((l) => !expected.has(l.uuid) && received.has(l.uuid))
          .length,
      }),
    );
    assert.ok(expected.size >= 100, `only ${expected.size} legs ended before the signal`);
    assert.deepEqual(missing, [], `${missing.length}/${expected.size} ended legs without QoS`);
    assert.deepEqual(notEnded, [], "QoS points for legs that never ended");
    assert.deepEqual(duplicated, [], "legs with more than one QoS point");
    assert.deepEqual(receiver.decodeErrors, []);
    assert.match(agent.stdout, /SIGTERM received: shutting down/);
    assert.match(agent.stdout, /fsagent stopped/);
  });

  for (const behaviour of ["fail", "hang"] as const) {
    it(`exits 0 within 10 s while the Collector is down (${behaviour})`, async () => {
      const { receiver, agent, load } = await startUnderLoad(behaviour);
      await sleep(2000);
      assert.ok(agent.running, `agent exited under load:\n${agent}`);
      const result = await terminate(agent, load);
      console.log(
        JSON.stringify({ behaviour, exitMs: result.tookMs, rejected: receiver.rejected }),
      );
      assert.equal(result.signal, null, `killed by ${result.signal}:\n${agent}`);
      assert.equal(result.code, 0, `exit code ${result.code}:\n${agent}`);
      assert.ok(result.tookMs <= EXIT_WITHIN_MS);
      assert.match(agent.stdout, /fsagent stopped/);
      assert.equal(receiver.points(MOS).length, 0);
    });
  }
  // opentelemetry.export_timeout may be anything up to export_interval (config/schema.ts
  // crossCheck), e.g. 30 s with a 60 s interval. The final flush waits that long
  // for a Collector that never answers, which must still fit in the 10 s.
  it("exits 0 within 10 s with a Collector that never answers and a 30 s export_timeout", async () => {
    const { agent, load } = await startUnderLoad("hang", "30s");
    await sleep(2000);
    assert.ok(agent.running, `agent exited under load:\n${agent}`);
    const result = await terminate(agent, load);
    console.log(JSON.stringify({ behaviour: "hang", exportTimeout: "30s", exitMs: result.tookMs }));
    assert.equal(result.signal, null, `killed by ${result.signal}:\n${agent}`);
    assert.equal(result.code, 0, `exit code ${result.code}:\n${agent}`);
    assert.ok(result.tookMs <= EXIT_WITHIN_MS);
  });
});
