// The simulator's ESL server over real TCP, read with the agent's FrameParser (via EslProbe):
// exact bytes of the protocol messages, subscriptions, filters, API commands, back-pressure and
// fault injection.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { JsonEvent } from "../../src/esl/event.js";
import { urlDecode } from "../../src/esl/urlcodec.js";
import { CallGenerator } from "../../src/sim/calls.js";
import { CommandReader } from "../../src/sim/command-reader.js";
import { EslProbe } from "../../src/sim/probe.js";
import { SimServer, type SimServerOptions } from "../../src/sim/server.js";

const GOODBYE_NOTICE =
  "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" +
  "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startServer(
  options: SimServerOptions = {},
): Promise<{ server: SimServer; port: number }> {
  const server = new SimServer({ heartbeatIntervalMs: 0, ...options });
  const port = await server.listen();
  cleanups.push(() => server.stop());
  return { server, port };
}

async function probe(port: number): Promise<EslProbe> {
  const p = await EslProbe.connect(port);
  cleanups.push(() => p.destroy());
  return p;
}

async function authed(port: number, events?: string): Promise<EslProbe> {
  const p = await EslProbe.authenticated(port);
  cleanups.push(() => p.destroy());
  if (events !== undefined) {
    const reply = await p.command(`event ${events}`);
    assert.match(reply.header("Reply-Text") ?? "", /^\+OK event listener enabled/);
  }
  return p;
}

/** Publishes a marker event after `publish()` and waits for it: everything before has arrived. */
async function settle(server: SimServer, p: EslProbe): Promise<void> {
  const marker = `marker-${Math.random()}`;
  server.emitEvent("CUSTOM", [["Marker", marker]], { subclass: "sim::marker" });
  await p.event((e) => e.get("Marker") === marker);
}

function names(p: EslProbe): string[] {
  return p.events.filter((e) => e.get("Event-Subclass") !== "sim::marker").map((e) => e.name);
}

function channelEvent(server: SimServer, name: string, uuid: string): void {
  server.emitEvent(name, [
    ["Channel-State", "CS_EXECUTE"],
    ["Unique-ID", uuid],
    ["Call-Direction", "inbound"],
  ]);
}

describe("sim server: connect, auth, exit (exact bytes)", () => {
  it("greets with auth/request and accepts the password", async () => {
    const { port } = await startServer();
    const p = await probe(port);
    await p.until(() => p.bytes().length >= 28);
    assert.equal(p.bytes().toString(), "Content-Type: auth/request\n\n");
    p.write("auth ClueCon\n\n");
    await p.until(() => p.replies.length === 2);
    assert.equal(
      p.bytes().toString(),
      "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\n",
    );
  });

  it("answers a wrong password with -ERR invalid, a 67-byte disconnect notice, and closes", async () => {
    const { port } = await startServer({ password: "secret" });
    const p = await probe(port);
    await p.nextReply();
    p.write("auth ClueCon\n\n");
    await p.closedByPeer();
    assert.equal(
      p.bytes().toString(),
      `Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: -ERR invalid\n\n${GOODBYE_NOTICE}`,
    );
    const notice = p.replies[2]!;
    assert.equal(notice.contentType, "text/disconnect-notice");
    assert.equal(notice.body?.length, 67);
  });

  it("rejects rudely like an ACL deny: 24-byte body, disconnect notice, close", async () => {
    const { port } = await startServer({ rudeReject: true });
    const p = await probe(port);
    await p.closedByPeer();
    assert.equal(
      p.bytes().toString(),
      `Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n${GOODBYE_NOTICE}`,
    );
    assert.equal(p.replies[0]!.body?.length, 24);
  });

  it("says +OK bye to exit, then the disconnect notice, then closes", async () => {
    const { port } = await startServer();
    const p = await authed(port);
    const before = p.bytes().length;
    p.write("exit\n\n");
    await p.closedByPeer();
    assert.equal(
      p.bytes().subarray(before).toString(),
      `Content-Type: command/reply\nReply-Text: +OK bye\n\n${GOODBYE_NOTICE}`,
    );
  });

  it("answers commands before auth with -ERR command not found and stays open", async () => {
    const { port } = await startServer();
    const p = await probe(port);
    await p.nextReply();
    const reply = await p.command("api status");
    assert.equal(reply.contentType, "command/reply");
    assert.equal(reply.header("Reply-Text"), "-ERR command not found");
    assert.equal((await p.command("auth ClueCon")).header("Reply-Text"), "+OK accepted");
    assert.equal(p.closed, false);
  });

  it("disconnects a client that sends nothing within the auth timeout", async () => {
    const { port } = await startServer({ authTimeoutMs: 80 });
    const p = await probe(port);
    await p.closedByPeer(2000);
    assert.equal(p.bytes().toString(), `Content-Type: auth/request\n\n${GOODBYE_NOTICE}`);
  });

  it("reads commands in any chunking, with CRLF line ends and several per packet", async () => {
    const { port } = await startServer();
    const p = await probe(port);
    await p.nextReply();
    for (const byte of Buffer.from("\r\nauth ClueCon\r\n\r\n")) p.write(Buffer.from([byte]));
    assert.equal((await p.nextReply()).header("Reply-Text"), "+OK accepted");
    p.write("event plain HEARTBEAT\n\napi echo one two\n\nnoevents\n\n");
    assert.equal((await p.nextReply()).header("Reply-Text"), "+OK event listener enabled plain");
    assert.equal((await p.nextReply()).bodyText(), "one two");
    assert.equal((await p.nextReply()).header("Reply-Text"), "+OK no longer listening for events");
  });
});

