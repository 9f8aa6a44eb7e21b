// FreeSWITCH's own figures (issue 20), read from the answers and the HEARTBEAT of a real
// FreeSWITCH 1.11 (test/fixtures/freeswitch-1.11/health, made by lab/health-capture.mjs): every
// expected value below is a figure printed in those files, converted as docs/metrics.md says.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { Attributes } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import { defaultResource } from "@opentelemetry/resources";
import { AggregationTemporality, DataPointType, type MetricData } from "@opentelemetry/sdk-metrics";
import { PlainEvent } from "../src/esl/event.js";
import { ServerSeriesProducer } from "../src/export/server-series.js";
import { coreFromHeartbeat } from "../src/fs-health/heartbeat.js";
import { HEALTH_COMMANDS, ServerPoller } from "../src/fs-health/poller.js";
import { type HealthSource, ServerHealth } from "../src/fs-health/server-health.js";
import {
  parseGateways,
  parseProfileRegistrations,
  parseProfiles,
} from "../src/fs-health/sofia-xml.js";
import { coreFromStatus, heartbeatVersion } from "../src/fs-health/status-text.js";
import { createLogger } from "../src/log/logger.js";
import { ManualClock } from "./support/manual-clock.js";

const DIR = new URL("./fixtures/freeswitch-1.11/health/", import.meta.url);
const read = (file: string): string => readFileSync(new URL(file, DIR), "utf8");

/** The captured HEARTBEAT as the agent's parser holds it (event-plain, URL-encoded values). */
function heartbeat(): PlainEvent {
  return new PlainEvent(Buffer.from(read("heartbeat.txt"), "utf8"));
}

/** A header of the captured HEARTBEAT, decoded, for the expected values. */
function header(name: string): string {
  const line = read("heartbeat.txt")
    .split("\n")
    .find((l) => l.startsWith(`${name}: `));
  assert.ok(line !== undefined, `${name} in heartbeat.txt`);
  return decodeURIComponent(line.slice(name.length + 2));
}

const quiet = createLogger({ level: "error", format: "json" });

describe("HEARTBEAT of FreeSWITCH 1.11", () => {
  it("gives every core figure, converted as the metrics reference says", () => {
    const core = coreFromHeartbeat((name) => heartbeat().get(name));
    assert.ok(core !== null);
    assert.deepEqual(core, {
      sessions: Number(header("Session-Count")),
      sessionsLimit: Number(header("Max-Sessions")),
      sessionsPeak: Number(header("Session-Peak-Max")),
      sessionsPeak5min: Number(header("Session-Peak-FiveMin")),
      sessionsCreated: Number(header("Session-Since-Startup")),
      sessionRate: Number(header("Session-Per-Sec-Last")),
      sessionRateLimit: Number(header("Session-Per-Sec")),
      rateLimitExact: false,
      sessionRatePeak: Number(header("Session-Per-Sec-Max")),
      sessionRatePeak5min: Number(header("Session-Per-Sec-FiveMin")),
      idleCpu: Number(header("Idle-CPU")) / 100,
      uptimeS: Number(header("Uptime-msec")) / 1000,
      version: header("FreeSWITCH-Version"),
    });
    // The test bed's switch.conf: max-sessions 2000, sessions-per-second 200.
    assert.equal(core.sessionsLimit, 2000);
    assert.equal(core.sessionRateLimit, 200);
  });

  it("is not applied at all when a figure is missing or unreadable", () => {
    const text = read("heartbeat.txt");
    for (const broken of [
      text.replace(/^Session-Count: .*\n/m, ""),
      text.replace(/^Idle-CPU: .*$/m, "Idle-CPU: n/a"),
      text.replace(/^Uptime-msec: .*$/m, "Uptime-msec: -5"),
    ]) {
      const event = new PlainEvent(Buffer.from(broken, "utf8"));
      assert.equal(
        coreFromHeartbeat((name) => event.get(name)),
        null,
      );
    }
  });
});

