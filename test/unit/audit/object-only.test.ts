// The object side of the site cross-check (audit/compiled/objectOnly.ts): an
// accessor the compiled code performs at a line where the source analysis found
// no site is reported as "seen in the object only" with its instructions, and a
// line that has a site never is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine, type FileAudit } from '../../../server/src/audit/engine';
import { gcc, skipWithoutGcc } from '../../support/gcc';
import { readTextOrUndefined } from '../../../server/src/fs/safeRead';

const FIX = resolve(__dirname, '../../fixtures');
let dir = '';
let engine: AuditEngine;

before(async () => {
  if (skipWithoutGcc) return;
  dir = mkdtempSync(join(tmpdir(), 'tdx-audit-objonly-'));
  for (const [sub, f] of [['objectonly', 'hidden.c'], ['drivers', 'tdx_io.h'], ['drivers', 'foo_nic.c']] as const) {
    mkdirSync(join(dir, sub), { recursive: true });
    copyFileSync(join(FIX, sub, f), join(dir, sub, f));
  }
  gcc(['-O2', '-g', '-c', 'hidden.c', '-o', 'hidden.o'], join(dir, 'objectonly'));
  gcc(['-O2', '-g', '-c', 'foo_nic.c', '-o', 'foo_nic.o'], join(dir, 'drivers'));
  engine = await AuditEngine.create({ readFile: (p) => readTextOrUndefined(p) });
  engine.configure({ objects: {} });
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function audit(rel: string): { a: FileAudit; lines: string[] } {
  const p = join(dir, rel);
  const text = readFileSync(p, 'utf8');
  return { a: engine.audit(p, text, 1), lines: text.split('\n') };
}
const lineOf = (lines: string[], needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;

test('accessors built by token pasting are seen in the object only, with their instructions', { skip: skipWithoutGcc }, () => {
  const { a, lines } = audit('objectonly/hidden.c');
  assert.equal(a.compiled?.object.state, 'fresh');
  const siteLines = a.analysis.sites.filter((s) => !s.objectOnly).map((s) => s.range.start.line + 1);
  const writelLine = lineOf(lines, 'writel(v, h->regs + 8)');
  assert.ok(siteLines.includes(writelLine), 'the plain writel is a site');
  const rd = lineOf(lines, 'return RD(h->regs + 4)');
  const pasted = lineOf(lines, 'REG_OP(write, l)(v | 1');
  assert.ok(!siteLines.includes(rd) && !siteLines.includes(pasted), 'precondition: the source analysis misses both');
  const got = (a.compiled?.objectOnly ?? []).map((x) => [x.line, x.accessor, x.how]);
  assert.deepEqual(got, [[rd, 'readl', 'inlined'], [pasted, 'writel', 'inlined']]);
  const [load, store] = a.compiled!.objectOnly!;
  assert.match(load!.instructions.map((i) => i.text).join('|'), /^mov e\w\w,\[r\w\w\+4\]$/, 'the readl of regs + 4');
  assert.match(store!.instructions.map((i) => i.text).join('|'), /^mov \[r\w\w\+0Ch\],e\w\w$/, 'the writel to regs + 12');
  for (const x of a.compiled!.objectOnly!) {
    assert.ok(x.instructions.length > 0);
    assert.ok(x.instructions.every((i) => i.verdict === 'emulated' && i.match === 'inlined-accessor'), JSON.stringify(x.instructions.map((i) => i.text)));
  }
});

test('an accessor seen in the object only is a finding like any site, with its instruction and why', { skip: skipWithoutGcc }, () => {
  const { a, lines } = audit('objectonly/hidden.c');
  const rd = lineOf(lines, 'return RD(h->regs + 4)');
  const f = a.findings.find((x) => x.site.range.start.line === rd - 1);
  assert.ok(f, 'a finding at the hidden readl');
  assert.deepEqual(f.site.objectOnly, { how: 'inlined' });
  assert.equal(f.site.accessor, 'readl');
  assert.match(f.message, /^emulated #VE: `mov e\w\w,\[r\w\w\+4\]` — hid_status\+0x\w+\. .*Seen in the object only: DWARF puts an inlined `readl` at this line/);
  assert.equal(f.instructions?.length, 1);
  assert.equal(f.site.function, 'hid_status');
  assert.equal(lines[rd - 1]!.slice(f.site.range.start.character, f.site.range.end.character), 'RD', 'the range is the macro that hid it');
});

test('a file whose every accessor is a site has nothing seen in the object only', { skip: skipWithoutGcc }, () => {
  const { a } = audit('drivers/foo_nic.c');
  assert.equal(a.compiled?.object.state, 'fresh');
  assert.ok(a.analysis.sites.length > 5);
  assert.deepEqual(a.compiled?.objectOnly ?? [], []);
});
