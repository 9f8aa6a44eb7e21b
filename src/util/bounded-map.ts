/**
 * Sets `key` as the newest entry of an insertion-ordered map bounded at `max` entries: an entry
 * already there moves to the end, and past the bound the oldest goes. The callers' maps keep
 * one time per key, so insertion order is also their time order.
 */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}
