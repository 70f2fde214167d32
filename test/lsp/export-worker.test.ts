// Export Audit Report assembles on a worker thread that ends once the report is
// written (lsp/exportThread.ts, exportWorker.ts): the report is byte for byte the
// one the server's own thread writes, the server's engine audits nothing for it,
// the server's results are the same afterwards; and a worker that dies fails the
// export with a clear error while the server keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditEngine, DEFAULT_CONFIG } from '../../server/src/audit/engine';
import { ObjectStore } from '../../server/src/audit/objects';
import { assembleOnWorker } from '../../server/src/lsp/exportThread';
import type { ServerOptions } from '../../server/src/lsp/server';
import { LspHarness, fileUri } from './harness';
import { exportTree, OTHER } from '../support/exportTree';
import { timeless } from '../support/reportRuns';
import { paddedImage, skipWithoutGcc } from '../support/gcc';

const REPO = resolve(__dirname, '../..');
const EXPORT_WORKER = join(REPO, 'dist', 'exportWorker.js');
const INDEX_WORKER = join(REPO, 'dist', 'indexWorker.js');
const skip = existsSync(EXPORT_WORKER) && existsSync(INDEX_WORKER) ? false : 'dist/exportWorker.js not built (npm run build)';

const FORMATS = ['sarif', 'html', 'markdown', 'json'];

const tree = () => exportTree('tdx-export-worker-');

/** An in-process server whose engine counts the whole-file audits the report makes (auditOnce). */
function server(exportWorker: ServerOptions['exportWorker']) {
  const audits = { n: 0 };
  const lsp = LspHarness.inProcess(
    {
      exportWorker,
      createEngine: async (files) => {
        const e = await AuditEngine.create(files);
        const once = e.auditOnce.bind(e);
        e.auditOnce = (file, text) => {
          audits.n++;
          return once(file, text);
        };
        return e;
      },
    },
    { debounceMs: 20 },
  );
  return { lsp, audits };
}

