// The hand-written leaf modules on their own, in this process (docs/architecture.md says why each
// exists): the header reader on FreeSWITCH 1.11's own RTCP reports, the OTLP encoder on a
// collection of 20,000 legs' series, and one gRPC unary call over node:http2 to a local server.

import { readFileSync } from "node:fs";
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { PlainEvent } from "../src/esl/event.js";
import { HeaderIndex } from "../src/esl/headers.js";
import { UnaryChannel } from "../src/export/grpc-unary.js";
import { splitRequests } from "../src/export/metric-batches.js";
import { MAX_POINTS_PER_REQUEST } from "../src/export/metric-exporter.js";
import { METRICS_EXPORT_METHOD } from "../src/export/otlp-client.js";
import { MetricsRequestEncoder } from "../src/export/otlp-encode.js";
import { RtcpSeriesProducer } from "../src/export/rtcp-series.js";
import { plainEvents } from "../test/support/raw-esl.js";
import type { BenchRow, Suite } from "./lib/result.js";
import { median } from "./lib/stats.js";

const CAPTURE = new URL("../test/fixtures/freeswitch-1.11/capture-long-plain.esl", import.meta.url);

/** The headers computeRtcp reads of a RECV report (quality/rtcp.ts), in its order. */
const RTCP_HEADERS = [
  "Event-Name",
  "Unique-ID",
  "Source0-SSRC",
  "Source0-Fraction",
  "Source0-Lost",
  "Source0-Jitter",
  "RTP-Rate",
  "Source0-LSR",
  "Capture-Time",
  "Source0-DLSR",
  "Rtt0-Avg",
  "Source1-SSRC",
];

/** ns per event for the 12 look-ups, each event read with `index` (null: its own). */
function headerReads(raws: readonly Buffer[], index: HeaderIndex | null, rounds: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    for (const raw of raws) {
      const event = new PlainEvent(raw, 0, raw.length, index);
      for (const name of RTCP_HEADERS) sink += event.get(name)?.length ?? 0;
    }
  }
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === 42) console.log(""); // keeps the reads alive
  return ns / (rounds * raws.length);
}

function producerWith(legs: number): RtcpSeriesProducer {
  const producer = new RtcpSeriesProducer({
    maxLegs: 2 * legs,
    cardinalityLimit: 2 * legs,
    perLeg: true,
    maxAggregates: 100,
    scope: { name: "fsagent", version: "bench" },
    resource: resourceFromAttributes({ "service.name": "fsagent" }),
    now: () => 1_764_000_000_000,
  });
  for (let i = 0; i < legs; i++) {
    const labels = {
      channelId: `leg-${i}-0000-0000-0000-000000000000`,
      correlationId: `call-${i >> 1}@pbx.example`,
      domainName: `tenant-${i % 20}.example`,
      callDirection: i % 2 === 0 ? "inbound" : "outbound",
      codecName: "PCMU",
      srcIp: "198.51.100.7",
      dstIp: "203.0.113.5",
    };
    for (const direction of ["inbound", "outbound"] as const) {
      producer.record({
        instance: "fs1",
        labels,
        direction,
        jitterMs: (i % 50) / 7,
        fractionLost: (i % 5) / 256,
        packetsLost: i % 3,
        rttMs: direction === "inbound" ? 20 + (i % 30) : undefined,
        mos: 4.1,
      });
    }
  }
  return producer;
}

/** ms per collection of `legs` legs' series encoded into OTLP requests, and the bytes. */
async function encodeCollection(legs: number, runs: number): Promise<BenchRow> {
  const encoder = new MetricsRequestEncoder();
  const times: number[] = [];
  let bytes = 0;
  let scratch: Buffer | undefined;
  for (let run = 0; run < runs; run++) {
    const producer = producerWith(legs);
    const { resourceMetrics } = await producer.collect();
    const start = process.hrtime.bigint();
    bytes = 0;
    for (const request of splitRequests(resourceMetrics, MAX_POINTS_PER_REQUEST)) {
      const encoded = encoder.encode(request, scratch);
      bytes += encoded.length;
      scratch = Buffer.from(encoded);
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return {
    name: `OTLP encoder: ${legs.toLocaleString("en-US")} legs' RTCP series`,
    figures: { "ms per collection": median(times), "request MB": bytes / 1e6 },
  };
}

/** µs per unary call of `size` bytes to a local HTTP/2 server that answers an empty message. */
async function unaryCalls(size: number, calls: number): Promise<BenchRow> {
  const server: Http2Server = createServer();
  server.on("stream", (stream) => {
    stream.on("data", () => undefined);
    stream.on("end", () => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc" },
        { waitForTrailers: true },
      );
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new UnaryChannel({
    authority: `127.0.0.1:${port}`,
    tls: null,
    headers: {},
    userAgent: "fsagent-bench",
  });
  const message = Buffer.alloc(size, 1);
  const call = (): Promise<void> =>
    new Promise((resolve, reject) =>
      client.call(METRICS_EXPORT_METHOD, message, 10_000, ({ error }) =>
        error === null ? resolve() : reject(error),
      ),
    );
  for (let i = 0; i < 20; i++) await call();
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await call();
  const us = Number(process.hrtime.bigint() - start) / 1e3 / calls;
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    name: `gRPC unary over node:http2: ${(size / 1e6).toFixed(1)} MB requests`,
    figures: { "µs per call": us, "MB/s": size / us },
  };
}

export const leaves: Suite = async ({ quick }) => {
  const raws = plainEvents(readFileSync(CAPTURE))
    .filter((e) => e.name === "RECV_RTCP_MESSAGE")
    .map((e) => Buffer.from(e.raw));
  const rounds = quick ? 20 : 200;
  const shared = new HeaderIndex();
  const reads = { own: [] as number[], shared: [] as number[] };
  for (let run = 0; run < 5; run++) {
    reads.own.push(headerReads(raws, null, rounds));
    reads.shared.push(headerReads(raws, shared, rounds));
  }
  const rows: BenchRow[] = [
    {
      name: "header reader: a connection's shared line index",
      figures: { "ns per report (12 look-ups)": median(reads.shared) },
    },
    {
      name: "header reader: an index per event",
      figures: { "ns per report (12 look-ups)": median(reads.own) },
    },
    await encodeCollection(quick ? 2_000 : 20_000, quick ? 3 : 7),
    await unaryCalls(quick ? 100_000 : 1_000_000, quick ? 50 : 300),
  ];
  return {
    suite: "leaves",
    method: [
      `header reader: the ${raws.length} RECV reports of test/fixtures/freeswitch-1.11/capture-long-plain.esl, ${rounds} rounds, median of 5`,
      "OTLP encoder: one collection of per-leg RTCP series (2 directions per leg) split and encoded, median of the runs",
      "gRPC unary: sequential calls to a local node:http2 server answering an empty message",
    ],
    rows,
    targets: [],
  };
};
