// The warm-up after an open (AuditService.warm): made-up keystrokes analysed one per
// turn of the event loop so that the first real keystrokes run compiled code; a real
// edit, a close or an engine with nothing to warm stops it, and it publishes nothing.
// The engine side (that a made-up keystroke changes no audit) is in
// test/unit/audit/incremental.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import type { AuditConfig, FileAudit } from '../../server/src/audit/engine';
import { DEFAULT_SETTINGS } from '../../server/src/lsp/config';
import { DocumentStore } from '../../server/src/lsp/documents';
import { AuditService, WARM_EDITS, warmEditsFrom, type EngineLike } from '../../server/src/lsp/service';

class WarmingEngine implements EngineLike {
  audits: number[] = [];
  warmed: [string, number, number][] = [];
  /** What warmEdit answers (or throws). */
  answer: () => boolean = () => true;
  configure(_cfg: Partial<AuditConfig>) {}
  audit(file: string, _text: string, version: number): FileAudit {
    this.audits.push(version);
    return { file, version, analysis: { sites: [], functions: [], parseErrors: 0 }, findings: [], ms: 0 };
  }
  forget(_file: string) {}
  warmEdit(file: string, k: number, of: number): boolean {
    this.warmed.push([file, k, of]);
    return this.answer();
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const URI = 'file:///w/a.c';

async function setup() {
  const docs = new DocumentStore();
  const published: { version: number | undefined; diagnostics: Diagnostic[] }[] = [];
  const failures: string[] = [];
  const svc = new AuditService(docs, {
    publish: (_uri, version, diagnostics) => published.push({ version, diagnostics }),
    toDiagnostics: () => [],
    status: () => undefined,
    failure: (_uri, what) => failures.push(what),
  });
  const engine = new WarmingEngine();
  await svc.start(async () => engine, { ...DEFAULT_SETTINGS, debounceMs: 0 });
  docs.open({ textDocument: { uri: URI, languageId: 'c', version: 1, text: 'int x;\n' } });
  return { docs, svc, engine, published, failures };
}

test('after an open the engine analyses WARM_EDITS made-up keystrokes, one per turn of the event loop, and nothing is published', async () => {
  assert.ok(WARM_EDITS >= 1);
  const { svc, engine, published } = await setup();
  svc.opened(URI);
  assert.deepEqual(engine.audits, [1]);
  assert.equal(engine.warmed.length, 0, 'not before the open is published');
  for (let k = 0; k < WARM_EDITS; k++) {
    await turn();
    assert.deepEqual(engine.warmed, Array.from({ length: k + 1 }, (_, j) => [URI, j, WARM_EDITS]), `turn ${k + 1}`);
  }
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(engine.warmed.length, WARM_EDITS);
  assert.deepEqual(published.map((p) => p.version), [1]);
  svc.dispose();
});

test('a real edit, a close, or an engine with nothing to warm (or one that throws) stops the warm-up; no failure is reported', async () => {
  {
    const { docs, svc, engine, published } = await setup();
    svc.opened(URI);
    await turn();
    assert.equal(engine.warmed.length, 1);
    docs.change({ textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: 'int y;\n' }] });
    svc.changed(URI);
    // Audited at once (as a hover asks): no edit is pending when the next turn comes.
    assert.ok(svc.current(URI));
    for (let i = 0; i < WARM_EDITS + 3; i++) await turn();
    assert.equal(engine.warmed.length, 1, 'no made-up keystroke after a real one');
    assert.deepEqual(published.map((p) => p.version), [1, 2]);
    svc.dispose();
  }
  {
    const { svc, engine } = await setup();
    svc.opened(URI);
    svc.closed(URI);
    for (let i = 0; i < WARM_EDITS + 3; i++) await turn();
    assert.equal(engine.warmed.length, 0, 'closed');
    svc.dispose();
  }
  for (const answer of [() => false, () => { throw new Error('boom'); }]) {
    const { svc, engine, failures } = await setup();
    engine.answer = answer;
    svc.opened(URI);
    for (let i = 0; i < WARM_EDITS + 3; i++) await turn();
    assert.equal(engine.warmed.length, 1, 'stopped after the first');
    assert.deepEqual(failures, []);
    svc.dispose();
  }
});

test('TDX_AUDIT_WARM_EDITS sets how many made-up keystrokes (0: none); anything else keeps the default', () => {
  assert.equal(warmEditsFrom(undefined), 4);
  assert.equal(warmEditsFrom(''), 4);
  assert.equal(warmEditsFrom('0'), 0);
  assert.equal(warmEditsFrom('12'), 12);
  assert.equal(warmEditsFrom('-1'), 4);
  assert.equal(warmEditsFrom('x'), 4);
  assert.equal(warmEditsFrom('1000'), 64);
});