describe("`status` of FreeSWITCH 1.11", () => {
  it("gives the same figures as HEARTBEAT, with the exact sessions-per-second limit", () => {
    const idle = read("status.txt");
    const core = coreFromStatus(idle);
    assert.ok(core !== null);
    // UP 0 years, 0 days, 0 hours, 0 minutes, 11 seconds, 218 milliseconds, 275 microseconds
    assert.equal(core.uptimeS, 11.218275);
    assert.equal(core.sessions, 0);
    assert.equal(core.sessionsLimit, 2000);
    assert.equal(core.sessionRateLimit, 200);
    assert.equal(core.rateLimitExact, true);
    // min idle cpu 0.00/90.63
    assert.equal(core.idleCpu, 0.9063);
    // The one spelling of the version: HEARTBEAT's, from the same instance.
    assert.equal(core.version, header("FreeSWITCH-Version"));
    assert.equal(heartbeatVersion("1.11.3-dev  64bit"), "1.11.3-dev~64bit");
  });

  it("during a call: 4 sessions (the test bed's 4 channels), peaks and created", () => {
    const core = coreFromStatus(read("during-call-status.txt"));
    assert.ok(core !== null);
    // 4 session(s) since startup / 4 session(s) - peak 4, last 5min 4 /
    // 0 session(s) per Sec out of max 200, peak 4, last 5min 4
    assert.deepEqual(
      [core.sessionsCreated, core.sessions, core.sessionsPeak, core.sessionsPeak5min],
      [4, 4, 4, 4],
    );
    assert.deepEqual(
      [core.sessionRate, core.sessionRateLimit, core.sessionRatePeak, core.sessionRatePeak5min],
      [0, 200, 4, 4],
    );
    assert.equal(core.idleCpu, 0.7683);
  });

  it("reads nothing from an answer that is not `status`", () => {
    for (const file of ["unknown-command.txt", "hostname.txt", "sofia-xmlstatus.xml"]) {
      assert.equal(coreFromStatus(read(file)), null, file);
    }
  });
});

describe("sofia xmlstatus of FreeSWITCH 1.11", () => {
  it("lists the running profiles a and b, with their channels in use", () => {
    assert.deepEqual(parseProfiles(read("sofia-xmlstatus.xml")), [
      { name: "a", state: "RUNNING", up: true, inUse: 0 },
      { name: "b", state: "RUNNING", up: true, inUse: 0 },
    ]);
    // During a call each profile carries 2 of its 4 channels: "RUNNING (2)".
    assert.deepEqual(
      parseProfiles(read("during-call-sofia-xmlstatus.xml"))?.map((p) => p.inUse),
      [2, 2],
    );
  });

  it("details the three gateways: b-reg REGED and UP, b-ping pinged and UP, nowhere DOWN", () => {
    const gateways = parseGateways(read("sofia-xmlstatus-gateway.xml"));
    assert.ok(gateways !== null);
    const byName = new Map(gateways.map((g) => [g.name, g]));
    assert.deepEqual([...byName.keys()].sort(), ["b-ping", "b-reg", "nowhere"]);
    assert.deepEqual(byName.get("b-reg"), {
      profile: "a",
      name: "b-reg",
      state: "REGED",
      status: "UP",
      pingS: null, // no `ping` parameter: never pinged
      callsIn: 0,
      callsOut: 0,
      failedCallsIn: 0,
      failedCallsOut: 0,
    });
    // <pingtime>1.58</pingtime> is milliseconds.
    assert.equal(byName.get("b-ping")?.pingS, 0.00158);
    assert.equal(byName.get("b-ping")?.status, "UP");
    assert.equal(byName.get("b-ping")?.state, "NOREG");
    assert.equal(byName.get("nowhere")?.status, "DOWN");
    // Pinged, but no ping was ever answered: <pingtime>0.00</pingtime>, no round trip.
    assert.equal(byName.get("nowhere")?.pingS, null);
  });

  it("after `sofia profile a killgw nowhere` the gateway is gone from the list", () => {
    const names = parseGateways(read("after-killgw-sofia-xmlstatus-gateway.xml"))?.map(
      (g) => g.name,
    );
    assert.deepEqual(names, ["b-ping", "b-reg"]);
    assert.equal(parseGateways(read("after-killgw-sofia-xmlstatus-gateway-nowhere.txt")), null);
  });

  it("counts a profile's registrations: b holds b-reg's (show registrations lists 1)", () => {
    assert.equal(parseProfileRegistrations(read("sofia-xmlstatus-profile-b.xml")), 1);
    assert.equal(parseProfileRegistrations(read("sofia-xmlstatus-profile-a.xml")), 0);
    assert.match(read("show-registrations-count.txt"), /^\s*1 total\./);
    assert.match(read("show-registrations.txt"), /sofia\/b\/sip:gw\+b-reg@/);
    assert.equal(parseProfileRegistrations(read("sofia-xmlstatus-profile-missing.txt")), null);
  });

  it("reads nothing from answers that are not its XML", () => {
    for (const file of ["unknown-command.txt", "status.txt", "heartbeat.txt"]) {
      assert.equal(parseProfiles(read(file)), null, file);
      assert.equal(parseGateways(read(file)), null, file);
      assert.equal(parseProfileRegistrations(read(file)), null, file);
    }
    // The summary list is not the gateway detail, nor the other way round.
    assert.equal(parseGateways(read("sofia-xmlstatus.xml")), null);
    assert.equal(parseProfiles(read("sofia-xmlstatus-gateway.xml")), null);
  });
});

