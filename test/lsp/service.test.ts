// AuditService with a fake engine: failure isolation, retries and version handling,
// which the real engine gives no way to trigger.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import type { AuditConfig, FileAudit } from '../../server/src/audit/engine';
import { DEFAULT_SETTINGS, parseSettings } from '../../server/src/lsp/config';
import { DocumentStore } from '../../server/src/lsp/documents';
import { AuditService, type EngineLike } from '../../server/src/lsp/service';
import type { StatusParams } from '../../server/src/lsp/protocol';

class FakeEngine implements EngineLike {
  calls: { file: string; version: number }[] = [];
  forgotten: string[] = [];
  configs: Partial<AuditConfig>[] = [];
  /** file → how many of its next audits throw. */
  failures = new Map<string, number>();
  configure(cfg: Partial<AuditConfig>) {
    this.configs.push(cfg);
  }
  audit(file: string, text: string, version: number): FileAudit {
    this.calls.push({ file, version });
    const n = this.failures.get(file) ?? 0;
    if (n > 0) {
      this.failures.set(file, n - 1);
      throw new Error(`boom in ${file}`);
    }
    return { file, version, analysis: { sites: [], functions: [], parseErrors: 0 }, findings: [], ms: text.length };
  }
  forget(file: string) {
    this.forgotten.push(file);
  }
}

function setup() {
  const docs = new DocumentStore();
  const published: { uri: string; version: number | undefined; diagnostics: Diagnostic[] }[] = [];
  const failures: { uri: string | undefined; what: string; message: string }[] = [];
  const statuses: StatusParams[] = [];
  const svc = new AuditService(docs, {
    publish: (uri, version, diagnostics) => published.push({ uri, version, diagnostics }),
    toDiagnostics: () => [],
    status: (p) => statuses.push(p),
    failure: (uri, what, err) => failures.push({ uri, what, message: String(err) }),
  });
  const engine = new FakeEngine();
  return { docs, svc, engine, published, failures, statuses };
}

const open = (docs: DocumentStore, uri: string, text = 'int x;\n') => docs.open({ textDocument: { uri, languageId: 'c', version: 1, text } });
const edit = (docs: DocumentStore, uri: string, version: number) =>
  docs.change({ textDocument: { uri, version }, contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: ' ' }] });

test('documents opened before the engine exists are audited once it starts', async () => {
  const { docs, svc, engine, published, statuses } = setup();
  open(docs, 'file:///a.c');
  svc.opened('file:///a.c');
  assert.equal(published.length, 0);
  await svc.start(async () => engine, DEFAULT_SETTINGS);
  assert.deepEqual(published.map((p) => [p.uri, p.version]), [['file:///a.c', 1]]);
  assert.deepEqual(statuses.map((s) => s.state), ['starting', 'ready', 'ready']);
  svc.dispose();
});

test('a failing document is reported, cleared, and does not stop the others', async () => {
  const { docs, svc, engine, published, failures } = setup();
  await svc.start(async () => engine, DEFAULT_SETTINGS);
  engine.failures.set('file:///bad.c', 100);
  open(docs, 'file:///bad.c');
  svc.opened('file:///bad.c');
  open(docs, 'file:///good.c');
  svc.opened('file:///good.c');
  assert.equal(failures.length, 1);
  assert.equal(failures[0].uri, 'file:///bad.c');
  assert.deepEqual(published.filter((p) => p.uri === 'file:///bad.c').map((p) => p.diagnostics), [[]]);
  assert.ok(published.some((p) => p.uri === 'file:///good.c' && p.version === 1));
  assert.equal(svc.current('file:///bad.c'), undefined);
  assert.ok(svc.current('file:///good.c'));
  svc.dispose();
});

test('an audit that throws is retried once after the cached tree is dropped', async () => {
  const { docs, svc, engine, published, failures } = setup();
  await svc.start(async () => engine, DEFAULT_SETTINGS);
  open(docs, 'file:///a.c');
  svc.opened('file:///a.c');
  edit(docs, 'file:///a.c', 2);
  engine.failures.set('file:///a.c', 1);
  const forgottenBefore = engine.forgotten.length;
  svc.changed('file:///a.c');
  const audit = svc.current('file:///a.c');
  assert.equal(audit?.version, 2);
  assert.equal(failures.length, 0);
  assert.deepEqual(engine.calls.slice(-2).map((c) => c.version), [2, 2], 'the same version audited again');
  assert.equal(engine.forgotten.length, forgottenBefore + 1, 'the tree was dropped between the two tries');
  assert.equal(published.at(-1)?.version, 2);
  svc.dispose();
});

