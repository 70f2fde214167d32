// The engine's header walk in a `--cache` run takes the header facts the result
// cache's key walk read on the same thread (cacheJob.ts, headerIndex.ts
// HeaderIndexOptions.known) instead of reading the headers again: what `known` gives is
// what the walk follows, and a header it does not know is read as before. Outside a
// snapshot (an editor, where headers change under the index) it is never asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HeaderIndex } from '../../server/src/c/headerIndex';
import { emptyKnowledge } from '../../server/src/c/knowledge';
import { includeDirectives, kernelContext } from '../../server/src/c/includePath';

const files = new Map<string, string>([
  ['/k/include/linux/a.h', '#include <linux/b.h>\n'],
  ['/k/include/linux/b.h', '#define B 1\n'],
  ['/k/include/linux/c.h', '#define C 1\n'],
]);

function walk(snapshot: boolean, known: Map<string, string>): { reads: string[]; headers: number } {
  const reads: string[] = [];
  const read = (p: string) => {
    reads.push(p);
    return files.has(p) ? { text: files.get(p)! } : { why: 'no such file', missing: true };
  };
  // `known` says a.h includes c.h (as a key walk that read a.h so would); the disk says b.h.
  const facts = (p: string) => {
    const t = known.get(p);
    return t === undefined ? undefined : { hash: createHash('sha1').update(t).digest('hex'), directives: includeDirectives(t) };
  };
  const idx = new HeaderIndex(() => emptyKnowledge(), { snapshot, known: facts });
  const r = idx.importsOf('/k/drivers/x/f.c', '#include <linux/a.h>\n', kernelContext('/k'), read, (p) => p);
  return { reads, headers: r.headers };
}

test('a snapshot walk follows the facts it is given, and reads only headers they leave out', () => {
  const known = new Map([['/k/include/linux/a.h', '#include <linux/c.h>\n']]);
  const r = walk(true, known);
  assert.equal(r.headers, 2, 'a.h and what the given facts say it includes');
  assert.ok(!r.reads.some((p) => p.endsWith('/b.h')), 'b.h, which the disk text of a.h names, is not reached');
  assert.ok(r.reads.some((p) => p.endsWith('/c.h')), 'c.h, not among the given facts, is read');
});

test('without given facts, and outside a snapshot, the walk reads the disk', () => {
  const known = new Map([['/k/include/linux/a.h', '#include <linux/c.h>\n']]);
  for (const r of [walk(true, new Map()), walk(false, known)]) {
    assert.ok(r.reads.some((p) => p.endsWith('/b.h')), 'a.h as on disk includes b.h');
    assert.ok(!r.reads.some((p) => p.endsWith('/c.h')));
  }
});