describe("sim server: command reader", () => {
  it("splits commands the same way at every chunk boundary", () => {
    const stream = Buffer.from(
      "\n\nauth ClueCon\n\nevent plain ALL\r\n\r\nsendevent CUSTOM\nContent-Length: 5\nX-A: b\n\nhello" +
        "api status\n\n",
    );
    const whole = new CommandReader().push(stream);
    assert.deepEqual(
      whole.map((c) => c.line),
      ["auth ClueCon", "event plain ALL", "sendevent CUSTOM", "api status"],
    );
    assert.equal(whole[2]!.body, "hello");
    assert.deepEqual(whole[2]!.headers, [
      ["Content-Length", "5"],
      ["X-A", "b"],
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      const reader = new CommandReader();
      const got = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      assert.deepEqual(got, whole, `split at ${cut}`);
    }
  });
});

describe("sim server: subscriptions", () => {
  it("delivers only the subscribed events", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain CHANNEL_CREATE CUSTOM sim::marker");
    server.heartbeat();
    channelEvent(server, "CHANNEL_ANSWER", "u1");
    channelEvent(server, "CHANNEL_CREATE", "u1");
    server.emitEvent("CUSTOM", [["X", "y"]], { subclass: "other::thing" });
    await settle(server, p);
    assert.deepEqual(names(p), ["CHANNEL_CREATE"]);
  });

  it("ALL delivers everything, custom subclasses included", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain ALL");
    server.heartbeat();
    channelEvent(server, "CHANNEL_ANSWER", "u1");
    server.emitEvent("CUSTOM", [["X", "y"]], { subclass: "other::thing" });
    await settle(server, p);
    assert.deepEqual(names(p), ["HEARTBEAT", "CHANNEL_ANSWER", "CUSTOM"]);
  });

  it("nixevent removes names, noevents stops everything", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain ALL");
    assert.equal((await p.command("nixevent HEARTBEAT")).header("Reply-Text"), "+OK events nixed");
    server.heartbeat();
    channelEvent(server, "CHANNEL_CREATE", "u1");
    await settle(server, p);
    assert.deepEqual(names(p), ["CHANNEL_CREATE"]);
    assert.equal(
      (await p.command("noevents")).header("Reply-Text"),
      "+OK no longer listening for events",
    );
    channelEvent(server, "CHANNEL_CREATE", "u2");
    assert.equal(
      (await p.command("noevents")).header("Reply-Text"),
      "-ERR not listening for events",
    );
    assert.equal(p.events.filter((e) => e.get("Unique-ID") === "u2").length, 0);
  });

  it("rejects subscriptions without a valid name and accepts names in any case", async () => {
    const { port } = await startServer();
    const p = await authed(port);
    assert.equal(
      (await p.command("event plain FOO BAR")).header("Reply-Text"),
      "-ERR no keywords supplied",
    );
    assert.equal(
      (await p.command("event plain")).header("Reply-Text"),
      "-ERR no keywords supplied",
    );
    assert.equal(
      (await p.command("event plain channel_create SWITCH_EVENT_HEARTBEAT")).header("Reply-Text"),
      "+OK event listener enabled plain",
    );
  });

  it("delivers JSON events that JsonEvent reads, the body as _body", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "json CHANNEL_CREATE BACKGROUND_JOB");
    channelEvent(server, "CHANNEL_CREATE", "json-1");
    const event = await p.event((e) => e.name === "CHANNEL_CREATE");
    assert.ok(event instanceof JsonEvent);
    assert.equal(event.get("Unique-ID"), "json-1");
    assert.equal(p.frames.at(-1)!.contentType, "text/event-json");
    const reply = await p.command("bgapi echo from json");
    const job = await p.event((e) => e.name === "BACKGROUND_JOB");
    assert.equal(job.get("Job-UUID"), reply.header("Job-UUID"));
    assert.equal(job.body, "from json");
  });
});

