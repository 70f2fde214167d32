// Resilience of the server (lsp/server.ts, in this process, with an engine that
// throws on a marker: no fault hook lives in product code): a document whose audit
// throws is logged and reported once while every other document is still served;
// diagnostics carry UTF-16 columns; stale results are never published after a newer edit.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import { AuditEngine } from '../../server/src/audit/engine';
import { FIXTURES, LspHarness, REPO, SERVER, fileUri } from './harness';

const DRIVER = join(FIXTURES, 'foo_nic.c');
const TEXT = readFileSync(DRIVER, 'utf8');

let lsp: LspHarness;

const MARKER = 'TDX_AUDIT_INJECTED_FAULT';

before(async () => {
  assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
  // The real engine, whose audit throws on documents holding MARKER.
  const createEngine = async (files: Parameters<typeof AuditEngine.create>[0]) => {
    const engine = await AuditEngine.create(files);
    const audit = engine.audit.bind(engine);
    engine.audit = (file, text, version) => {
      if (text.includes(MARKER)) throw new Error(`injected test fault (${MARKER})`);
      return audit(file, text, version);
    };
    return engine;
  };
  lsp = LspHarness.inProcess({ createEngine }, { debounceMs: 50 });
  await lsp.initialize(REPO);
});

after(() => {
  lsp?.kill();
});

const fmt = (d: Diagnostic) => `${d.code} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character}`;

/**
 * Inputs that make the audit throw inside the server: the injected fault, and inputs
 * that once overflowed the stack (nesting 30,000 deep), kept as probes.
 */
const FAULTS = [
  `void f(void __iomem *b) { u32 x = readl(b); } /* ${MARKER} */\n`,
  `void f(void __iomem *b) { u32 x = ${'('.repeat(30000)}readl(b)${')'.repeat(30000)}; }\n`,
];

test('an exception auditing one document is logged and shown once; other documents keep being served', { timeout: 120_000 }, async () => {
  const good = fileUri(join(REPO, 'test-output', 'resilience', 'good.c'));
  await lsp.open(good, TEXT, 1);
  const baseline = (await lsp.diagnosticsFor(good, 1)).map(fmt).sort();
  assert.ok(baseline.length > 5);

  // Find an input that makes the audit fail.
  let bad: string | undefined;
  let faultText = '';
  for (const [i, text] of FAULTS.entries()) {
    const uri = fileUri(join(REPO, 'test-output', 'resilience', `probe${i}.c`));
    const logsBefore = lsp.logs.length;
    await lsp.open(uri, text, 1);
    await lsp.diagnosticsFor(uri, 1, 60_000);
    if (lsp.logs.slice(logsBefore).some((l) => l.includes(uri) && /auditing/.test(l))) {
      bad = uri;
      faultText = text;
      break;
    }
    await lsp.close(uri);
  }
  assert.ok(bad, 'the stub engine makes the audit of the marked document throw');
  // The failed document's diagnostics were cleared for its version, not left stale.
  const cleared = lsp.diagnostics.filter((d) => d.uri === bad);
  assert.deepEqual(cleared[cleared.length - 1]!.diagnostics, []);
  const errorsShown = () => lsp.shown.filter((m) => m.type === 1 && m.message.includes('probe')).length;
  assert.equal(errorsShown(), 1, `one error message shown: ${JSON.stringify(lsp.shown)}`);
  const logged = lsp.logs.filter((l) => l.includes(bad!) && /auditing/.test(l));
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /injected test fault|RangeError|Maximum call stack/, 'the log has the exception');

  // More edits to the broken document: logged each time, shown no more; the good document is still served.
  for (let v = 2; v <= 4; v++) {
    await lsp.change(bad, v, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: ' ' }]);
    void faultText;
    await lsp.diagnosticsFor(bad, v, 60_000);
    const edit = v % 2 === 0 ? '\n' : '';
    await lsp.change(good, v, [{ range: { start: { line: 0, character: 0 }, end: { line: v % 2 === 0 ? 0 : 1, character: 0 } }, text: edit }]);
    const diags = (await lsp.diagnosticsFor(good, v)).map(fmt).sort();
    assert.equal(diags.length, baseline.length, `version ${v} of the good document is audited`);
  }
  assert.equal(errorsShown(), 1, 'the same failure is not shown again');
  assert.ok(lsp.logs.filter((l) => l.includes(bad!) && /auditing/.test(l)).length >= 4, 'each failure is logged');
  const hover = await lsp.conn.sendRequest('textDocument/hover', { textDocument: { uri: bad }, position: { line: 0, character: 40 } });
  assert.equal(hover, null, 'hover on the failed document answers (null), not an error');

  // Fix the broken document: it is audited again.
  await lsp.change(bad, 5, [{ text: 'void f(void __iomem *b) { writel(1, b); }\n' }]);
  const fixed = await lsp.diagnosticsFor(bad, 5, 60_000);
  assert.deepEqual(fixed.map(fmt), ['tdx-ve-mmio 0:26-0:32']);
  assert.equal(lsp.exitCode, undefined, 'the server is still running');
  void faultText;
});

