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

/**
 * The latest-starting element whose span [lo, hi) holds x, in a list sorted by lo
 * whose spans may nest (sized symbols of hand-written assembly: an entry point with
 * its own size inside another's span), looking back at most `lookback` elements from
 * the last start at or before x; undefined if none of those does. A bisection that
 * takes nested spans as disjoint can step past the enclosing one.
 */
export function enclosingAt<T, K extends number | bigint>(list: readonly T[], x: K, lo: (t: T) => K, hi: (t: T) => K, lookback: number): T | undefined {
  for (let i = lastAtOrBefore(list, x, lo), n = 0; i >= 0 && n < lookback; i--, n++) {
    const t = list[i]!;
    if (x < hi(t)) return t;
  }
  return undefined;
}