describe("sim server: xml format", () => {
  it("sends text/event-xml to a listener that asked for xml", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "xml CHANNEL_CREATE");
    channelEvent(server, "CHANNEL_CREATE", "x<1>");
    await p.until(() => p.frames.some((f) => f.contentType === "text/event-xml"));
    const frame = p.frames.find((f) => f.contentType === "text/event-xml")!;
    assert.equal(Number(frame.header("Content-Length")), frame.body?.length);
    assert.match(frame.bodyText(), /<Event-Name>CHANNEL_CREATE<\/Event-Name>/);
    assert.match(frame.bodyText(), /<Unique-ID>x&lt;1&gt;<\/Unique-ID>/);
  });
});

describe("sim server: filters", () => {
  it("passes only matching events; positive filters OR; a missing header never matches", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain ALL");
    assert.equal(
      (await p.command("filter Unique-ID abc")).header("Reply-Text"),
      "+OK filter added. [Unique-ID]=[abc]",
    );
    channelEvent(server, "CHANNEL_CREATE", "abc");
    channelEvent(server, "CHANNEL_CREATE", "def");
    server.heartbeat(); // no Unique-ID: filtered out
    await p.command("filter Unique-ID def");
    channelEvent(server, "CHANNEL_ANSWER", "def");
    channelEvent(server, "CHANNEL_ANSWER", "ghi");
    await p.command("filter Event-Subclass sim::marker");
    await settle(server, p);
    assert.deepEqual(
      p.events.filter((e) => e.name !== "CUSTOM").map((e) => `${e.name}/${e.get("Unique-ID")}`),
      ["CHANNEL_CREATE/abc", "CHANNEL_ANSWER/def"],
    );
  });

  it("treats /.../ values as regular expressions and deletes filters", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain ALL");
    await p.command("filter Event-Name /^CHANNEL_(CREATE|DESTROY)$/");
    await p.command("filter Event-Subclass sim::marker");
    channelEvent(server, "CHANNEL_CREATE", "r1");
    channelEvent(server, "CHANNEL_ANSWER", "r1");
    channelEvent(server, "CHANNEL_DESTROY", "r1");
    await settle(server, p);
    assert.deepEqual(names(p), ["CHANNEL_CREATE", "CHANNEL_DESTROY"]);

    assert.equal(
      (await p.command("filter delete Event-Name /^CHANNEL_(CREATE|DESTROY)$/")).header(
        "Reply-Text",
      ),
      "+OK filter deleted. [Event-Name][/^CHANNEL_(CREATE|DESTROY)$/]",
    );
    assert.equal(
      (await p.command("filter delete all")).header("Reply-Text"),
      "+OK filter deleted. [all][]",
    );
    channelEvent(server, "CHANNEL_ANSWER", "r2");
    await settle(server, p);
    assert.equal(names(p).at(-1), "CHANNEL_ANSWER");
    assert.equal((await p.command("filter Unique-ID")).header("Reply-Text"), "-ERR invalid syntax");
  });
});

