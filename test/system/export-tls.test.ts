// OTLP over TLS against a real TLS receiver on loopback, with a throwaway CA made by the openssl
// CLI for this run: the exporter trusts a configured CA file, refuses a server its trust store
// does not vouch for, and presents a client certificate to a receiver that requires one.

import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { ConfigError } from "../../src/config/errors.js";
import type { OpenTelemetryConfig, OtlpTlsConfig } from "../../src/config/types.js";
import { createMetricsSink, type MetricsSink } from "../../src/export/metrics.js";
import { grpcTarget, OtlpTlsError, readTlsMaterial } from "../../src/export/otlp-target.js";
import type { LegLabels, RtcpObservation } from "../../src/quality/types.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";
import { makePki, type Pki } from "../support/pki.js";

// ---------------------------------------------------------------------------------------------
// Fixtures

const SECRET = "Bearer tls-s3cr3t-token";
const NO_TLS: OtlpTlsConfig = { caFile: "", certFile: "", keyFile: "" };

let pki: Pki;
/** Serves TLS with the server certificate; no client certificate asked for. */
let tlsReceiver: OtlpReceiver;
/** Serves TLS and requires a client certificate signed by the test CA. */
let mtlsReceiver: OtlpReceiver;
const sinks: MetricsSink[] = [];

function config(endpoint: string, overrides: Partial<OpenTelemetryConfig>): OpenTelemetryConfig {
  return {
    enabled: true,
    protocol: "grpc",
    endpoint,
    endpointExplicit: true,
    insecure: false,
    headers: { authorization: SECRET },
    compression: "none",
    serviceName: "fsagent",
    // forceFlush() drives every export.
    exportIntervalMs: 60_000,
    exportTimeoutMs: 3_000,
    // No retry queue: each forceFlush is exactly one export, successful or not.
    retryQueueSize: 0,
    tls: NO_TLS,
    resourceAttributes: {},
    ...overrides,
  };
}

function sink(
  endpoint: string,
  overrides: Partial<OpenTelemetryConfig>,
): { sink: MetricsSink; raw: string[] } {
  const raw: string[] = [];
  const logger = pino(
    { level: "debug", base: null, timestamp: false },
    { write: (text: string) => raw.push(text) },
  );
  const created = createMetricsSink(config(endpoint, overrides), { maxLegs: 100, logger });
  sinks.push(created);
  return { sink: created, raw };
}

function rtcp(channelId: string, jitterMs: number): RtcpObservation {
  const labels: LegLabels = {
    channelId,
    correlationId: "call-tls@pbx.example.com",
    domainName: "pbx.example.com",
    callDirection: "inbound",
    codecName: "PCMU",
    srcIp: "198.51.100.7",
    dstIp: "203.0.113.5",
  };
  return {
    instance: "fs1",
    labels,
    direction: "inbound",
    jitterMs,
    fractionLost: 0,
    packetsLost: 0,
    rttMs: undefined,
    mos: 4.2,
  };
}

/** The private keys' base64 body lines: none may ever show up in an error or a log. */
function keyFragments(): string[] {
  return [pki.clientKey, pki.serverKey].flatMap((path) =>
    readFileSync(path, "utf8")
      .split("\n")
      .filter((line) => line.length >= 16 && !line.startsWith("-----")),
  );
}

function assertNoSecret(text: string, where: string): void {
  assert.ok(!text.includes("s3cr3t"), `a header value reached ${where}`);
  for (const fragment of keyFragments()) {
    assert.ok(!text.includes(fragment), `private key material reached ${where}`);
  }
}

before(async () => {
  pki = makePki();
  tlsReceiver = await OtlpReceiver.start({
    tls: { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) },
  });
  mtlsReceiver = await OtlpReceiver.start({
    tls: {
      key: readFileSync(pki.serverKey),
      cert: readFileSync(pki.serverCert),
      clientCa: readFileSync(pki.caCert),
    },
  });
});

