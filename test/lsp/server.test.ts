// End-to-end: the built language server over stdio, driven as an editor would.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic, Range } from 'vscode-languageserver-protocol/node';
import { FIXTURES, LspHarness, REPO, SERVER, fileUri, positionOf, rangeOf } from './harness';
import type { FileSummary } from '../../server/src/lsp/protocol';
import { DEFAULT_SEVERITY } from '../../server/src/audit/findings';

const LSP_SEVERITY = { error: 1, warning: 2, information: 3, hint: 4 } as const;

const DRIVER = join(FIXTURES, 'foo_nic.c');
const DRIVER_URI = fileUri(DRIVER);
const TEXT = readFileSync(DRIVER, 'utf8');

let lsp: LspHarness;
let initResult: any;

before(async () => {
  assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
  // Short debounce keeps the suite fast; the burst test still sends edits far faster than this.
  lsp = LspHarness.spawn({ debounceMs: 100 });
  initResult = await lsp.initialize(REPO);
});

after(() => {
  lsp?.kill();
});

const fmt = (r: Range) => `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character}`;

function find(diags: Diagnostic[], code: string, range: Range): Diagnostic {
  const d = diags.find((x) => x.code === code && fmt(x.range) === fmt(range));
  assert.ok(d, `expected ${code} at ${fmt(range)}; got:\n${diags.map((x) => `  ${x.code} ${fmt(x.range)} ${x.message}`).join('\n')}`);
  return d;
}

/** Shifts a range by whole lines (what inserting a line above it does). */
const down = (r: Range, n: number): Range => ({
  start: { line: r.start.line + n, character: r.start.character },
  end: { line: r.end.line + n, character: r.end.character },
});

const key = (d: Diagnostic) => `${d.code} ${fmt(d.range)} ${d.severity}`;

test('initialize advertises hover and incremental sync', () => {
  const caps = initResult.capabilities;
  assert.equal(caps.hoverProvider, true);
  const sync = caps.textDocumentSync;
  assert.equal(typeof sync, 'object');
  assert.equal(sync.change, 2 /* Incremental */);
  assert.equal(sync.openClose, true);
  assert.equal(initResult.serverInfo?.name, 'tdx-audit');
});

let baseline: Diagnostic[];

test('didOpen publishes the driver\'s sites with exact ranges', async () => {
  await lsp.open(DRIVER_URI, TEXT, 1);
  const diags = await lsp.diagnosticsFor(DRIVER_URI, 1);
  baseline = diags;
  for (const d of diags) assert.equal(d.source, 'tdx-audit');

  const w = find(diags, 'tdx-ve-mmio', rangeOf(TEXT, 'writel', 'static inline void foo_writel('));
  assert.equal(w.severity, LSP_SEVERITY[DEFAULT_SEVERITY['tdx-ve-mmio']], 'the engine\'s default severity, mapped');
  assert.match(String(w.message), /writel/);
  find(diags, 'tdx-ve-mmio', rangeOf(TEXT, 'readl', 'u32 foo_poll('));
  const movs = find(diags, 'tdx-movs-copy', rangeOf(TEXT, '__iowrite32_copy', 'void foo_fill_ring('));
  assert.equal(movs.severity, LSP_SEVERITY.error, 'a MOVS copy to MMIO is an error');
  const deref = find(diags, 'tdx-iomem-deref', rangeOf(TEXT, 'fp->ovl->ctrl', 'void foo_kick('));
  assert.equal(deref.severity, LSP_SEVERITY[DEFAULT_SEVERITY['tdx-iomem-deref']]);
  find(diags, 'tdx-ve-port-io', rangeOf(TEXT, 'outb', 'u8 foo_legacy_status('));
  find(diags, 'tdx-ve-port-io', rangeOf(TEXT, 'inb', 'u8 foo_legacy_status('));
  find(diags, 'tdx-ve-msr', rangeOf(TEXT, 'native_read_msr', 'u64 foo_read_tsc_msr('));
});