describe("sim server: api and bgapi", () => {
  it("answers status, unknown commands and echo as api/response", async () => {
    const { port } = await startServer();
    const p = await authed(port);
    const status = await p.command("api status");
    assert.equal(status.contentType, "api/response");
    assert.equal(Number(status.header("Content-Length")), status.body?.length);
    assert.match(status.bodyText(), /^UP 0 years, 0 days, 0 hours, /);
    assert.match(status.bodyText(), /is ready\n/);
    assert.equal(
      (await p.command("api nosuchcmd arg")).bodyText(),
      "-ERR nosuchcmd Command not found!\n",
    );
    assert.equal((await p.command("api")).header("Reply-Text"), "-ERR command not found");
  });

  it("lists channels as JSON with 0 and N rows", async () => {
    const { server, port } = await startServer({ hostname: "fs-test" });
    const p = await authed(port);
    assert.equal((await p.command("api show channels as json")).bodyText(), '{"row_count":0}');
    assert.equal((await p.command("api show channels count")).bodyText(), "\n0 total.\n");

    const gen = new CallGenerator({
      factory: server.factory,
      channels: server.channels,
      sink: (e) => server.publish(e),
      callsPerSecond: 0,
    });
    const bridged = gen.startCall({ bridged: true, codec: "PCMA", domain: "t1.example" });
    const single = gen.startCall({ codec: "opus", domain: null });
    const body = JSON.parse((await p.command("api show channels as json")).bodyText()) as {
      row_count: number;
      rows: Array<Record<string, string>>;
    };
    assert.equal(body.row_count, 3);
    assert.equal(body.rows.length, 3);
    for (const key of [
      "uuid",
      "direction",
      "created",
      "created_epoch",
      "name",
      "state",
      "cid_name",
      "cid_num",
      "dest",
      "application",
      "read_codec",
      "read_rate",
      "write_codec",
      "write_rate",
      "call_uuid",
      "hostname",
      "presence_id",
    ]) {
      for (const row of body.rows) assert.equal(typeof row[key], "string", key);
    }
    const byUuid = new Map(body.rows.map((r) => [r.uuid, r]));
    const a = byUuid.get(bridged.uuid)!;
    const b = byUuid.get(bridged.bLeg!.uuid)!;
    assert.equal(a.direction, "inbound");
    assert.equal(b.direction, "outbound");
    assert.equal(b.call_uuid, bridged.uuid);
    assert.equal(a.read_codec, "PCMA");
    assert.equal(a.read_rate, "8000");
    assert.equal(a.hostname, "fs-test");
    // Unauthenticated calls have no presence, as in show-channels.json.
    assert.equal(a.presence_id, "");
    assert.equal(byUuid.get(single.uuid)!.read_rate, "48000");
    assert.match(a.created_epoch!, /^\d{10}$/);
    assert.equal((await p.command("api show channels count")).bodyText(), "\n3 total.\n");
    const csv = (await p.command("api show channels")).bodyText();
    assert.match(csv, /^uuid,direction,created,created_epoch,name,state,/);
    assert.match(csv, /\n\n3 total\.\n$/);
  });

  it("dumps a channel as URL-encoded text or flat JSON, and knows unknown ones", async () => {
    const { server, port } = await startServer();
    const p = await authed(port);
    const gen = new CallGenerator({
      factory: server.factory,
      channels: server.channels,
      sink: (e) => server.publish(e),
      callsPerSecond: 0,
    });
    const call = gen.startCall({ bridged: true, sipCallId: "abc 123@host" });

    const txt = (await p.command(`api uuid_dump ${call.uuid}`)).bodyText();
    assert.ok(txt.endsWith("\n\n"));
    const lines = txt.trimEnd().split("\n");
    assert.ok(
      lines.every((l) => /^[^:]+: \S*$/.test(l)),
      "one encoded Name: value per line",
    );
    const fields = new Map(
      lines.map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]),
    );
    assert.equal(fields.get("Event-Name"), "CHANNEL_DATA");
    assert.equal(fields.get("Unique-ID"), call.uuid);
    assert.equal(fields.get("variable_sip_call_id"), "abc%20123%40host");
    assert.equal(urlDecode(fields.get("variable_sip_call_id")!), "abc 123@host");
    assert.equal(fields.get("Other-Leg-Unique-ID"), call.bLeg!.uuid);

    const json = JSON.parse(
      (await p.command(`api uuid_dump ${call.uuid} json`)).bodyText(),
    ) as Record<string, unknown>;
    assert.equal(json["Unique-ID"], call.uuid);
    assert.equal(json.variable_sip_call_id, "abc 123@host");
    assert.ok(Object.values(json).every((v) => typeof v === "string"));

    assert.equal(
      (await p.command("api uuid_dump 00000000-0000-4000-8000-000000000000")).bodyText(),
      "-ERR No such channel!\n",
    );
  });

  it("answers bgapi with a Job-UUID and fires BACKGROUND_JOB with the output as body", async () => {
    const { port } = await startServer();
    const p = await authed(port, "plain BACKGROUND_JOB");
    const reply = await p.command("bgapi echo hello world");
    const jobUuid = reply.header("Job-UUID")!;
    assert.equal(reply.header("Reply-Text"), `+OK Job-UUID: ${jobUuid}`);
    const job = await p.event((e) => e.name === "BACKGROUND_JOB");
    const entries = job.entries().map(([n]) => n);
    assert.deepEqual(entries.slice(0, 2), ["Event-Name", "Core-UUID"]);
    assert.deepEqual(entries.slice(13), [
      "Job-UUID",
      "Job-Command",
      "Job-Command-Arg",
      "Content-Length",
    ]);
    assert.equal(job.get("Job-UUID"), jobUuid);
    assert.equal(job.get("Job-Command"), "echo");
    assert.equal(job.get("Job-Command-Arg"), "hello world");
    assert.equal(job.body, "hello world");

    p.write("bgapi status\nJob-UUID: my-own-job\n\n");
    assert.equal((await p.nextReply()).header("Job-UUID"), "my-own-job");
    const status = await p.event((e) => e.get("Job-UUID") === "my-own-job");
    assert.equal(status.get("Job-Command-Arg"), undefined);
    assert.match(status.body ?? "", /^UP /);
  });

  it("keeps api replies intact while events interleave", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain ALL");
    let burst = 0;
    server.on("command", () => {
      for (let i = 0; i < 50; i++) channelEvent(server, "CHANNEL_CREATE", `burst-${burst++}`);
    });
    const ticker = setInterval(() => channelEvent(server, "CHANNEL_ANSWER", "tick"), 1);
    cleanups.push(() => clearInterval(ticker));
    for (let i = 0; i < 20; i++) {
      const reply = await p.command(`api echo reply-${i}`);
      assert.equal(reply.contentType, "api/response");
      assert.equal(reply.bodyText(), `reply-${i}`);
    }
    await p.until(() => p.events.filter((e) => e.name === "CHANNEL_CREATE").length === burst);
    const sequences = p.events.map((e) => Number(e.get("Event-Sequence")));
    assert.deepEqual(
      sequences,
      [...sequences].sort((x, y) => x - y),
    );
  });
});

