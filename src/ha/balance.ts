// Which leases this replica should take or give back, from one snapshot of Redis. Pure: the lease
// manager reads the snapshot, calls planBalance, and acts. Every replica runs the same rules on
// (nearly) the same snapshot, which is what makes them agree without talking to each other.
//
// With N live replicas and M instances, the fair share is between floor(M/N) and ceil(M/N):
// - nobody holds more than ceil(M/N) (the cap): a replica above it hands the surplus over;
// - a replica below floor(M/N) takes free leases first; one at its floor takes a free lease only
//   when more are free than the replicas below their floor still need;
// - when nothing is free and a replica is below its floor (it just joined), the replicas above
//   the floor with the most leases give one back each, as many as are missing: the ranking
//   (count, then member string) is the same in every replica, so exactly those donate.
// Each replica prefers instances by rendezvous hashing (a hash of replica and instance), so
// replicas starting together go for different instances instead of racing for the same ones.
// Replicas that marked an instance unreachable (unreachable.ts) do not take it: a lease is given
// up only when another replica with room can take it, and a free lease that no other replica
// with room can take is taken even above the cap, so that no instance is left without an owner.

export interface BalanceInput {
  /** The configured FreeSWITCH instance names (the same list in every replica). */
  readonly instances: readonly string[];
  /** This replica's member string. */
  readonly self: string;
  /** Live replicas' member strings (this one may be missing before its first heartbeat). */
  readonly members: readonly string[];
  /** Holder of each instance's lease (a member string), null when free. */
  readonly owners: ReadonlyMap<string, string | null>;
  /** Leases this replica holds and keeps (not being handed over). */
  readonly held: ReadonlySet<string>;
  /** Instances this replica is handing over or just handed over: neither kept nor taken. */
  readonly busy: ReadonlySet<string>;
  /** Per instance, the live replicas that marked it unreachable (they do not take it). */
  readonly marks?: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface BalancePlan {
  /** Live replicas, this one included. */
  readonly replicas: number;
  /** ceil(M/N): the most leases a replica holds while all replicas are healthy. */
  readonly cap: number;
  /** floor(M/N). */
  readonly floor: number;
  /** Leases to try to take, most preferred first. */
  readonly acquire: readonly string[];
  /** Leases to hand over. */
  readonly release: readonly string[];
  /** Below the floor: this replica's acquisitions should go first (short jitter). */
  readonly needy: boolean;
  /** Below the floor with nothing free yet: a donor is about to release; look again soon. */
  readonly waiting: boolean;
}

/** FNV-1a, 32 bits: a stable, well-spread score for rendezvous hashing. */
export function preference(self: string, instance: string): number {
  let hash = 0x811c9dc5;
  const text = `${self}\u0000${instance}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function planBalance(input: BalanceInput): BalancePlan {
  const { self, instances, owners, held, busy } = input;
  const live = new Set(input.members);
  live.add(self);
  const replicas = live.size;
  const m = instances.length;
  const cap = Math.ceil(m / replicas);
  const floor = Math.floor(m / replicas);
  const mine = held.size;

  // Leases per live replica. Leases of replicas no longer live count for nobody: they expire.
  const counts = new Map<string, number>();
  for (const member of live) counts.set(member, 0);
  for (const instance of instances) {
    const owner = owners.get(instance) ?? null;
    if (owner !== null && owner !== self && live.has(owner)) {
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
  }
  counts.set(self, mine);
  let othersNeed = 0;
  for (const [member, count] of counts) {
    if (member !== self) othersNeed += Math.max(0, floor - count);
  }

  // Free for this replica: nobody holds it, or Redis still says this replica does (a lease it
  // dropped locally, e.g. at its deadline during an outage, which it may take back).
  const free = instances.filter((instance) => {
    if (held.has(instance) || busy.has(instance)) return false;
    const owner = owners.get(instance) ?? null;
    return owner === null || owner === self;
  });
  const byPreference = (a: string, b: string): number =>
    preference(self, b) - preference(self, a) || (a < b ? -1 : 1);
  const leastPreferred = (): string[] => [...held].sort(byPreference).reverse();
  // Whether another live replica with fewer than `below` leases would take the instance.
  const takeable = (instance: string, below: number): boolean => {
    const marked = input.marks?.get(instance);
    for (const [member, count] of counts) {
      if (member !== self && count < below && marked?.has(member) !== true) return true;
    }
    return false;
  };

  let release: string[] = [];
  if (mine > cap) {
    release = leastPreferred()
      .filter((i) => takeable(i, cap))
      .slice(0, mine - cap);
  } else if (free.length === 0 && mine > floor && othersNeed > 0) {
    const donors = [...counts]
      .filter(([, count]) => count > floor)
      .sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0))
      .map(([member]) => member);
    const rank = donors.indexOf(self);
    if (rank !== -1 && rank < othersNeed) {
      release = leastPreferred()
        .filter((i) => takeable(i, floor))
        .slice(0, 1);
    }
  }

  let acquire: string[] = [];
  if (release.length === 0 && mine < cap && free.length > 0) {
    const want = cap - mine;
    const allowed = mine < floor ? want : Math.max(0, free.length - othersNeed);
    acquire = free.sort(byPreference).slice(0, Math.min(want, allowed));
  } else if (release.length === 0 && mine >= cap) {
    // Nobody else with room may take these (they marked them): better above the cap than unowned.
    acquire = free.filter((i) => !takeable(i, cap)).sort(byPreference);
  }

  return {
    replicas,
    cap,
    floor,
    acquire,
    release,
    needy: mine < floor,
    waiting: mine < floor && free.length === 0,
  };
}
