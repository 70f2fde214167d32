// Reports written from a spool (issues 15.4 and 16): findings kept on disk as each
// file's rows arrive and read back while the files are written print the same bytes,
// in every format, as the in-memory model; and the spool's folder is gone afterwards,
// also after an error or a cancelled run.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledInstruction, FileCompiled } from '../../../server/src/audit/compiled';
import { AuditEngine } from '../../../server/src/audit/engine';
import { applyBaseline, applyBaselineToDoc } from '../../../server/src/audit/report/baseline';
import { buildReport, FORMATS, reportFiles, type BuildOptions, type ReportRun } from '../../../server/src/audit/report/build';
import { docOfModel } from '../../../server/src/audit/report/doc';
import { siteKeys } from '../../../server/src/audit/report/fingerprint';
import { HTML_LIST_ALL_LIMIT } from '../../../server/src/audit/report/html';
import { toJsonReport } from '../../../server/src/audit/report/json';
import { markdownText } from '../../../server/src/audit/report/markdown';
import { assembleReportModel, reportRowsOf, rowScope, skippedRows, type FileReportRows } from '../../../server/src/audit/report/model';
import { collectProvenance, findTreeRoot } from '../../../server/src/audit/report/provenance';
import { ReportSpool } from '../../../server/src/audit/report/spool';
import { emptyTriage, setTriage } from '../../../server/src/audit/report/triage';
import { outputText } from '../../../server/src/audit/report/write';
import { runReport } from '../../../server/src/cli/report';
import { DRIVER, KERNEL_MAKEFILE, makeTree } from './helpers';

function insn(over: Partial<CompiledInstruction>): CompiledInstruction {
  return {
    object: '/o/acme.o', function: 'acme_peek', offset: 0x1c, section: '.text', address: '0x1c', bytes: '83 0f 01', text: 'or dword ptr [rdi],1',
    class: 'DECODE_FAILED', size: 0, verdict: 'decode-failed', misemulation: [], flags: [], summary: 'insn_decode_mmio: no MMIO class for OR: WARN, then oops',
    file: undefined, line: 20, column: 9, inlineChain: ['acme_peek'], match: 'line-fallback', ...over,
  };
}

const PATA = 'void p(void __iomem *b) { writel(1, b); writel(2, b); iosubmit_cmds512(b, 0, 1); }\nvoid q(u32 __iomem *r) { *r |= 1; *r = 2; }\n';

/**
 * Rows of many files made from two audited fixtures: names whose walk order is not
 * the code-unit order ('a-x/' before 'a/' by code units), files arriving out of name
 * order, findings out of line order and at equal positions, compiled forms, build
 * states and allow-list marks; over HTML_LIST_ALL_LIMIT findings in all.
 */