describe("sim server: back-pressure", () => {
  it("queues for a reader that stalls, drops beyond queueLimit, kills it after 500 lost", async () => {
    const { server, port } = await startServer({ queueLimit: 20 });
    const p = await authed(port, "plain CUSTOM sim::load");
    let killed = false;
    server.on("killed", () => {
      killed = true;
    });
    p.pause();
    const body = "x".repeat(8000);
    let published = 0;
    while (!killed && published < 100_000) {
      server.emitEvent("CUSTOM", [["N", String(published)]], { subclass: "sim::load", body });
      published++;
    }
    assert.ok(killed, "the listener was killed");
    assert.equal(server.stats.listenersKilled, 1);
    assert.equal(server.stats.eventsDropped, 501);
    p.resume();
    await p.closedByPeer(5000);
    const last = p.frames.at(-1)!;
    assert.equal(last.contentType, "text/disconnect-notice");
    assert.equal(last.bodyText(), "killed listener because of lost events\n");
    // What arrived is whole events in order, up to the queue that was cut.
    const got = p.events.map((e) => Number(e.get("N")));
    assert.deepEqual(
      got,
      got.map((_, i) => i),
    );
    assert.equal(server.clientCount, 0);
  });

  it("delivers everything to a reader that stalls briefly", async () => {
    const { server, port } = await startServer({ queueLimit: 100_000 });
    const p = await authed(port, "plain CUSTOM sim::load");
    p.pause();
    const body = "y".repeat(4000);
    for (let i = 0; i < 3000; i++) {
      server.emitEvent("CUSTOM", [["N", String(i)]], { subclass: "sim::load", body });
    }
    p.resume();
    await p.eventCount(3000, 5000);
    assert.equal(server.stats.eventsDropped, 0);
    assert.equal(server.stats.eventsDelivered, 3000);
  });
});

