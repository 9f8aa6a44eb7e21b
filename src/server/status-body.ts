// The JSON that GET /api/status answers (docs/status-page.md, "/api/status"), built by
// status.ts. Versioned by `schema`; a field is only ever added, never renamed or retyped, within
// one schema number. This module imports nothing, so that the status page's script
// (status-page/status.js, type-checked for the browser, without Node's types or the rest of the
// agent) reads the body through these same types.

export const STATUS_SCHEMA = 2;

export interface StatusDirection {
  /** RTCP reports of this direction so far. */
  reports: number;
  /** The latest report's values; null before the first report (rtt_ms also when unknown). */
  jitter_ms: number | null;
  fraction_lost: number | null;
  rtt_ms: number | null;
  mos_estimate: number | null;
}

export interface StatusLeg {
  fs_instance: string;
  channel_id: string;
  correlation_id: string;
  domain_name: string;
  codec_name: string;
  call_direction: string;
  /** Seconds since the agent first saw the leg. */
  age_s: number;
  /** The worse of the two directions' latest values (what worst-first sorts by). */
  mos_estimate: number | null;
  jitter_ms: number | null;
  fraction_lost: number | null;
  rtt_ms: number | null;
  inbound: StatusDirection;
  outbound: StatusDirection;
}

export interface StatusEndedLeg {
  fs_instance: string;
  channel_id: string;
  correlation_id: string;
  domain_name: string;
  codec_name: string;
  call_direction: string;
  ended_at: string;
  duration_s: number | null;
  hangup_cause: string | null;
  /** FreeSWITCH's MOS; null when the leg received no audio. */
  mos: number | null;
  /** Mean E-model estimate over the leg's reports; null without reports. */
  mos_estimate: number | null;
  jitter_avg_ms: number | null;
  packet_loss: number | null;
}

export interface StatusInstance {
  name: string;
  state: string;
  connected: boolean;
  last_event_at: string | null;
  last_error: string | null;
  reconnects: number;
  /** HA only (null without): this replica holds the instance's lease. */
  owned: boolean | null;
  /** HA only (null without, or when nobody holds it): the replica holding the lease. */
  owner: string | null;
  /** Schema 2: what FreeSWITCH says of itself; null while not connected (or not read yet). */
  server: StatusServer | null;
}

/** An instance's own figures (schema 2; docs/status-page.md). */
export interface StatusServer {
  version: string | null;
  hostname: string | null;
  uptime_s: number | null;
  sessions: {
    active: number;
    limit: number;
    peak: number;
    peak_5min: number;
    created: number;
  } | null;
  session_rate: {
    current: number;
    limit: number;
    peak: number;
    peak_5min: number;
  } | null;
  /** 0..1. */
  idle_cpu: number | null;
  /** When HEARTBEAT or `status` last updated the figures above. */
  updated_at: string | null;
  /** Null until the first poll (or with health.poll_interval 0). */
  profiles: StatusProfile[] | null;
  /** Down ones first, then by profile and name; null as profiles. */
  gateways: StatusGateway[] | null;
  polled_at: string | null;
}

export interface StatusProfile {
  name: string;
  state: string;
  up: boolean;
  registrations: number | null;
}

export interface StatusGateway {
  profile: string;
  name: string;
  state: string;
  status: string;
  up: boolean;
  ping_s: number | null;
}

export interface StatusChartSample {
  at: string;
  events_per_s: number;
  active_legs: number;
  mos_ended: number[];
}

export interface StatusBody {
  schema: typeof STATUS_SCHEMA;
  generated_at: string;
  agent: { version: string; started_at: string; uptime_s: number; replica_id: string | null };
  instances: StatusInstance[];
  totals: {
    active_legs: number;
    active_legs_listed: number;
    /** Active legs by their worse direction's latest MOS estimate (unknown: no report yet). */
    quality: { good: number; fair: number; poor: number; unknown: number };
    /** Events per second over the last chart interval; null before the first. */
    events_per_s: number | null;
  };
  limit: number;
  active_legs: StatusLeg[];
  ended_legs: StatusEndedLeg[];
  charts: { interval_s: number; mos_buckets: number[]; samples: StatusChartSample[] };
}
