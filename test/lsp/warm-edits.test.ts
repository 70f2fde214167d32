// The warm-up after an open (AuditService.warm): made-up keystrokes analysed one per
// turn of the event loop so that the first real keystrokes run compiled code (the
// first open of a server gets the budget PROCESS_WARM_EDITS, later ones WARM_EDITS); a real
// edit, a close or an engine with nothing to warm stops it, and it publishes nothing.
// The engine side (that a made-up keystroke changes no audit) is in
// test/unit/audit/incremental.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import type { AuditConfig, FileAudit } from '../../server/src/audit/engine';
import { DEFAULT_SETTINGS } from '../../server/src/lsp/config';
import { DocumentStore } from '../../server/src/lsp/documents';
import { AuditService, PROCESS_WARM_EDITS, WARM_EDITS, warmEditsForOpen, warmEditsFrom, type EngineLike } from '../../server/src/lsp/service';

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

test('after the first open the engine analyses PROCESS_WARM_EDITS made-up keystrokes, one per turn of the event loop, and nothing is published; later opens WARM_EDITS each', async () => {
  assert.ok(WARM_EDITS >= 1 && PROCESS_WARM_EDITS > WARM_EDITS);
  const { docs, svc, engine, published } = await setup();
  svc.opened(URI);
  assert.deepEqual(engine.audits, [1]);
  assert.equal(engine.warmed.length, 0, 'not before the open is published');
  for (let k = 0; k < PROCESS_WARM_EDITS; k++) {
    await turn();
    assert.deepEqual(engine.warmed, Array.from({ length: k + 1 }, (_, j) => [URI, j, PROCESS_WARM_EDITS]), `turn ${k + 1}`);
  }
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(engine.warmed.length, PROCESS_WARM_EDITS);
  assert.deepEqual(published.map((p) => p.version), [1]);
  // The server's code is warm now: another document (or this one reopened) gets WARM_EDITS.
  const other = 'file:///w/b.c';
  docs.open({ textDocument: { uri: other, languageId: 'c', version: 1, text: 'int y;\n' } });
  svc.opened(other);
  for (let i = 0; i < WARM_EDITS + 5; i++) await turn();
  assert.deepEqual(engine.warmed.slice(PROCESS_WARM_EDITS), Array.from({ length: WARM_EDITS }, (_, j) => [other, j, WARM_EDITS]));
  svc.dispose();
});

test('the warm-up budget of a server counts the made-up keystrokes analysed, not those asked for: an open cut short leaves the rest to the next', async () => {
  const { docs, svc, engine } = await setup();
  svc.opened(URI);
  for (let i = 0; i < 3; i++) await turn();
  docs.change({ textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: 'int z;\n' }] });
  svc.changed(URI);
  assert.equal(engine.warmed.length, 3);
  const other = 'file:///w/b.c';
  docs.open({ textDocument: { uri: other, languageId: 'c', version: 1, text: 'int y;\n' } });
  svc.opened(other);
  for (let i = 0; i < PROCESS_WARM_EDITS + 5; i++) await turn();
  assert.equal(engine.warmed.length, PROCESS_WARM_EDITS, 'three, then the rest of the budget');
  assert.deepEqual(engine.warmed[3], [other, 0, PROCESS_WARM_EDITS - 3]);
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
    for (let i = 0; i < PROCESS_WARM_EDITS + 3; i++) await turn();
    assert.equal(engine.warmed.length, 1, 'no made-up keystroke after a real one');
    assert.deepEqual(published.map((p) => p.version), [1, 2]);
    svc.dispose();
  }
  {
    const { svc, engine } = await setup();
    svc.opened(URI);
    svc.closed(URI);
    for (let i = 0; i < PROCESS_WARM_EDITS + 3; i++) await turn();
    assert.equal(engine.warmed.length, 0, 'closed');
    svc.dispose();
  }
  for (const answer of [() => false, () => { throw new Error('boom'); }]) {
    const { svc, engine, failures } = await setup();
    engine.answer = answer;
    svc.opened(URI);
    for (let i = 0; i < PROCESS_WARM_EDITS + 3; i++) await turn();
    assert.equal(engine.warmed.length, 1, 'stopped after the first');
    assert.deepEqual(failures, []);
    svc.dispose();
  }
});

test("an open gets what is left of the server's budget, at least WARM_EDITS; TDX_AUDIT_WARM_EDITS, when set, is every open's count", () => {
  assert.equal(warmEditsForOpen(0, undefined), PROCESS_WARM_EDITS);
  assert.equal(warmEditsForOpen(0, ''), PROCESS_WARM_EDITS);
  assert.equal(warmEditsForOpen(PROCESS_WARM_EDITS - 10, undefined), 10);
  assert.equal(warmEditsForOpen(PROCESS_WARM_EDITS - 1, undefined), WARM_EDITS);
  assert.equal(warmEditsForOpen(1000, undefined), WARM_EDITS);
  assert.equal(warmEditsForOpen(0, '4'), 4);
  assert.equal(warmEditsForOpen(0, '0'), 0);
  assert.equal(warmEditsForOpen(1000, '12'), 12);
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
