// Every count agrees after triage (issue 17): the diagnostics (what the Problems panel
// counts), the file summary (the status item and List Sites), the workspace view (the
// TDX Findings tree and the workspace status item) and the exported report, after a
// site is marked safe and another excluded. Over stdio against the built server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import type { FileSummary, FindingCounts, WorkspaceFindings } from '../../server/src/lsp/protocol';
import { FIXTURES, LspHarness, SERVER, fileUri } from './harness';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const OPEN_C = `#include "tdx_io.h"
struct regs { unsigned int ctrl; unsigned int stat; };
void a(struct regs __iomem *r, void *buf)
{
\tmemcpy(buf, r, 8);
\tmemset(r, 0, 8);
\tr->ctrl = 1;
\tr->stat = 2;
\twritel(1, &r->stat);
}
`;
// Never opened: the workspace view has it from the index only.
const CLOSED_C = `#include "tdx_io.h"
void b(void __iomem *p, void *buf)
{
\tmemcpy(buf, p, 4);
\twritel(1, p);
}
`;

/** Counts of published diagnostics as the Problems panel shows them (a triaged one is a hint). */
function problems(diags: Diagnostic[]) {
  return { errors: diags.filter((d) => d.severity === 1).length, warnings: diags.filter((d) => d.severity === 2).length };
}

