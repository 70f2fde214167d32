// Searches in sorted arrays: the one binary search the readers (DWARF units, line
// tables, scope intervals), the compiled-form join (functions, relocations, line
// spans) and the source side (line starts, error regions) share. Each caller used to
// carry its own loop, with `lo <= hi` and `lo < hi` variants whose off-by-ones were
// checked once per copy.

/**
 * The first index in [0, length) at which `before(i)` is false, where `before` is
 * true for a prefix of the indexes and false after it (C++'s `partition_point`);
 * `length` when it is true throughout. The lower bound of x in a sorted list is
 * `partitionPoint(list.length, (i) => list[i] < x)`.
 */
export function partitionPoint(length: number, before: (i: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the last element whose key is at or before x, in a list sorted by key; -1 if none. */
export function lastAtOrBefore<T, K extends number | bigint>(list: readonly T[], x: K, key: (t: T) => K): number {
  return partitionPoint(list.length, (i) => key(list[i]!) <= x) - 1;
}

/**
 * The element whose span [lo, hi) holds x, in a list of disjoint spans sorted by lo;
 * undefined if none does.
 */
export function spanAt<T, K extends number | bigint>(list: readonly T[], x: K, lo: (t: T) => K, hi: (t: T) => K): T | undefined {
  const i = lastAtOrBefore(list, x, lo);
  if (i < 0) return undefined;
  const t = list[i]!;
  return x < hi(t) ? t : undefined;
}
