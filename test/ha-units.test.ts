import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newConnectionStats } from "../src/esl/status.js";
import { InstanceStats } from "../src/ha/instance-stats.js";
import { memberOf, replicaIdOf, resolveReplicaId } from "../src/ha/replica-id.js";
import { EventCounters } from "../src/pipeline/counters.js";
import { healthBody, readyBody } from "../src/server/health.js";
import type { AgentView, HaView, InstanceView } from "../src/server/source.js";

// The small parts of issue 7: replica ids, connection figures across connections, /health and
// /ready with HA, and what a replica forgets when another one takes an instance over.

describe("replica ids", () => {
  it("defaults to <hostname>-<pid> and keeps a configured one; member strings carry a token", () => {
    assert.match(resolveReplicaId(""), new RegExp(`-${process.pid}$`));
    assert.equal(resolveReplicaId("fsagent-0"), "fsagent-0");
    const member = memberOf("pod#1", "abcd0123");
    assert.equal(member, "pod#1#abcd0123");
    assert.equal(replicaIdOf(member), "pod#1");
  });
});

describe("InstanceStats", () => {
  it("adds up the connections an instance had, so counters never go back", () => {
    const stats = new InstanceStats("fs1");
    assert.equal(stats.state, "stopped", "no connection: stopped");
    const first = newConnectionStats("fs1");
    stats.attach(first);
    first.state = "connected";
    first.reconnects = 2;
    first.bytesReceived = 100;
    first.protocolErrors.malformed_header = 1;
    first.lastEventAt = 1_000;
    first.lastError = "boom";
    assert.equal(stats.state, "connected");
    assert.equal(stats.lastError, "boom");
    stats.detach();
    assert.equal(stats.state, "stopped");
    assert.equal(stats.lastError, null);
    assert.equal(stats.reconnects, 2);
    const second = newConnectionStats("fs1");
    stats.attach(second);
    second.reconnects = 1;
    second.bytesReceived = 50;
    second.protocolErrors.malformed_header = 2;
    assert.equal(stats.reconnects, 3);
    assert.equal(stats.bytesReceived, 150);
    assert.equal(stats.protocolErrors.malformed_header, 3);
    assert.equal(stats.lastEventAt, 1_000, "the last event of an earlier connection");
    second.lastEventAt = 2_000;
    assert.equal(stats.lastEventAt, 2_000);
  });
});

function haView(overrides: Partial<HaView> = {}): HaView {
  return {
    replicaId: "r1",
    redisReachable: true,
    replicas: 2,
    fairShare: 1,
    leasesHeld: 0,
    acquisitions: 0,
    losses: { refused: 0, expired: 0 },
    handovers: 0,
    unreachableReleases: 0,
    redisErrors: 0,
    qosClaims: { claimed: 0, duplicate: 0, unclaimed: 0, fenced: 0 },
    fencedWrites: { leg_state: 0, leg_delete: 0 },
    ...overrides,
  };
}

function view(instances: InstanceView[], ha: HaView | undefined): AgentView {
  return {
    instances: () => instances,
    storageOperations: () => [],
    legStore: () => ({ legs: 0, evicted: 0, expired: 0 }),
    exporter: () => ({
      exports: 0,
      exportErrors: 0,
      sent: 0,
      retried: 0,
      dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
      queued: 0,
      capacity: 0,
    }),
    ha: () => ha,
  };
}

function instance(
  name: string,
  connected: boolean,
  owner: string | null,
  self = "r1",
): InstanceView {
  const stats = newConnectionStats(name);
  stats.state = connected ? "connected" : "stopped";
  return { stats, events: new EventCounters(), owned: owner === self, owner };
}

describe("/health and /ready with HA", () => {
  it("says why when reachability decided who owns an instance, and nothing otherwise", () => {
    const released =
      "released: unreachable from this replica for 31 s (connection refused); held by r2";
    const body = healthBody(
      view(
        [
          { ...instance("fs1", false, "r2"), note: released },
          { ...instance("fs2", true, "r1"), note: null },
        ],
        haView({ leasesHeld: 1 }),
      ),
    );
    assert.equal(body.connections.fs1?.note, released);
    assert.equal(body.connections.fs1?.owner, "r2");
    assert.equal("note" in (body.connections.fs2 ?? {}), false);
  });

  it("shows per instance whether this replica owns it and who does", () => {
    const body = healthBody(
      view([instance("fs1", true, "r1"), instance("fs2", false, "r2")], haView({ leasesHeld: 1 })),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(body)), {
      status: "healthy",
      connections: {
        fs1: { connected: true, state: "connected", reconnects: 0, owned: true, owner: "r1" },
        fs2: { connected: false, state: "stopped", reconnects: 0, owned: false, owner: "r2" },
      },
      ha: { replica_id: "r1", redis: "reachable", replicas: 2, leases_held: 1, fair_share: 1 },
    });
  });

  it("judges a replica by the instances it owns; a standby is healthy and ready while Redis answers", () => {
    const cases: [InstanceView[], boolean, string, boolean][] = [
      // owned instances, Redis reachable, status, ready
      [[instance("fs1", false, "r2")], true, "healthy", true],
      [[instance("fs1", false, null)], false, "degraded", false],
      [[instance("fs1", true, "r1"), instance("fs2", false, "r1")], true, "degraded", true],
      [[instance("fs1", false, "r1")], true, "unhealthy", true],
      [[instance("fs1", false, "r1")], false, "unhealthy", false],
      [[instance("fs1", true, "r1")], false, "degraded", true],
    ];
    for (const [instances, reachable, status, ready] of cases) {
      const v = view(instances, haView({ redisReachable: reachable }));
      assert.equal(
        healthBody(v).status,
        status,
        JSON.stringify([instances.map((i) => i.owner), reachable]),
      );
      assert.equal(readyBody(v).ready, ready);
    }
    // Without HA nothing changes: no owned/owner fields, no ha block.
    const plain = healthBody(view([instance("fs1", true, null)], undefined));
    assert.deepEqual(Object.keys(plain), ["status", "connections"]);
    assert.deepEqual(Object.keys(plain.connections.fs1 ?? {}), [
      "connected",
      "state",
      "reconnects",
    ]);
  });
});
