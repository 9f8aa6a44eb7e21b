// GET /api/status: what the status page shows, as documented JSON operators may script against
// (docs/status-page.md, "/api/status"; its types are in status-body.ts). Bounded: at most
// MAX_LEG_LIMIT active legs (the worst first) whatever the agent holds, the last ended legs and
// the chart samples (both rings).
// Nothing here can carry a secret: labels, connection states (the last error is already cut to
// one line without credentials, as in /health), figures.

import type { ServerSnapshot } from "../fs-health/server-health.js";
import type { EndedLeg, StatusSample } from "../pipeline/status-history.js";
import type { RtcpSummary } from "../quality/types.js";
import type { ActiveLegView, AgentView, StatusSnapshot } from "./source.js";
import {
  STATUS_SCHEMA,
  type StatusBody,
  type StatusChartSample,
  type StatusDirection,
  type StatusEndedLeg,
  type StatusGateway,
  type StatusInstance,
  type StatusLeg,
  type StatusServer,
} from "./status-body.js";

export const DEFAULT_LEG_LIMIT = 100;
export const MAX_LEG_LIMIT = 500;

/** The page's quality thresholds, also in docs/status-page.md: MOS ≥ 4 good, ≥ 3.5 fair, else poor. */
export const MOS_GOOD = 4;
export const MOS_FAIR = 3.5;

