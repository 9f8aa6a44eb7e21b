/**
 * A fencing token (HA, issue 21). A replica paused past its lease (a stopped process, a frozen
 * VM, a partition) still has leg state waiting to be written when it resumes; by then another
 * replica owns the instance and has written newer state. So every leg write of an HA replica is
 * applied by Redis only while the instance's fence key still holds the token of the acquisition
 * the write belongs to. The lease manager writes a new token whenever the instance changes owner
 * (ha/redis-keys.ts), so a stale owner's writes are refused however late they arrive.
 *
 * A missing fence key means Redis lost its data and nobody has taken the instance since: no
 * newer state can exist, so the write is applied (it restores what the restart lost), unless its
 * token is "" (a write made without holding the instance).
 */
export interface Fence {
  /** The Redis key holding the instance's current token. */
  readonly key: string;
  /** The token of this replica's acquisition; "" when it holds none (never matches). */
  readonly token: string;
  /** The instance's name, for the log line of a refused write. */
  readonly instance: string;
}

/**
 * The comparison every fenced script starts with (see above), KEYS[1] the fence and ARGV[1] the
 * writer's token: when they do not agree, the script returns `refusal` (a Lua expression).
 */
export function fenceCheck(refusal: string): string {
  return `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] and (current or ARGV[1] == '') then return ${refusal} end`;
}

/** The hash of what one token's writes last set per leg (loss totals), read after a refusal. */
export function landedKey(fence: Fence): string {
  return `${fence.key}:landed:${fence.token}`;
}

/**
 * KEYS[1] the fence, KEYS[2] landedKey(fence), KEYS[3..] leg keys; ARGV[1] token, ARGV[2] TTL
 * (ms), then the legs' JSON, then their loss totals ("inbound,outbound"), both in key order.
 * Sets them all, notes each leg's totals in the landed hash and returns 1; or, when the token is
 * not current, sets nothing and returns what the landed hash holds for each leg (nil where
 * nothing of this token's landed). That tells a writer whose earlier write timed out (a pause
 * right after sending it) whether it landed after all.
 */
export const FENCED_SET_SCRIPT = `${fenceCheck("redis.call('HMGET', KEYS[2], unpack(KEYS, 3))")}
local n = #KEYS - 2
for i = 1, n do
  redis.call('SET', KEYS[i + 2], ARGV[i + 2], 'PX', ARGV[2])
  redis.call('HSET', KEYS[2], KEYS[i + 2], ARGV[i + 2 + n])
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`;

/** KEYS[1] the fence, KEYS[2..n] leg keys; ARGV[1] token. Deletes them all (1) or none (0). */
export const FENCED_DEL_SCRIPT = `${fenceCheck("0")}
redis.call('DEL', unpack(KEYS, 2))
return 1
`;
