// One instance's pipeline as the agent wires it: a leg tracker and the router that feeds it.

import { LegTracker, type LookupLimits } from "../../src/legs/leg-tracker.js";
import { silentLogger } from "../../src/log/logger.js";
import { EventCounters } from "../../src/pipeline/counters.js";
import { LiveSummary } from "../../src/pipeline/live-summary.js";
import type { QualitySinks } from "../../src/pipeline/quality-sinks.js";
import { Router } from "../../src/pipeline/router.js";
import type { LegStore } from "../../src/state/store.js";
import type { Clock } from "../../src/util/clock.js";

export interface PipelineOptions {
  readonly store: LegStore;
  readonly sinks?: Partial<QualitySinks>;
  readonly instance?: string;
  /** FreeSWITCH's API as the tracker sends it (`uuid_dump <uuid> json`, `show channels as json`). */
  readonly api?: (command: string) => Promise<string>;
  readonly clock?: Clock;
  /** Look-up rate, "no such channel" TTL, waiting bytes (default: the configuration's defaults). */
  readonly limits?: LookupLimits;
}

export interface Pipeline {
  readonly router: Router;
  readonly legs: LegTracker;
  readonly counters: EventCounters;
}

const ignore = (): void => undefined;

export function pipeline(options: PipelineOptions): Pipeline {
  const instance = options.instance ?? "fs1";
  const sinks: QualitySinks = {
    rtcp: options.sinks?.rtcp ?? ignore,
    qos: options.sinks?.qos ?? ignore,
    legEnded: options.sinks?.legEnded ?? ignore,
    legCompleted: options.sinks?.legCompleted ?? ignore,
  };
  const counters = new EventCounters();
  const logger = silentLogger();
  const legs = new LegTracker({
    instance,
    store: options.store,
    counters,
    sinks,
    logger,
    // FreeSWITCH's answer for a leg it does not have.
    api: options.api ?? (async () => "-ERR No such channel!\n"),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const router = new Router({
    instance,
    counters,
    legs,
    sinks,
    summary: new LiveSummary(),
    events: { rtcp: true, qos: true },
    logger,
  });
  return { router, legs, counters };
}

/** An api that answers `uuid_dump <uuid> json` with `dump(uuid)` (undefined: no such channel). */
export function uuidDumps(
  dump: (
    uuid: string,
  ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>,
  asked: string[] = [],
): (command: string) => Promise<string> {
  return async (command) => {
    const match = /^uuid_dump (\S+) json$/.exec(command);
    if (match === null) throw new Error(`unexpected command: ${command}`);
    const uuid = match[1] as string;
    asked.push(uuid);
    const fields = await dump(uuid);
    return fields === undefined ? "-ERR No such channel!\n" : JSON.stringify(fields);
  };
}
