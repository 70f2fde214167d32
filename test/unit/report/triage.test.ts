import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  TriageError,
  emptyTriage,
  loadTriage,
  parseTriage,
  saveTriage,
  serializeTriage,
  setTriage,
  triagePathFor,
} from '../../../server/src/audit/report/triage';
import { applyBaseline, diffReports } from '../../../server/src/audit/report/baseline';
import { toJsonReport, parseJsonReport, ReportFormatError } from '../../../server/src/audit/report/json';
import { DRIVER, KERNEL_MAKEFILE, makeTree, modelOf } from './helpers';

test('a triage file round-trips, keeping keys this version does not know', async () => {
  const root = makeTree({});
  const text = JSON.stringify({
    version: 1,
    futureTopLevel: { x: 1 },
    entries: { bbb: { status: 'safe', comment: 'probe only', who: 'ann', when: '2025-01-01T00:00:00Z', reviewUrl: 'r/1' }, aaa: { status: 'concern' } },
  });
  const p = triagePathFor(root);
  writeFileSync(join(root, 'x.json'), text);
  const t = parseTriage(text, 'x.json');
  await saveTriage(p, t);
  const back = loadTriage(p)!;
  assert.deepEqual(back, t);
  assert.deepEqual((back as Record<string, unknown>).futureTopLevel, { x: 1 });
  assert.equal(back.entries.bbb.reviewUrl, 'r/1');
  // Entries are written sorted (stable diffs in git), and no temp file is left behind.
  assert.ok(readFileSync(p, 'utf8').indexOf('"aaa"') < readFileSync(p, 'utf8').indexOf('"bbb"'));
  assert.deepEqual(readdirSync(join(root, '.tdx-audit')), ['triage.json']);
});

test('bad triage input gives a clear error naming the file and the entry', () => {
  assert.throws(() => parseTriage('{ "version": 1, entries: }', 'tri.json'), (e: Error) => e instanceof TriageError && /tri\.json: not valid JSON/.test(e.message));
  assert.throws(() => parseTriage('[]', 't'), /expected an object/);
  assert.throws(() => parseTriage('{"version":2,"entries":{}}', 't'), /unsupported version 2/);
  assert.throws(() => parseTriage('{"version":1,"entries":{"abc":{"status":"fine"}}}', 't'), /entry abc: status "fine" is not one of concern, safe/);
  assert.throws(() => parseTriage('{"version":1,"entries":{"abc":{"status":"safe","comment":3}}}', 't'), /entry abc: "comment" must be a string/);
  assert.equal(loadTriage(join(makeTree({}), 'missing.json')), undefined);
});

test('setTriage sets and clears entries without touching the input', () => {
  const t0 = emptyTriage();
  const t1 = setTriage(t0, 'fp1', 'safe', { comment: 'read-only status register', who: 'bob', when: '2025-02-01T00:00:00Z' });
  assert.deepEqual(Object.keys(t0.entries), []);
  assert.deepEqual(t1.entries.fp1, { status: 'safe', comment: 'read-only status register', who: 'bob', when: '2025-02-01T00:00:00Z' });
  const t2 = setTriage(t1, 'fp1', 'unclassified');
  assert.deepEqual(Object.keys(t2.entries), []);
  assert.match(serializeTriage(t1), /"version": 1/);
});

test('triage statuses reach the findings; safe/excluded/trusted are de-emphasised', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  const m0 = await modelOf(root, ['drivers/acme/acme.c']);
  const copy = m0.findings.find((f) => f.rule === 'tdx-movs-copy')!;
  const deref = m0.findings.find((f) => f.rule === 'tdx-iomem-deref')!;
  let t = setTriage(emptyTriage(), copy.fingerprint, 'concern', { comment: 'fix before GA' });
  t = setTriage(t, deref.fingerprint, 'trusted', { comment: 'only on bare metal' });
  const m = await modelOf(root, ['drivers/acme/acme.c'], { triage: t });
  const c = m.findings.find((f) => f.fingerprint === copy.fingerprint)!;
  const d = m.findings.find((f) => f.fingerprint === deref.fingerprint)!;
  assert.equal(c.triage?.status, 'concern');
  assert.equal(c.deemphasised, false);
  assert.equal(d.triage?.status, 'trusted');
  assert.equal(d.deemphasised, true);
  assert.equal(m.counts.byTriage.concern, 1);
  assert.equal(m.counts.byTriage.trusted, 1);
  assert.equal(m.counts.byTriage.untriaged, m.findings.length - 2);
});

test('baseline diff: new, fixed and unchanged by fingerprint, whatever moved', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  const base = toJsonReport(await modelOf(root, ['drivers/acme/acme.c']));
  // Shift everything down, fix the rep movs copy, and add a new raw dereference.
  const next = DRIVER.replace('// test driver\n', '// test driver\n\n\n\n')
    .replace('\t__iowrite32_copy(base + 0x100, buf, 16);\n', '')
    .replace('\treturn *reg;', '\t*reg |= 1;\n\treturn *reg;');
  writeFileSync(join(root, 'drivers/acme/acme.c'), next);
  const model = await modelOf(root, ['drivers/acme/acme.c']);
  const d = diffReports(toJsonReport(model), base);
  assert.deepEqual(d.fixed.map((f) => f.rule), ['tdx-movs-copy']);
  assert.deepEqual(d.new.map((f) => [f.rule, f.expression]), [['tdx-iomem-deref', '*reg|=1']]);
  assert.equal(d.unchanged.length, base.findings.length - 1);

  const applied = applyBaseline(model, parseJsonReport(JSON.stringify(base), 'base.json'), 'base.json');
  assert.deepEqual(
    { new: applied.baseline!.new, fixed: applied.baseline!.fixed.length, unchanged: applied.baseline!.unchanged },
    { new: 1, fixed: 1, unchanged: base.findings.length - 1 },
  );
  assert.equal(applied.findings.filter((f) => f.baseline === 'new').length, 1);
});

test('a baseline that is not a tdx-audit JSON report is refused clearly', () => {
  assert.throws(() => parseJsonReport('{"version":"2.1.0","runs":[]}', 'x.sarif'), (e: Error) => e instanceof ReportFormatError && /x\.sarif: not a tdx-audit JSON report/.test(e.message));
  assert.throws(() => parseJsonReport('nope', 'b.json'), /b\.json: not valid JSON/);
  assert.throws(() => parseJsonReport('{"schema":"tdx-audit-report","schemaVersion":1,"findings":[{}]}', 'b.json'), /findings\[0\] has no fingerprint/);
  assert.throws(() => parseJsonReport('{"schema":"tdx-audit-report","schemaVersion":99,"findings":[]}', 'b.json'), /newer/);
});