describe("ServerHealth", () => {
  const setup = () => {
    const clock = new ManualClock(1_800_000_000_000);
    const unreadable: HealthSource[] = [];
    const health = new ServerHealth("fs1", clock, (source) => unreadable.push(source));
    return { clock, unreadable, health };
  };

  it("takes the figures and the hostname from HEARTBEAT, and counts one it cannot read", () => {
    const { health, unreadable, clock } = setup();
    health.heartbeat(heartbeat());
    const s = health.snapshot();
    assert.equal(s.hostname, header("FreeSWITCH-Hostname"));
    assert.equal(s.core?.sessionsLimit, 2000);
    assert.equal(s.coreAtMs, clock.now());
    // Started Uptime-msec before now.
    assert.equal(s.startedAtMs, clock.now() - Number(header("Uptime-msec")));
    health.heartbeat(new PlainEvent(Buffer.from("Event-Name: HEARTBEAT\n", "utf8")));
    assert.deepEqual(unreadable, ["heartbeat"]);
    assert.equal(health.snapshot().core?.sessionsLimit, 2000, "the last good figures stay");
  });

  it("keeps the limit `status` read when HEARTBEAT reads less (sessions made that second)", () => {
    const { health } = setup();
    assert.equal(health.status(read("status.txt")), true);
    const lower = new PlainEvent(
      Buffer.from(read("heartbeat.txt").replace("Session-Per-Sec: 200", "Session-Per-Sec: 197")),
    );
    health.heartbeat(lower);
    assert.equal(health.snapshot().core?.sessionRateLimit, 200);
    const raised = new PlainEvent(
      Buffer.from(read("heartbeat.txt").replace("Session-Per-Sec: 200", "Session-Per-Sec: 300")),
    );
    health.heartbeat(raised);
    assert.equal(health.snapshot().core?.sessionRateLimit, 300);
  });

  it("keeps FreeSWITCH's start across readings, and renews it when the uptime went back", () => {
    const { health, clock } = setup();
    health.status(read("status.txt")); // up 11.218275 s
    const start = health.snapshot().startedAtMs;
    clock.advance(8_792);
    health.heartbeat(heartbeat()); // up 20.010 s: the same start within a millisecond
    assert.equal(health.snapshot().startedAtMs, start);
    clock.advance(60_000);
    health.status(read("status.txt")); // up 11 s again: a restart
    assert.equal(health.snapshot().startedAtMs, clock.now() - 11_218.275);
  });

  it("forgets the figures when the connection goes (nothing stale is exported)", () => {
    const { health } = setup();
    health.heartbeat(heartbeat());
    health.sofia([], []);
    health.clear();
    const s = health.snapshot();
    assert.deepEqual([s.core, s.profiles, s.gateways, s.polledAtMs], [null, null, null, null]);
  });
});

