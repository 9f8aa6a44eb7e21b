// FreeSWITCH's own figures (issue 20) on a real FreeSWITCH: the test bed's profile a has three
// gateways, b-reg (registers to profile b: REGED, and `show registrations` lists it), b-ping
// (OPTIONS-pinged: UP) and nowhere (nothing answers: DOWN). Every expected value is what
// FreeSWITCH itself reports to the test's own connection (`status`, `sofia xmlstatus gateway`,
// `show registrations`, the HEARTBEATs of the capture), read with the test's own regexes.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import { type AgentProcess, FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { httpRequest } from "../support/net.js";
import type { MetricPoint } from "../support/otlp-receiver.js";

/** The figures of a `status` answer, by the test's own reading of mod_commands' lines. */
function statusFigures(text: string) {
  const num = (re: RegExp): number => {
    const m = re.exec(text);
    assert.ok(m, `${re} in ${JSON.stringify(text)}`);
    return Number(m[1]);
  };
  return {
    created: num(/^(\d+) session\(s\) since startup/m),
    active: num(/^(\d+) session\(s\) - peak/m),
    peak: num(/session\(s\) - peak (\d+),/m),
    rateLimit: num(/per Sec out of max (\d+),/m),
    limit: num(/^(\d+) session\(s\) max/m),
  };
}

interface FsGateway {
  readonly state: string;
  readonly status: string;
  readonly pingMs: number;
}

/** Every gateway of `sofia xmlstatus gateway`, by the test's own regex. */
function fsGateways(xml: string): Map<string, FsGateway> {
  const out = new Map<string, FsGateway>();
  for (const block of xml.split("<gateway>").slice(1)) {
    const tag = (t: string): string => new RegExp(`<${t}>([^<]*)</${t}>`).exec(block)?.[1] ?? "";
    out.set(tag("name"), {
      state: tag("state"),
      status: tag("status"),
      pingMs: Number(tag("pingtime")),
    });
  }
  return out;
}

/** The points of `name` in the newest export that has it. */
function latest(points: readonly MetricPoint[]): MetricPoint[] {
  const last = Math.max(-1, ...points.map((p) => p.request));
  return points.filter((p) => p.request === last);
}