describe("sim server: heartbeat", () => {
  it("fires HEARTBEAT on its timer with the FreeSWITCH headers", async () => {
    const { port } = await startServer({ heartbeatIntervalMs: 40 });
    const p = await authed(port, "plain HEARTBEAT");
    const hb = await p.event((e) => e.name === "HEARTBEAT", 2000);
    assert.deepEqual(
      hb
        .entries()
        .slice(13)
        .map(([n]) => n),
      [
        "Event-Info",
        "Up-Time",
        "FreeSWITCH-Version",
        "Uptime-msec",
        "Session-Count",
        "Max-Sessions",
        "Session-Per-Sec",
        "Session-Per-Sec-Last",
        "Session-Per-Sec-Max",
        "Session-Per-Sec-FiveMin",
        "Session-Since-Startup",
        "Session-Peak-Max",
        "Session-Peak-FiveMin",
        "Idle-CPU",
      ],
    );
    assert.equal(hb.get("Event-Info"), "System Ready");
    assert.match(
      hb.get("Up-Time") ?? "",
      /^0 years, 0 days, 0 hours, 0 minutes, \d+ seconds?, \d+ milliseconds?, \d+ microseconds?$/,
    );
    assert.match(hb.get("Idle-CPU") ?? "", /^\d+\.\d{6}$/);
    assert.equal(hb.get("Event-Calling-Function"), "send_heartbeat");
  });
});

describe("sim server: fault injection", () => {
  it("closeAbruptly drops every client without a notice", async () => {
    const { server, port } = await startServer();
    const a = await authed(port);
    const b = await authed(port);
    await a.until(() => server.authenticatedCount === 2);
    assert.equal(server.clientCount, 2);
    const before = a.bytes().length;
    server.closeAbruptly();
    await a.closedByPeer();
    await b.closedByPeer();
    assert.equal(a.bytes().length, before);
    await a.until(() => server.clientCount === 0);
  });

  it("goSilent keeps sockets open but answers nothing; resume brings it back", async () => {
    const { server, port } = await startServer();
    const p = await authed(port, "plain CHANNEL_CREATE");
    server.goSilent();
    const late = await probe(port);
    channelEvent(server, "CHANNEL_CREATE", "while-silent");
    p.write("api echo unanswered\n\n");
    await assert.rejects(p.nextReply(200), /timed out/);
    assert.equal(p.closed, false);
    assert.equal(late.bytes().length, 0);
    assert.equal(p.events.length, 0);

    server.resume();
    assert.equal((await late.nextReply()).contentType, "auth/request");
    assert.equal((await p.command("api echo answered")).bodyText(), "answered");
    channelEvent(server, "CHANNEL_CREATE", "after-resume");
    const e = await p.event(() => true);
    assert.equal(e.get("Unique-ID"), "after-resume");
    assert.equal(server.stats.eventsSuppressed, 1);
  });

  it("sendRaw reaches authenticated clients: garbage and an oversized Content-Length", async () => {
    const { server, port } = await startServer();
    const a = await authed(port);
    const unauthenticated = await probe(port);
    await unauthenticated.nextReply();
    server.sendRaw("Content-Length: 99999999999\nContent-Type: text/event-plain\n\n");
    await a.until(() => a.protocolError !== undefined);
    assert.equal(a.protocolError?.reason, "frame_too_large");
    assert.equal(unauthenticated.bytes().toString(), "Content-Type: auth/request\n\n");

    const b = await authed(port);
    server.sendRaw("this is not ESL\n\n");
    await b.until(() => b.protocolError !== undefined);
    assert.equal(b.protocolError?.reason, "malformed_header");
  });

  it("restart drops clients and listens again on the same port", async () => {
    const { server, port } = await startServer();
    const p = await authed(port);
    const again = await server.restart();
    assert.equal(again, port);
    await p.closedByPeer();
    const q = await authed(port);
    assert.equal((await q.command("api echo back")).bodyText(), "back");
  });
});