async function manyRows(root: string): Promise<FileReportRows[]> {
  const e = await AuditEngine.create({ readFile: () => undefined });
  const scope = rowScope(root, true);
  const rowsOf = (rel: string, text: string, compiled?: FileCompiled) => {
    const path = join(root, rel);
    const audit = e.auditOnce(path, text);
    return reportRowsOf({ path, audit, keys: siteKeys(rel, text, audit.analysis.sites), ...(compiled ? { compiled } : {}) }, scope);
  };
  const a = e.auditOnce(join(root, 'drivers/acme/acme.c'), DRIVER);
  const derefIdx = a.analysis.sites.findIndex((s) => s.rule === 'tdx-iomem-deref');
  const readIdx = a.analysis.sites.findIndex((s) => s.accessor === 'readl');
  const compiled: FileCompiled = {
    object: { path: '/o/acme.o', state: 'fresh', message: '' },
    sites: [
      { siteIndex: derefIdx, instructions: [insn({})] },
      { siteIndex: readIdx, instructions: [insn({ function: 'acme_probe', bytes: '8b 47 04', text: 'mov eax,[rdi+4]', class: 'READ', size: 4, verdict: 'emulated', summary: 'READ 4 bytes into eax' })] },
    ],
    functions: [{ name: 'acme_probe', instructions: 4, verdicts: { emulated: 4 } }],
  };
  const acme = rowsOf('drivers/acme/acme.c', DRIVER, compiled);
  const pata = rowsOf('drivers/ata/pata.c', PATA);
  const out: FileReportRows[] = [];
  const dirs = ['drivers/a', 'drivers/a-x', 'drivers/a/b', 'drivers/net', 'sound/pci', 'arch/x86/kernel'];
  for (let i = 0; out.reduce((n, r) => n + r.findings.length, 0) <= HTML_LIST_ALL_LIMIT + 200; i++) {
    const base = i % 3 === 0 ? pata : acme;
    const file = `${dirs[(i * 7) % dirs.length]}/f${(i * 7919) % 1000}.c`;
    const r = JSON.parse(JSON.stringify(base)) as FileReportRows;
    r.path = join(root, file);
    r.file = file;
    r.row.file = file;
    r.functions.forEach((fn) => (fn.file = file));
    r.findings.forEach((f, k) => {
      f.file = file;
      f.fingerprint = `${f.fingerprint}-${i}`;
      // Out of line order, and now and then two findings at one position.
      if (i % 4 === 1) f.range = { ...f.range, start: { line: 100 - k, character: 3 } };
      if (i % 5 === 2 && k === 1) f.range = { ...f.range, start: { ...r.findings[0]!.range.start } };
    });
    if (i % 6 === 0) r.build = { state: 'not-built', why: 'CONFIG_X is not set', allowed: false };
    else if (i % 6 === 3) r.build = { state: 'built-in', allowed: true };
    // Some files arrive twice (the same name from two scope paths).
    out.push(r);
    if (i % 97 === 5) out.push(JSON.parse(JSON.stringify(r)) as FileReportRows);
  }
  return out;
}

/** Each format's digest and length (hashed piece by piece: the texts run to megabytes). */
function renderAll(source: Parameters<typeof reportFiles>[0]): Record<string, string> {
  const digest = (pieces: Iterable<string>) => {
    const h = createHash('sha256');
    let n = 0;
    for (const p of pieces) {
      h.update(p);
      n += p.length;
    }
    return `${n} ${h.digest('hex')}`;
  };
  const files = reportFiles(source, FORMATS, { shard: { index: 1, of: 2 } }).map((f) => [f.name, digest((f.content as { chunks: () => Iterable<string> }).chunks())]);
  return { ...Object.fromEntries(files), 'full.md': digest([markdownText(source, { full: true })]) };
}

test('a spooled report prints byte for byte what the in-memory model prints, in every format, with triage and a baseline', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE });
  const rows = await manyRows(root);
  const fps = rows.flatMap((r) => r.findings.map((f) => f.fingerprint));
  let triage = setTriage(emptyTriage(), fps[3]!, 'safe', { comment: 'checked' });
  triage = setTriage(triage, fps[10]!, 'concern');
  triage = setTriage(triage, fps[fps.length - 1]!, 'excluded');
  const { kernel } = findTreeRoot([root]);
  const provenance = collectProvenance({ root, scope: [root], profile: 'tdx-linux-6.1', kernel, objects: [], now: new Date('2025-02-03T04:05:06Z') });
  const skipped = [{ file: join(root, 'drivers/big.c'), why: 'too large' }];

  const model = assembleReportModel({ rows: JSON.parse(JSON.stringify(rows)) as FileReportRows[], provenance, triage, skipped });
  assert.ok(model.findings.length > HTML_LIST_ALL_LIMIT, 'enough findings for the HTML page to list only the notable ones');
  const spool = new ReportSpool(triage);
  for (const r of rows) spool.add(JSON.parse(JSON.stringify(r)) as FileReportRows);
  const doc = spool.finish(provenance, skippedRows(root, skipped));
  try {
    assert.deepEqual(doc.counts, model.counts);
    const a = renderAll(model);
    const b = renderAll(doc);
    assert.deepEqual(b, a, 'the spooled bytes are the in-memory ones');
    assert.equal(Object.keys(a).length, 5);
    assert.ok(model.findings.some((f) => f.severity === 'information') && model.findings.some((f) => f.severity === 'error'));

    // A baseline marks findings new/unchanged the same way on both.
    const base = toJsonReport(model);
    base.findings = base.findings.filter((_, i) => i % 3 !== 0);
    const ma = renderAll(applyBaseline(model, base, 'old.json'));
    const mb = renderAll(applyBaselineToDoc(doc, base, 'old.json'));
    assert.deepEqual(mb, ma, 'with a baseline too');
    assert.notDeepEqual(ma, a, 'the baseline changed the report');
    assert.match(markdownText(applyBaselineToDoc(doc, base, 'old.json')), /\*\*\d+ new\*\*/);
  } finally {
    doc.close();
  }
  assert.ok(!existsSync(spool.dir), 'closing the document removes the spool folder');
  rmSync(root, { recursive: true, force: true });
});