describe("real FreeSWITCH: the server's own figures", { skip: skipWithoutFreeswitch() }, () => {
  let rig: Rig;
  let agent: AgentProcess;

  before(async () => {
    rig = await Rig.start({ name: "health" });
    // b-reg registers about 8 s after start; nowhere reads UP until its pings fail.
    const deadline = Date.now() + 40_000;
    for (;;) {
      const g = fsGateways(await rig.fs.api("sofia xmlstatus gateway"));
      const ready =
        g.get("b-reg")?.state === "REGED" &&
        g.get("b-ping")?.status === "UP" &&
        g.get("b-ping")!.pingMs > 0 &&
        g.get("nowhere")?.status === "DOWN";
      if (ready) break;
      assert.ok(Date.now() < deadline, `gateways not settled: ${JSON.stringify([...g])}`);
      await sleep(500);
    }
    agent = await rig.startAgent({ env: { FSAGENT_HEALTH_POLL_INTERVAL: "1s" } });
  });

  after(() => rig?.dispose());

  const receiver = () => rig.receiver;
  const waitForPoint = async (
    name: string,
    accept: (p: MetricPoint[]) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<MetricPoint[]> => {
    let found: MetricPoint[] = [];
    await receiver().waitFor(
      () => {
        found = latest(receiver().points(name));
        return found.length > 0 && accept(found);
      },
      what,
      timeoutMs,
    );
    return found;
  };

  it("within seconds of connecting: FreeSWITCH's limits, version and hostname", async () => {
    const fs = statusFigures(await rig.fs.api("status"));
    const [limit] = await waitForPoint("freeswitch.sessions.limit", () => true, "sessions.limit");
    assert.equal(limit?.value, fs.limit);
    assert.equal(limit?.attributes.fs_instance, FS_NAME);
    const [rateLimit] = await waitForPoint("freeswitch.sessions.rate_limit", () => true, "rate");
    assert.equal(rateLimit?.value, fs.rateLimit);
    // version and hostname as FreeSWITCH's own HEARTBEAT says them (the capture's, or the
    // status line's version with its spaces as HEARTBEAT writes them).
    const [info] = await waitForPoint("freeswitch.info", () => true, "info");
    const version = /Version (\S+)\s+(\S+)\)/.exec(await rig.fs.api("status"));
    assert.equal(info?.attributes.version, `${version?.[1]}~${version?.[2]}`);
    assert.equal(info?.attributes.hostname, (await rig.fs.api("global_getvar hostname")).trim());
    const [idle] = await waitForPoint("freeswitch.cpu.idle", () => true, "idle");
    assert.ok(idle !== undefined && idle.value >= 0 && idle.value <= 1, `idle ${idle?.value}`);
    const [uptime] = await waitForPoint("freeswitch.uptime", () => true, "uptime");
    assert.equal(uptime?.unit, "s");
  });

  it("the gateways: up and state as FreeSWITCH reports them, the ping of the pinged one", async () => {
    const pings = new Set<number>();
    const seen = async () => {
      const g = fsGateways(await rig.fs.api("sofia xmlstatus gateway"));
      for (const v of g.values()) if (v.pingMs > 0) pings.add(v.pingMs / 1000);
      return g;
    };
    const fs = await seen();
    const up = await waitForPoint(
      "freeswitch.sofia.gateway.up",
      (p) => p.length === 3,
      "three gateways",
    );
    for (const p of up) {
      const g = fs.get(p.attributes.gateway ?? "");
      assert.ok(g, `gateway ${p.attributes.gateway} is FreeSWITCH's`);
      assert.equal(p.attributes.profile, "a");
      assert.equal(p.attributes.state, g.state, `${p.attributes.gateway} state`);
      assert.equal(p.value, g.status === "UP" ? 1 : 0, `${p.attributes.gateway} up`);
    }
    const byName = Object.fromEntries(up.map((p) => [p.attributes.gateway, p.value]));
    assert.deepEqual(byName, { "b-reg": 1, "b-ping": 1, nowhere: 0 });
    // b-ping's round trip is one FreeSWITCH printed (it changes with each ping, every 5 s).
    for (let i = 0; i < 6; i++) {
      await seen();
      await sleep(250);
    }
    const [ping] = await waitForPoint("freeswitch.sofia.gateway.ping", () => true, "ping");
    await seen();
    assert.equal(ping?.attributes.gateway, "b-ping");
    assert.ok(pings.has(ping!.value), `${ping?.value} s among FreeSWITCH's ${[...pings]}`);
    // nowhere is pinged but never answered, b-reg is not pinged: no round trip for them.
    assert.deepEqual(
      latest(receiver().points("freeswitch.sofia.gateway.ping")).map((p) => p.attributes.gateway),
      ["b-ping"],
    );
  });

  it("registrations per profile: b holds the one `show registrations` lists", async () => {
    const list = await rig.fs.api("show registrations");
    assert.match(list, /sofia\/b\/sip:gw\+b-reg@/);
    assert.match(await rig.fs.api("show registrations count"), /^\s*1 total/);
    const points = await waitForPoint("freeswitch.registrations", (p) => p.length === 2, "regs");
    assert.deepEqual(Object.fromEntries(points.map((p) => [p.attributes.profile, p.value])), {
      a: 0,
      b: 1,
    });
    const profiles = latest(receiver().points("freeswitch.sofia.profile.up"));
    assert.deepEqual(profiles.map((p) => [p.attributes.profile, p.value]).sort(), [
      ["a", 1],
      ["b", 1],
    ]);
  });

  it("while calls run and after they end: the sessions FreeSWITCH counts", async () => {
    const before = statusFigures(await rig.fs.api("status"));
    const calls = await rig.fs.originate(2);
    await rig.fs.waitForChannels(8);
    const during = statusFigures(await rig.fs.api("status"));
    assert.equal(during.active, 8);
    const [active] = await waitForPoint(
      "freeswitch.sessions.active",
      (p) => p[0]?.value === during.active,
      "8 sessions exported",
    );
    assert.equal(active?.value, 8);
    const [peak] = await waitForPoint(
      "freeswitch.sessions.peak",
      (p) => p[0]?.value === during.peak,
      "the peak FreeSWITCH counts",
    );
    assert.ok(peak !== undefined && peak.value >= 8);
    await rig.fs.hangup(calls);
    await rig.fs.waitForChannels(0);
    const ended = statusFigures(await rig.fs.api("status"));
    assert.equal(ended.created, before.created + 8);
    const [created] = await waitForPoint(
      "freeswitch.sessions.created",
      (p) => p[0]?.value === ended.created,
      "sessions.created after the calls",
    );
    assert.equal(created?.kind, "sum");
    assert.equal(created?.monotonic, true);
    assert.equal(created?.temporality, "cumulative");
    await waitForPoint("freeswitch.sessions.active", (p) => p[0]?.value === 0, "0 after hangup");
  });

  it("/api/status carries the same, the down gateway first; /ready does not care", async () => {
    const body = JSON.parse((await httpRequest(`${agent.url}/api/status`)).body);
    assert.equal(body.schema, 2);
    const server = body.instances[0].server;
    const fs = statusFigures(await rig.fs.api("status"));
    assert.equal(server.sessions.limit, fs.limit);
    assert.equal(server.session_rate.limit, fs.rateLimit);
    assert.deepEqual(
      server.gateways.map((g: { name: string; up: boolean }) => [g.name, g.up]),
      [
        ["nowhere", false],
        ["b-ping", true],
        ["b-reg", true],
      ],
    );
    assert.equal(await agent.ready(), 200, "a DOWN gateway does not make the agent unready");
  });

  it("the figures of FreeSWITCH's HEARTBEAT, as the capture received it", async () => {
    // FreeSWITCH sends one every 20 s of its uptime; by now at least one has come.
    await receiver().waitFor(
      () => rig.capture.eventsNamed("HEARTBEAT").length > 0,
      "a HEARTBEAT",
      25_000,
    );
    const heartbeats = rig.capture.eventsNamed("HEARTBEAT");
    const hb = heartbeats[heartbeats.length - 1]!;
    const from = receiver().metricRequests.length;
    await receiver().waitFor(
      () => receiver().metricRequests.length > from + 1,
      "an export after the HEARTBEAT",
    );
    const after = (name: string) =>
      latest(
        receiver()
          .points(name)
          .filter((p) => p.request >= from),
      );
    const [info] = after("freeswitch.info");
    assert.equal(info?.attributes.version, hb.get("FreeSWITCH-Version"));
    assert.equal(info?.attributes.hostname, hb.get("FreeSWITCH-Hostname"));
    assert.equal(after("freeswitch.sessions.limit")[0]?.value, Number(hb.get("Max-Sessions")));
    assert.equal(
      after("freeswitch.sessions.rate_limit")[0]?.value,
      Number(hb.get("Session-Per-Sec")),
      "no session created in that second: Session-Per-Sec reads the limit",
    );
    assert.ok(
      (after("freeswitch.sessions.created")[0]?.value ?? -1) >=
        Number(hb.get("Session-Since-Startup")),
    );
    assert.ok((after("freeswitch.uptime")[0]?.value ?? 0) >= Number(hb.get("Uptime-msec")) / 1000);
  });

  it("a gateway removed with `sofia profile a killgw nowhere` stops being exported", async () => {
    assert.match(await rig.fs.api("sofia profile a killgw nowhere"), /\+OK/);
    const gone = async () => (await rig.fs.api("sofia xmlstatus gateway nowhere")).trim();
    for (let i = 0; i < 20 && (await gone()) !== "Invalid Gateway!"; i++) await sleep(250);
    assert.equal(await gone(), "Invalid Gateway!");
    const from = receiver().metricRequests.length;
    const gatewaysIn = (request: number): string[] =>
      [
        ...new Set(
          receiver()
            .points()
            .filter((p) => p.request === request && p.attributes.gateway !== undefined)
            .map((p) => p.attributes.gateway),
        ),
      ].sort() as string[];
    // The next poll (every second) sees it gone; from that export on it never comes back.
    let first = -1;
    await receiver().waitFor(
      () => {
        const n = receiver().metricRequests.length;
        for (let r = from; r < n && first < 0; r++) {
          if (gatewaysIn(r).length > 0 && !gatewaysIn(r).includes("nowhere")) first = r;
        }
        return first >= 0;
      },
      "an export without the removed gateway",
      5_000,
    );
    await sleep(2_500);
    const last = receiver().metricRequests.length;
    assert.ok(last - first >= 5, `${last - first} exports since`);
    for (let r = first; r < last; r++) {
      assert.deepEqual(gatewaysIn(r), ["b-ping", "b-reg"], `export ${r}`);
    }
  });

  it("with health.poll_interval 0 no polling command reaches FreeSWITCH", async () => {
    await agent.stop();
    receiver().clear();
    const from = rig.capture.eventsNamed("API").length;
    const quiet = await rig.startAgent({ env: { FSAGENT_HEALTH_POLL_INTERVAL: "0" } });
    // The core figures still come (the `status` read at connection).
    await waitForPoint("freeswitch.sessions.limit", () => true, "limit without polling");
    await sleep(3_000);
    const commands = rig.capture
      .eventsNamed("API")
      .slice(from)
      .map((e) => `${e.get("API-Command")} ${e.get("API-Command-Argument") ?? ""}`.trim());
    assert.deepEqual(
      commands.filter((c) => /^(sofia|show registrations)/.test(c)),
      [],
      `commands FreeSWITCH ran: ${commands.join(", ")}`,
    );
    assert.ok(commands.includes("status"), `status read at connection: ${commands.join(", ")}`);
    assert.deepEqual(receiver().points("freeswitch.sofia.gateway.up"), []);
    await quiet.stop();
  });
});
