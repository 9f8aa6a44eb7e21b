// The agent end to end over OTLP/HTTP: the FreeSWITCH simulator on a real ESL socket → the real
// Agent, configured by the loader from the environment with the standard variables
// (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, OTEL_EXPORTER_OTLP_ENDPOINT a base URL with a path)
// → a real node:http server decoding both signals with the official protobuf root. A call's RTCP
// and end-of-call QoS arrive as metrics at <base>/v1/metrics and its quality record as a log
// record at <base>/v1/logs, and both survive a short outage of the server.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { loadConfig } from "../../src/config/load.js";
import { E2eHarness } from "../support/e2e.js";
import { OtlpHttpReceiver } from "../support/otlp-http-receiver.js";
import { waitFor } from "../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The harness's agent, but exporting over OTLP/HTTP as the loader configures it from the env. */
async function httpHarness(): Promise<{ h: E2eHarness; receiver: OtlpHttpReceiver }> {
  const receiver = await OtlpHttpReceiver.start();
  const h = await E2eHarness.start({ connect: false, exportIntervalMs: 60_000 });
  cleanups.push(
    () => receiver.close(),
    () => h.close(),
  );
  const dir = mkdtempSync(path.join(tmpdir(), "fsagent-e2e-http-"));
  try {
    const loaded = loadConfig({
      cwd: dir,
      requireInstances: false,
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/otlp`,
        OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
      },
    });
    assert.equal(loaded.opentelemetry.protocol, "http/protobuf");
    h.config = {
      ...h.config,
      opentelemetry: {
        ...loaded.opentelemetry,
        exportIntervalMs: h.config.opentelemetry.exportIntervalMs,
        exportTimeoutMs: 2000,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await h.startAgent();
  return { h, receiver };
}

describe("the agent over OTLP/HTTP", () => {
  it("delivers a call's metrics to /v1/metrics and its quality record to /v1/logs", async () => {
    const { h, receiver } = await httpHarness();
    const gen = h.generator;
    const t0 = Date.now();
    const call = gen.startCall({ domain: "tenant-h.example", sipCallId: "http@x", atMs: t0 });
    await h.waitProcessed("CHANNEL_ANSWER", 1);
    gen.sendRtcp(call.aLeg.uuid, { atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 1);
    gen.hangupCall(call.uuid, {
      atMs: t0 + 20_000,
      qos: { inPacketCount: 990, inFlaws: 2, jitterMs: 4 },
    });
    await h.waitProcessed("CHANNEL_DESTROY", 1);
    await h.flush();

    assert.deepEqual(receiver.decodeErrors, []);
    const paths = new Set(receiver.seen.map((s) => s.path));
    assert.deepEqual([...paths].sort(), ["/otlp/v1/logs", "/otlp/v1/metrics"]);
    assert.ok(receiver.seen.every((s) => s.headers["content-encoding"] === "gzip"));
    const jitter = receiver
      .points("freeswitch.rtcp.jitter")
      .filter((p) => p.attributes.channel_id === call.aLeg.uuid);
    assert.equal(jitter.length, 1, "the RTCP report");
    const mos = receiver
      .points("freeswitch.qos.mos_score")
      .filter((p) => p.attributes.correlation_id === "http@x");
    assert.ok(mos.length >= 1, "the end-of-call QoS");
    const records = receiver.logRecords().filter((r) => r.attributes.correlation_id === "http@x");
    assert.ok(records.length >= 1, "the quality records");
    assert.equal(records[0]?.eventName, "freeswitch.call.quality");
    assert.equal(records[0]?.attributes.domain_name, "tenant-h.example");
    assert.equal(h.current.exporter().exportErrors, 0);
  });

  it("keeps a leg's QoS and quality record through a short outage of the server", async () => {
    const { h, receiver } = await httpHarness();
    const gen = h.generator;
    const t0 = Date.now();
    const call = gen.startCall({
      domain: "tenant-o.example",
      sipCallId: "outage-http@x",
      atMs: t0,
    });
    await h.waitProcessed("CHANNEL_ANSWER", 1);
    await receiver.stop();
    gen.hangupCall(call.uuid, { atMs: t0 + 10_000, qos: { inPacketCount: 500, jitterMs: 2 } });
    await h.waitProcessed("CHANNEL_DESTROY", 1);
    await h.flush();
    assert.ok(h.current.exporter().exportErrors > 0, "the outage was noticed");
    await receiver.start();
    await waitFor(
      () =>
        receiver
          .points("freeswitch.qos.mos_score")
          .some((p) => p.attributes.correlation_id === "outage-http@x") &&
        receiver.logRecords().some((r) => r.attributes.correlation_id === "outage-http@x"),
      "the QoS and the record after the outage",
      10_000,
    );
  });
});