async function indexed(lsp: LspHarness): Promise<unknown> {
  for (let i = 0; i < 300; i++) {
    const s = await lsp.conn.sendRequest('tdxAudit/workspaceSummary');
    if (s) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the index did not finish');
}

test('the export runs on a worker thread: the same report byte for byte, nothing audited by the server\'s engine, the server\'s results unchanged', { skip }, async () => {
  const dir = tree();
  const other = join(dir, 'drivers', 'net', 'other.c');
  // Unsaved: the buffer differs from the disk, so the export must audit it (the index read the disk).
  const buffer = OTHER.replace('return readl(p);', 'writel(2, p + 16); return readl(p);');
  const reports: Record<string, Record<string, string>> = {};
  try {
    for (const mode of ['thread', 'worker'] as const) {
      const { lsp, audits } = server(mode === 'worker' ? { path: EXPORT_WORKER } : false);
      try {
        await lsp.initialize(dir);
        const summary = await indexed(lsp);
        await lsp.open(fileUri(other), buffer, 1);
        const diags = await lsp.diagnosticsFor(fileUri(other), 1);
        const out = join(dir, `out-${mode}`);
        const before = audits.n;
        const r: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: FORMATS });
        assert.equal(r.cancelled, false);
        assert.equal(r.written.length, 4);
        assert.match(r.reuse, /^2 files taken from the workspace index unchanged; 1 file audited: 1 changed since indexing/);
        if (mode === 'worker') {
          assert.equal(audits.n - before, 0, 'the server\'s engine audited nothing for the export');
          assert.ok(lsp.logs.some((l) => /^Export Audit Report: assembled on worker thread \d+, which has ended$/.test(l)), lsp.logs.join('\n'));
        } else {
          assert.equal(audits.n - before, 1, 'on the server\'s thread its engine audits the unsaved buffer');
          assert.ok(!lsp.logs.some((l) => /worker thread/.test(l)));
        }
        reports[mode] = Object.fromEntries(readdirSync(out).map((f) => [f, timeless(readFileSync(join(out, f), 'utf8'))]));
        // The server's own results after the export: the same workspace view, and the open file's diagnostics again on a change.
        assert.deepEqual(await lsp.conn.sendRequest('tdxAudit/workspaceSummary'), summary);
        await lsp.change(fileUri(other), 2, [{ text: buffer }]);
        assert.deepEqual(await lsp.diagnosticsFor(fileUri(other), 2), diags);
      } finally {
        lsp.kill();
      }
    }
    assert.deepEqual(Object.keys(reports.worker!).sort(), Object.keys(reports.thread!).sort());
    for (const name of Object.keys(reports.thread!)) assert.equal(reports.worker![name], reports.thread![name], `${name} identical`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an export whose worker dies (out of heap) fails with a clear error, leaves no partial report, and the server keeps serving', { skip }, async () => {
  const dir = tree();
  const { lsp } = server({ path: EXPORT_WORKER, resourceLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1 } });
  try {
    await lsp.initialize(dir);
    await indexed(lsp);
    const out = join(dir, 'out');
    const r = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: FORMATS });
    assert.equal(r, null, 'the request fails');
    const shown = await lsp.waitFor('the error shown', () => lsp.shown.find((m) => /exporting the audit report failed/.test(m.message)));
    assert.match(shown.message, /the export's worker thread ended before the report was written: .*(memory|heap).*No report file was written/s);
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], [], 'nothing written, no temporary file left');
    // Still serving: an open file is audited and diagnosed, the workspace view answers.
    const nic = join(dir, 'drivers', 'net', 'foo_nic.c');
    await lsp.open(fileUri(nic), readFileSync(nic, 'utf8'), 1);
    assert.ok((await lsp.diagnosticsFor(fileUri(nic), 1)).length > 0);
    assert.ok(await lsp.conn.sendRequest('tdxAudit/workspaceSummary'));
  } finally {
    lsp.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an export cancelled while its worker runs ends the worker, writes nothing and answers cancelled', { skip }, async () => {
  const dir = tree();
  try {
    const ac = new AbortController();
    ac.abort();
    const out = join(dir, 'out');
    const outcome = await assembleOnWorker(
      EXPORT_WORKER,
      { job: { paths: [dir], formats: ['json'], outDir: out, overwrite: false, profile: DEFAULT_CONFIG.profile, followIncludes: true }, config: { ...DEFAULT_CONFIG }, folders: [dir], buffers: [] },
      { signal: ac.signal, progress: () => undefined, log: () => undefined },
    );
    assert.deepEqual(outcome, { cancelled: true });
    assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'nothing written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with a vmlinux configured the export runs on a worker too, which opens the image from the bytes the server holds', { skip: skip || skipWithoutGcc }, async () => {
  // Until 2026-12-07 a vmlinux kept the export on the server's thread (no diagnostics
  // or hovers for its whole run), because a worker would have read the image again.
  const dir = tree();
  try {
    const img = paddedImage(dir);
    // The server's side: its engine's store opened vmlinux, into memory threads share.
    const store = new ObjectStore();
    assert.ok(!('error' in store.load(img, true)));
    const images = store.sharedImages();
    assert.deepEqual(images.map((i) => i.path), [img]);
    assert.ok(images[0]!.bytes instanceof SharedArrayBuffer);
    const logs: string[] = [];
    const outcome = await assembleOnWorker(
      EXPORT_WORKER,
      {
        job: { paths: [dir], formats: ['json'], outDir: join(dir, 'out'), overwrite: false, profile: DEFAULT_CONFIG.profile, followIncludes: true },
        config: { ...DEFAULT_CONFIG, objects: { vmlinux: img } },
        folders: [dir],
        buffers: [],
        images,
      },
      { signal: new AbortController().signal, progress: () => undefined, log: (m) => logs.push(m) },
    );
    assert.equal(outcome.cancelled, false);
    assert.ok(logs.includes(`Export Audit Report: ${img} opened from the server's copy, not read again`), logs.join('\n'));
    // Without the server's bytes the worker reads the image itself (and says nothing of a copy).
    const alone: string[] = [];
    await assembleOnWorker(
      EXPORT_WORKER,
      {
        job: { paths: [dir], formats: ['json'], outDir: join(dir, 'out2'), overwrite: false, profile: DEFAULT_CONFIG.profile, followIncludes: true },
        config: { ...DEFAULT_CONFIG, objects: { vmlinux: img } },
        folders: [dir],
        buffers: [],
      },
      { signal: new AbortController().signal, progress: () => undefined, log: (m) => alone.push(m) },
    );
    assert.ok(!alone.some((m) => /server's copy/.test(m)), alone.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
