// The report model in two steps (issue 15, item 5; issue 16's distribution run):
// reportRowsOf turns one file's audit into plain rows, assembleReportModel puts a
// run's rows together with triage and counts. Rows that went through JSON (a worker,
// a spool file, the editor's index) must give the report the whole audits give, byte
// for byte in every format; and rows a caller hands back through ReportHooks.reuse
// stand for the file: it is not audited again.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { batchHost } from '../../../server/src/audit/sources';
import { buildReport } from '../../../server/src/audit/report/build';
import { outputText } from '../../../server/src/audit/report/write';
import { assembleReportModel, buildReportModel, reportRowsOf, RowInterner, rowScope, type FileReportRows, type ReportInputFile } from '../../../server/src/audit/report/model';
import { collectProvenance, findTreeRoot, relativeTo } from '../../../server/src/audit/report/provenance';
import { jsonText } from '../../../server/src/audit/report/json';
import { sarifText } from '../../../server/src/audit/report/sarif';
import { htmlText } from '../../../server/src/audit/report/html';
import { markdownText } from '../../../server/src/audit/report/markdown';
import { siteKeys } from '../../../server/src/audit/report/fingerprint';
import { compileObject, copyDriverFixture, copyFormsFixture, GCC_FLAGS, skipWithoutGcc } from '../../support/gcc';
import { KERNEL_MAKEFILE } from '../report/helpers';

const FIX = resolve(__dirname, '../../fixtures');
const EXAMPLE = resolve(__dirname, '../../../examples/acme_wdt');

let dir = '';
let root = '';
let files: string[] = [];

/** An engine as `report` makes one: headers followed, objects read beside the sources. */
async function reportEngine(): Promise<AuditEngine> {
  const e = await AuditEngine.create(batchHost());
  e.configure({ profile: 'tdx-linux-6.1', followIncludes: true, headerCache: true, objects: { objects: [], sourceRoot: root } });
  return e;
}

/** Paths to values JSON would not carry as they are (class instances, functions, Maps, NaN); undefined is left out as JSON leaves it. */
function impureValues(v: unknown, at = '$'): string[] {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return [];
  if (typeof v === 'number') return Number.isFinite(v) ? [] : [at];
  if (Array.isArray(v)) return v.flatMap((x, i) => impureValues(x, `${at}[${i}]`));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.entries(v).flatMap(([k, x]) => impureValues(x, `${at}.${k}`));
  return [at];
}

/** What two runs may differ in: the time stamp and each file's own timing. */
const timeless = (s: string) => s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>').replace(/"ms": [\d.]+/g, '"ms": 0');