test('a call through a same-file wrapper points at the accessor inside it', () => {
  const viaWrapper = find(baseline, 'tdx-ve-mmio', rangeOf(TEXT, 'foo_writel', 'static void foo_reset_hw('));
  const related = viaWrapper.relatedInformation ?? [];
  // The inner call: from the callee name to the closing parenthesis.
  const inner = rangeOf(TEXT, 'writel(val, fp->regs + reg)', 'static inline void foo_writel(');
  assert.ok(
    related.some((r) => r.location.uri === DRIVER_URI && fmt(r.location.range) === fmt(inner)),
    `relatedInformation should point at ${fmt(inner)} in the driver; got ${JSON.stringify(related)}`,
  );
});

test('hover on a site explains the #VE', async () => {
  const readlPos = positionOf(TEXT, 'readl', 'u32 foo_poll(');
  const hover: any = await lsp.conn.sendRequest('textDocument/hover', {
    textDocument: { uri: DRIVER_URI },
    position: { line: readlPos.line, character: readlPos.character + 2 },
  });
  assert.ok(hover, 'hover on readl returns something');
  assert.equal(hover.contents.kind, 'markdown');
  const md: string = hover.contents.value;
  assert.match(md, /readl/);
  assert.match(md, /EPT[ _-]?violation/i, 'names the exit reason');
  assert.match(md, /R12/, 'gives the TDVMCALL register convention');
  assert.match(md, /compiled form[^\n]*not known/i, 'says the compiled form is not known yet');

  const none = await lsp.conn.sendRequest('textDocument/hover', {
    textDocument: { uri: DRIVER_URI },
    position: positionOf(TEXT, 'struct foo_regs {'),
  });
  assert.equal(none, null, 'no hover away from sites');
});

test('fileSummary reports counts and functions', async () => {
  const s = await lsp.conn.sendRequest<FileSummary | null>('tdxAudit/fileSummary', { uri: DRIVER_URI });
  assert.ok(s);
  assert.equal(s.uri, DRIVER_URI);
  assert.equal(s.version, 1);
  assert.equal(s.items.length, baseline.length);
  assert.ok(s.sites >= baseline.length);
  assert.equal(s.errors, baseline.filter((d) => d.severity === 1).length);
  assert.equal(s.warnings, baseline.filter((d) => d.severity === 2).length);
  assert.ok(s.errors >= 1);
  const names = s.functions.map((f) => f.name);
  for (const fn of ['foo_writel', 'foo_poll', 'foo_kick', 'foo_fill_ring', 'foo_open']) assert.ok(names.includes(fn), `functions include ${fn}: ${names}`);
  const poll = s.functions.find((f) => f.name === 'foo_poll')!;
  assert.equal(poll.direct, 1);

  assert.equal(await lsp.conn.sendRequest('tdxAudit/fileSummary', { uri: 'file:///not/open.c' }), null);
  assert.equal(await lsp.conn.sendRequest('tdxAudit/fileSummary', {}), null, 'malformed params give null, not an error');
});

const NEW_LINE = '\twritel(5, fp->regs);\n';

test('didChange: an inserted line adds a diagnostic there and shifts the rest; deleting it restores them', async () => {
  const at = positionOf(TEXT, '\tfp->ovl->ctrl |= 1;');
  assert.equal(at.character, 0);
  await lsp.change(DRIVER_URI, 2, [{ range: { start: at, end: at }, text: NEW_LINE }]);
  const after = await lsp.diagnosticsFor(DRIVER_URI, 2);

  const added = find(after, 'tdx-ve-mmio', { start: { line: at.line, character: 1 }, end: { line: at.line, character: 7 } });
  assert.ok(added);
  assert.equal(after.length, baseline.length + 1);
  const expected = baseline.map((d) => key(d.range.start.line >= at.line ? { ...d, range: down(d.range, 1) } : d));
  const got = after.filter((d) => d !== added).map(key);
  assert.deepEqual(got.sort(), expected.sort());

  await lsp.change(DRIVER_URI, 3, [{ range: { start: at, end: { line: at.line + 1, character: 0 } }, text: '' }]);
  const restored = await lsp.diagnosticsFor(DRIVER_URI, 3);
  assert.deepEqual(restored.map(key).sort(), baseline.map(key).sort());
});

