// The Redis side of HA: key names (under storage.redis.key_prefix, next to the leg state) and
// the Lua scripts that make each lease operation atomic. Every script compares the lease's value
// with this replica's member string first, so a replica never renews or releases a lease it lost.

import { fenceCheck } from "../state/fence.js";

export interface HaKeys {
  /** Sorted set of live replicas: member → Redis server time (ms) of its last heartbeat. */
  readonly replicas: string;
  /** The lease on one FreeSWITCH instance; its value is the holder's member string. */
  lease(instance: string): string;
  /**
   * The instance's fencing token, "<epoch>/<member>", renewed at each acquisition: leg writes
   * and QoS claims apply only while it is the writer's (state/fence.ts). No TTL: the epoch must
   * keep growing.
   */
  fence(instance: string): string;
  /** Claimed once per leg when its end-of-call QoS is exported. */
  qos(uuid: string): string;
  /** Sorted set of replicas that cannot reach the instance: member → expiry (Redis time, ms). */
  unreachable(instance: string): string;
  /** Set for a minute when the instance's lease is released for unreachability (the bound). */
  unreachableRelease(instance: string): string;
}

export function haKeys(prefix: string): HaKeys {
  return {
    replicas: `${prefix}ha:replicas`,
    lease: (instance) => `${prefix}ha:lease:${instance}`,
    fence: (instance) => `${prefix}ha:fence:${instance}`,
    qos: (uuid) => `${prefix}ha:qos:${uuid}`,
    unreachable: (instance) => `${prefix}ha:unreachable:${instance}`,
    unreachableRelease: (instance) => `${prefix}ha:unreachable-release:${instance}`,
  };
}

/**
 * KEYS[1] the replicas set; ARGV[1] member, ARGV[2] TTL (ms), ARGV[3] "1" to (re)register the
 * member, "0" only to read. Scores are Redis's own clock, so replicas' clocks never matter;
 * members silent for a TTL are removed. Returns the live members.
 */
export const PRESENCE_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/**
 * KEYS[1] a lease, KEYS[2] its fence; ARGV[1] member, ARGV[2] TTL (ms). Takes the lease if free
 * (or renews it if Redis still gives it to this member) and returns the fencing token. The token
 * changes (epoch + 1) whenever the instance changes owner; a member taking back an instance no
 * other member held since keeps its token, so its own writes still pending stay valid. Nil when
 * another replica holds the lease. The member's random part keeps tokens unique even if Redis
 * lost the counter.
 */
export const ACQUIRE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif holder then
  return false
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local current = redis.call('GET', KEYS[2])
if current and string.match(current, '^%d+/(.*)$') == ARGV[1] then return current end
local epoch = 0
if current then epoch = tonumber(string.match(current, '^(%d+)/')) or 0 end
local token = (epoch + 1) .. '/' .. ARGV[1]
redis.call('SET', KEYS[2], token)
return token
`;

/**
 * KEYS[1] the instance's fence, KEYS[2] the leg's QoS claim; ARGV[1] token, ARGV[2] TTL (ms),
 * ARGV[3] member. 1 when claimed, 0 when already claimed, -1 when the token is not current
 * (another replica owns the instance now: its report is the one that counts). A missing fence
 * is accepted as in state/fence.ts.
 */
export const QOS_CLAIM_SCRIPT = `${fenceCheck("-1")}
if redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2], 'NX') then return 1 end
return 0
`;

/** KEYS[1] a lease; ARGV[1] member, ARGV[2] TTL (ms). 1 when renewed, 0 when not ours. */
export const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

/** KEYS[1] a lease; ARGV[1] member. 1 when deleted, 0 when not ours (nothing touched). */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * KEYS[1..n] the instances' unreachable sets, KEYS[n+1..2n] their release keys; ARGV[1] member,
 * ARGV[2] mark TTL (ms), ARGV[2+i] "1" to mark instance i, "0" to clear the mark, "-" to leave
 * it. Expiry scores are Redis's own clock. Returns per instance {live marks, release key PTTL}.
 */
export const UNREACHABLE_SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local key = KEYS[i]
  local flag = ARGV[2 + i]
  if flag == '1' then
    redis.call('ZADD', key, now + ttl, ARGV[1])
    redis.call('PEXPIRE', key, ttl)
  elseif flag == '0' then
    redis.call('ZREM', key, ARGV[1])
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  out[i] = { redis.call('ZRANGE', key, 0, -1), redis.call('PTTL', KEYS[n + i]) }
end
return out
`;