describe('report rows', { skip: skipWithoutGcc }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-rows-'));
    root = join(dir, 'linux');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'Makefile'), KERNEL_MAKEFILE);
    // Compiled forms (rejected and mis-emulated instructions), a plain module, wrappers through headers.
    copyFormsFixture(join(root, 'drivers/forms'), FIX);
    compileObject('forms.c', join(root, 'drivers/forms'), GCC_FLAGS.forms);
    copyDriverFixture(join(root, 'drivers/net'), join(FIX, 'drivers'));
    compileObject('foo_nic.c', join(root, 'drivers/net'));
    mkdirSync(join(root, 'drivers/prov'), { recursive: true });
    for (const f of ['global_irq.c', 'member.c', 'negative.c', 'overlay.c', 'prov_io.h']) copyFileSync(join(FIX, 'drivers/provenance', f), join(root, 'drivers/prov', f));
    mkdirSync(join(root, 'drivers/watchdog'), { recursive: true });
    for (const f of ['acme_wdt.c', 'acme_io.h']) copyFileSync(join(EXAMPLE, f), join(root, 'drivers/watchdog', f));
    files = ['drivers/forms/forms.c', 'drivers/net/foo_nic.c', 'drivers/prov/global_irq.c', 'drivers/prov/member.c', 'drivers/prov/overlay.c', 'drivers/watchdog/acme_wdt.c'].map((r) => join(root, r));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('rows that went through JSON assemble to the model of the whole audits, byte for byte in every format', async () => {
    const engine = await reportEngine();
    const input: ReportInputFile[] = files.map((path) => {
      const text = readFileSync(path, 'utf8');
      return { path, text, audit: engine.auditOnce(path, text) };
    });
    assert.ok(input.some((f) => f.audit.compiled?.sites.length), 'compiled forms were joined');
    const { root: r, kernel } = findTreeRoot([root]);
    const objects = input.flatMap((f) => (f.audit.compiled ? [{ source: f.path, info: f.audit.compiled.object }] : []));
    const provenance = collectProvenance({ root: r, scope: [join(root, 'drivers')], profile: 'tdx-linux-6.1', kernel, objects, now: new Date('2026-01-02T03:04:05Z') });
    const whole = buildReportModel({ files: input, provenance });
    // A triage entry, so the assembly's triage and deemphasis are exercised too.
    const fp = whole.findings.find((f) => f.severity === 'error')!.fingerprint;
    const triage = { version: 1 as const, entries: { [fp]: { status: 'safe' as const, when: '2026-01-01T00:00:00.000Z' } } };
    const skipped = [{ file: join(root, 'drivers/net/pipe.c'), why: 'not a regular file' }];
    const expected = buildReportModel({ files: input, provenance, triage, skipped });
    assert.ok(expected.findings.some((f) => f.triage && f.deemphasised));

    const scope = rowScope(r, kernel !== undefined);
    const rows: FileReportRows[] = input.map((f) => reportRowsOf(f, scope));
    const copied = JSON.parse(JSON.stringify(rows)) as FileReportRows[];
    assert.deepEqual(impureValues(rows), [], 'rows are plain JSON data');
    const model = assembleReportModel({ rows: copied, provenance, triage, skipped });
    for (const render of [jsonText, sarifText, htmlText, markdownText]) assert.equal(render(model), render(expected), render.name);
    assert.equal(model.counts.findings, expected.findings.length);
    // Rows from workers (copies) with their repeated parts shared again: the same report.
    const interner = new RowInterner();
    const shared = (JSON.parse(JSON.stringify(rows)) as FileReportRows[]).map((r) => interner.intern(r));
    const handlers = shared.flatMap((r) => r.findings.flatMap((f) => (f.handler ? [f.handler] : [])));
    assert.ok(handlers.length > new Set(handlers).size, 'equal handler records are one object');
    assert.equal(jsonText(assembleReportModel({ rows: shared, provenance, triage, skipped })), jsonText(expected));
    // Rows carry no audit, tree or text: each row's keys are the documented ones.
    for (const row of rows) assert.deepEqual(Object.keys(row).filter((k) => !['path', 'file', 'findings', 'functions', 'row', 'object', 'build'].includes(k)), []);
  });

  test('a file whose rows the caller hands back is not audited again, and the report is the same', async () => {
    const audited: string[] = [];
    const counting = async () => {
      const e = await reportEngine();
      const auditOnce = e.auditOnce.bind(e);
      e.auditOnce = (p, t) => {
        audited.push(relativeTo(root, p));
        return auditOnce(p, t);
      };
      return e;
    };
    const opts = { paths: [join(root, 'drivers')], formats: ['json' as const], profile: 'tdx-linux-6.1' as const, followIncludes: true, objects: [] };
    const first = await buildReport(opts, { engine: await counting() });
    assert.notEqual(first, 'cancelled');
    if (first === 'cancelled') return;
    assert.ok(audited.includes('drivers/net/foo_nic.c'));
    const before = audited.length;

    // The editor's index: rows of foo_nic.c it made from the same text.
    const nic = join(root, 'drivers/net/foo_nic.c');
    const nicText = readFileSync(nic, 'utf8');
    const indexEngine = await reportEngine();
    const audit = indexEngine.auditOnce(nic, nicText);
    const kept = JSON.parse(JSON.stringify(reportRowsOf({ path: nic, audit, keys: siteKeys('drivers/net/foo_nic.c', nicText, audit.analysis.sites) }, rowScope(root, true)))) as FileReportRows;
    const asked: string[] = [];
    audited.length = 0;
    const second = await buildReport(opts, {
      engine: await counting(),
      reuse: (p, text) => {
        asked.push(relativeTo(root, p));
        return p === nic && text === nicText ? kept : undefined;
      },
    });
    assert.notEqual(second, 'cancelled');
    if (second === 'cancelled') return;
    assert.ok(asked.includes('drivers/net/foo_nic.c'), 'the hook was asked');
    assert.ok(!audited.includes('drivers/net/foo_nic.c'), 'the reused file was not audited');
    assert.equal(audited.length, before - 1, 'every other file was');
    assert.ok(second.model!.findings.some((f) => f.file === 'drivers/net/foo_nic.c' && f.compiled), 'its findings and compiled forms are in the report');
    assert.ok(second.model!.provenance.objects.some((o) => o.source === 'drivers/net/foo_nic.c'), 'its object is in the provenance');
    const text = (run: typeof second) => timeless(outputText(run.files[0]!));
    assert.equal(text(second), text(first));
  });
});
