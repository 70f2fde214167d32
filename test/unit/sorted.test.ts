// The shared binary searches (server/src/sorted.ts) against the linear scans they
// replace, on random sorted lists with runs of equal keys, both key types, and the
// edges (empty list, x before the first and after the last key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enclosingAt, lastAtOrBefore, partitionPoint, spanAt } from '../../server/src/sorted';
import { mulberry32, Pick } from '../fuzz/prng';

function sortedKeys(p: Pick): number[] {
  const n = p.int(12);
  const keys: number[] = [];
  let k = p.int(5);
  for (let i = 0; i < n; i++) {
    keys.push(k);
    k += p.int(3); // 0: a run of equal keys
  }
  return keys;
}

test('partitionPoint and lastAtOrBefore equal a linear scan, with duplicate keys and at both ends', () => {
  const p = new Pick(mulberry32(0x5eed));
  for (let round = 0; round < 2000; round++) {
    const keys = sortedKeys(p);
    const x = p.int(30) - 2;
    let first = keys.length;
    for (let i = keys.length - 1; i >= 0; i--) if (keys[i]! >= x) first = i;
    assert.equal(partitionPoint(keys.length, (i) => keys[i]! < x), first, `lower bound of ${x} in [${keys}]`);
    let last = -1;
    keys.forEach((k, i) => k <= x && (last = i));
    assert.equal(lastAtOrBefore(keys, x, (k) => k), last, `last at or before ${x} in [${keys}]`);
    const big = keys.map(BigInt);
    assert.equal(lastAtOrBefore(big, BigInt(x), (k) => k), last, 'the same with bigint keys');
  }
});

test('spanAt finds the disjoint span holding x, and nothing in gaps, at a span\'s end or in empty spans', () => {
  const p = new Pick(mulberry32(0x5ba7));
  for (let round = 0; round < 2000; round++) {
    const spans: [number, number][] = [];
    let at = p.int(4);
    for (let n = p.int(8); n > 0; n--) {
      const lo = at + p.int(3);
      const hi = lo + p.int(4); // 0: an empty span
      spans.push([lo, hi]);
      at = hi;
    }
    const x = p.int(40) - 2;
    const want = spans.find(([lo, hi]) => lo <= x && x < hi);
    assert.equal(spanAt(spans, x, (s) => s[0], (s) => s[1]), want, `${x} in ${JSON.stringify(spans)}`);
  }
});

test('enclosingAt: the latest-starting span holding x, nested spans looked back over, within the lookback', () => {
  // outer [0,20), inner [4,8), tail [20,24)
  const list = [{ lo: 0, hi: 20, n: 'outer' }, { lo: 4, hi: 8, n: 'inner' }, { lo: 20, hi: 24, n: 'tail' }];
  const at = (x: number, back = 16) => enclosingAt(list, x, (s) => s.lo, (s) => s.hi, back)?.n;
  assert.deepEqual([0, 4, 7, 8, 12, 19, 20, 23, 24, -1].map((x) => at(x)), ['outer', 'inner', 'inner', 'outer', 'outer', 'outer', 'tail', 'tail', undefined, undefined]);
  assert.equal(at(12, 1), undefined, 'outer is two back from 12: past a lookback of 1');
});