after(async () => {
  await Promise.all(sinks.map((s) => s.shutdown()));
  await tlsReceiver?.close();
  await mtlsReceiver?.close();
  if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe("OTLP TLS: plaintext or TLS", () => {
  const ca: OtlpTlsConfig = { caFile: "/etc/ca.pem", certFile: "", keyFile: "" };
  const mutual: OtlpTlsConfig = { caFile: "", certFile: "/c.pem", keyFile: "/k.pem" };

  it("any configured TLS file makes a bare host:port TLS, whatever insecure says", () => {
    assert.equal(grpcTarget("collector:4317", true, NO_TLS).tls, false);
    assert.equal(grpcTarget("collector:4317", true).tls, false);
    assert.equal(grpcTarget("collector:4317", true, ca).tls, true);
    assert.equal(grpcTarget("collector:4317", true, mutual).tls, true);
    assert.equal(grpcTarget("collector:4317", false, NO_TLS).tls, true);
  });

  it("a scheme still decides by itself", () => {
    assert.equal(grpcTarget("http://collector:4317", false, ca).tls, false);
    assert.equal(grpcTarget("https://collector:4317", true, NO_TLS).tls, true);
  });

  it("warns once that TLS files are ignored for an http:// endpoint", async () => {
    const { sink: s, raw } = sink("http://127.0.0.1:9", { tls: { ...NO_TLS, caFile: pki.caCert } });
    await s.shutdown();
    assert.equal(raw.filter((line) => line.includes("files are ignored")).length, 1);
  });
});

describe("OTLP TLS: reading the files", () => {
  it("reads the CA, certificate and key", () => {
    const material = readTlsMaterial({
      caFile: pki.caCert,
      certFile: pki.clientCert,
      keyFile: pki.clientKey,
    });
    assert.match(material.ca?.toString() ?? "", /BEGIN CERTIFICATE/);
    assert.match(material.cert?.toString() ?? "", /BEGIN CERTIFICATE/);
    assert.match(material.key?.toString() ?? "", /PRIVATE KEY/);
    assert.deepEqual(readTlsMaterial(NO_TLS), { ca: null, cert: null, key: null });
  });

  it("an unreadable, half-set, malformed or mismatched file is one line without its content", () => {
    const missing = join(pki.dir, "nope.pem");
    const cases: [OtlpTlsConfig, RegExp][] = [
      [
        { ...NO_TLS, caFile: missing },
        /^config error: opentelemetry\.tls\.ca_file: cannot read .*nope\.pem \(ENOENT\)$/,
      ],
      [{ ...NO_TLS, certFile: pki.clientCert }, /cert_file and key_file must be set together/],
      [
        { ...NO_TLS, caFile: pki.clientKey },
        /^config error: opentelemetry\.tls\.ca_file .*: not usable: /,
      ],
      [
        { caFile: "", certFile: pki.clientCert, keyFile: pki.serverKey },
        /^config error: opentelemetry\.tls\.cert_file\/key_file .*: not usable: /,
      ],
    ];
    for (const [tls, pattern] of cases) {
      assert.throws(
        () => readTlsMaterial(tls),
        (error: unknown) => {
          // A ConfigError: the CLI prints the line and exits 2.
          assert.ok(error instanceof OtlpTlsError && error instanceof ConfigError);
          assert.match(error.message, pattern);
          assert.ok(!error.message.includes("\n"), error.message);
          assertNoSecret(error.message, "the error");
          return true;
        },
      );
    }
    // Through the sink too: creating it fails with the same line, before anything is sent.
    assert.throws(
      () => sink(tlsReceiver.endpoint, { tls: { ...NO_TLS, caFile: missing } }),
      OtlpTlsError,
    );
  });
});

describe("OTLP TLS: a server certificate from a private CA", () => {
  it("(a) with tls.ca_file = the CA, the export succeeds and the points decode", async () => {
    tlsReceiver.clear();
    const { sink: s, raw } = sink(tlsReceiver.endpoint, { tls: { ...NO_TLS, caFile: pki.caCert } });
    s.recordRtcp(rtcp("leg-tls", 7.5));
    await s.forceFlush();
    assert.equal(s.stats.exportErrors, 0, s.stats.lastError ?? "");
    assert.equal(s.stats.exports, 1);
    const points = tlsReceiver.points("freeswitch.rtcp.jitter");
    assert.equal(points.length, 1);
    assert.equal(points[0]?.value, 7.5);
    assert.equal(points[0]?.attributes.channel_id, "leg-tls");
    assert.equal(tlsReceiver.metricRequests[0]?.metadata.authorization, SECRET);
    assert.deepEqual(tlsReceiver.decodeErrors, []);
    await s.shutdown();
    assertNoSecret(raw.join(""), "the log");
  });

  it("a bare host:port with insecure: true still uses TLS when a CA file is set", async () => {
    tlsReceiver.clear();
    const { sink: s } = sink(tlsReceiver.endpoint, {
      insecure: true,
      tls: { ...NO_TLS, caFile: pki.caCert },
    });
    s.recordRtcp(rtcp("leg-implied", 1));
    await s.forceFlush();
    assert.equal(s.stats.exportErrors, 0, s.stats.lastError ?? "");
    assert.equal(tlsReceiver.points("freeswitch.rtcp.jitter").length, 1);
    await s.shutdown();
  });

  it("(b) with the default roots, the server is untrusted: the export fails, counted, no secret", async () => {
    tlsReceiver.clear();
    const { sink: s, raw } = sink(`https://${tlsReceiver.endpoint}`, {});
    s.recordRtcp(rtcp("leg-untrusted", 2));
    await s.forceFlush();
    assert.equal(s.stats.exports, 1);
    assert.equal(s.stats.exportErrors, 1);
    const error = s.stats.lastError ?? "";
    assert.ok(error !== "" && !error.includes("\n"), error);
    // grpc-js: "14 UNAVAILABLE: No connection established. Last error: Error: unable to verify
    // the first certificate".
    assert.match(error, /UNAVAILABLE.*(unable to verify|self.signed|certificate)/i);
    assertNoSecret(error, "lastError");
    assert.equal(tlsReceiver.metricRequests.length, 0, "nothing may reach an untrusted server");
    await s.shutdown();
    assertNoSecret(raw.join(""), "the log");
  });
});

describe("OTLP TLS: a receiver that requires a client certificate", () => {
  it("(c) accepts the exporter with cert_file/key_file", async () => {
    mtlsReceiver.clear();
    const { sink: s, raw } = sink(mtlsReceiver.endpoint, {
      tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey },
    });
    s.recordRtcp(rtcp("leg-mtls", 3));
    await s.forceFlush();
    assert.equal(s.stats.exportErrors, 0, s.stats.lastError ?? "");
    assert.equal(mtlsReceiver.points("freeswitch.rtcp.jitter").length, 1);
    await s.shutdown();
    assertNoSecret(raw.join(""), "the log");
  });

  it("(c) refuses the exporter without them", async () => {
    mtlsReceiver.clear();
    const { sink: s, raw } = sink(mtlsReceiver.endpoint, {
      tls: { ...NO_TLS, caFile: pki.caCert },
    });
    s.recordRtcp(rtcp("leg-no-client-cert", 4));
    await s.forceFlush();
    assert.equal(s.stats.exportErrors, 1);
    const error = s.stats.lastError ?? "";
    assert.ok(error !== "" && !error.includes("\n"), error);
    // The server's TLS 1.3 alert 116, "certificate required", as grpc-js reports it.
    assert.match(error, /UNAVAILABLE.*certificate required/i);
    assertNoSecret(error, "lastError");
    assert.equal(mtlsReceiver.metricRequests.length, 0, "the receiver must not accept it");
    await s.shutdown();
    assertNoSecret(raw.join(""), "the log");
  });
});
