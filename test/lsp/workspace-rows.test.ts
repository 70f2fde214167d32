// The workspace view counts an editor's audit at every keystroke and makes its rows
// only when the file is expanded (workspace.ts entryRows): the rows, when made, are
// what the audit and its triage said, in the groups the counts put them in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkspaceView, entryRows } from '../../server/src/lsp/workspace';
import { toUri } from '../../server/src/lsp/files';
import type { FileAudit, Finding } from '../../server/src/audit/engine';
import type { Site } from '../../server/src/c/types';
import type { FindingTriage } from '../../server/src/lsp/triage';

function finding(line: number, severity: Finding['severity']): Finding {
  const range = { start: { line, character: 2 }, end: { line, character: 9 } };
  const site = { rule: 'tdx-ve-mmio', accessor: 'readl', address: 'p', function: 'f', range, callRange: range } as unknown as Site;
  return { rule: 'tdx-ve-mmio', severity, message: `m${line}`, site } as unknown as Finding;
}

const audit = (file: string, findings: Finding[]): FileAudit => ({ file, version: 1, analysis: { sites: findings.map((f) => f.site), functions: [], parseErrors: 0 }, findings, ms: 0 });

const TRIAGE: FindingTriage[] = [
  { fingerprint: 'a', deemphasised: false },
  { fingerprint: 'b', entry: { status: 'safe', time: 't' } as FindingTriage['entry'], deemphasised: true },
  { fingerprint: 'c', entry: { status: 'concern', time: 't' } as FindingTriage['entry'], deemphasised: false },
];

test('rows are made once, when first asked for, and carry each finding\'s triage and group', () => {
  let made = 0;
  const list = [{ severity: 'error' as const }, { severity: 'error' as const }, { severity: 'warning' as const }];
  const r = entryRows(list, 5, TRIAGE, false, (x) => {
    made++;
    return { rule: 'tdx-ve-mmio', severity: x.severity, message: 'm', accessor: 'readl', function: 'f', line: 0, character: 0 };
  });
  assert.deepEqual(r.counts, { sites: 5, errors: 1, warnings: 1, others: 0, triaged: 1, notBuilt: 0 });
  assert.deepEqual([...r.perGroup], [['error', 1], ['triaged', 1], ['warning', 1]]);
  assert.equal(made, 0, 'counting makes no row');
  const rows = r.findings();
  assert.equal(made, 3);
  assert.deepEqual(rows.map((x) => [x.group, x.triage, x.dismissed, x.notBuilt]), [['error', undefined, undefined, undefined], ['triaged', 'safe', true, undefined], ['warning', 'concern', undefined, undefined]]);
  assert.equal(r.findings(), rows, 'asked again: the same rows');
  assert.equal(made, 3);
  const aside = entryRows(list, 5, undefined, true, (x) => ({ rule: 'tdx-ve-mmio', severity: x.severity, message: 'm', accessor: 'readl', function: 'f', line: 0, character: 0 }));
  assert.deepEqual(aside.counts, { sites: 5, errors: 0, warnings: 0, others: 0, triaged: 0, notBuilt: 3 });
  assert.ok(aside.findings().every((x) => x.notBuilt === true && x.group === 'not-built'));
});

test('an editor audit expanded in the view lists its findings with the triage the diagnostics carried', () => {
  const path = '/w/a.c';
  const v = new WorkspaceView(() => true, () => undefined, () => ['/w'], () => undefined);
  try {
    v.audited(path, 'text', audit(toUri(path), [finding(3, 'error'), finding(7, 'error'), finding(1, 'warning')]), TRIAGE);
    const q = v.query();
    assert.equal(q.totals.errors, 1);
    assert.equal(q.totals.triaged, 1);
    assert.equal(q.totals.warnings, 1);
    assert.deepEqual(v.query({ group: 'triaged', uri: toUri(path) }).findings, [{ rule: 'tdx-ve-mmio', severity: 'error', message: 'm7', accessor: 'readl', function: 'f', line: 7, character: 2, triage: 'safe', dismissed: true }]);
    assert.deepEqual(v.query({ group: 'warning', uri: toUri(path) }).findings, [{ rule: 'tdx-ve-mmio', severity: 'warning', message: 'm1', accessor: 'readl', function: 'f', line: 1, character: 2, triage: 'concern' }]);
    // The next keystroke's audit replaces the rows with its own.
    v.audited(path, 'text2', audit(toUri(path), [finding(4, 'error')]), undefined);
    assert.deepEqual(v.query({ group: 'error', uri: toUri(path) }).findings?.map((f) => f.line), [4]);
    assert.deepEqual(v.query({ group: 'triaged', uri: toUri(path) }).findings, []);
  } finally {
    v.dispose();
  }
});
