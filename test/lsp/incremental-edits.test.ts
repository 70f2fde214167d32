// Over LSP, a document edited keystroke by keystroke (incremental didChange ranges,
// the engine's incremental path, diagnostics reused from the previous version) is
// published with exactly the diagnostics a fresh server gives the same text on open.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { FIXTURES, LspHarness, fileUri } from './harness';
import { mulberry32 as rng } from '../fuzz/prng';

/** foo_nic.c with a function whose body holds a `#define` (its body a site) and a loop to edit. */
function driverText(): string {
  return (
    readFileSync(join(FIXTURES, 'foo_nic.c'), 'utf8') +
    '\nvoid foo_irq(struct foo_priv *fp)\n{\n\tint i;\n\n\tfor (i = 0; i < 16; i++)\n\t\tfoo_kick(fp);\n#define FOO_ACK(p) writel(1, (p)->regs + 4)\n\tFOO_ACK(fp);\n\tst_poll = foo_poll(fp) + 20;\n}\n'
  );
}


type Pos = { line: number; character: number };
/** An incremental didChange range and its new text. */
type RangeChange = { range: { start: Pos; end: Pos }; text: string };

function positionAt(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length - 1, character: offset - before.lastIndexOf('\n') - 1 };
}

function offsetAt(text: string, p: { line: number; character: number }): number {
  let o = 0;
  for (let l = 0; l < p.line; l++) o = text.indexOf('\n', o) + 1;
  return o + p.character;
}

/** One edit as a typist makes it: a digit changed, a statement line added, a character deleted or typed. */
function randomEdit(text: string, r: () => number): { next: string; change: RangeChange; typo: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // Mostly in the functions' part of the file (the declarations above them are audited whole, as they should be).
  const from = text.indexOf('static void foo_reset_hw');
  const kind = r();
  let at: number;
  let end: number;
  let insert: string;
  if (kind < 0.4) {
    at = pick([...text.matchAll(/\d/g)].map((m) => m.index!).filter((o) => o > from || r() < 0.1));
    end = at + 1;
    insert = pick(['0', '3', '7', '12', '']);
  } else if (kind < 0.7) {
    // A statement line at the start of a line inside a body (after a tab-indented line).
    at = pick([...text.matchAll(/\n(?=\t)/g)].map((m) => m.index! + 1));
    end = at;
    insert = pick(['\tfoo_kick(fp);\n', '\tst_poll = readl(fp->regs + 8);\n', '\tx = 1;\n', '\n']);
  } else {
    // A typo anywhere among the functions (the next edit usually takes it back: see the loop).
    at = from + Math.floor(r() * (text.length - from));
    end = at + (r() < 0.5 ? 1 : 0);
    insert = end > at ? '' : pick([' ', 'x', ';', '(']);
  }
  const next = text.slice(0, at) + insert + text.slice(end);
  return { next, change: { range: { start: positionAt(text, at), end: positionAt(text, end) }, text: insert }, typo: kind >= 0.7 };
}

/** foo_irq's loop bound retyped: 16 → 160 → 1600 → 160 (a digit added or removed). */
function loopBound(text: string, version: number): { next: string; change: RangeChange } {
  const at = text.indexOf('i < 16') + 6;
  const add = version !== 4;
  const next = add ? text.slice(0, at) + '0' + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
  const p = positionAt(text, at);
  return { next, change: { range: { start: p, end: add ? p : { line: p.line, character: p.character + 1 } }, text: add ? '0' : '' } };
}

test('keystroke edits over LSP publish the diagnostics a fresh open of the same text gets (incremental ranges, a #define in an edited body)', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'tdx-lsp-incremental-'));
  const engines: AuditEngine[] = [];
  const createEngine = async (files: Parameters<typeof AuditEngine.create>[0]) => {
    const e = await AuditEngine.create(files);
    engines.push(e);
    return e;
  };
  const inc = LspHarness.inProcess({ createEngine }, { debounceMs: 0 });
  const ref = LspHarness.inProcess({}, { debounceMs: 0 });
  try {
    copyFileSync(join(FIXTURES, 'tdx_io.h'), join(ws, 'tdx_io.h'));
    const path = join(ws, 'foo_nic.c');
    let text = driverText();
    writeFileSync(path, text);
    const uri = fileUri(path);
    await inc.initialize(ws);
    await ref.initialize(ws);
    await inc.open(uri, text, 1);
    await ref.open(uri, text, 1);
    assert.deepStrictEqual(await inc.diagnosticsFor(uri, 1), await ref.diagnosticsFor(uri, 1), 'the open');
    const r = rng(20261207);
    let differed = 0;
    let undo: { next: string; change: RangeChange } | undefined;
    for (let version = 2; version <= 60; version++) {
      // A typo is mostly taken back by the next keystroke (else one stray `(` leaves the rest of the file broken).
      // The first edits are in the body holding the #define (its macro's site must stay), then random ones.
      const e: { next: string; change: RangeChange; typo?: boolean } = version <= 4 ? loopBound(text, version) : undo && r() < 0.8 ? undo : randomEdit(text, r);
      const { start, end } = e.change.range;
      const a = offsetAt(text, start);
      const b = offsetAt(text, end);
      undo = e.typo ? { next: text, change: { range: { start, end: positionAt(e.next, a + e.change.text.length) }, text: text.slice(a, b) } } : undefined;
      const { next, change } = e;
      text = next;
      await inc.change(uri, version, [change]);
      // The reference audits the text from scratch: a reopened document keeps nothing of its previous life.
      await ref.close(uri);
      await ref.open(uri, text, version);
      const got = await inc.diagnosticsFor(uri, version);
      const want = await ref.diagnosticsFor(uri, version);
      assert.deepStrictEqual(got, want, `version ${version}: the edited document's diagnostics differ from a fresh open's`);
      if (JSON.stringify(got) !== JSON.stringify(await inc.diagnosticsFor(uri, version - 1))) differed++;
    }
    // The comparison is worth something only if the incremental path ran, and the diagnostics moved.
    const counts = engines[0]!.auditCounts;
    assert.ok(counts.incremental >= 30, `incremental audits: ${counts.incremental}, full: ${counts.full} ${JSON.stringify([...counts.why])}`);
    assert.ok(differed >= 10, `edits that changed the diagnostics: ${differed}`);
  } finally {
    inc.kill();
    ref.kill();
    rmSync(ws, { recursive: true, force: true });
  }
});