test('published ranges count UTF-16 units: astral and CJK characters before writel( on the same line', async () => {
  const uri = fileUri(join(REPO, 'test-output', 'resilience', 'utf16.c'));
  const text = 'void f(void __iomem *b)\n{\n\t/* 😀𝔘 中文 */ writel(1, b); x = "😀"; readl(b);\n}\n';
  await lsp.open(uri, text, 1);
  const diags = (await lsp.diagnosticsFor(uri, 1)).map(fmt).sort();
  // '\t/* ' = 4 units, 😀 and 𝔘 = 2 each, ' 中文 */ ' = 7: writel at 15; UTF-8 bytes would put it at 23.
  const line = text.split('\n')[2]!;
  assert.equal(line.indexOf('writel'), 15);
  assert.equal(Buffer.byteLength(line.slice(0, 15)), 23);
  assert.deepEqual(diags, [`tdx-ve-mmio 2:15-2:21`, `tdx-ve-mmio 2:${line.indexOf('readl')}-2:${line.indexOf('readl') + 5}`].sort());
  // An edit inserting an astral character before the site moves it by two units.
  await lsp.change(uri, 2, [{ range: { start: { line: 2, character: 1 }, end: { line: 2, character: 1 } }, text: '😀' }]);
  const moved = (await lsp.diagnosticsFor(uri, 2)).map(fmt).sort();
  assert.deepEqual(moved, [`tdx-ve-mmio 2:17-2:23`, `tdx-ve-mmio 2:${line.indexOf('readl') + 2}-2:${line.indexOf('readl') + 7}`].sort());
});

test('stale results are never published after a newer edit: publish versions only grow, the last is the final text', { timeout: 60_000 }, async () => {
  const uri = fileUri(join(REPO, 'test-output', 'resilience', 'stale.c'));
  await lsp.open(uri, TEXT, 1);
  await lsp.diagnosticsFor(uri, 1);
  const from = lsp.diagnostics.length;
  let text = TEXT;
  let version = 1;
  // Edits at different speeds: some land inside the debounce, some after an audit started.
  for (let i = 0; i < 60; i++) {
    const line = 3 + (i % 20);
    const add = i % 3 === 0 ? '\twritel(1, fp->regs);\n' : '\n';
    const lines = text.split('\n');
    lines.splice(line, 0, add.replace(/\n$/, ''));
    text = lines.join('\n');
    await lsp.change(uri, ++version, [{ range: { start: { line, character: 0 }, end: { line, character: 0 } }, text: add }]);
    if (i % 7 === 0) await new Promise((r) => setTimeout(r, 20 + (i % 5) * 15));
  }
  await lsp.diagnosticsFor(uri, version);
  await new Promise((r) => setTimeout(r, 300));
  const pubs = lsp.diagnostics.slice(from).filter((d) => d.uri === uri);
  const versions = pubs.map((d) => d.version!);
  for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! >= versions[i - 1]!, `publish versions go back: ${versions.join(',')}`);
  assert.equal(versions[versions.length - 1], version, 'the last publish is the final version');
  // And it is right: the same as a fresh document with the final text.
  const fresh = fileUri(join(REPO, 'test-output', 'resilience', 'stale-fresh.c'));
  await lsp.open(fresh, text, 1);
  assert.deepEqual(pubs[pubs.length - 1]!.diagnostics.map(fmt).sort(), (await lsp.diagnosticsFor(fresh, 1)).map(fmt).sort());
});
