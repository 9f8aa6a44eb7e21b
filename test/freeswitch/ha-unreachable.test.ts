// Issue 21, "A lease holder that cannot reach its FreeSWITCH", on a real FreeSWITCH: three
// replicas share it through Redis leases (random key prefix on 127.0.0.1:6379); the first one's
// config names a refusing port for the same instance name, and it starts first so it takes the
// lease. After ha.unreachable_release_after (the default, 30 s) of refused connections it must
// hand the lease to a replica that can reach it: the FreeSWITCH is consumed within 60 s of the
// first replica taking it, and each replica's /health says who owns it and why.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../support/child.js";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import { FS_NAME, Rig } from "../support/fs-rig.js";
import {
  type AgentInstance,
  consumerOf,
  deleteRedisKeys,
  Replica,
  replicaEnv,
  sample,
} from "../support/ha.js";
import { closedPort, pollUntil } from "../support/net.js";

const TTL_MS = 3_000;
/** ha.unreachable_release_after's default, left unset in the replicas' environment. */
const RELEASE_AFTER_MS = 30_000;
/** The bound: a replica that can reach it consumes it within this. */
const TAKEOVER_BOUND_MS = 60_000;

describe("real FreeSWITCH: a lease holder that cannot reach it", {
  skip: skipWithoutFreeswitch(),
}, () => {
  const prefix = `fsagent-ha-unreach-${randomUUID()}:`;
  let rig: Rig;
  let cwd: { dir: string; remove(): void };
  const replicas: Replica[] = [];

  const env = (id: string, instance: AgentInstance): Record<string, string> =>
    replicaEnv({
      instances: [instance],
      replicaId: id,
      keyPrefix: prefix,
      leaseTtl: String(TTL_MS / 1000),
      redisPort: 6379,
      otlpEndpoint: rig.receiver.endpoint,
    });

  before(async () => {
    rig = await Rig.start({ name: "haunreach" });
    cwd = tempDir();
  });

  after(async () => {
    for (const r of replicas) await r.process.kill();
    await rig?.dispose();
    cwd?.remove();
    await deleteRedisKeys(prefix);
  });

  it("the holder behind a refusing port hands over after 30 s; a reachable replica consumes it within 60 s", async (t) => {
    const good = rig.fs.agentInstance(FS_NAME);
    // The same instance name, a port nothing listens on: this replica alone cannot reach it.
    const dead = { ...good, port: await closedPort() };
    const blind = await Replica.start(cwd.dir, env("replica-a", dead));
    replicas.push(blind);
    await pollUntil(
      async () => (await blind.health()).connections[FS_NAME]?.owned === true,
      (yes) => yes,
      "replica-a holds the lease",
      15_000,
    );
    const heldAt = blind.logTime(/took the lease/) ?? Date.now();
    for (const id of ["replica-b", "replica-c"]) {
      replicas.push(await Replica.start(cwd.dir, env(id, good)));
    }

    const consumer = await pollUntil(
      () => consumerOf(replicas.slice(1), FS_NAME),
      (r) => r !== undefined,
      "a reachable replica consumes the FreeSWITCH",
      TAKEOVER_BOUND_MS + 5_000,
    );
    assert.ok(consumer);
    const tookMs = Date.now() - heldAt;
    const releasedAt = blind.logTime(/cannot reach .* handing it over/);
    assert.ok(releasedAt !== undefined, "replica-a logs why it hands the lease over");
    t.diagnostic(
      `replica-a released ${releasedAt - heldAt} ms after taking the lease (release after ${RELEASE_AFTER_MS} ms); ${consumer.id} consuming ${tookMs} ms after it`,
    );
    assert.ok(releasedAt - heldAt >= RELEASE_AFTER_MS, "not released before 30 s of failures");
    assert.ok(tookMs <= TAKEOVER_BOUND_MS, `consumed ${tookMs} ms after replica-a took the lease`);

    // Who owns what and why, from each replica. Polled: the others learn the owner at their
    // next lease round.
    const third = replicas.find((r) => r !== blind && r !== consumer)!;
    const views = await pollUntil(
      async () => Promise.all(replicas.map(async (r) => (await r.health()).connections[FS_NAME])),
      (all) => all.every((c) => c?.owner === consumer.id && c.note !== undefined),
      "every replica names the owner and says why",
      5_000,
    );
    const [a, ...rest] = views;
    for (const [i, view] of views.entries())
      t.diagnostic(`${replicas[i]?.id}: ${JSON.stringify(view)}`);
    assert.equal(a?.owned, false);
    assert.match(
      a?.note ?? "",
      new RegExp(
        `^released: unreachable from this replica for \\d+ s \\(connection refused\\); held by ${consumer.id}$`,
      ),
    );
    const ownerView = rest[replicas.indexOf(consumer) - 1];
    assert.equal(ownerView?.owned, true);
    assert.equal(ownerView?.connected, true);
    assert.equal(ownerView?.note, `held by ${consumer.id}; unreachable from replica-a`);
    const thirdView = rest[replicas.indexOf(third) - 1];
    assert.equal(thirdView?.owned, false);
    assert.equal(thirdView?.note, `held by ${consumer.id}; unreachable from replica-a`);

    // Exactly one consumer, and replica-a counted its release.
    for (const r of [blind, third]) assert.deepEqual(await r.consuming(), [], r.id);
    assert.equal(sample(await blind.metrics(), "fsagent_ha_unreachable_releases_total"), 1);
    assert.equal(sample(await consumer.metrics(), "fsagent_ha_unreachable_releases_total"), 0);
  });
});
