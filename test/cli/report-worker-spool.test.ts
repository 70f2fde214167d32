// `report`'s workers write each file's rows to the run's spool themselves and send
// the main thread only where they are (report/spool.ts RowSpoolWriter, SpooledRows):
// a large driver's rows are never copied into the main thread's heap (issue 15:
// report's peak RSS on drivers/). These tests prove that nothing is lost or
// reordered on the way: a file of thousands of findings reaches the report whole and
// in order; rows from several writers (workers replaced during the run) read back as
// one; a writer that stopped in the middle of a file (its worker died) leaves bytes
// nobody reads; a spool name that is not one is refused; and a worker that cannot
// write its rows fails the run instead of dropping the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { buildReport, FORMATS, reportFiles, reportJob, type BuildOptions, type ReportRun } from '../../server/src/audit/report/build';
import { batchHost, SiteFilter } from '../../server/src/audit/sources';
import { readTextOrUndefined } from '../../server/src/fs/safeRead';
import { siteKeys } from '../../server/src/audit/report/fingerprint';
import { assembleReportModel, reportRowsOf, rowScope, type FileReportRows } from '../../server/src/audit/report/model';
import { collectProvenance, findTreeRoot } from '../../server/src/audit/report/provenance';
import { ReportSpool, RowSpoolWriter } from '../../server/src/audit/report/spool';
import { emptyTriage, setTriage } from '../../server/src/audit/report/triage';
import { outputText } from '../../server/src/audit/report/write';
import { DRIVER, KERNEL_MAKEFILE, makeTree } from '../unit/report/helpers';
import { runCli, timeless } from '../support/reportRuns';

const NAMES = ['tdx-audit.json', 'tdx-audit.sarif', 'tdx-audit.md', 'tdx-audit.html'];

/** Equal texts; else the first line that differs (the texts run to megabytes). */
function sameText(got: string, want: string, what: string): void {
  if (got === want) return;
  const a = got.split('\n');
  const b = want.split('\n');
  const i = a.findIndex((l, k) => l !== b[k]);
  assert.fail(`${what}: line ${i + 1} is ${JSON.stringify(a[i])}, not ${JSON.stringify(b[i])} (${a.length} lines against ${b.length})`);
}

