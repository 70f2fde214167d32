// The audits of a `--cache` run take the header facts the key pass read instead of
// reading the headers again: an engine on the main thread through
// HeaderIndexOptions.known (what it gives is what the walk follows; a header it does
// not know is read as before; outside a snapshot, an editor's, it is never asked),
// the workers through their header share (HeaderClosures.publish).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeaderIndex, isFacts, sharedFactsKey } from '../../server/src/c/headerIndex';
import { createHeaderShareBuffer, HeaderShare } from '../../server/src/c/headerShare';
import { scanFiles } from '../../server/src/cli/scanPool';
import { ResultCache } from '../../server/src/cli/resultCache';
import { ScanKeys } from '../../server/src/cli/resultKeys';
import type { FileAudit } from '../../server/src/audit/engine';
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

test('a --cache run hands the key pass\'s header facts to its audits: to an engine on this thread, and into the workers\' share', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-cache-known-'));
  try {
    const header = join(dir, 'regs.h');
    writeFileSync(header, '#include "deeper.h"\n#define R 4\n');
    writeFileSync(join(dir, 'deeper.h'), '#define D 8\n');
    const file = join(dir, 'a.c');
    writeFileSync(file, '#include "regs.h"\nvoid f(void __iomem *p) { readl(p + R); }\n');
    const store = ResultCache.open(join(dir, 'cache'), () => {});
    if ('error' in store) throw new Error(store.error);
    const config = { profile: 'tdx-linux-6.1' as const, followIncludes: true };
    const keys = new ScanKeys('test-build', config);
    let given: ((p: string) => unknown) | undefined;
    await scanFiles([file], config, 1, async (_read, known) => {
      given = known;
      return {
        auditOnce: (path: string) => ({ file: path, findings: [], analysis: { functions: [], parseErrors: 0 }, ms: 1 }) as unknown as FileAudit,
        mayHoldSitesThroughHeaders: () => false,
      };
    }, () => {}, () => {}, { store, keys });
    assert.ok(given, 'the engine factory is given the key pass\'s facts');
    const h = given!(header) as { hash: string; directives: { spec: string }[] } | undefined;
    assert.equal(h?.hash, createHash('sha1').update(readFileSync(header, 'utf8')).digest('hex'));
    assert.deepEqual(h?.directives.map((x) => x.spec), ['deeper.h']);
    assert.equal(given!(join(dir, 'absent.h')), undefined, 'what the pass never read is left to the engine');
    // Workers: the same facts in a header share, under the key their engines look up.
    const share = new HeaderShare(createHeaderShareBuffer(1024, 1 << 20));
    assert.equal(keys.headers!.publish(share, 1 << 20), 2);
    const got = share.claimJson(sharedFactsKey(header), false);
    assert.ok(got && 'json' in got && isFacts(got.json));
    assert.deepEqual(got.json, h);
    // Past the byte bound nothing more is published.
    const small = new HeaderShare(createHeaderShareBuffer(1024, 1 << 20));
    assert.equal(keys.headers!.publish(small, 10), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
