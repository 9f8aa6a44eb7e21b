// Issue 9: GET /api/status and GET / against a hand-built agent view: the documented body,
// exactly; worst-first order; the leg limit and the bound on the response; http.ui off; the
// page is self-contained and its Content-Security-Policy admits exactly its inline code. The
// ring and the sampler behind the charts, on the manual clock.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { newConnectionStats } from "../../src/esl/status.js";
import { CALL_MOS_BUCKETS } from "../../src/export/metrics.js";
import { ServerHealth } from "../../src/fs-health/server-health.js";
import {
  parseGateways,
  parseProfileRegistrations,
  parseProfiles,
} from "../../src/fs-health/sofia-xml.js";
import { addToSummary, type SummaryReport } from "../../src/legs/fold-rtcp.js";
import { silentLogger } from "../../src/log/logger.js";
import { EventCounters } from "../../src/pipeline/counters.js";
import type { EndedLeg, StatusSample } from "../../src/pipeline/status-history.js";
import type { LegLabels, RtcpSummary } from "../../src/quality/types.js";
import { type HttpServerHandle, startHttpServer } from "../../src/server/http.js";
import type {
  ActiveLegView,
  AgentView,
  HaView,
  InstanceView,
  StatusSnapshot,
} from "../../src/server/source.js";
import { MAX_LEG_LIMIT } from "../../src/server/status.js";
import type { StatusBody } from "../../src/server/status-body.js";
import { statusPage } from "../../src/server/status-page.js";
import { systemClock } from "../../src/util/clock.js";

const NOW = Date.UTC(2026, 10, 24, 21, 40, 0);
const fixture = (file: string): string =>
  readFileSync(new URL(`../fixtures/freeswitch-1.11/health/${file}`, import.meta.url), "utf8");

function labels(channelId: string, extra: Partial<LegLabels> = {}): LegLabels {
  return {
    channelId,
    correlationId: `call-${channelId}`,
    domainName: "tenant-a.example",
    callDirection: "inbound",
    codecName: "PCMU",
    srcIp: "198.51.100.7",
    dstIp: "10.0.0.5",
    ...extra,
  };
}

function summary(...reports: Partial<SummaryReport>[]): RtcpSummary | null {
  let s: RtcpSummary | null = null;
  for (const r of reports) {
    s = addToSummary(s, {
      jitterMs: 0,
      fractionLost: 0,
      packetsLost: 0,
      rttMs: undefined,
      mos: 4.4,
      ...r,
    });
  }
  return s;
}

function leg(
  channelId: string,
  ageS: number,
  rtcpIn: RtcpSummary | null,
  rtcpOut: RtcpSummary | null = null,
  extra: Partial<LegLabels> = {},
): ActiveLegView {
  return {
    instance: "fs1",
    labels: labels(channelId, extra),
    since: NOW - ageS * 1000,
    rtcpIn,
    rtcpOut,
  };
}

class FakeAgent implements AgentView {
  list: InstanceView[] = [];
  legs: ActiveLegView[] = [];
  ended: EndedLeg[] = [];
  samples: StatusSample[] = [];
  haView: HaView | undefined;
  instances(): readonly InstanceView[] {
    return this.list;
  }
  storageOperations() {
    return [];
  }
  legStore() {
    return { legs: this.legs.length, evicted: 0, expired: 0 };
  }
  exporter() {
    return {
      exports: 0,
      exportErrors: 0,
      sent: 0,
      retried: 0,
      dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
      queued: 0,
      capacity: 0,
    };
  }
  ha(): HaView | undefined {
    return this.haView;
  }
  status(): StatusSnapshot {
    const legs = this.legs;
    return {
      version: "9.9.9",
      startedAt: NOW - 3_725_000,
      now: NOW,
      activeLegs: () => legs,
      endedLegs: this.ended,
      samples: this.samples,
      sampleIntervalMs: 5_000,
      mosBuckets: CALL_MOS_BUCKETS,
    };
  }
}

const servers: HttpServerHandle[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(view: AgentView, ui: boolean | undefined): Promise<HttpServerHandle> {
  const server = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    ...(ui === undefined ? {} : { ui }),
    view,
    registry: new Registry(),
    logger: silentLogger(),
  });
  servers.push(server);
  return server;
}

