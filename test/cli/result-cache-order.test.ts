// scanFiles with a result cache, in process (no worker bundle under tsx: every audit
// runs on this thread with the test's engine): hits and audited files come out in the
// files' order; a hit past the held budget is read again at its turn; and one whose
// entry goes bad between the key pass and its turn is skipped with the reason, not
// emitted wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanFiles, type ScanCache } from '../../server/src/cli/scanPool';
import { ResultCache } from '../../server/src/cli/resultCache';
import { ScanKeys } from '../../server/src/cli/resultKeys';
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
    return { store, keys: new ScanKeys('test-build', CONFIG) };
  };
  return { dir, files, cache, warnings };
}

async function run(files: string[], cache: ScanCache, engine: ReturnType<typeof fakeEngine>): Promise<{ emitted: string[]; skipped: { file: string; why: string }[] }> {
  const emitted: string[] = [];
  const skipped = await scanFiles(files, CONFIG, 1, engine, (r) => emitted.push(r.file), () => {}, cache);
  return { emitted, skipped };
}

test('hits and audited files come out in the files order, a hit past the hold read again', async () => {
  const { dir, files, cache } = setup();
  const held = process.env.TDX_AUDIT_CACHE_HELD_BYTES;
  try {
    const audited: string[] = [];
    assert.deepEqual((await run(files, cache(), fakeEngine(audited))).emitted, files);
    assert.deepEqual(audited, files);
    // b.c edited: it alone is audited, between the two hits.
    writeFileSync(files[1]!, 'void g(void) { writel(0, 0); }\n');
    audited.length = 0;
    process.env.TDX_AUDIT_CACHE_HELD_BYTES = '0';
    const c = cache();
    const r = await run(files, c, fakeEngine(audited));
    assert.deepEqual(audited, [files[1]]);
    assert.deepEqual(r.emitted, files);
    assert.equal(c.store.hits, 2);
  } finally {
    if (held === undefined) delete process.env.TDX_AUDIT_CACHE_HELD_BYTES;
    else process.env.TDX_AUDIT_CACHE_HELD_BYTES = held;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hit whose entry goes bad before its turn is skipped with the reason, not emitted', async () => {
  const { dir, files, cache, warnings } = setup();
  const held = process.env.TDX_AUDIT_CACHE_HELD_BYTES;
  try {
    await run(files, cache(), fakeEngine([]));
    writeFileSync(files[0]!, 'void g(void) { writel(0, 0); }\n');
    process.env.TDX_AUDIT_CACHE_HELD_BYTES = '0';
    // While a.c is audited, every entry in DIR is overwritten (another process, say).
    const entries = join(dir, 'cache');
    const r = await run(files, cache(), fakeEngine([], () => {
      for (const e of readdirSync(entries)) writeFileSync(join(entries, e), 'garbage');
    }));
    assert.deepEqual(r.emitted, [files[0]]);
    assert.deepEqual(r.skipped.map((s) => s.file), [files[1], files[2]]);
    assert.match(r.skipped[0]!.why, /cache entry changed during the run/);
    assert.ok(warnings.some((w) => /not an entry of this cache format/.test(w)));
  } finally {
    if (held === undefined) delete process.env.TDX_AUDIT_CACHE_HELD_BYTES;
    else process.env.TDX_AUDIT_CACHE_HELD_BYTES = held;
    rmSync(dir, { recursive: true, force: true });
  }
});
