// The simulator's server health (issue 20) against real FreeSWITCH 1.11: its answers to the
// commands the agent's poller sends (`status`, `global_getvar hostname`, `sofia xmlstatus`,
// `sofia xmlstatus gateway [name]`, `sofia xmlstatus profile <name>`), to `show registrations
// [count]`, and its HEARTBEAT, must have the layout of the real ones in
// test/fixtures/freeswitch-1.11/health (made by lab/health-capture.mjs): the same lines, tags,
// indentation, line ends and trailing newlines, with values normalised (names, addresses and
// numbers differ; how many gateways there are too). Where no capture shows a case (a gateway
// in FAILED with its retry), the expectation is mod_sofia.c's format string.
//
// Then the agent's own readers (src/fs-health) read the simulator's answers, and what they read
// must be the simulator's state: legs on each profile as `show channels` lists them, the
// registrations `show registrations` lists, and the gateways' timeline over simulated time
// (b-reg FAILED → FAIL_WAIT → UNREGED → REGISTER → REGED in about 8 s and `nowhere` UP for its
// first 3–4 s, as the test bed does; flaky DOWN for a minute out of three).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { coreFromHeartbeat } from "../src/fs-health/heartbeat.js";
import {
  parseGateways,
  parseProfileRegistrations,
  parseProfiles,
} from "../src/fs-health/sofia-xml.js";
import { coreFromStatus } from "../src/fs-health/status-text.js";
import { type ApiContext, executeApi } from "../src/sim/api.js";
import { parseSimulateArgs } from "../src/sim/args.js";
import { headerValue } from "../src/sim/events.js";
import { heartbeatFor } from "../src/sim/heartbeat.js";
import { SimServer } from "../src/sim/server.js";
import { FLAKY_OUTAGE, SimSofia } from "../src/sim/sofia.js";
import { fixtureText, get, headerNames, plainHeaders } from "./support/fs-capture.js";
import { SimWire, T0 } from "./support/sim-wire.js";

const real = (file: string) => fixtureText(`health/${file}`);

/** The simulator as the poller meets it: calls on a simulated clock, `api` at a chosen instant. */
function simulator(options: { gateways?: boolean } = {}) {
  const w = new SimWire({ rtcpIntervalMs: 0 });
  w.gen.runUntil(T0);
  const sofia = new SimSofia({
    ip: w.factory.ipv4,
    switchname: w.factory.switchname,
    gateways: options.gateways ?? true,
  });
  const ctx = (atMs: number): ApiContext => ({
    channels: w.channels,
    factory: w.factory,
    now: () => atMs,
    startedAtMs: T0,
    maxSessions: 1000,
    sessionsPerSecond: 200,
    sofia,
  });
  /** `api <line>` `afterMs` after the switch started. */
  const api = (line: string, afterMs = 30_000): string => {
    const [command = "", ...rest] = line.split(" ");
    const out = executeApi(
      command,
      rest.length > 0 ? rest.join(" ") : undefined,
      ctx(T0 + afterMs),
    );
    assert.ok(out !== undefined, `the simulator answers ${line}`);
    return out;
  };
  return { w, sofia, api };
}

// ----- layout ------------------------------------------------------------------------------

const TAG_LINE = /^(\s*)<([\w-]+)>(.*)<\/\2>$/;

/**
 * The layout of an XML answer: every line as is, but a `<tag>value</tag>` line's value replaced
 * by its class (digits → 9; any other text → "…"), and a run of blocks with the same layout
 * (the gateways, of which the simulator has four and the test bed three) kept once.
 */
function layout(xml: string): string[] {
  const lines = xml.split("\n").map((line) => {
    const m = TAG_LINE.exec(line);
    if (m === null) return line;
    const [, indent, tag, value = ""] = m;
    const cls = /^[\d.() ]*$|^RUNNING \(\d+\)$/.test(value) ? value.replace(/\d+/g, "9") : "…";
    return `${indent}<${tag}>${cls}</${tag}>`;
  });
  // Blocks start at a line opening <profile> or <gateway> (any indentation).
  const blocks: string[] = [];
  let current: string[] = [];
  for (const line of lines) {
    if (/^\s*<(profile|gateway)>$/.test(line) && current.length > 0) {
      blocks.push(current.join("\n"));
      current = [];
    }
    current.push(line);
  }
  blocks.push(current.join("\n"));
  return blocks.filter((b, i) => b !== blocks[i - 1]);
}

function assertLayout(sim: string, realFile: string): void {
  assert.deepEqual(layout(sim), layout(real(realFile)), `the layout of ${realFile}`);
}