async function status(server: HttpServerHandle, query = ""): Promise<StatusBody> {
  const res = await fetch(`${server.url}/api/status${query}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  return (await res.json()) as StatusBody;
}

describe("GET /api/status", () => {
  const agent = new FakeAgent();
  let server: HttpServerHandle;
  before(async () => {
    server = await serve(agent, true);
  });

  it("has exactly the documented shape", async () => {
    // fs1's FreeSWITCH answered as the real 1.11 of the fixtures did (test/fixtures/…/health).
    const health = new ServerHealth("fs1", { ...systemClock, now: () => NOW - 2000 }, () => {});
    health.status(fixture("during-call-status.txt"));
    health.hostnameAnswer(fixture("hostname.txt"));
    health.sofia(
      (parseProfiles(fixture("sofia-xmlstatus.xml")) ?? []).map((p) => ({
        ...p,
        registrations: parseProfileRegistrations(fixture(`sofia-xmlstatus-profile-${p.name}.xml`)),
      })),
      parseGateways(fixture("sofia-xmlstatus-gateway.xml")) ?? [],
    );
    const fs1 = {
      stats: newConnectionStats("fs1"),
      events: new EventCounters(),
      server: health.snapshot(),
    };
    fs1.stats.state = "connected";
    fs1.stats.lastEventAt = NOW - 1500;
    fs1.stats.reconnects = 2;
    const fs2 = { stats: newConnectionStats("fs2"), events: new EventCounters() };
    fs2.stats.state = "auth_failed";
    fs2.stats.lastError = "authentication failed: password rejected by FreeSWITCH";
    agent.list = [fs1, fs2];
    agent.legs = [
      leg(
        "b-leg",
        42,
        summary({ jitterMs: 10, fractionLost: 0.25, rttMs: 80, mos: 3.43061 }),
        summary({ jitterMs: 4, mos: 4.2 }, { jitterMs: 31.234, fractionLost: 0.01, mos: 3.9 }),
        { callDirection: "outbound", codecName: "G722" },
      ),
    ];
    agent.ended = [
      {
        instance: "fs1",
        labels: labels("gone"),
        mos: 4.5,
        mosEstimate: 4.123456,
        jitterAvgMs: 3.333333,
        packetLoss: 7,
        hangupCause: "NORMAL_CLEARING",
        durationS: 30,
        endedAt: NOW - 60_000,
      },
      {
        instance: "fs1",
        labels: labels("silent"),
        mos: undefined,
        mosEstimate: undefined,
        jitterAvgMs: 0,
        packetLoss: 0,
        hangupCause: "",
        durationS: undefined,
        endedAt: NOW - 90_000,
      },
    ];
    agent.samples = [
      {
        at: NOW - 5000,
        eventsPerS: 12.345,
        activeLegs: 3,
        mosEnded: [0, 0, 0, 0, 1, 0, 0, 0, 0, 2],
      },
    ];
    const body = await status(server);
    assert.deepEqual(body, {
      schema: 2,
      generated_at: "2026-11-24T21:40:00.000Z",
      agent: {
        version: "9.9.9",
        started_at: "2026-11-24T20:37:55.000Z",
        uptime_s: 3725,
        replica_id: null,
      },
      instances: [
        {
          name: "fs1",
          state: "connected",
          connected: true,
          last_event_at: "2026-11-24T21:39:58.500Z",
          last_error: null,
          reconnects: 2,
          owned: null,
          owner: null,
          // The figures of during-call-status.txt and the sofia answers, as FreeSWITCH printed them.
          server: {
            version: "1.11.3-dev~64bit",
            hostname: "vm",
            uptime_s: 23.031,
            sessions: { active: 4, limit: 2000, peak: 4, peak_5min: 4, created: 4 },
            session_rate: { current: 0, limit: 200, peak: 4, peak_5min: 4 },
            idle_cpu: 0.7683,
            updated_at: "2026-11-24T21:39:58.000Z",
            profiles: [
              { name: "a", state: "RUNNING", up: true, registrations: 0 },
              { name: "b", state: "RUNNING", up: true, registrations: 1 },
            ],
            gateways: [
              {
                profile: "a",
                name: "nowhere",
                state: "NOREG",
                status: "DOWN",
                up: false,
                ping_s: null,
              },
              {
                profile: "a",
                name: "b-ping",
                state: "NOREG",
                status: "UP",
                up: true,
                ping_s: 0.00158,
              },
              { profile: "a", name: "b-reg", state: "REGED", status: "UP", up: true, ping_s: null },
            ],
            polled_at: "2026-11-24T21:39:58.000Z",
          },
        },
        {
          name: "fs2",
          state: "auth_failed",
          connected: false,
          last_event_at: null,
          last_error: "authentication failed: password rejected by FreeSWITCH",
          reconnects: 0,
          owned: null,
          owner: null,
          server: null,
        },
      ],
      totals: {
        active_legs: 1,
        active_legs_listed: 1,
        quality: { good: 0, fair: 0, poor: 1, unknown: 0 },
        events_per_s: 12.35,
      },
      limit: 100,
      active_legs: [
        {
          fs_instance: "fs1",
          channel_id: "b-leg",
          correlation_id: "call-b-leg",
          domain_name: "tenant-a.example",
          codec_name: "G722",
          call_direction: "outbound",
          age_s: 42,
          mos_estimate: 3.43,
          jitter_ms: 31.23,
          fraction_lost: 0.25,
          rtt_ms: 80,
          inbound: {
            reports: 1,
            jitter_ms: 10,
            fraction_lost: 0.25,
            rtt_ms: 80,
            mos_estimate: 3.43,
          },
          // The latest report: 31.234 ms, not the mean or the first.
          outbound: {
            reports: 2,
            jitter_ms: 31.23,
            fraction_lost: 0.01,
            rtt_ms: null,
            mos_estimate: 3.9,
          },
        },
      ],
      ended_legs: [
        {
          fs_instance: "fs1",
          channel_id: "gone",
          correlation_id: "call-gone",
          domain_name: "tenant-a.example",
          codec_name: "PCMU",
          call_direction: "inbound",
          ended_at: "2026-11-24T21:39:00.000Z",
          duration_s: 30,
          hangup_cause: "NORMAL_CLEARING",
          mos: 4.5,
          mos_estimate: 4.12,
          jitter_avg_ms: 3.33,
          packet_loss: 7,
        },
        {
          fs_instance: "fs1",
          channel_id: "silent",
          correlation_id: "call-silent",
          domain_name: "tenant-a.example",
          codec_name: "PCMU",
          call_direction: "inbound",
          ended_at: "2026-11-24T21:38:30.000Z",
          duration_s: null,
          hangup_cause: null,
          mos: null,
          mos_estimate: null,
          jitter_avg_ms: 0,
          packet_loss: 0,
        },
      ],
      charts: {
        interval_s: 5,
        mos_buckets: [1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4],
        samples: [
          {
            at: "2026-11-24T21:39:55.000Z",
            events_per_s: 12.35,
            active_legs: 3,
            mos_ended: [0, 0, 0, 0, 1, 0, 0, 0, 0, 2],
          },
        ],
      },
    });
  });

  it("lists the worst first: lowest MOS, then highest jitter, legs without reports last", async () => {
    agent.list = [];
    agent.ended = [];
    agent.samples = [];
    agent.legs = [
      leg("quiet-old", 90, null),
      leg("good", 10, summary({ mos: 4.3, jitterMs: 2 })),
      leg("quiet-new", 5, null),
      leg("poor-out", 20, summary({ mos: 4.4 }), summary({ mos: 2.9, jitterMs: 1 })),
      leg("fair-jittery", 30, summary({ mos: 3.8, jitterMs: 25 })),
      leg("fair-smooth", 40, summary({ mos: 3.8, jitterMs: 5 })),
      // Was poor, the latest report is good: the latest counts.
      leg("recovered", 50, summary({ mos: 1.2 }, { mos: 4.1, jitterMs: 3 })),
    ];
    const body = await status(server);
    assert.deepEqual(
      body.active_legs.map((l) => l.channel_id),
      ["poor-out", "fair-jittery", "fair-smooth", "recovered", "good", "quiet-old", "quiet-new"],
    );
    assert.deepEqual(body.totals.quality, { good: 2, fair: 2, poor: 1, unknown: 2 });
    assert.equal(body.totals.events_per_s, null, "no sample yet");
    const quiet = body.active_legs.find((l) => l.channel_id === "quiet-old");
    assert.deepEqual(quiet?.inbound, {
      reports: 0,
      jitter_ms: null,
      fraction_lost: null,
      rtt_ms: null,
      mos_estimate: null,
    });
    assert.equal(quiet?.mos_estimate, null);
  });

  it("is bounded: 100 legs by default, ?limit= up to 500, the totals count every leg", async () => {
    agent.legs = Array.from({ length: 3000 }, (_, i) =>
      leg(`leg-${String(i).padStart(4, "0")}`, i % 300, summary({ mos: 1 + (i % 350) / 100 })),
    );
    const byDefault = await status(server);
    assert.equal(byDefault.active_legs.length, 100);
    assert.equal(byDefault.limit, 100);
    assert.equal(byDefault.totals.active_legs, 3000);
    assert.equal(byDefault.totals.active_legs_listed, 100);
    const all = Array.from({ length: 3000 }, (_, i) => 1 + (i % 350) / 100).sort((a, b) => a - b);
    assert.deepEqual(
      byDefault.active_legs.map((l) => l.mos_estimate),
      all.slice(0, 100).map((m) => Math.round(m * 100) / 100),
      "the 100 worst of 3000, in order",
    );

    const res = await fetch(`${server.url}/api/status?limit=100000`);
    const text = await res.text();
    const most = JSON.parse(text) as StatusBody;
    assert.equal(most.limit, MAX_LEG_LIMIT);
    assert.equal(most.active_legs.length, 500);
    assert.ok(text.length < 400_000, `500 legs take ${text.length} bytes`);

    assert.equal((await status(server, "?limit=3")).active_legs.length, 3);
    const none = await status(server, "?limit=0");
    assert.deepEqual(none.active_legs, []);
    assert.equal(none.totals.active_legs, 3000);

    for (const bad of ["-1", "ten", "1.5", "1e3", "%20"]) {
      const r = await fetch(`${server.url}/api/status?limit=${bad}`);
      assert.equal(r.status, 400, bad);
      const error = ((await r.json()) as { error: string }).error;
      assert.match(error, /^limit: expected an integer from 0 to 500/);
    }
  });

  it("with HA: the replica id and each instance's owned and owner", async () => {
    agent.legs = [];
    const fs1 = {
      stats: newConnectionStats("fs1"),
      events: new EventCounters(),
      owned: true,
      owner: "r1",
    };
    const fs2 = {
      stats: newConnectionStats("fs2"),
      events: new EventCounters(),
      owned: false,
      owner: null,
    };
    agent.list = [fs1, fs2];
    agent.haView = {
      replicaId: "r1",
      redisReachable: true,
      replicas: 2,
      fairShare: 1,
      leasesHeld: 1,
      acquisitions: 1,
      losses: { refused: 0, expired: 0 },
      handovers: 0,
      unreachableReleases: 0,
      redisErrors: 0,
      qosClaims: { claimed: 0, duplicate: 0, unclaimed: 0, fenced: 0 },
      fencedWrites: { leg_state: 0, leg_delete: 0 },
    };
    try {
      const body = await status(server);
      assert.equal(body.agent.replica_id, "r1");
      assert.deepEqual(
        body.instances.map((i) => [i.name, i.owned, i.owner]),
        [
          ["fs1", true, "r1"],
          ["fs2", false, null],
        ],
      );
    } finally {
      agent.haView = undefined;
    }
  });

  it("GET and HEAD only", async () => {
    const post = await fetch(`${server.url}/api/status`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.arrayBuffer();
    const head = await fetch(`${server.url}/api/status`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });
});

describe("GET / (the status page)", () => {
  let server: HttpServerHandle;
  before(async () => {
    server = await serve(new FakeAgent(), true);
  });

  it("is one small self-contained HTML document", async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await res.text();
    assert.equal(html, statusPage().html.toString("utf8"));
    const bytes = Buffer.byteLength(html);
    assert.ok(bytes < 40 * 1024, `${bytes} bytes`);
    // Nothing from elsewhere: no external script, stylesheet, font, image or link.
    for (const m of html.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/g)) {
      assert.match(m[1] ?? "", /^(data:|api\/status$|health$|metrics$)/, `reference ${m[0]}`);
    }
    assert.doesNotMatch(html, /@import|url\(|<link rel="stylesheet"|<script src/i);
    assert.deepEqual(
      [...html.matchAll(/https?:\/\/[^\s"')]+/g)].map((m) => m[0]),
      ["http://www.w3.org/2000/svg"],
      "the only URL is the SVG namespace",
    );
  });

  it("sends a Content-Security-Policy that admits exactly its inline style and script", async () => {
    const res = await fetch(`${server.url}/`);
    const html = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";
    const hash = (text: string) =>
      `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
    const script = /<script type="module">([\s\S]*)<\/script>/.exec(html)?.[1] ?? "";
    const style = /<style>([\s\S]*)<\/style>/.exec(html)?.[1] ?? "";
    assert.ok(script.length > 1000 && style.length > 500);
    assert.ok(csp.includes(`script-src ${hash(script)};`), csp);
    assert.ok(csp.includes(`style-src ${hash(style)};`), csp);
    assert.match(csp, /^default-src 'none';/);
    assert.match(csp, /connect-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  });
});

describe("http.ui off, or a view without status data", () => {
  it("answers / and /api/status 404 like any unknown path", async () => {
    const off = await serve(new FakeAgent(), false);
    const unset = await serve(new FakeAgent(), undefined);
    const noData = new FakeAgent() as Partial<FakeAgent>;
    noData.status = undefined;
    const without = await serve(noData as AgentView, true);
    for (const server of [off, unset, without]) {
      for (const path of ["/", "/api/status", "/api/status?limit=5"]) {
        const res = await fetch(`${server.url}${path}`);
        assert.equal(res.status, 404, path);
        assert.deepEqual(await res.json(), { error: "not found" });
      }
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
    }
  });
});