/** A driver of `fns` functions with `per` accessor lines each, plus dereferences: findings out of line order in the audit (calls before dereferences). */
function bigDriver(fns: number, per: number): string {
  const lines = ['#include <linux/io.h>', 'struct big { void __iomem *base; u32 __iomem *reg; };'];
  for (let f = 0; f < fns; f++) {
    lines.push(`void big_fill${f}(struct big *b)`, '{');
    for (let i = 0; i < per; i++) lines.push(i % 7 === 3 ? `\t*b->reg = ${i};` : `\twritel(${i}, b->base + ${i * 4}); readl(b->base + ${i});`);
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}

test('a file of thousands of findings written by the worker reaches the report whole and in order: every format is the in-memory model\'s', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/big/big.c': bigDriver(4, 300), 'drivers/acme/acme.c': DRIVER, 'drivers/acme/regs.h': '#define REG 4\n', 'drivers/zeta/z.c': bigDriver(1, 30) });
  try {
    // A triage entry: applied to the keys and to each finding as it is read back.
    const o: BuildOptions = { paths: [join(root, 'drivers')], formats: FORMATS, profile: 'tdx-linux-6.1', followIncludes: true, objects: [], noObjects: true } as BuildOptions;
    const plain = (await buildReport(o)) as ReportRun;
    const model = plain.model!;
    assert.ok(model.findings.filter((f) => f.file === 'drivers/big/big.c').length > 2000, 'a large file');
    const fp = model.findings.find((f) => f.file === 'drivers/big/big.c' && f.rule === 'tdx-iomem-deref')?.fingerprint;
    assert.ok(fp, 'a dereference finding in the big file');
    mkdirSync(join(root, '.tdx-audit'), { recursive: true });
    writeFileSync(join(root, '.tdx-audit', 'triage.json'), JSON.stringify(setTriage(emptyTriage(), fp, 'safe', { when: '2026-01-01T00:00:00.000Z' })));
    const inMemory = (await buildReport(o)) as ReportRun;
    const want = Object.fromEntries(inMemory.files.map((f) => [f.name, timeless(outputText(f))]));
    inMemory.doc.close();
    assert.match(want['tdx-audit.json']!, /"status": "safe"/);

    for (const jobs of ['1', '2']) {
      const out = join(root, `out-${jobs}`);
      const r = runCli(['report', join(root, 'drivers'), '--out', out, '--no-objects', '--exit-zero', '--jobs', jobs, '--profile', 'tdx-linux-6.1']);
      assert.equal(r.code, 0, r.err);
      for (const n of NAMES) sameText(timeless(readFileSync(join(out, n), 'utf8')), want[n]!, `${n}, --jobs ${jobs} (rows spooled by the workers)`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Rows of three audited files, one of them large. */
async function someRows(root: string): Promise<FileReportRows[]> {
  const e = await AuditEngine.create({ readFile: () => undefined });
  const scope = rowScope(root, true);
  const rowsOf = (rel: string, text: string) => {
    const path = join(root, rel);
    const audit = e.auditOnce(path, text);
    return reportRowsOf({ path, audit, keys: siteKeys(rel, text, audit.analysis.sites) }, scope);
  };
  return [rowsOf('drivers/a/acme.c', DRIVER), rowsOf('drivers/b/big.c', bigDriver(3, 200)), rowsOf('drivers/c/acme.c', DRIVER)];
}

const render = (source: Parameters<typeof reportFiles>[0]) => reportFiles(source, FORMATS).map((f) => timeless(outputText(f)));

test('rows written by several writers (workers replaced during a run) read back as the model; a writer cut off in the middle of a file leaves nothing that is read', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE });
  try {
    const rows = await someRows(root);
    const { kernel } = findTreeRoot([root]);
    const provenance = collectProvenance({ root, scope: [root], profile: 'tdx-linux-6.1', kernel, objects: [], now: new Date('2025-02-03T04:05:06Z') });
    const triage = setTriage(emptyTriage(), rows[1]!.findings[5]!.fingerprint, 'concern');
    const build = { state: 'not-built' as const, why: 'CONFIG_BIG is not set' };
    const model = assembleReportModel({ rows: rows.map((r, i) => (i === 1 ? { ...r, build } : r)), provenance, triage });

    const spool = new ReportSpool(triage);
    const first = new RowSpoolWriter(spool.dir);
    const second = new RowSpoolWriter(spool.dir);
    const copy = (r: FileReportRows) => JSON.parse(JSON.stringify(r)) as FileReportRows;
    const a = first.write(copy(rows[0]!));
    // The first writer's worker died while writing the big file: half a record, never answered for.
    const lost = first.write(copy(rows[1]!));
    appendFileSync(join(spool.dir, first.name), '{"fingerprint": "half a rec');
    assert.ok(lost.findings.length > 500);
    // A fresh worker audits the big file again, and the next one.
    const b = second.write(copy(rows[1]!));
    const c = second.write(copy(rows[2]!));
    assert.notEqual(first.name, second.name);
    // What crosses to the main thread: where the records are and the keys' fields, not the findings.
    assert.ok(JSON.stringify(b).length < JSON.stringify(rows[1]).length / 3, `${JSON.stringify(b).length} against ${JSON.stringify(rows[1]).length}`);
    const sorted = b.findings.map((f) => [f.line, f.character]);
    assert.deepEqual(sorted, [...sorted].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!), 'a file\'s records in line order');
    spool.addSpooled(a, undefined);
    spool.addSpooled(b, build);
    spool.addSpooled(c, undefined);
    const doc = spool.finish(provenance, []);
    try {
      assert.deepEqual(doc.counts, model.counts);
      assert.equal(doc.keys.length, model.findings.length);
      for (let i = 0; i < doc.keys.length; i++) assert.deepEqual(doc.finding(i), model.findings[i], `finding ${i}`);
      const [x, y] = [render(doc), render(model)];
      x.forEach((t, k) => sameText(t, y[k]!, `format ${FORMATS[k]}`));
    } finally {
      doc.close();
    }
    assert.ok(!existsSync(spool.dir), 'the workers\' files go with the spool folder');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a spool file name that is not one a writer makes is refused, and the folder is still removed', () => {
  const spool = new ReportSpool(undefined);
  const row = { file: 'x.c', subsystem: 'x', sites: 0, findings: 0, parseErrors: 0, ms: 0 };
  for (const name of ['../../etc/passwd', '/tmp/rows-1-1-1.jsonl', 'rows-1-1-1.jsonl/..', ''])
    assert.throws(() => spool.addSpooled({ path: '/t/x.c', file: 'x.c', row, spool: name, findings: [] }, undefined), /is not a spool file name/, name);
  const dir = spool.dir;
  assert.deepEqual(readdirSync(dir), []);
  spool.close();
  assert.ok(!existsSync(dir));
});

test('a worker that cannot write its rows to the spool fails the run with a clear error, not a skipped file, and the spool is removed', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER, 'drivers/acme/regs.h': '#define REG 4\n' });
  try {
    const o: BuildOptions = { paths: [join(root, 'drivers')], formats: FORMATS, profile: 'tdx-linux-6.1', followIncludes: true, objects: [], noObjects: true } as BuildOptions;
    let spoolDir = '';
    const failing = buildReport(o, {
      spool: true,
      // The pool as a worker runs it, with the spool folder gone from under it.
      runJobs: async (files, job, emit) => {
        spoolDir = job.settings.spoolDir!;
        const engine = await AuditEngine.create(batchHost());
        engine.configure(job.config);
        const filter = new SiteFilter((p) => readTextOrUndefined(p), (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
        const run = reportJob(engine, filter, { ...job.settings, spoolDir: join(root, 'no-such-folder') });
        files.forEach((f, i) => emit(i, run(f)));
      },
    });
    await assert.rejects(failing, /cannot write the findings of .*acme\.c to the report's temp folder: ENOENT/);
    assert.ok(spoolDir && !existsSync(spoolDir), 'the spool folder is removed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
