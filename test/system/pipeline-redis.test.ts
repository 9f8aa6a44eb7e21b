// The pipeline with Redis state on 127.0.0.1:6379: what a restarted agent reads back.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { PlainEvent } from "../../src/esl/event.js";
import { plainEventBody } from "../../src/esl/wire.js";
import { silentLogger } from "../../src/log/logger.js";
import { RedisStore } from "../../src/state/redis-store.js";
import { pipeline } from "../support/pipeline.js";
import { waitFor } from "../support/wait.js";

function channel(
  name: string,
  uuid: string,
  callUuid: string,
  vars: Array<[string, string]> = [],
): PlainEvent {
  return new PlainEvent(
    plainEventBody([
      ["Event-Name", name],
      ["Unique-ID", uuid],
      ["Call-Direction", uuid === callUuid ? "inbound" : "outbound"],
      ["Channel-Call-UUID", callUuid],
      ...vars,
    ]),
  );
}

describe("the pipeline with Redis state", () => {
  it("with Redis, a B-leg created after a restart inherits the A-leg's labels from Redis", async () => {
    const keyPrefix = `fsagent-test-${randomUUID()}:`;
    const config = {
      type: "redis" as const,
      maxLegs: 1000,
      legTtlMs: 60_000,
      redis: {
        host: "127.0.0.1",
        port: 6379,
        password: "",
        db: 0,
        keyPrefix,
        username: "",
        tls: false,
        caFile: "",
      },
    };
    const before = new RedisStore(config, { logger: silentLogger() });
    assert.equal(await before.ready(5000), true);
    const first = pipeline({ store: before });
    first.router.handle(
      channel("CHANNEL_CREATE", "A1", "A1", [
        ["variable_sip_call_id", "call-id-of-a"],
        ["variable_domain_name", "tenant.example"],
      ]),
    );
    await before.close(); // the agent stops: its state is flushed to Redis

    const afterRestart = new RedisStore(config, { logger: silentLogger() });
    assert.equal(await afterRestart.ready(5000), true);
    const second = pipeline({ store: afterRestart });
    second.router.handle(
      channel("CHANNEL_CREATE", "B1", "A1", [["variable_sip_from_host", "10.0.0.1"]]),
    );
    await waitFor(() => afterRestart.peek("B1") !== undefined, "the B-leg's state");
    assert.equal(afterRestart.peek("B1")?.labels.correlationId, "call-id-of-a");
    assert.equal(afterRestart.peek("B1")?.labels.domainName, "tenant.example");

    const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true });
    await redis.connect();
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await afterRestart.close();
  });
});