describe("sim health: answers laid out as FreeSWITCH 1.11's", () => {
  it("answers `sofia xmlstatus` as the real listing, with a blank line after each gateway", () => {
    const { w, api } = simulator();
    assertLayout(api("sofia xmlstatus"), "sofia-xmlstatus.xml");
    // With calls up, as during-call-sofia-xmlstatus.xml.
    w.gen.startCall({ bridged: true, atMs: T0 + 29_000 });
    assertLayout(api("sofia xmlstatus"), "during-call-sofia-xmlstatus.xml");
    // The real blank line: `</gateway>` then an empty line, for every gateway.
    const blank = (text: string) => text.split("</gateway>\n\n").length - 1;
    const gateways = (text: string) => text.split("<gateway>").length - 1;
    assert.equal(blank(real("sofia-xmlstatus.xml")), gateways(real("sofia-xmlstatus.xml")));
    assert.equal(blank(api("sofia xmlstatus")), 4);
    // The test bed's gateways in its order (the reverse of a.xml's), flaky before them.
    const names = (text: string) =>
      [...text.matchAll(/<gateway>\n\s*<name>([^<]+)</g)].map((m) => m[1]);
    const realOrder = names(real("sofia-xmlstatus.xml"));
    assert.deepEqual(realOrder, ["nowhere", "b-ping", "b-reg"]);
    assert.deepEqual(names(api("sofia xmlstatus")), ["flaky", ...realOrder]);
    assert.deepEqual(names(api("sofia xmlstatus gateway")), ["flaky", ...realOrder]);
    assert.deepEqual(names(real("sofia-xmlstatus-gateway.xml")), realOrder);
  });

  it("answers `sofia xmlstatus gateway [name]` as the real detail blocks", () => {
    const { api } = simulator();
    assertLayout(api("sofia xmlstatus gateway"), "sofia-xmlstatus-gateway.xml");
    assertLayout(api("sofia xmlstatus gateway"), "after-killgw-sofia-xmlstatus-gateway.xml");
    assertLayout(api("sofia xmlstatus gateway b-reg"), "sofia-xmlstatus-gateway-b-reg.xml");
    assert.equal(
      api("sofia xmlstatus gateway nowhere-else"),
      real("after-killgw-sofia-xmlstatus-gateway-nowhere.txt"),
    );
  });

  it("adds the retry of a FAILED / FAIL_WAIT gateway where mod_sofia.c prints it", () => {
    const { api } = simulator();
    // cmd_xml_status: ` (retry: %ds)` after `</gateway>\n`, then the "\n" of the blank line.
    assert.match(
      api("sofia xmlstatus", 500),
      /<state>FAILED<\/state>\n<\/gateway>\n \(retry: \d+s\)\n/,
    );
    // xml_gateway_status: `    <retry>%ds</retry>\n` last in the block.
    assert.match(
      api("sofia xmlstatus gateway b-reg", 3000),
      /<state>FAIL_WAIT<\/state>[\s\S]*<failed-calls-out>0<\/failed-calls-out>\n {4}<retry>3s<\/retry>\n {2}<\/gateway>\n$/,
    );
    assert.doesNotMatch(api("sofia xmlstatus gateway b-reg", 9000), /retry/);
  });

  it("answers `sofia xmlstatus profile <name>` as the real profile-info", () => {
    const { api } = simulator();
    assertLayout(api("sofia xmlstatus profile external"), "sofia-xmlstatus-profile-a.xml");
    assertLayout(api("sofia xmlstatus profile internal"), "sofia-xmlstatus-profile-b.xml");
    assert.equal(
      api("sofia xmlstatus profile nosuch"),
      real("sofia-xmlstatus-profile-missing.txt"),
    );
  });

  it("answers `show registrations [count]` in mod_commands' table", () => {
    const { w, api } = simulator();
    const text = api("show registrations");
    const [columns, row, blank, total, end] = text.split("\n");
    const [realColumns, realRow, ...realRest] = real("show-registrations.txt").split("\n");
    assert.equal(columns, realColumns);
    assert.equal(row?.split(",").length, realRow?.split(",").length);
    assert.deepEqual([blank, total, end], realRest);
    assert.equal(api("show registrations count"), real("show-registrations-count.txt"));
    // The url carries the profile (`sofia/b/…` there) and the hostname column is the switchname.
    const fields = (line: string) => line.split(",");
    assert.match(fields(realRow!)[3]!, /^sofia\/b\/sip:gw\+b-reg@/);
    assert.match(fields(row!)[3]!, /^sofia\/internal\/sip:gw\+b-reg@/);
    assert.equal(fields(row!)[8], w.factory.switchname);
    // Before the registrar accepted b-reg, mod_commands' empty table.
    assert.equal(api("show registrations", 2000), "\n0 total.\n");
  });

  it("answers `global_getvar hostname` with FreeSWITCH-Hostname and no newline, as the real one", () => {
    const { w, api } = simulator();
    assert.ok(!real("hostname.txt").endsWith("\n"));
    const hostname = api("global_getvar hostname");
    assert.equal(hostname, w.factory.hostname);
    const beat = heartbeatFor(w.factory, w.channels, T0 + 1000, T0, 1000);
    assert.equal(headerValue(beat, "FreeSWITCH-Hostname"), hostname);
  });

  it("answers `status` line for line as the real one, trailing spaces and stack line included", () => {
    const { w, api } = simulator();
    const shape = (text: string) => text.replace(/\d+(\.\d+)?/g, "9");
    assert.equal(shape(api("status")), shape(real("status.txt")));
    w.gen.startCall({ bridged: true, atMs: T0 + 29_000 });
    assert.equal(shape(api("status")), shape(real("during-call-status.txt")));
    assert.match(api("status"), / out of max 200, /);
  });

  it("fires HEARTBEAT with the real header names, in the real order", () => {
    const { w } = simulator();
    const realNames = plainHeaders(real("heartbeat.txt")).map(([n]) => n);
    const sim = new SimWire({ heartbeatIntervalMs: 20_000, callsPerSecond: 0 });
    sim.gen.runUntil(T0);
    sim.gen.runUntil(T0 + 20_000);
    const beats = sim.wire("plain").filter((e) => get(e, "Event-Name") === "HEARTBEAT");
    assert.ok(beats.length === 1);
    assert.deepEqual(headerNames(beats[0]!), realNames);
    const direct = heartbeatFor(w.factory, w.channels, T0, T0, 1000);
    assert.deepEqual(
      direct.headers.map(([n]) => n),
      realNames,
    );
  });

  it("answers an unknown command, and sofia's unknown subcommands, as FreeSWITCH does", () => {
    const server = new SimServer({ heartbeatIntervalMs: 0 });
    assert.equal(server.answerApi("nosuchcommand", undefined), real("unknown-command.txt"));
    // An empty answer (a global variable that is not set), as api_exec in mod_event_socket.c.
    assert.equal(server.answerApi("global_getvar", "nosuch"), "-ERR no reply\n");
    assert.equal(server.answerApi("global_getvar", "hostname"), server.factory.hostname);
    const { api } = simulator();
    // sofia_function and cmd_xml_status in mod_sofia.c.
    assert.equal(api("sofia nosuch"), "Unknown Command [nosuch]\n");
    assert.match(api("sofia"), /^USAGE:\n-{80}\n/);
    assert.equal(api("sofia xmlstatus what ever"), "Invalid Syntax!\n");
    // One word after xmlstatus, whatever it is, lists every gateway.
    assert.equal(api("sofia xmlstatus profile"), api("sofia xmlstatus gateway"));
    // Without mod_sofia, `sofia` is not a command at all (the poller reads that as no profiles).
    const { w } = simulator();
    const noSofia = executeApi("sofia", "xmlstatus", {
      channels: w.channels,
      factory: w.factory,
      now: () => T0,
      startedAtMs: T0,
      maxSessions: 1000,
      sessionsPerSecond: 200,
    });
    assert.equal(noSofia, undefined);
  });
});