/** The notification is the harness's to record no more than any other: polled (it is debounced by 300 ms). */
async function poll<T>(what: string, pred: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const v = pred();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sum = (a: Pick<FindingCounts, 'errors' | 'warnings'>, b: Pick<FindingCounts, 'errors' | 'warnings'>) => ({ errors: a.errors + b.errors, warnings: a.warnings + b.warnings });

test('after marking one error safe and one warning excluded, diagnostics, status, List Sites, the tree view and the report agree', { timeout: 120_000, skip: existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-counts-'));
  const out = mkdtempSync(join(tmpdir(), 'tdx-lsp-counts-out-'));
  dirs.push(dir, out);
  mkdirSync(join(dir, 'drivers'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'drivers', 'tdx_io.h'));
  writeFileSync(join(dir, 'drivers', 'open.c'), OPEN_C);
  writeFileSync(join(dir, 'drivers', 'closed.c'), CLOSED_C);
  const lsp = LspHarness.spawn({ debounceMs: 20 });
  const changes: { totals: WorkspaceFindings['totals']; indexing: boolean }[] = [];
  lsp.conn.onNotification('tdxAudit/workspaceChanged', (p: { totals: WorkspaceFindings['totals']; indexing: boolean }) => {
    changes.push(p);
  });
  try {
    await lsp.initialize(dir, { trusted: true });
    const view = () => lsp.conn.sendRequest('tdxAudit/workspaceFindings', {}) as Promise<WorkspaceFindings>;
    // The index has run once it reports done.
    for (let i = 0; i < 200 && (await view()).index.state !== 'done'; i++) await new Promise((r) => setTimeout(r, 100));
    const closedUri = fileUri(join(dir, 'drivers', 'closed.c'));
    const before = await view();
    assert.equal(before.index.state, 'done');
    const closedGroup = before.groups.find((g) => g.group === 'error')!.files.find((f) => f.uri === closedUri);
    assert.ok(closedGroup, `the closed file is in the view from the index: ${JSON.stringify(before.groups)}`);
    const closed = { errors: closedGroup.count, warnings: before.groups.find((g) => g.group === 'warning')!.files.find((f) => f.uri === closedUri)?.count ?? 0 };

    const uri = fileUri(join(dir, 'drivers', 'open.c'));
    await lsp.open(uri, OPEN_C, 1);
    const diags = await lsp.diagnosticsFor(uri, 1);
    const start = problems(diags);
    assert.ok(start.errors >= 2 && start.warnings >= 2, `fixture has errors and warnings: ${JSON.stringify(diags.map((d) => [d.code, d.severity]))}`);

    const check = async (label: string, expect: { errors: number; warnings: number; triaged: number }) => {
      const published = lsp.diagnostics.filter((d) => d.uri === uri).at(-1)!.diagnostics;
      assert.deepEqual(problems(published), { errors: expect.errors, warnings: expect.warnings }, `${label}: Problems`);
      const summary = (await lsp.conn.sendRequest('tdxAudit/fileSummary', { uri })) as FileSummary;
      assert.deepEqual({ errors: summary.errors, warnings: summary.warnings, triaged: summary.triaged }, expect, `${label}: status item / List Sites`);
      assert.equal(summary.items.filter((i) => i.severity === 'error' && !i.dismissed).length, expect.errors, `${label}: List Sites rows`);
      const v = await view();
      const inFile = (g: string) => v.groups.find((x) => x.group === g)!.files.find((f) => f.uri === uri)?.count ?? 0;
      assert.deepEqual({ errors: inFile('error'), warnings: inFile('warning'), triaged: inFile('triaged') }, expect, `${label}: tree view, this file`);
      assert.deepEqual({ errors: v.totals.errors, warnings: v.totals.warnings }, sum(expect, closed), `${label}: tree view and workspace status item totals`);
      assert.equal(v.totals.triaged, expect.triaged, `${label}: triaged total`);
      const triagedSites = (await lsp.conn.sendRequest('tdxAudit/workspaceFindings', { group: 'triaged', uri })) as WorkspaceFindings;
      assert.equal(triagedSites.findings?.length ?? 0, expect.triaged, `${label}: the triaged group lists the sites`);
      // The notification the status bar item renders from carries the same totals.
      const last = await poll(`${label}: a workspaceChanged with ${expect.errors + closed.errors} errors`, () => {
        const n = changes.at(-1);
        return n && n.totals.errors === expect.errors + closed.errors && n.totals.triaged === expect.triaged ? n : undefined;
      });
      assert.equal(last.totals.warnings, expect.warnings + closed.warnings);
    };
    await check('before triage', { ...start, triaged: 0 });

    const triage = async (severity: number, status: string) => {
      const published = lsp.diagnostics.filter((d) => d.uri === uri).at(-1)!.diagnostics;
      const d = published.find((x) => x.severity === severity && !(x.data as { status?: string }).status)!;
      const actions: any[] = await lsp.conn.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
      const a = actions.find((x) => x.command?.arguments?.[2] === status);
      const n = lsp.diagnostics.length;
      const [u, fp] = a.command.arguments;
      await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.setTriage', arguments: [u, fp, status, `test: ${status}`] });
      await lsp.nextDiagnostics(uri, n);
    };
    await triage(1, 'safe');
    await check('one error safe', { errors: start.errors - 1, warnings: start.warnings, triaged: 1 });
    await triage(2, 'excluded');
    const after = { errors: start.errors - 1, warnings: start.warnings - 1, triaged: 2 };
    await check('and one warning excluded', after);

    // The report: its open errors and warnings are the view's, and it says nothing differs.
    const r = (await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: pathToFileURL(out).href, formats: ['json', 'markdown'] })) as { written: string[]; differences?: string[]; findings: number };
    assert.equal(r.written.length, 2, JSON.stringify(r));
    const json = JSON.parse(readFileSync(join(out, 'tdx-audit.json'), 'utf8'));
    const dismissed = (f: { triage: { status: string } | null }) => !!f.triage && ['safe', 'excluded', 'trusted'].includes(f.triage.status);
    const open = (sev: string) => json.findings.filter((f: { severity: string; triage: { status: string } | null }) => f.severity === sev && !dismissed(f)).length;
    assert.deepEqual({ errors: open('error'), warnings: open('warning') }, sum(after, closed), 'report: open errors and warnings');
    assert.equal(json.findings.filter(dismissed).length, 2, 'report: triaged');
    assert.equal(json.summary.byTriage.safe, 1);
    assert.equal(json.summary.byTriage.excluded, 1);
    assert.equal(r.differences, undefined, `the report and the view agree: ${JSON.stringify(r.differences)}`);

    // Closed again, unchanged on disk: the view keeps the editor's triaged counts.
    await lsp.close(uri);
    const v = await view();
    assert.deepEqual({ errors: v.totals.errors, warnings: v.totals.warnings, triaged: v.totals.triaged }, { ...sum(after, closed), triaged: 2 }, 'closed: the view keeps the triaged counts');
  } finally {
    lsp.kill();
  }
});
