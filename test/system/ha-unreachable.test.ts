// Issue 21, a lease holder that cannot reach its FreeSWITCH, when nobody can: three replica
// processes (Redis on 127.0.0.1:6379, random key prefix) whose one instance is a refusing port,
// with ha.unreachable_release_after at 1 s. The first holder hands over after 1 s (the others
// have not tried yet); the next one must keep it, still trying, because the lease already moved
// less than a minute ago: exactly one release, and the instance is never left without an owner.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../support/child.js";
import { deleteRedisKeys, Replica, replicaEnv, sample } from "../support/ha.js";
import { closedPort, pollUntil } from "../support/net.js";

const TTL_MS = 3_000;
/** Watched for this long after the first release: well inside the once-a-minute bound. */
const WATCH_MS = 8_000;

describe("HA: a FreeSWITCH no replica can reach (Redis on 6379)", () => {
  const prefix = `fsagent-ha-unreach-sys-${randomUUID()}:`;
  let cwd: { dir: string; remove(): void };
  const replicas: Replica[] = [];

  before(async () => {
    cwd = tempDir();
    const instance = { name: "fs1", host: "127.0.0.1", port: await closedPort(), password: "x" };
    for (const id of ["replica-a", "replica-b", "replica-c"]) {
      replicas.push(
        await Replica.start(cwd.dir, {
          ...replicaEnv({
            instances: [instance],
            replicaId: id,
            keyPrefix: prefix,
            leaseTtl: String(TTL_MS / 1000),
            redisPort: 6379,
            // Nothing exports here: the test watches leases only.
            otlpEndpoint: "127.0.0.1:1",
          }),
          FSAGENT_HA_UNREACHABLE_RELEASE_AFTER: "1s",
          FSAGENT_ESL_BACKOFF_MAX: "200ms",
        }),
      );
    }
  });

  after(async () => {
    for (const r of replicas) await r.process.kill();
    cwd?.remove();
    await deleteRedisKeys(prefix);
  });

  async function releases(): Promise<number> {
    let total = 0;
    for (const r of replicas) {
      total += sample(await r.metrics(), "fsagent_ha_unreachable_releases_total") ?? 0;
    }
    return total;
  }

  it("moves the lease once, then one replica keeps it and keeps trying; /health says why", async (t) => {
    await pollUntil(releases, (n) => n >= 1, "the first holder releases after 1 s", 15_000);
    const owned = async (): Promise<number> => {
      const views = await Promise.all(
        replicas.map(async (r) => (await r.health()).connections.fs1),
      );
      return views.filter((c) => c?.owned === true).length;
    };
    // The lease changes hands within a lease round; from then on it must stay with one replica.
    await pollUntil(owned, (n) => n === 1, "another replica takes it", 5_000);
    const end = Date.now() + WATCH_MS;
    const counts = new Set<number>();
    while (Date.now() < end) {
      counts.add(await owned());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual([...counts], [1], "exactly one owner at every sample");
    assert.equal(await releases(), 1, "no second release within the minute");

    const views = await Promise.all(replicas.map(async (r) => (await r.health()).connections.fs1));
    for (const [i, v] of views.entries()) t.diagnostic(`${replicas[i]?.id}: ${JSON.stringify(v)}`);
    const holders = views.filter((v) => v?.owned === true);
    assert.equal(holders.length, 1, "one owner");
    const holder = holders[0];
    assert.match(
      holder?.note ?? "",
      /^held although unreachable from this replica for \d+ s \(connection refused\): the lease moved less than 60 s ago/,
    );
    for (const v of views) assert.equal(v?.owner, views.find((x) => x?.owned)?.owner ?? "");
  });
});