describe("ServerPoller", () => {
  /** A FreeSWITCH answering with the captured answers; records the commands it was sent. */
  function fakeFreeswitch(overrides: Record<string, string | Error> = {}) {
    const answers: Record<string, string | Error> = {
      [HEALTH_COMMANDS.status]: read("status.txt"),
      [HEALTH_COMMANDS.hostname]: read("hostname.txt"),
      [HEALTH_COMMANDS.profiles]: read("sofia-xmlstatus.xml"),
      [HEALTH_COMMANDS.gateways]: read("sofia-xmlstatus-gateway.xml"),
      [HEALTH_COMMANDS.profile("a")]: read("sofia-xmlstatus-profile-a.xml"),
      [HEALTH_COMMANDS.profile("b")]: read("sofia-xmlstatus-profile-b.xml"),
      ...overrides,
    };
    const sent: string[] = [];
    const api = async (command: string): Promise<string> => {
      sent.push(command);
      const answer = answers[command] ?? read("unknown-command.txt");
      if (answer instanceof Error) throw answer;
      return answer;
    };
    return { api, sent };
  }

  async function settle(): Promise<void> {
    for (let i = 0; i < 50; i++) await Promise.resolve();
  }

  function setup(pollIntervalMs: number, overrides?: Record<string, string | Error>) {
    const clock = new ManualClock(1_800_000_000_000);
    const unreadable: HealthSource[] = [];
    const failed: HealthSource[] = [];
    const health = new ServerHealth("fs1", clock, (source) => unreadable.push(source));
    const fs = fakeFreeswitch(overrides);
    const poller = new ServerPoller({
      health,
      api: fs.api,
      pollIntervalMs,
      clock,
      logger: quiet,
      failed: (source) => failed.push(source),
    });
    return { clock, health, poller, sent: fs.sent, unreadable, failed };
  }

  it("at connection: status and hostname, then the poll, one command at a time", async () => {
    const { poller, sent, health } = setup(30_000);
    poller.start();
    await settle();
    assert.deepEqual(sent, [
      "status",
      "global_getvar hostname",
      "sofia xmlstatus",
      "sofia xmlstatus gateway",
      "sofia xmlstatus profile a",
      "sofia xmlstatus profile b",
      "status",
    ]);
    const s = health.snapshot();
    assert.equal(s.hostname, read("hostname.txt").trim());
    assert.deepEqual(
      s.profiles?.map((p) => [p.name, p.registrations]),
      [
        ["a", 0],
        ["b", 1],
      ],
    );
    assert.equal(s.gateways?.length, 3);
  });

  it("polls again every poll_interval, and stops with the connection", async () => {
    const { poller, sent, clock } = setup(30_000);
    poller.start();
    await settle();
    const first = sent.length;
    clock.advance(29_999);
    await settle();
    assert.equal(sent.length, first, "not before the interval");
    clock.advance(1);
    await settle();
    assert.equal(sent.length, first + 5, "sofia ×4 and status, no hostname");
    poller.stop();
    clock.advance(120_000);
    await settle();
    assert.equal(sent.length, first + 5);
    assert.equal(clock.pendingTimers, 0);
  });

  it("with poll_interval 0 sends no sofia command, only the reads of the connection", async () => {
    const { poller, sent, clock } = setup(0);
    poller.start();
    await settle();
    clock.advance(600_000);
    await settle();
    assert.deepEqual(sent, ["status", "global_getvar hostname"]);
  });

  it("without mod_sofia: no profiles nor gateways, and no error", async () => {
    const { poller, health, unreadable, failed } = setup(30_000, {
      [HEALTH_COMMANDS.profiles]: "-ERR sofia Command not found!\n",
    });
    poller.start();
    await settle();
    assert.deepEqual(health.snapshot().profiles, []);
    assert.deepEqual(health.snapshot().gateways, []);
    assert.deepEqual([unreadable, failed], [[], []]);
  });

  it("counts a command that fails and an answer it cannot read, and keeps going", async () => {
    const { poller, health, unreadable, failed, clock, sent } = setup(30_000, {
      [HEALTH_COMMANDS.gateways]: new Error('"api" got no reply within 5000 ms'),
      [HEALTH_COMMANDS.status]: "+OK something else\n",
    });
    poller.start();
    await settle();
    assert.deepEqual(failed, ["sofia_xmlstatus_gateway"]);
    assert.deepEqual(unreadable, ["status"]);
    assert.equal(health.snapshot().gateways, null, "an incomplete poll is not applied");
    clock.advance(30_000);
    await settle();
    assert.equal(sent.filter((c) => c === HEALTH_COMMANDS.profiles).length, 2, "polled again");
  });

  it("a command FreeSWITCH refuses to this ESL user counts as failed, not as unreadable", async () => {
    // What mod_event_socket answers a user whose allowed-api list lacks the command.
    const { poller, failed, unreadable, health } = setup(30_000, {
      [HEALTH_COMMANDS.gateways]: "-ERR permission denied\n",
    });
    poller.start();
    await settle();
    assert.deepEqual(failed, ["sofia_xmlstatus_gateway"]);
    assert.deepEqual(unreadable, []);
    assert.equal(health.snapshot().gateways, null);
    assert.equal(health.snapshot().core?.sessionsLimit, 2000, "status was allowed");
  });

  it("drops the answers of a connection that went meanwhile", async () => {
    const { poller, health, sent } = setup(30_000);
    poller.start();
    poller.stop();
    await settle();
    assert.ok(sent.length <= 1);
    assert.equal(health.snapshot().core, null);
  });
});

