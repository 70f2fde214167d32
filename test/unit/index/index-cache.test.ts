// The workspace index keeps per-file summaries (counts, content hash, findings with
// fingerprints) and ends its worker threads when idle without losing them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkspaceIndexer } from '../../../server/src/index/indexer';
import { makeSpoolDir, removeSpoolDir } from '../../../server/src/index/spool';
import { DEFAULT_CONFIG } from '../../../server/src/audit/engine';

const WORKER = resolve(__dirname, '../../../dist/indexWorker.js');

test('the indexer keeps hashes and fingerprints, and ends idle workers without losing its cache', { skip: existsSync(WORKER) ? false : 'dist/indexWorker.js not built (npm run build)' }, async () => {
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

test('a cache folder that cannot be made (below /proc, a file) turns the spool off and returns', () => {
  const saved = process.env.XDG_CACHE_HOME;
  const dir = mkdtempSync(join(tmpdir(), 'tdx-spool-'));
  try {
    // Node's recursive mkdir loops forever below /proc: the spool must not use it.
    process.env.XDG_CACHE_HOME = '/proc/tdx-audit-no-cache';
    assert.equal(makeSpoolDir(), undefined);
    writeFileSync(join(dir, 'file'), '');
    process.env.XDG_CACHE_HOME = join(dir, 'file');
    assert.equal(makeSpoolDir(), undefined);
    process.env.XDG_CACHE_HOME = dir;
    const made = makeSpoolDir();
    assert.ok(made && existsSync(made) && made.startsWith(realpathSync(dir)));
    removeSpoolDir(made);
    assert.ok(!existsSync(made));
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