test('a burst of rapid edits: the last publish is the final version, and it is right', async () => {
  // Type NEW_LINE one character at a time above foo_kick's body line, as a user would.
  const at = positionOf(TEXT, '\tfp->ovl->ctrl |= 1;');
  const startCount = lsp.diagnostics.length;
  let version = 3;
  const chars = [...NEW_LINE];
  // The last two characters go in one notification with two changes, as clients may batch them.
  for (let i = 0; i < chars.length - 2; i++) {
    const pos = { line: at.line, character: i };
    await lsp.change(DRIVER_URI, ++version, [{ range: { start: pos, end: pos }, text: chars[i] }]);
  }
  const n = chars.length - 2;
  await lsp.change(DRIVER_URI, ++version, [
    { range: { start: { line: at.line, character: n }, end: { line: at.line, character: n } }, text: chars[n] },
    { range: { start: { line: at.line, character: n + 1 }, end: { line: at.line, character: n + 1 } }, text: chars[n + 1] },
  ]);
  assert.ok(version - 3 >= 20, 'at least 20 edits');
  const final = version;
  const diags = await lsp.diagnosticsFor(DRIVER_URI, final);

  // A round trip after the final publish: anything published late would have arrived by now.
  await lsp.conn.sendRequest('tdxAudit/fileSummary', { uri: DRIVER_URI });
  const mine = lsp.diagnostics.slice(startCount).filter((d) => d.uri === DRIVER_URI);
  assert.equal(mine.at(-1)!.version, final, 'the last publish is for the final version');
  for (let i = 1; i < mine.length; i++) assert.ok(mine[i].version! >= mine[i - 1].version!, 'versions never go backwards');
  assert.ok(mine.length < final - 3, `debounced: ${mine.length} publishes for ${final - 3} edits`);

  find(diags, 'tdx-ve-mmio', { start: { line: at.line, character: 1 }, end: { line: at.line, character: 7 } });
  // Incremental results must equal a fresh audit of the same text.
  const finalText = TEXT.slice(0, TEXT.indexOf('\tfp->ovl->ctrl |= 1;')) + NEW_LINE + TEXT.slice(TEXT.indexOf('\tfp->ovl->ctrl |= 1;'));
  const copyUri = fileUri(join(FIXTURES, 'foo_nic_lsp_copy.c'));
  await lsp.open(copyUri, finalText, 1);
  const fresh = await lsp.diagnosticsFor(copyUri, 1);
  assert.deepEqual(diags.map(key).sort(), fresh.map(key).sort());
  await lsp.close(copyUri);

  const s = await lsp.conn.sendRequest<FileSummary | null>('tdxAudit/fileSummary', { uri: DRIVER_URI });
  assert.equal(s?.version, final);
});

test('settings pulled on didChangeConfiguration apply to open documents', async () => {
  const before = lsp.diagnostics.length;
  lsp.config = { debounceMs: 100, severity: { 'tdx-ve-msr': 'off', 'tdx-ve-port-io': 'error' } };
  await lsp.conn.sendNotification('workspace/didChangeConfiguration', { settings: null });
  const p = await lsp.nextDiagnostics(DRIVER_URI, before);
  assert.ok(!p.diagnostics.some((d) => d.code === 'tdx-ve-msr'), 'tdx-ve-msr turned off');
  const port = p.diagnostics.filter((d) => d.code === 'tdx-ve-port-io');
  assert.ok(port.length >= 2 && port.every((d) => d.severity === 1), 'port I/O raised to error');

  const again = lsp.diagnostics.length;
  lsp.config = { debounceMs: 100 };
  await lsp.conn.sendNotification('workspace/didChangeConfiguration', { settings: null });
  const q = await lsp.nextDiagnostics(DRIVER_URI, again);
  assert.ok(q.diagnostics.some((d) => d.code === 'tdx-ve-msr'));
});