describe("ServerSeriesProducer", () => {
  const resource = defaultResource();
  const scope = { name: "fsagent", version: "test" };

  function snapshotOf(gatewaysFile: string) {
    const clock = new ManualClock(1_800_000_000_000);
    const health = new ServerHealth("fs1", clock, () => undefined);
    health.heartbeat(heartbeat());
    const profiles = parseProfiles(read("sofia-xmlstatus.xml")) ?? [];
    health.sofia(
      profiles.map((p) => ({ ...p, registrations: p.name === "b" ? 1 : 0 })),
      parseGateways(read(gatewaysFile)) ?? [],
    );
    return { clock, health };
  }

  function producerOf(health: ServerHealth, clock: ManualClock): ServerSeriesProducer {
    return new ServerSeriesProducer({
      snapshots: () => [health.snapshot()],
      scope,
      resource,
      now: () => clock.now(),
    });
  }

  /** name → [attributes, value] of every point. */
  function points(metrics: MetricData[]): Map<string, Array<[Attributes, number]>> {
    const out = new Map<string, Array<[Attributes, number]>>();
    for (const m of metrics) {
      out.set(
        m.descriptor.name,
        m.dataPoints.map((p) => [p.attributes, p.value as number]),
      );
    }
    return out;
  }

  it("exports the figures of every instance, with fs_instance and the named attributes", () => {
    const { health, clock } = snapshotOf("sofia-xmlstatus-gateway.xml");
    const producer = producerOf(health, clock);
    const metrics = producer.metrics();
    const p = points(metrics);
    const fs = { fs_instance: "fs1" };
    assert.deepEqual(p.get("freeswitch.sessions.limit"), [[fs, Number(header("Max-Sessions"))]]);
    assert.deepEqual(p.get("freeswitch.sessions.rate_limit"), [
      [fs, Number(header("Session-Per-Sec"))],
    ]);
    assert.deepEqual(p.get("freeswitch.cpu.idle"), [[fs, Number(header("Idle-CPU")) / 100]]);
    assert.deepEqual(p.get("freeswitch.uptime"), [[fs, Number(header("Uptime-msec")) / 1000]]);
    assert.deepEqual(p.get("freeswitch.info"), [
      [
        { ...fs, version: header("FreeSWITCH-Version"), hostname: header("FreeSWITCH-Hostname") },
        1,
      ],
    ]);
    assert.deepEqual(p.get("freeswitch.registrations"), [
      [{ ...fs, profile: "a" }, 0],
      [{ ...fs, profile: "b" }, 1],
    ]);
    const up = new Map(
      (p.get("freeswitch.sofia.gateway.up") ?? []).map(([a, v]) => [a.gateway, [a.state, v]]),
    );
    assert.deepEqual(Object.fromEntries(up), {
      nowhere: ["NOREG", 0],
      "b-ping": ["NOREG", 1],
      "b-reg": ["REGED", 1],
    });
    // Only pinged gateways have a round trip.
    assert.deepEqual(
      (p.get("freeswitch.sofia.gateway.ping") ?? []).map(([a, v]) => [a.gateway, v]),
      [["b-ping", 0.00158]],
    );
    // The counters start when FreeSWITCH started: a restart is a reset.
    const created = metrics.find((m) => m.descriptor.name === "freeswitch.sessions.created");
    assert.equal(created?.dataPointType, DataPointType.SUM);
    assert.equal(created?.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    const start = created?.dataPoints[0]?.startTime;
    assert.deepEqual(start, hrTime(clock.now() - Number(header("Uptime-msec"))));
    const calls = metrics.find((m) => m.descriptor.name === "freeswitch.sofia.gateway.calls");
    assert.equal(calls?.dataPoints.length, 6, "3 gateways × inbound, outbound");
  });

  it("a gateway removed (killgw) is absent from the next collection, not exported at its last value", () => {
    const { health, clock } = snapshotOf("sofia-xmlstatus-gateway.xml");
    const producer = producerOf(health, clock);
    const gatewaysIn = (metrics: MetricData[]) =>
      new Set(
        metrics.flatMap((m) => m.dataPoints.map((d) => d.attributes.gateway).filter(Boolean)),
      );
    assert.ok(gatewaysIn(producer.metrics()).has("nowhere"));
    health.sofia(
      health.snapshot().profiles?.slice() ?? [],
      parseGateways(read("after-killgw-sofia-xmlstatus-gateway.xml")) ?? [],
    );
    assert.deepEqual([...gatewaysIn(producer.metrics())].sort(), ["b-ping", "b-reg"]);
  });

  it("exports nothing for an instance whose connection is down", () => {
    const { health } = snapshotOf("sofia-xmlstatus-gateway.xml");
    health.clear();
    const producer = new ServerSeriesProducer({
      snapshots: () => [health.snapshot()],
      scope,
      resource,
    });
    assert.deepEqual(producer.metrics(), []);
  });
});
