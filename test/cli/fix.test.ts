// `tdx-audit fix --diff`, proven the way issue 17 asks: the diff, applied to the
// dynamic overlay fixture and compiled again, leaves no raw or untyped MMIO
// dereference where a fix was given, every new accessor compiles to an
// instruction the #VE handler emulates, and no other site changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { gcc, skipWithoutGcc } from '../support/gcc';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const DYN = join(ROOT, 'test/dynamic/fixtures');
const FLAGS = ['-O2', '-g', '-fno-pie', '-mno-sse', '-fno-strict-aliasing', `-I${DYN}`];

/** Applies a diff whose hunks replace lines one for one (what fix emits). */
function applyDiff(text: string, diff: string): string {
  const lines = text.split('\n');
  let at = -1;
  for (const l of diff.split('\n')) {
    const h = /^@@ -(\d+),\d+ /.exec(l);
    if (h) {
      at = Number(h[1]) - 1;
      continue;
    }
    if (at < 0 || l.startsWith('---') || l.startsWith('+++')) continue;
    if (l.startsWith(' ')) at++;
    else if (l.startsWith('-')) assert.equal(lines[at], l.slice(1), `the diff's context at line ${at + 1}`);
    else if (l.startsWith('+')) lines[at++] = l.slice(1);
  }
  return lines.join('\n');
}

async function audit(src: string, obj: string) {
  const engine = await AuditEngine.create({ readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } } });
  engine.configure({ objects: { objects: [obj] } });
  return engine.auditOnce(src, readFileSync(src, 'utf8'));
}

test('fix --diff: the patched driver compiles, its MMIO accesses are emulated MOVs, and nothing else changed', { skip: skipWithoutGcc }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-fix-'));
  try {
    const src = join(dir, 'overlay.c');
    writeFileSync(src, readFileSync(join(DYN, 'overlay.c'), 'utf8'));
    gcc([...FLAGS, '-c', src, '-o', join(dir, 'before.o')], dir);
    const r = spawnSync(process.execPath, [CLI, 'fix', src, '--diff', '--objects', join(dir, 'before.o')], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^--- a\/overlay\.c\n\+\+\+ b\/overlay\.c\n@@ /);
    assert.match(r.stdout, /^\+\twritel\(readl\(&r->ctrl\) \| 1, &r->ctrl\);$/m);
    assert.match(r.stderr, /overlay\.c:47:\d+: no fix: hi is a bitfield/);
    assert.match(r.stdout, /^\+\tmemcpy_fromio\(dst, r->bytes, 48\);$/m);
    const before = readFileSync(src, 'utf8');
    const a0 = await audit(src, join(dir, 'before.o'));
    writeFileSync(src, applyDiff(before, r.stdout));
    gcc([...FLAGS, '-c', src, '-o', join(dir, 'after.o')], dir);
    const a1 = await audit(src, join(dir, 'after.o'));
    const changed = new Set<number>();
    before.split('\n').forEach((l, i) => { if (readFileSync(src, 'utf8').split('\n')[i] !== l) changed.add(i); });
    // Every dereference the fix rewrote is gone; what is left is what stderr named.
    const left = [...r.stderr.matchAll(/overlay\.c:(\d+):\d+: no fix/g)].map((m) => Number(m[1]) - 1);
    const derefs = a1.findings.filter((f) => f.site.kind !== 'call').map((f) => f.site.range.start.line);
    assert.deepEqual([...new Set(derefs)].sort((x, y) => x - y), [...new Set(left)].sort((x, y) => x - y));
    // The accessors on the changed lines compile to instructions the handler emulates.
    const fixedInsns = a1.findings.filter((f) => changed.has(f.site.range.start.line)).flatMap((f) => f.instructions ?? []).filter((i) => i.class !== 'CALL');
    assert.ok(fixedInsns.length >= 5, `compiled forms of the fixed lines: ${fixedInsns.length}`);
    for (const i of fixedInsns) assert.equal(i.verdict, 'emulated', `${i.function}+0x${i.offset.toString(16)} ${i.text}`);
    // Sites on untouched lines are the same before and after, but for calls of a helper
    // the fix turned into an accessor wrapper (helper_store's `*p = v` became writel).
    const key = (f: (typeof a0.findings)[number]) => `${f.site.range.start.line}:${f.site.range.start.character}:${f.site.kind}:${f.site.accessor}`;
    const viaFixed = (f: (typeof a1.findings)[number]) => f.site.kind === 'call' && f.site.via.some((v) => changed.has(v.range.start.line));
    const wrappers = a1.findings.filter((f) => !changed.has(f.site.range.start.line) && viaFixed(f));
    assert.deepEqual(wrappers.map((f) => f.site.accessor), ['helper_store']);
    assert.ok(wrappers.every((f) => (f.instructions ?? []).every((i) => i.verdict === 'emulated')), 'the helper now compiles to an emulated MOV');
    assert.deepEqual(a1.findings.filter((f) => !changed.has(f.site.range.start.line) && !viaFixed(f)).map(key), a0.findings.filter((f) => !changed.has(f.site.range.start.line)).map(key));
    assert.ok(a0.findings.some((f) => (f.instructions ?? []).some((i) => i.verdict === 'decode-failed')), 'the original had an oops to fix');
    assert.ok(!a1.findings.some((f) => (f.instructions ?? []).some((i) => i.verdict === 'decode-failed' && changed.has(f.site.range.start.line))), 'no oops left on a fixed line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fix reads a named source like scan: a FIFO or a link to /dev/zero is skipped with the reason, not read', { skip: process.platform === 'win32' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-fix-hostile-'));
  try {
    spawnSync('mkfifo', [join(dir, 'f.c')]);
    symlinkSync('/dev/zero', join(dir, 'z.c'));
    const r = spawnSync(process.execPath, [CLI, 'fix', 'f.c', 'z.c', '--diff'], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^tdx-audit: f\.c: skipped: a FIFO, not a regular file$/m);
    assert.match(r.stderr, /^tdx-audit: z\.c: skipped: a character device, not a regular file$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
