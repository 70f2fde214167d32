// The workspace index keeps per-file summaries (counts, content hash, findings with
// fingerprints), shows them as a folder tree, and ends its worker threads when idle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkspaceIndexer, type IndexResult } from '../../../server/src/index/indexer';
import { fileOf, indexedIfUnchanged, workspaceView } from '../../../server/src/index/summary';
import type { IndexedFile } from '../../../server/src/index/types';
import { DEFAULT_CONFIG } from '../../../server/src/audit/engine';

const WORKER = resolve(__dirname, '../../../dist/indexWorker.js');

function file(path: string, sites: number, errors = 0): IndexedFile {
  return {
    path, hash: 'h' + path, sites, errors, warnings: 0, others: sites - errors, parseErrors: 0, ms: 1,
    byRule: { 'tdx-ve-mmio': sites },
    findings: Array.from({ length: sites }, (_, i) => ({
      rule: 'tdx-ve-mmio' as const, severity: i < errors ? ('error' as const) : ('information' as const),
      line: i, character: 0, function: 'f', accessor: 'readl', message: 'm', fingerprint: String(i),
    })),
  };
}

function result(files: IndexedFile[]): IndexResult {
  return { files: [...files].sort((a, b) => (a.path < b.path ? -1 : 1)), skipped: 7, capped: false, failures: [], cacheHits: 0, ms: 5, cancelled: false };
}

test('the workspace view nests files under their folders with totals that include subfolders', () => {
  const r = result([file('/w/a/x.c', 2, 1), file('/w/a/b/y.c', 3), file('/w/z.c', 1), file('/v/q.c', 4, 4)]);
  const v = workspaceView(r, ['/w', '/v']);
  assert.deepEqual(v.roots.map((n) => n.path), ['/w', '/v'], 'in the folders\' order');
  const w = v.roots[0]!;
  assert.deepEqual(w.totals, { files: 3, sites: 6, errors: 1, warnings: 0, others: 5 });
  assert.deepEqual(w.files.map((f) => f.path), ['/w/z.c']);
  const a = w.folders[0]!;
  assert.equal(a.name, 'a');
  assert.deepEqual(a.totals, { files: 2, sites: 5, errors: 1, warnings: 0, others: 4 });
  assert.equal(a.byRule['tdx-ve-mmio'], 5);
  assert.equal(a.folders[0]!.name, 'b');
  assert.deepEqual(v.totals, { files: 4, sites: 10, errors: 5, warnings: 0, others: 5 });
  assert.equal(v.skipped, 7);
  const errorsOnly = workspaceView(r, ['/w', '/v'], { severities: ['error'] });
  assert.equal(errorsOnly.roots[0]!.folders[0]!.files[0]!.findings.length, 1, 'findings filtered, counts kept');
  assert.equal(errorsOnly.roots[0]!.folders[0]!.files[0]!.sites, 2);
});

test('a nested workspace folder takes its own files', () => {
  const v = workspaceView(result([file('/w/in/x.c', 1), file('/w/y.c', 1)]), ['/w', '/w/in']);
  assert.deepEqual(v.roots.map((n) => [n.path, n.totals.files]), [['/w', 1], ['/w/in', 1]]);
});

test('a file is reused only while its text is the one indexed', () => {
  const r = result([file('/w/a.c', 1), file('/w/b.c', 2)]);
  assert.equal(fileOf(r, '/w/b.c')?.sites, 2);
  assert.equal(fileOf(r, '/w/c.c'), undefined);
  assert.equal(indexedIfUnchanged(r, '/w/a.c', 'h/w/a.c')?.sites, 1);
  assert.equal(indexedIfUnchanged(r, '/w/a.c', 'other'), undefined);
});

test('the indexer keeps hashes, rule counts and fingerprints, and ends idle workers without losing its cache', { skip: existsSync(WORKER) ? false : 'dist/indexWorker.js not built (npm run build)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-index-'));
  try {
    mkdirSync(join(dir, 'drv'));
    const text = '#include <linux/io.h>\nint f(void __iomem *p) { return readl(p + 4); }\nvoid g(void __iomem *p) { writel(1, p); }\n';
    writeFileSync(join(dir, 'drv', 'a.c'), text);
    writeFileSync(join(dir, 'drv', 'plain.c'), 'int h(void) { return 0; }\n');
    const ix = new WorkspaceIndexer(WORKER, 1, 300);
    const never = { cancelled: false };
    const r = await ix.index([dir], DEFAULT_CONFIG, () => undefined, never);
    assert.equal(r.files.length, 1);
    const f = r.files[0]!;
    assert.equal(f.hash, createHash('sha1').update(text).digest('hex'));
    assert.equal(f.sites, 2);
    assert.equal(f.byRule['tdx-ve-mmio'], 2);
    assert.equal(f.findings.length, 2);
    assert.ok(f.findings.every((x) => /^[0-9a-f]{32}$/.test(x.fingerprint)), 'fingerprints');
    assert.notEqual(f.findings[0]!.fingerprint, f.findings[1]!.fingerprint);
    assert.equal(r.skipped, 1, 'the file without a name or include is skipped');
    assert.equal(ix.liveWorkers, 1);
    await new Promise((res) => setTimeout(res, 800));
    assert.equal(ix.liveWorkers, 0, 'workers ended after the idle time');
    const again = await ix.index([dir], DEFAULT_CONFIG, () => undefined, never);
    assert.equal(again.cacheHits, 1, 'the summaries outlive the workers');
    assert.deepEqual(again.files, r.files);
    ix.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
