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

/** The comparison every fenced script starts with (see above). */
const FENCE_CHECK = `
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] and (current or ARGV[1] == '') then return 0 end`;

/**
 * KEYS[1] the fence, KEYS[2..n] leg keys; ARGV[1] token, ARGV[2] TTL (ms), ARGV[3..] the legs'
 * JSON in the same order. Sets them all (1) or, when the token is not current, none (0).
 */
export const FENCED_SET_SCRIPT = `${FENCE_CHECK}
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[2])
end
return 1
`;

/** KEYS[1] the fence, KEYS[2..n] leg keys; ARGV[1] token. Deletes them all (1) or none (0). */
export const FENCED_DEL_SCRIPT = `${FENCE_CHECK}
redis.call('DEL', unpack(KEYS, 2))
return 1
`;