test('the in-memory model renders through the same writers as its document (one writer per format)', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE });
  const rows = (await manyRows(root)).slice(0, 30);
  const { kernel } = findTreeRoot([root]);
  const provenance = collectProvenance({ root, scope: [root], profile: 'tdx-linux-6.1', kernel, objects: [], now: new Date('2025-02-03T04:05:06Z') });
  const model = assembleReportModel({ rows, provenance });
  assert.deepEqual(renderAll(model), renderAll(docOfModel(model)));
  rmSync(root, { recursive: true, force: true });
});

/** Runs with TMPDIR pointed at a fresh folder, to see what a run leaves there. */
async function inTmp<T>(f: () => Promise<T>): Promise<{ value: T; left: string[] }> {
  const tmp = mkdtempSync(join(tmpdir(), 'tdx-spool-tmp-'));
  const old = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    const value = await f();
    return { value, left: readdirSync(tmp) };
  } finally {
    if (old === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = old;
    rmSync(tmp, { recursive: true, force: true });
  }
}

test('buildReport with the spool writes what it writes without, and a cancelled run leaves no spool behind', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER, 'drivers/acme/regs.h': '#define REG 4\n', 'drivers/ata/pata.c': PATA });
  const o: BuildOptions = { paths: [join(root, 'drivers')], formats: FORMATS, profile: 'tdx-linux-6.1', followIncludes: true, objects: [], noObjects: true } as BuildOptions;
  const text = (run: ReportRun | 'cancelled') => {
    assert.notEqual(run, 'cancelled');
    const r = run as ReportRun;
    try {
      return r.files.map((f) => outputText(f).replace(/"generatedAt": "[^"]+"|"endTimeUtc": "[^"]+"|"ms": [\d.]+|\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T'));
    } finally {
      r.doc.close();
    }
  };
  const plain = text(await buildReport(o));
  const { value: spooled, left } = await inTmp(async () => text(await buildReport(o, { spool: true })));
  assert.deepEqual(spooled, plain);
  assert.deepEqual(left, [], 'the spool folder is removed once the document is closed');

  const ac = new AbortController();
  ac.abort();
  const cancelled = await inTmp(() => buildReport(o, { spool: true, signal: ac.signal }));
  assert.equal(cancelled.value, 'cancelled');
  assert.deepEqual(cancelled.left, [], 'a cancelled run removes its spool');

  const failing = await inTmp(() => buildReport({ ...o, baseline: join(root, 'no-such-baseline.json') }, { spool: true }).then(() => 'ran', (e: Error) => e.message));
  assert.match(failing.value, /cannot read baseline/);
  assert.deepEqual(failing.left, [], 'a run that fails removes its spool');
  rmSync(root, { recursive: true, force: true });
});

test('tdx-audit report spools its findings and leaves nothing in the temp folder', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER, 'drivers/acme/regs.h': '#define REG 4\n' });
  const out: string[] = [];
  const { value: code, left } = await inTmp(() =>
    runReport([join(root, 'drivers'), '--out', join(root, 'out'), '--no-objects', '--jobs', '1', '--exit-zero'], { stdout: (s) => void out.push(s), stderr: (s) => void out.push(s), isTTY: false }),
  );
  assert.equal(code, 0, out.join(''));
  assert.deepEqual(left, []);
  assert.match(readFileSync(join(root, 'out', 'tdx-audit.json'), 'utf8'), /"schema": "tdx-audit-report"/);
  rmSync(root, { recursive: true, force: true });
});