test('an unsaved header in the editor is what the includer sees', async () => {
  // Neither file exists on disk: the header must come from the open buffer.
  const hdr = join(FIXTURES, 'lsp_virtual_regs.h');
  const src = join(FIXTURES, 'lsp_virtual_user.c');
  const hdrText = '#define __iomem\nstruct bar { void __iomem *base; };\nstatic inline void bar_kick(struct bar *b) { writel(1, b->base); }\n';
  const srcText = '#include "lsp_virtual_regs.h"\nvoid use(struct bar *b)\n{\n\tbar_kick(b);\n}\n';
  await lsp.open(fileUri(hdr), hdrText, 1);
  await lsp.diagnosticsFor(fileUri(hdr), 1);
  await lsp.open(fileUri(src), srcText, 1);
  const diags = await lsp.diagnosticsFor(fileUri(src), 1);
  const call = rangeOf(srcText, 'bar_kick', 'void use(');
  const d = find(diags, 'tdx-ve-mmio', call);
  assert.ok(
    (d.relatedInformation ?? []).some((r) => r.location.uri === fileUri(hdr)),
    `related information points into the header buffer: ${JSON.stringify(d.relatedInformation)}`,
  );

  // Editing the header buffer re-audits the open includer (same version: its text did not change).
  const before = lsp.diagnostics.length;
  const w = rangeOf(hdrText, 'writel(1, b->base);');
  await lsp.change(fileUri(hdr), 2, [{ range: w, text: '(void)b;' }]);
  const p = await lsp.nextDiagnostics(fileUri(src), before);
  assert.equal(p.version, 1);
  assert.ok(!p.diagnostics.some((x) => x.code === 'tdx-ve-mmio'), `bar_kick no longer writes: ${JSON.stringify(p.diagnostics)}`);
  await lsp.close(fileUri(src));
  await lsp.close(fileUri(hdr));
});

test('junk input does not crash the server, which keeps serving other documents', async () => {
  let seed = 0x2545f491;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xffff;
  let junk = '';
  for (let i = 0; i < 20000; i++) junk += String.fromCharCode(rnd());
  junk += '\n{{{{ (( [ "unterminated\n#include "../../../../../../../../etc/passwd"\n}}}}}} )) int f( { writel(';
  junk += '\u0000\ud800\udfff\r\r\n\t*(';
  const junkUri = fileUri(join(FIXTURES, 'lsp_junk.c'));
  await lsp.open(junkUri, junk, 1);
  await lsp.diagnosticsFor(junkUri, 1);
  // Ranges beyond the end of the document, a reversed range and a full replacement.
  await lsp.change(junkUri, 2, [
    { range: { start: { line: 99999, character: 5 }, end: { line: 99999, character: 50 } }, text: '}}}' },
    { range: { start: { line: 2, character: 10 }, end: { line: 0, character: 3 } }, text: '\u0000{' },
  ]);
  await lsp.diagnosticsFor(junkUri, 2);
  await lsp.change(junkUri, 3, [{ text: '))))}}}}' + junk.slice(0, 5000) }]);
  await lsp.diagnosticsFor(junkUri, 3);
  const hover = await lsp.conn.sendRequest('textDocument/hover', { textDocument: { uri: junkUri }, position: { line: 5, character: 3 } });
  assert.ok(hover === null || typeof hover === 'object');
  await lsp.close(junkUri);

  const other = fileUri(join(FIXTURES, 'lsp_after_junk.c'));
  const otherText = '#include "tdx_io.h"\nvoid g(void __iomem *p) { writel(1, p); }\n';
  await lsp.open(other, otherText, 1);
  const diags = await lsp.diagnosticsFor(other, 1);
  find(diags, 'tdx-ve-mmio', rangeOf(otherText, 'writel'));
  assert.equal(lsp.exitCode, undefined, 'the server is still running');
  await lsp.close(other);
});

test('didClose clears the document\'s diagnostics', async () => {
  const before = lsp.diagnostics.length;
  await lsp.close(DRIVER_URI);
  const p = await lsp.nextDiagnostics(DRIVER_URI, before);
  assert.deepEqual(p.diagnostics, []);
  assert.equal(await lsp.conn.sendRequest('tdxAudit/fileSummary', { uri: DRIVER_URI }), null);
});

test('status notifications report the server ready', async () => {
  await lsp.waitFor('a ready status', () => (lsp.statuses.some((s) => s.state === 'ready') ? true : undefined));
  assert.equal(lsp.statuses[0]?.state, 'starting');
  assert.ok(!lsp.statuses.some((s) => s.state === 'error'), JSON.stringify(lsp.statuses));
});

test('shutdown then exit ends the process with code 0', async () => {
  const code = await lsp.shutdown();
  assert.equal(code, 0);
});
