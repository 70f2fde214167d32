// The editor's export takes the background index's report rows for files that are
// unchanged since indexing instead of auditing them again, and its report is the
// report a fresh export writes (lsp/export.ts reuseFromIndex, index/spool.ts).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditEngine, DEFAULT_CONFIG, type AuditConfig } from '../../server/src/audit/engine';
import { batchHost } from '../../server/src/audit/sources';
import { buildReport, FORMATS, type BuildOptions, type ReportRun } from '../../server/src/audit/report/build';
import { outputText } from '../../server/src/audit/report/write';
import { WorkspaceIndexer } from '../../server/src/index/indexer';
import { reuseFromIndex } from '../../server/src/lsp/export';
import { LspHarness, SERVER, fileUri } from './harness';
import { exportTree, OTHER } from '../support/exportTree';
import { timeless } from '../support/reportRuns';

const WORKER = resolve(__dirname, '../../dist/indexWorker.js');

/** What two runs may differ in: the time stamp and each file's own timing. */
const rendered = (run: ReportRun | 'cancelled') => {
  assert.notEqual(run, 'cancelled');
  return Object.fromEntries((run as ReportRun).files.map((f) => [f.name, timeless(outputText(f))]));
};


describe('export reuses the index for unchanged files', { skip: existsSync(WORKER) ? false : 'dist/indexWorker.js not built (npm run build)' }, () => {
  let dir = '';
  let ix: WorkspaceIndexer;
  let engine: AuditEngine;
  let config: AuditConfig;
  const audited: string[] = [];

  const options = (): BuildOptions => ({ paths: [dir], formats: FORMATS, profile: config.profile, followIncludes: config.followIncludes, objects: [] }) as unknown as BuildOptions;
  const fresh = () => buildReport(options(), { engine });
  const withReuse = (buffers: Map<string, string> = new Map()) => {
    const r = reuseFromIndex({ engine, spool: ix.spool }, [dir], buffers);
    return { r, run: buildReport(options(), { engine, textOf: (p) => buffers.get(p), ...(r.hook ? { reuse: r.hook } : {}) }) };
  };
  /** A fresh export, then one reusing the index's rows: both rendered, and what the fresh one audited (`audited` then holds the second's). */
  const bothExports = async () => {
    audited.length = 0;
    const a = rendered(await fresh());
    const freshAudited = [...audited];
    audited.length = 0;
    const { r, run } = withReuse();
    const b = rendered(await run);
    return { a, b, r, freshAudited };
  };

  before(async () => {
    dir = exportTree('tdx-export-reuse-');
    writeFileSync(join(dir, 'drivers', 'plain.c'), 'int add(int a, int b) { return a + b; }\n');
    // As the server in a trusted workspace: objects looked for beside each source.
    config = { ...DEFAULT_CONFIG, severity: { 'tdx-ve-msr': 'off' }, objects: { sourceRoot: dir } };
    engine = await AuditEngine.create(batchHost([dir]));
    engine.configure(config);
    // The injected engine counts what it audits.
    const auditOnce = engine.auditOnce.bind(engine);
    engine.auditOnce = (file, text) => {
      audited.push(file);
      return auditOnce(file, text);
    };
    ix = new WorkspaceIndexer(WORKER, 1, Infinity);
    const r = await ix.index([dir], config, () => undefined, { cancelled: false });
    assert.equal(r.failures.length, 0, JSON.stringify(r.failures));
    assert.ok(ix.spool && existsSync(ix.spool), 'the index spools its rows');
  });
  after(() => {
    ix?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an export after the index audits no unchanged file and writes the fresh export\'s report, byte for byte', async () => {
    const { a, b, r, freshAudited } = await bothExports();
    assert.ok(freshAudited.length >= 3, `the fresh export audits every file with sites: ${freshAudited.join(', ')}`);
    assert.deepEqual(audited, [], 'nothing audited again');
    assert.deepEqual(Object.keys(b), Object.keys(a));
    for (const name of Object.keys(a)) assert.equal(b[name], a[name], `${name} identical`);
    assert.ok(a['tdx-audit.json']!.includes('drivers/net/other.c'), 'the report holds the files');
    assert.match(r.note(), /^3 files taken from the workspace index unchanged; 0 files audited$/);
  });

  test('a file changed since indexing is audited, the others still come from the index', async () => {
    const other = join(dir, 'drivers', 'net', 'other.c');
    writeFileSync(other, OTHER.replace('p + 8', 'p + 12'));
    try {
      const { a, b, r } = await bothExports();
      assert.deepEqual(audited, [other]);
      for (const name of Object.keys(a)) assert.equal(b[name], a[name], `${name} identical`);
      assert.match(r.note(), /1 file audited: 1 changed since indexing/);
    } finally {
      writeFileSync(other, OTHER);
    }
  });

  test('an unsaved buffer is audited; an object appearing beside a source makes that source audited', async () => {
    const nic = join(dir, 'drivers', 'net', 'foo_nic.c');
    const other = join(dir, 'drivers', 'net', 'other.c');
    audited.length = 0;
    await withReuse(new Map([[other, OTHER + '\n']])).run;
    assert.deepEqual(audited, [other], 'the buffer, not the disk, is what the report shows');
    // A broken object beside foo_nic.c: the engine now reports it (unusable), so the rows change.
    writeFileSync(join(dir, 'drivers', 'net', 'foo_nic.o'), 'not an ELF file');
    try {
      const { a, b, r } = await bothExports();
      assert.deepEqual(audited, [nic]);
      assert.equal(b['tdx-audit.json'], a['tdx-audit.json']);
      assert.match(r.note(), /1 whose objects changed since indexing/);
    } finally {
      rmSync(join(dir, 'drivers', 'net', 'foo_nic.o'), { force: true });
    }
  });

  test('other severities, or a header with unsaved changes, turn reuse off for the files they touch', async () => {
    engine.configure({ ...config, severity: {} });
    try {
      audited.length = 0;
      const { r, run } = withReuse();
      await run;
      assert.equal(audited.length, 3);
      assert.match(r.note(), /3 indexed under another configuration/);
    } finally {
      engine.configure(config);
    }
    const header = join(dir, 'drivers', 'net', 'tdx_io.h');
    audited.length = 0;
    const dirty = withReuse(new Map([[header, readFileSync(header, 'utf8') + '\n#define EXTRA 1\n']]));
    await dirty.run;
    const r = dirty.r;
    assert.equal(r.hook, undefined);
    assert.equal(audited.length, 3);
    assert.match(r.note(), /tdx_io\.h has unsaved changes/);
  });

  test('a header changing on disk empties the index\'s spool: nothing stale is reused', async () => {
    const before = ix.spool;
    ix.headerChanged();
    assert.notEqual(ix.spool, before);
    for (let i = 0; i < 50 && existsSync(before!); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!existsSync(before!), 'the old spool is removed');
    audited.length = 0;
    const { r, run } = withReuse();
    await run;
    assert.equal(audited.length, 3, audited.join(', '));
    assert.match(r.note(), /3 not indexed/);
    // The next index run audits every file again and spools them anew.
    const again = await ix.index([dir], config, () => undefined, { cancelled: false });
    assert.equal(again.cacheHits, 0);
    audited.length = 0;
    await withReuse().run;
    assert.deepEqual(audited, []);
  });
});

test('over LSP, an export after the index says how many files it took from the index, and why counts differ', { skip: existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build' }, async () => {
  const dir = exportTree('tdx-export-reuse-lsp-');
  const lsp = LspHarness.spawn({ debounceMs: 50 });
  try {
    await lsp.initialize(dir);
    let s: any = null;
    for (let i = 0; i < 150 && !s; i++) {
      s = await lsp.conn.sendRequest('tdxAudit/workspaceSummary');
      if (!s) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(s, 'index finished');
    const r: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(join(dir, 'out')), formats: ['json'] });
    assert.equal(r.cancelled, false);
    assert.match(r.reuse, /^3 files taken from the workspace index unchanged; 0 files audited$/);
    assert.equal(r.differences, undefined, 'the report and the view agree');
    // A file changed on disk after indexing (no watcher told the server): audited, and the difference said.
    writeFileSync(join(dir, 'drivers', 'net', 'other.c'), OTHER.replace('return readl(p);', 'writel(2, p + 16); return readl(p);'));
    const again: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(join(dir, 'out')), formats: ['json'], overwrite: true });
    assert.match(again.reuse, /^2 files taken from the workspace index unchanged; 1 file audited: 1 changed since indexing/);
    assert.ok(again.differences?.some((d: string) => /1 file changed between the index \(or the editor's audit\) and the export/.test(d)), JSON.stringify(again.differences));
  } finally {
    lsp.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