/** `?limit=`: absent → the default; an integer ≥ 0 (above the maximum: the maximum); else an error text. */
export function parseLegLimit(value: string | null): number | string {
  if (value === null || value === "") return DEFAULT_LEG_LIMIT;
  if (!/^\d{1,9}$/.test(value)) {
    return `limit: expected an integer from 0 to ${MAX_LEG_LIMIT}, got ${JSON.stringify(value.slice(0, 20))}`;
  }
  return Math.min(MAX_LEG_LIMIT, Number(value));
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

function rounded(value: number | null | undefined, decimals: number): number | null {
  return value === null || value === undefined || !Number.isFinite(value)
    ? null
    : round(value, decimals);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function direction(s: RtcpSummary | null): StatusDirection {
  if (s === null || s.reports === 0) {
    return { reports: 0, jitter_ms: null, fraction_lost: null, rtt_ms: null, mos_estimate: null };
  }
  return {
    reports: s.reports,
    jitter_ms: rounded(s.lastJitterMs, 2),
    fraction_lost: rounded(s.lastFractionLost, 4),
    rtt_ms: rounded(s.lastRttMs, 1),
    mos_estimate: rounded(s.lastMos, 2),
  };
}

/** The worse of two optional values: `pick` chooses between two known ones. */
function worse(
  a: number | null | undefined,
  b: number | null | undefined,
  pick: (x: number, y: number) => number,
): number | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  return pick(a, b);
}

interface Ranked {
  readonly leg: ActiveLegView;
  readonly mos: number | null;
  readonly jitter: number | null;
}

function rank(leg: ActiveLegView): Ranked {
  const i = leg.rtcpIn;
  const o = leg.rtcpOut;
  // Ranked on the values as published (rounded), so the order, the quality totals and what the
  // page shows agree.
  return {
    leg,
    mos: rounded(worse(i?.lastMos, o?.lastMos, Math.min), 2),
    jitter: rounded(worse(i?.lastJitterMs, o?.lastJitterMs, Math.max), 2),
  };
}

/**
 * Worst first: the lowest latest MOS estimate, then the highest jitter; legs without any report
 * after every leg with one; then the oldest first, then by channel id (a stable order).
 */
function worstFirst(a: Ranked, b: Ranked): number {
  if (a.mos !== b.mos) {
    if (a.mos === null) return 1;
    if (b.mos === null) return -1;
    return a.mos - b.mos;
  }
  if (a.jitter !== b.jitter) {
    if (a.jitter === null) return 1;
    if (b.jitter === null) return -1;
    return b.jitter - a.jitter;
  }
  if (a.leg.since !== b.leg.since) return a.leg.since - b.leg.since;
  return a.leg.labels.channelId < b.leg.labels.channelId ? -1 : 1;
}

function activeLeg(r: Ranked, now: number): StatusLeg {
  const { leg } = r;
  const l = leg.labels;
  const inbound = direction(leg.rtcpIn);
  const outbound = direction(leg.rtcpOut);
  return {
    fs_instance: leg.instance,
    channel_id: l.channelId,
    correlation_id: l.correlationId,
    domain_name: l.domainName,
    codec_name: l.codecName,
    call_direction: l.callDirection,
    age_s: Math.max(0, Math.floor((now - leg.since) / 1000)),
    mos_estimate: worse(inbound.mos_estimate, outbound.mos_estimate, Math.min),
    jitter_ms: worse(inbound.jitter_ms, outbound.jitter_ms, Math.max),
    fraction_lost: worse(inbound.fraction_lost, outbound.fraction_lost, Math.max),
    rtt_ms: worse(inbound.rtt_ms, outbound.rtt_ms, Math.max),
    inbound,
    outbound,
  };
}

function endedLeg(e: EndedLeg): StatusEndedLeg {
  const l = e.labels;
  return {
    fs_instance: e.instance,
    channel_id: l.channelId,
    correlation_id: l.correlationId,
    domain_name: l.domainName,
    codec_name: l.codecName,
    call_direction: l.callDirection,
    ended_at: iso(e.endedAt),
    duration_s: e.durationS ?? null,
    hangup_cause: e.hangupCause === "" ? null : e.hangupCause,
    mos: rounded(e.mos, 2),
    mos_estimate: rounded(e.mosEstimate, 2),
    jitter_avg_ms: rounded(e.jitterAvgMs, 2),
    packet_loss: e.packetLoss ?? null,
  };
}

function chartSample(s: StatusSample): StatusChartSample {
  return {
    at: iso(s.at),
    events_per_s: round(s.eventsPerS, 2),
    active_legs: s.activeLegs,
    mos_ended: [...s.mosEnded],
  };
}

/** Down gateways first (what an operator looks for), then by profile and name. */
function gatewayOrder(a: StatusGateway, b: StatusGateway): number {
  if (a.up !== b.up) return a.up ? 1 : -1;
  return a.profile.localeCompare(b.profile) || a.name.localeCompare(b.name);
}

/** An instance's own figures; null when nothing was read on the current connection. */
export function statusServer(s: ServerSnapshot): StatusServer | null {
  const { core } = s;
  if (core === null && s.profiles === null && s.gateways === null) return null;
  return {
    version: core?.version ?? null,
    hostname: s.hostname,
    uptime_s: core === null ? null : round(core.uptimeS, 3),
    sessions:
      core === null
        ? null
        : {
            active: core.sessions,
            limit: core.sessionsLimit,
            peak: core.sessionsPeak,
            peak_5min: core.sessionsPeak5min,
            created: core.sessionsCreated,
          },
    session_rate:
      core === null
        ? null
        : {
            current: core.sessionRate,
            limit: core.sessionRateLimit,
            peak: core.sessionRatePeak,
            peak_5min: core.sessionRatePeak5min,
          },
    idle_cpu: core === null ? null : round(core.idleCpu, 4),
    updated_at: s.coreAtMs === null ? null : iso(s.coreAtMs),
    profiles:
      s.profiles?.map((p) => ({
        name: p.name,
        state: p.state,
        up: p.up,
        registrations: p.registrations,
      })) ?? null,
    gateways:
      s.gateways
        ?.map((g) => ({
          profile: g.profile,
          name: g.name,
          state: g.state,
          status: g.status,
          up: g.status === "UP",
          ping_s: g.pingS,
        }))
        .sort(gatewayOrder) ?? null,
    polled_at: s.polledAtMs === null ? null : iso(s.polledAtMs),
  };
}

/** The /api/status body; `limit` active legs at most (already validated). */
export function statusBody(view: AgentView, snapshot: StatusSnapshot, limit: number): StatusBody {
  const { now } = snapshot;
  const ha = view.ha?.();
  const instances: StatusInstance[] = view.instances().map(({ stats, owned, owner, server }) => ({
    name: stats.instance,
    state: stats.state,
    connected: stats.state === "connected",
    last_event_at: stats.lastEventAt === null ? null : iso(stats.lastEventAt),
    last_error: stats.lastError,
    reconnects: stats.reconnects,
    owned: ha === undefined ? null : owned === true,
    owner: ha === undefined ? null : (owner ?? null),
    server: server === undefined ? null : statusServer(server),
  }));

  const ranked: Ranked[] = [];
  const quality = { good: 0, fair: 0, poor: 0, unknown: 0 };
  for (const leg of snapshot.activeLegs()) {
    const r = rank(leg);
    ranked.push(r);
    if (r.mos === null) quality.unknown++;
    else if (r.mos >= MOS_GOOD) quality.good++;
    else if (r.mos >= MOS_FAIR) quality.fair++;
    else quality.poor++;
  }
  ranked.sort(worstFirst);
  const listed = ranked.slice(0, limit).map((r) => activeLeg(r, now));
  const last = snapshot.samples[snapshot.samples.length - 1];

  return {
    schema: STATUS_SCHEMA,
    generated_at: iso(now),
    agent: {
      version: snapshot.version,
      started_at: iso(snapshot.startedAt),
      uptime_s: Math.max(0, Math.floor((now - snapshot.startedAt) / 1000)),
      replica_id: ha?.replicaId ?? null,
    },
    instances,
    totals: {
      active_legs: ranked.length,
      active_legs_listed: listed.length,
      quality,
      events_per_s: last === undefined ? null : round(last.eventsPerS, 2),
    },
    limit,
    active_legs: listed,
    ended_legs: snapshot.endedLegs.map(endedLeg),
    charts: {
      interval_s: snapshot.sampleIntervalMs / 1000,
      mos_buckets: [...snapshot.mosBuckets],
      samples: snapshot.samples.map(chartSample),
    },
  };
}