test('edits are debounced and batched; current() audits pending edits at once', async () => {
  const { docs, svc, engine, published } = setup();
  await svc.start(async () => engine, parseSettings({ debounceMs: 5000 }));
  open(docs, 'file:///a.c');
  svc.opened('file:///a.c');
  for (let v = 2; v <= 6; v++) {
    edit(docs, 'file:///a.c', v);
    svc.changed('file:///a.c');
  }
  assert.equal(published.at(-1)?.version, 1, 'nothing published inside the debounce window');
  assert.equal(svc.current('file:///a.c')?.version, 6);
  assert.deepEqual(engine.calls.map((c) => c.version), [1, 6], 'the edits in the window are audited once, together');
  assert.deepEqual(published.map((p) => p.version), [1, 6]);
  svc.dispose();
});

test('disabling clears diagnostics; settings reach the engine; close forgets the tree', async () => {
  const { docs, svc, engine, published } = setup();
  await svc.start(async () => engine, DEFAULT_SETTINGS);
  open(docs, 'file:///a.c');
  svc.opened('file:///a.c');
  svc.applySettings(parseSettings({ tdxAudit: { enable: false } }));
  assert.deepEqual(published.at(-1), { uri: 'file:///a.c', version: 1, diagnostics: [] });
  assert.equal(svc.current('file:///a.c'), undefined);
  svc.applySettings(parseSettings({ profile: 'sev-es', severity: { 'tdx-ve-msr': 'off', bogus: 'error', 'tdx-ve-mmio': 'loud' } }));
  assert.deepEqual(engine.configs.at(-1), { severity: { 'tdx-ve-msr': 'off' }, followIncludes: true, profile: 'sev-es' });
  assert.ok(svc.current('file:///a.c'));
  docs.close('file:///a.c');
  svc.closed('file:///a.c');
  assert.deepEqual(published.at(-1), { uri: 'file:///a.c', version: undefined, diagnostics: [] });
  assert.ok(engine.forgotten.includes('file:///a.c'));
  svc.dispose();
});

test('an engine that fails to start reports an error state and audits nothing', async () => {
  const { docs, svc, published, failures, statuses } = setup();
  open(docs, 'file:///a.c');
  svc.opened('file:///a.c');
  await svc.start(async () => {
    throw new Error('no wasm');
  }, DEFAULT_SETTINGS);
  assert.equal(statuses.at(-1)?.state, 'error');
  assert.match(statuses.at(-1)?.message ?? '', /no wasm/);
  assert.equal(failures.length, 1);
  assert.equal(published.length, 0);
  assert.equal(svc.current('file:///a.c'), undefined);
  svc.dispose();
});

test('settings changed while the engine loads are the ones it gets', async () => {
  const { svc, engine } = setup();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const started = svc.start(async () => {
    await gate;
    return engine;
  }, DEFAULT_SETTINGS);
  svc.applySettings(parseSettings({ profile: 'tdx-linux-5.19' }));
  release();
  await started;
  assert.equal(engine.configs.at(-1)?.profile, 'tdx-linux-5.19');
  svc.dispose();
});

/** A service on a clock the test moves, with an engine whose every audit costs `costMs` of it; setTimeout mocked. */
function clocked(costMs: number) {
  let clock = 0;
  const docs = new DocumentStore();
  const published: { uri: string; version: number | undefined }[] = [];
  const svc = new AuditService(
    docs,
    { publish: (uri, version) => published.push({ uri, version }), toDiagnostics: () => [], status: () => undefined, failure: () => undefined },
    () => clock,
  );
  const engine = new FakeEngine();
  const audit = engine.audit.bind(engine);
  engine.audit = (file, text, version) => {
    clock += costMs;
    return audit(file, text, version);
  };
  return { docs, svc, engine, published, pass: (ms: number) => (clock += ms) };
}

test('an edit after a pause is audited after the debounce alone; one right after an audit waits out the audit\'s cost', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { docs, svc, engine, published, pass } = clocked(400);
  await svc.start(async () => engine, parseSettings({ debounceMs: 0 }));
  open(docs, 'file:///big.c');
  svc.opened('file:///big.c');
  assert.deepEqual(published.map((p) => p.version), [1]);

  // The user pauses longer than the audit took, then types: no wait beyond the debounce.
  pass(1000);
  edit(docs, 'file:///big.c', 2);
  svc.changed('file:///big.c');
  t.mock.timers.tick(1);
  assert.deepEqual(published.map((p) => p.version), [1, 2], 'audited at once after a pause');

  // An edit arriving as an audit ends (a burst): the next audit waits the last one's cost.
  edit(docs, 'file:///big.c', 3);
  svc.changed('file:///big.c');
  t.mock.timers.tick(1);
  assert.deepEqual(published.map((p) => p.version), [1, 2], 'a burst is not audited version by version');
  edit(docs, 'file:///big.c', 4);
  svc.changed('file:///big.c');
  t.mock.timers.tick(400);
  assert.deepEqual(published.map((p) => p.version), [1, 2, 4], 'then the latest version only');
  svc.dispose();
});
