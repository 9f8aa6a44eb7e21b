import type { StorageConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import { MemoryStore } from "./memory-store.js";
import { RedisStore, type RedisStoreOptions } from "./redis-store.js";
import type { LegStore } from "./store.js";

export interface LegStoreDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Tuning of the Redis store (flush interval, batch size, timeouts, reconnect backoff). */
  readonly redis?: Omit<RedisStoreOptions, "logger" | "clock">;
}

/** The store the configuration asks for. Never throws for a reachable-or-not Redis: it connects in the background. */
export function createLegStore(config: StorageConfig, deps: LegStoreDeps): LegStore {
  switch (config.type) {
    case "memory":
      return new MemoryStore({
        maxLegs: config.maxLegs,
        legTtlMs: config.legTtlMs,
        clock: deps.clock,
      });
    case "redis":
      return new RedisStore(config, { ...deps.redis, logger: deps.logger, clock: deps.clock });
  }
}
