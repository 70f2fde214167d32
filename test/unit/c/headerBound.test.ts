// A batch run's header index remembers header facts, include resolutions and the
// include graph between walks, bounded (headerIndex.ts maxRemembered): what it
// forgets comes back the same, from the component cache or the files, and a header
// component is not analysed again for having been forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderIndex, Remembered } from '../../../server/src/c/headerIndex';
import { emptyKnowledge, type Knowledge } from '../../../server/src/c/knowledge';
import { kernelContext } from '../../../server/src/c/includePath';

test('Remembered keeps about its bound, forgets the least recently used first, and a hit survives', () => {
  const m = new Remembered<string, number>(4);
  m.set('a', 1);
  m.set('b', 2);
  m.set('c', 3); // a, b become the older generation
  assert.equal(m.get('a'), 1); // used: moved to the newer
  m.set('d', 4); // the newer (c, a) is full: b's generation goes
  m.set('e', 5);
  assert.ok(m.size <= 4, `size ${m.size}`);
  assert.equal(m.get('b'), undefined, 'b was least recently used');
  assert.equal(m.get('a'), 1, 'a was used after b');
  assert.equal(m.get('e'), 5);
  for (let i = 0; i < 1000; i++) m.set(`k${i}`, i);
  assert.ok(m.size <= 4);
  assert.equal(m.get('k999'), 999);
});

/** Wrapper names a knowledge holds, sorted. */
const wrappers = (k: Knowledge) => [...k.wrappers.keys()].sort();

test('a snapshot past its bound forgets facts, resolutions and graph headers; a re-asked header gives the same knowledge without a new analysis', () => {
  const files: Record<string, string> = { '/k/include/linux/common_io.h': '#define common_rd(p) readl(p)\n' };
  for (let i = 0; i < 40; i++) {
    files[`/k/drivers/d${i}/local${i}.h`] = `#include <linux/common_io.h>\n#include <linux/absent_${i}.h>\n#define local${i}_rd(p) common_rd(p)\n`;
  }
  const ctx = kernelContext('/k');
  let analyses = 0;
  // An analysis that declares one wrapper per `#define name_rd(`: enough to tell what a header taught.
  const analyse = (members: { text: string }[]) => {
    analyses++;
    const k = emptyKnowledge();
    for (const m of members) for (const x of m.text.matchAll(/#define (\w+_rd)\(/g)) k.wrappers.set(x[1]!, { name: x[1]! } as never);
    return k;
  };
  const reads: string[] = [];
  const read = (p: string) => {
    reads.push(p);
    return files[p] !== undefined ? { text: files[p]! } : { why: 'no such file', missing: true };
  };
  const idx = new HeaderIndex(analyse, { snapshot: true, maxRemembered: 8 });
  const ask = (i: number) => idx.importsOf(`/k/drivers/d${i}/f.c`, `#include "local${i}.h"\n`, ctx, read, (p) => p);
  const first = wrappers(ask(0).knowledge);
  assert.deepEqual(first, ['common_rd', 'local0_rd']);
  let most = 0;
  for (let i = 1; i < 40; i++) {
    assert.deepEqual(wrappers(ask(i).knowledge), ['common_rd', `local${i}_rd`]);
    const r = idx.remembered;
    most = Math.max(most, r.facts, r.resolutions);
    assert.ok(r.facts <= 8 && r.resolutions <= 8, `bounded: ${JSON.stringify(r)}`);
  }
  assert.ok(most >= 4, 'the bound was reached');
  assert.ok(idx.graphsDropped > 0, 'the graph was walked again past the bound');
  const analysed = analyses;
  assert.equal(analysed, 41, 'each header analysed once: the common one and 40 local ones');
  reads.length = 0;
  assert.deepEqual(wrappers(ask(0).knowledge), first, 'the first file again: the same knowledge');
  assert.ok(reads.includes('/k/drivers/d0/local0.h'), 'its forgotten header was read again');
  assert.equal(analyses, analysed, 'and not analysed again (its component is kept by content)');
});