// ----- read by the agent -------------------------------------------------------------------

/** Legs per sofia profile as `show channels` names them (`sofia/<profile>/…`). */
function legsPerProfile(api: (line: string, afterMs?: number) => string, afterMs: number) {
  const text = api("show channels as json", afterMs);
  const rows = (JSON.parse(text) as { rows?: Array<{ name: string }> }).rows ?? [];
  const out = new Map<string, number>();
  for (const row of rows) {
    const profile = row.name.split("/")[1] ?? "";
    out.set(profile, (out.get(profile) ?? 0) + 1);
  }
  return out;
}

describe("sim health: the agent's readers read the simulator's state", () => {
  it("reads each profile RUNNING with the legs on it, and its registrations", () => {
    const { w, api } = simulator();
    const at = 29_000;
    w.gen.startCall({ bridged: true, atMs: T0 + at });
    w.gen.startCall({ atMs: T0 + at });
    const legs = legsPerProfile(api, at);
    assert.deepEqual([...legs.values()].sort(), [1, 2], "a B-leg on one profile, 2 A-legs");
    const profiles = parseProfiles(api("sofia xmlstatus", at));
    assert.ok(profiles !== null);
    assert.deepEqual(
      profiles.map((p) => p.name).sort(),
      ["external", "internal"],
      "the profiles the calls use",
    );
    for (const p of profiles) {
      assert.equal(p.state, "RUNNING");
      assert.equal(p.up, true);
      assert.equal(p.inUse, legs.get(p.name) ?? 0, `${p.name} in use`);
    }
    const registered = api("show registrations", at).split("\n").slice(1, -3);
    for (const p of profiles) {
      const expected = registered.filter((r) => r.split(",")[3]?.startsWith(`sofia/${p.name}/`));
      const answer = api(`sofia xmlstatus profile ${p.name}`, at);
      assert.equal(parseProfileRegistrations(answer), expected.length, `${p.name} registrations`);
    }
    assert.equal(registered.length, 1, "b-reg's registration");
  });

  it("counts a profile's calls and failed calls as sofia does (unanswered = failed)", () => {
    const { w, api } = simulator();
    const a = w.gen.startCall({ bridged: true, atMs: T0 + 1000 });
    const cancelled = w.gen.startCall({ answer: false, atMs: T0 + 1000 });
    w.gen.hangupCall(a.uuid, { atMs: T0 + 5000 });
    w.gen.hangupCall(cancelled.uuid, { atMs: T0 + 3000, cause: "ORIGINATOR_CANCEL" });
    w.gen.runUntil(T0 + 10_000);
    const counter = (profile: string, tag: string) =>
      Number(
        new RegExp(`<${tag}>(\\d+)</${tag}>`).exec(api(`sofia xmlstatus profile ${profile}`))?.[1],
      );
    // Two inbound legs on internal (one never answered), one outbound B-leg on external.
    assert.equal(counter("internal", "calls-in"), 2);
    assert.equal(counter("internal", "failed-calls-in"), 1);
    assert.equal(counter("internal", "calls-out"), 0);
    assert.equal(counter("external", "calls-out"), 1);
    assert.equal(counter("external", "failed-calls-out"), 0);
    assert.equal(
      parseProfiles(api("sofia xmlstatus"))?.every((p) => p.inUse === 0),
      true,
    );
  });

  it("takes b-reg FAILED → FAIL_WAIT → UNREGED → REGISTER → REGED in about 8 s, as the test bed", () => {
    const { api } = simulator();
    const states: string[] = [];
    let regedAt: number | undefined;
    for (let t = 0; t <= 12_000; t += 250) {
      const g = parseGateways(api("sofia xmlstatus gateway", t))?.find((x) => x.name === "b-reg");
      assert.ok(g !== undefined);
      if (states.at(-1) !== g.state) states.push(g.state);
      assert.equal(g.status, g.state === "REGED" ? "UP" : "DOWN", `b-reg's status at ${t} ms`);
      if (g.state === "REGED") regedAt ??= t;
    }
    assert.deepEqual(states, ["FAILED", "FAIL_WAIT", "UNREGED", "REGISTER", "REGED"]);
    assert.ok(regedAt !== undefined && regedAt >= 6000 && regedAt <= 9000, `REGED at ${regedAt}`);
    // The registrar holds it from the 200 OK on; the listing says the same state.
    assert.equal(api("show registrations count", regedAt - 1), "\n1 total.\n");
    assert.match(api("sofia xmlstatus", regedAt), /<name>b-reg<\/name>[\s\S]*?<state>REGED</);
  });

  it("reads nowhere UP for its first seconds, then DOWN; b-ping UP with a ping time", () => {
    const { api } = simulator();
    const at = (t: number) => {
      const gateways = parseGateways(api("sofia xmlstatus gateway", t));
      assert.ok(gateways !== null);
      return new Map(gateways.map((g) => [g.name, g]));
    };
    assert.equal(at(3000).get("nowhere")?.status, "UP");
    for (const t of [5000, 30_000, 600_000]) {
      const g = at(t);
      assert.equal(g.get("nowhere")?.status, "DOWN", `nowhere at ${t} ms`);
      assert.equal(g.get("nowhere")?.state, "NOREG");
      assert.equal(g.get("nowhere")?.pingS, null, "no answered ping");
      assert.equal(g.get("b-ping")?.status, "UP");
      const ping = g.get("b-ping")?.pingS;
      assert.ok(ping !== null && ping !== undefined && ping > 0 && ping < 0.005, `b-ping ${ping}`);
    }
    // Every gateway sits on the profile its contact names.
    for (const g of at(30_000).values()) assert.equal(g.profile, "external");
  });

  it("takes flaky DOWN for a minute in every three, and back UP", () => {
    const { api } = simulator();
    const flaky = (t: number) =>
      parseGateways(api("sofia xmlstatus gateway", t))?.find((g) => g.name === "flaky");
    const period = FLAKY_OUTAGE.periodMs;
    for (const cycle of [0, 1, 5]) {
      const base = cycle * period;
      assert.equal(flaky(base + FLAKY_OUTAGE.fromMs - 6000)?.status, "UP", `cycle ${cycle} before`);
      assert.equal(flaky(base + FLAKY_OUTAGE.fromMs + 6000)?.status, "DOWN", `cycle ${cycle} out`);
      assert.equal(flaky(base + FLAKY_OUTAGE.toMs - 1000)?.status, "DOWN");
      assert.equal(flaky(base + FLAKY_OUTAGE.toMs + 6000)?.status, "UP", `cycle ${cycle} back`);
    }
    // Its uptime restarts when it comes back: under 10 s just after, not since the start.
    const back = api("sofia xmlstatus gateway flaky", period + FLAKY_OUTAGE.toMs + 6000);
    const uptimeUs = Number(/<uptime-usec>(\d+)</.exec(back)?.[1]);
    assert.ok(uptimeUs > 0 && uptimeUs < 10_000_000, `uptime ${uptimeUs}`);
    assert.match(
      api("sofia xmlstatus gateway flaky", FLAKY_OUTAGE.fromMs + 6000),
      /<pingtime>0\.00<\/pingtime>[\s\S]*<uptime-usec>0<\/uptime-usec>/,
    );
  });

  it("reads `status` as the registry's figures, out of max 200", () => {
    const { w, api } = simulator();
    w.gen.startCall({ bridged: true, atMs: T0 + 29_000 });
    w.gen.startCall({ atMs: T0 + 29_500 });
    const core = coreFromStatus(api("status", 30_000));
    assert.ok(core !== null);
    assert.equal(core.sessions, w.channels.size);
    assert.equal(core.sessions, 3);
    assert.equal(core.sessionsCreated, 3);
    assert.equal(core.sessionsLimit, 1000);
    assert.equal(core.sessionRateLimit, 200);
    assert.equal(core.sessionRate, 3, "the 3 legs created in the last whole second");
    assert.equal(core.uptimeS, 30);
  });

  it("reports in HEARTBEAT's Session-Per-Sec what is left of 200 in the current second", () => {
    // The real one, with no session created: the whole limit, the one `status` prints.
    const realBeat = new Map(plainHeaders(real("heartbeat.txt")));
    assert.equal(realBeat.get("Session-Since-Startup"), "0");
    assert.match(real("status.txt"), / out of max 200, /);
    assert.equal(realBeat.get("Session-Per-Sec"), "200");

    const { w } = simulator();
    const second = T0 + 40_000;
    w.gen.startCall({ bridged: true, atMs: second + 100 });
    w.gen.startCall({ atMs: second + 200 });
    const read = (at: number) => {
      const beat = heartbeatFor(w.factory, w.channels, at, T0, 1000);
      return coreFromHeartbeat((name) => headerValue(beat, name));
    };
    const during = read(second + 900);
    assert.equal(during?.sessionRateLimit, 197, "200 less the 3 legs of this second");
    const after = read(second + 1500);
    assert.equal(after?.sessionRateLimit, 200, "refilled the next second");
    assert.equal(after?.sessionRate, 3, "Session-Per-Sec-Last");
    assert.equal(after?.sessions, 3);
  });
});

describe("sim health: without gateways", () => {
  it("lists the profiles alone with --no-gateways, and no registration", () => {
    assert.equal(parseSimulateArgs([]).gateways, true);
    assert.equal(parseSimulateArgs(["--no-gateways"]).gateways, false);
    const { api } = simulator({ gateways: false });
    assert.deepEqual(parseGateways(api("sofia xmlstatus gateway")), []);
    assert.equal(parseProfiles(api("sofia xmlstatus"))?.length, 2);
    assert.doesNotMatch(api("sofia xmlstatus"), /<gateway>/);
    assert.equal(api("show registrations"), "\n0 total.\n");
    assert.equal(parseProfileRegistrations(api("sofia xmlstatus profile internal")), 0);
  });
});
