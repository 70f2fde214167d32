// toDiagnostics reuses a site's previous diagnostic when nothing it reads changed
// (lsp/diagnostics.ts): every edit in the editor publishes the whole file's
// diagnostics again, and most of its sites are the previous version's objects. Each
// case compares with a fresh computation (a structured clone of the audit has new
// site objects, so nothing is reused) and checks which diagnostics were reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditEngine, type FileAudit } from '../../server/src/audit/engine';
import { toDiagnostics, type DiagnosticOptions } from '../../server/src/lsp/diagnostics';
import type { FindingTriage } from '../../server/src/lsp/triage';
import type { BuildInfo } from '../../server/src/lsp/kernelBuild';
import { FIXTURES } from './harness';

const TEXT = readFileSync(join(FIXTURES, 'foo_nic.c'), 'utf8');
const FILE = '/nonexistent/tdx-diagnostics-reuse/foo_nic.c';
const ON: DiagnosticOptions = { relatedInformation: true };

function fresh(audit: FileAudit, opts: DiagnosticOptions, triage?: FindingTriage[], build?: BuildInfo) {
  return toDiagnostics(structuredClone(audit), opts, triage, build);
}

async function setup() {
  const engine = await AuditEngine.create({ readFile: () => undefined });
  const audit = engine.audit(FILE, TEXT, 1);
  assert.ok(audit.findings.length >= 4, `findings: ${audit.findings.length}`);
  const triage: FindingTriage[] = audit.findings.map((_, i) => ({ fingerprint: `fp${i}`, deemphasised: false }));
  return { engine, audit, triage };
}

/** Which of `now` are the very objects of `before`. */
const reused = (before: unknown[], now: unknown[]) => now.map((d, i) => d === before[i]);

test('the same audit again gives the same diagnostic objects, equal to a fresh computation', async () => {
  const { audit, triage } = await setup();
  const a = toDiagnostics(audit, ON, triage);
  const b = toDiagnostics(audit, ON, triage);
  assert.deepEqual(reused(a, b), a.map(() => true));
  assert.deepStrictEqual(b, fresh(audit, ON, triage));
});

test('a triage decision, its comment or its fading changes that finding\'s diagnostic only', async () => {
  const { audit, triage } = await setup();
  const a = toDiagnostics(audit, ON, triage);
  const decided = triage.map((t, i) => (i === 1 ? { ...t, entry: { status: 'concern' as const } } : t));
  const b = toDiagnostics(audit, ON, decided);
  assert.deepEqual(reused(a, b), a.map((_, i) => i !== 1));
  assert.match(String(b[1]!.message), /^\[triaged concern\]/);
  assert.deepStrictEqual(b, fresh(audit, ON, decided));
  const commented = decided.map((t, i) => (i === 1 ? { ...t, entry: { status: 'concern' as const, comment: 'ask the vendor' } } : t));
  const c = toDiagnostics(audit, ON, commented);
  assert.deepEqual(reused(b, c), b.map((_, i) => i !== 1));
  assert.deepStrictEqual(c, fresh(audit, ON, commented));
  const safe = commented.map((t, i) => (i === 1 ? { ...t, entry: { status: 'safe' as const, comment: 'ask the vendor' }, deemphasised: true } : t));
  const d = toDiagnostics(audit, ON, safe);
  assert.deepEqual(reused(c, d), c.map((_, i) => i !== 1));
  assert.deepStrictEqual(d, fresh(audit, ON, safe));
  // Another fingerprint (the site's expression changed): its data changes.
  const other = safe.map((t, i) => (i === 2 ? { ...t, fingerprint: 'other' } : t));
  const e = toDiagnostics(audit, ON, other);
  assert.deepEqual(reused(d, e), d.map((_, i) => i !== 2));
  assert.deepStrictEqual(e, fresh(audit, ON, other));
  // Fading alone (the decision's status is the same).
  const faded = safe.map((t, i) => (i === 1 ? { ...t, deemphasised: false } : t));
  assert.deepStrictEqual(toDiagnostics(audit, ON, faded), fresh(audit, ON, faded));
});

test('the build state, the client\'s relatedInformation support and the finding\'s text are each part of what is compared', async () => {
  const { audit, triage } = await setup();
  const a = toDiagnostics(audit, ON, triage);
  const build: BuildInfo = { state: 'not-built', why: 'CONFIG_FOO_NIC is not set' };
  const b = toDiagnostics(audit, ON, triage, build);
  assert.ok(b.every((d, i) => d !== a[i] && String(d.message).startsWith('[not built in this .config')));
  assert.deepStrictEqual(b, fresh(audit, ON, triage, build));
  const why = { ...build, why: 'CONFIG_FOO_NIC=n' };
  assert.deepStrictEqual(toDiagnostics(audit, ON, triage, why), fresh(audit, ON, triage, why));
  const off = { relatedInformation: false };
  const withRelated = audit.findings.map((f) => f.related.length > 0);
  assert.ok(withRelated.some(Boolean), 'a finding with related locations');
  const c = toDiagnostics(audit, off, triage);
  assert.deepStrictEqual(c, fresh(audit, off, triage));
  assert.deepEqual(reused(a, toDiagnostics(audit, ON, triage)).filter((r, i) => withRelated[i] && r), [], 'back on: rebuilt');
  // The compiled-form join rewrites a finding's message on its per-audit copy.
  const joined: FileAudit = { ...audit, findings: audit.findings.map((f, i) => (i === 0 ? { ...f, message: `verified: ${f.message}` } : f)) };
  const d = toDiagnostics(joined, ON, triage);
  assert.match(String(d[0]!.message), /^verified: /);
  assert.deepStrictEqual(d, fresh(joined, ON, triage));
  const worse: FileAudit = { ...joined, findings: joined.findings.map((f, i) => (i === 0 ? { ...f, severity: f.severity === 'error' ? ('warning' as const) : ('error' as const) } : f)) };
  assert.deepStrictEqual(toDiagnostics(worse, ON, triage), fresh(worse, ON, triage));
});

test('after an edit, unmoved sites keep their diagnostics and the edited function\'s are rebuilt', async () => {
  const { engine, audit, triage } = await setup();
  const a = toDiagnostics(audit, ON, triage);
  // A digit of the last function's body: the sites of the functions above are kept.
  const at = TEXT.lastIndexOf('}');
  const body = TEXT.lastIndexOf('{', at);
  const digit = TEXT.slice(body, at).search(/\d/);
  assert.ok(digit > 0, 'a digit in the last function');
  const next = TEXT.slice(0, body + digit) + (TEXT[body + digit] === '7' ? '6' : '7') + TEXT.slice(body + digit + 1);
  const edited = engine.audit(FILE, next, 2);
  assert.equal(edited.findings.length, audit.findings.length);
  const b = toDiagnostics(edited, ON, triage);
  assert.deepStrictEqual(b, fresh(edited, ON, triage));
  const kept = reused(a, b);
  assert.ok(kept.some(Boolean), 'some diagnostics reused');
  for (let i = 0; i < b.length; i++) assert.equal(kept[i], edited.findings[i]!.site === audit.findings[i]!.site, `finding ${i}: reused exactly when its site is`);
});
