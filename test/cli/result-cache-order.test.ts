// scanFiles with a result cache, in process (no worker bundle under tsx: every file is
// keyed and audited on this thread with the test's engine, as a worker does):
// hits and audited files come out in the files' order and are counted on the run's
// store; an entry that goes bad during the run is a miss with a warning said by the
// run's store; a file edited while it is audited is not stored; and the engine is
// handed the header facts the key walk read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanFiles, type ScanCache } from '../../server/src/cli/scanPool';
import { ResultCache } from '../../server/src/cli/resultCache';
import type { AuditEngine, FileAudit } from '../../server/src/audit/engine';

const CONFIG = { profile: 'tdx-linux-6.1' as const, followIncludes: false };

/** An engine whose audit of a file is one finding-less row named by the file, after `during`. */
function fakeEngine(audited: string[], during: (path: string) => void = () => {}): () => Promise<Pick<AuditEngine, 'auditOnce' | 'mayHoldSitesThroughHeaders'>> {
  return async () => ({
    auditOnce: (path: string) => {
      audited.push(path);
      during(path);
      return { file: path, findings: [], analysis: { functions: [], parseErrors: 0 }, ms: 1 } as unknown as FileAudit;
    },
    mayHoldSitesThroughHeaders: () => false,
  });
}

function setup(): { dir: string; files: string[]; cache: () => ScanCache; warnings: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-cache-order-'));
  const files = ['a.c', 'b.c', 'c.c'].map((n) => join(dir, n));
  for (const f of files) writeFileSync(f, `void f(void) { readl(0); } /* ${f} */\n`);
  const warnings: string[] = [];
  const cache = () => {
    const store = ResultCache.open(join(dir, 'cache'), (m) => warnings.push(m));
    if ('error' in store) throw new Error(store.error);
    return { store, settings: { dir: store.dir, build: 'test-build' } };
  };
  return { dir, files, cache, warnings };
}

async function run(files: string[], cache: ScanCache, engine: ReturnType<typeof fakeEngine>): Promise<{ emitted: string[]; skipped: { file: string; why: string }[] }> {
  const emitted: string[] = [];
  const skipped = await scanFiles(files, CONFIG, 1, engine, (r) => emitted.push(r.file), () => {}, cache);
  return { emitted, skipped };
}

test('hits and audited files come out in the files order, counted on the run\'s store', async () => {
  const { dir, files, cache } = setup();
  try {
    const audited: string[] = [];
    const first = cache();
    assert.deepEqual((await run(files, first, fakeEngine(audited))).emitted, files);
    assert.deepEqual(audited, files);
    assert.deepEqual([first.store.hits, first.store.misses], [0, 3]);
    // b.c edited: it alone is audited, between the two hits.
    writeFileSync(files[1]!, 'void g(void) { writel(0, 0); }\n');
    audited.length = 0;
    const c = cache();
    const r = await run(files, c, fakeEngine(audited));
    assert.deepEqual(audited, [files[1]]);
    assert.deepEqual(r.emitted, files);
    assert.deepEqual([c.store.hits, c.store.misses], [2, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an entry that goes bad during the run is a miss: audited, emitted, and a warning said by the run', async () => {
  const { dir, files, cache, warnings } = setup();
  try {
    await run(files, cache(), fakeEngine([]));
    writeFileSync(files[0]!, 'void g(void) { writel(0, 0); }\n');
    // While a.c is audited, every entry in DIR is overwritten (another process, say).
    const entries = join(dir, 'cache');
    const audited: string[] = [];
    const c = cache();
    const r = await run(files, c, fakeEngine(audited, () => {
      for (const e of readdirSync(entries)) writeFileSync(join(entries, e), 'garbage');
    }));
    assert.deepEqual(r.emitted, files);
    assert.deepEqual(r.skipped, []);
    assert.deepEqual(audited, files);
    assert.deepEqual([c.store.hits, c.store.misses], [0, 3]);
    assert.equal(warnings.filter((w) => /not an entry of this cache format; ignored/.test(w)).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file edited while it is audited is not stored: the next run audits it again', async () => {
  const { dir, files, cache } = setup();
  try {
    await run(files, cache(), fakeEngine([], (p) => {
      if (p === files[2]) writeFileSync(p, 'void h(void) { readb(0); } /* edited during its audit */\n');
    }));
    assert.equal(readdirSync(join(dir, 'cache')).filter((n) => n.endsWith('.entry')).length, 2);
    const audited: string[] = [];
    await run(files, cache(), fakeEngine(audited));
    assert.deepEqual(audited, [files[2]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the engine is handed the header facts the key walk read, the same the engine would read', async () => {
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
    let known: ((p: string) => unknown) | undefined;
    const seen: unknown[] = [];
    await scanFiles([file], config, 1, async (_read, k) => {
      known = k;
      return {
        auditOnce: (path: string) => {
          // By the audit, the key walk has read the file's closure on this thread.
          seen.push(k?.(header), k?.(join(dir, 'deeper.h')), k?.(join(dir, 'absent.h')));
          return { file: path, findings: [], analysis: { functions: [], parseErrors: 0 }, ms: 1 } as unknown as FileAudit;
        },
        mayHoldSitesThroughHeaders: () => false,
      };
    }, () => {}, () => {}, { store, settings: { dir: store.dir, build: 'test-build' } });
    assert.ok(known, 'the engine factory is given the key walk\'s facts');
    const [h, d, absent] = seen as ({ hash: string; directives: { spec: string }[] } | undefined)[];
    assert.equal(h?.hash, createHash('sha1').update(readFileSync(header, 'utf8')).digest('hex'));
    assert.deepEqual(h?.directives.map((x) => x.spec), ['deeper.h']);
    assert.ok(d && 'hash' in d);
    assert.equal(absent, undefined, 'what the walk never read is left to the engine');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
