// `report --jobs N` audits on N worker threads (issue 15, item 1) and writes the
// report one thread writes: every format byte for byte once the time stamp and the
// per-file timings are set aside. The tree has compiled objects (instructions in
// the report), a FIFO the walk skips, a file that fails to read (skipped by a
// worker, in path order), headers, a triage file and more files than threads.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileObject, copyDriverFixture, copyFormsFixture, GCC_FLAGS, skipWithoutGcc } from '../support/gcc';
import { runCli, timeless } from '../support/reportRuns';

const ROOT = resolve(__dirname, '../..');
const FIX = join(ROOT, 'test/fixtures');
const EXAMPLE = join(ROOT, 'examples/acme_wdt');
const NAMES = ['tdx-audit.json', 'tdx-audit.sarif', 'tdx-audit.md', 'tdx-audit.html'];

const run = (...args: string[]) => runCli(args);

let dir = '';
let tree = '';

describe('report on worker threads', { skip: skipWithoutGcc }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-jobs-'));
    tree = join(dir, 'tree');
    mkdirSync(join(tree, '.git'), { recursive: true });
    copyDriverFixture(join(tree, 'drivers', 'net'), join(FIX, 'drivers'));
    compileObject('foo_nic.c', join(tree, 'drivers', 'net'));
    copyFormsFixture(join(tree, 'drivers', 'forms'), FIX);
    compileObject('forms.c', join(tree, 'drivers', 'forms'), GCC_FLAGS.forms);
    mkdirSync(join(tree, 'drivers', 'watchdog'), { recursive: true });
    for (const f of ['acme_wdt.c', 'acme_io.h']) copyFileSync(join(EXAMPLE, f), join(tree, 'drivers', 'watchdog', f));
    mkdirSync(join(tree, 'drivers', 'prov'), { recursive: true });
    for (const f of ['global_irq.c', 'member.c', 'negative.c', 'overlay.c', 'prov_io.h']) copyFileSync(join(FIX, 'drivers', 'provenance', f), join(tree, 'drivers', 'prov', f));
    spawnSync('mkfifo', [join(tree, 'drivers', 'net', 'pipe.c')]);
    // A link to a device: the walk lists it, the read refuses it (a skipped entry from a worker).
    symlinkSync('/dev/zero', join(tree, 'drivers', 'prov', 'zero.c'));
    const first = join(dir, 'first');
    assert.notEqual(run('report', join(tree, 'drivers'), '--out', first, '--format', 'json', '--exit-zero', '--jobs', '1').code, 2);
    const fp = JSON.parse(readFileSync(join(first, 'tdx-audit.json'), 'utf8')).findings[0].fingerprint;
    mkdirSync(join(tree, '.tdx-audit'), { recursive: true });
    writeFileSync(join(tree, '.tdx-audit', 'triage.json'), JSON.stringify({ version: 1, entries: { [fp]: { status: 'safe', when: '2026-01-01T00:00:00.000Z' } } }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--jobs 2 and --jobs 3 write what --jobs 1 writes, in every format', () => {
    const one = join(dir, 'j1');
    const r1 = run('report', join(tree, 'drivers'), '--out', one, '--exit-zero', '--jobs', '1');
    assert.equal(r1.code, 0, r1.err);
    const whole = JSON.parse(readFileSync(join(one, 'tdx-audit.json'), 'utf8'));
    assert.ok(whole.findings.some((f: { compiled: unknown }) => f.compiled), 'the objects were joined');
    assert.ok(whole.findings.some((f: { triage: unknown }) => f.triage), 'a finding is triaged');
    assert.ok(whole.files.length >= 6, 'more files than threads');
    assert.ok(whole.skipped.length >= 1, JSON.stringify(whole.skipped));
    for (const jobs of ['2', '3']) {
      const out = join(dir, `j${jobs}`);
      const r = run('report', join(tree, 'drivers'), '--out', out, '--exit-zero', '--jobs', jobs);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.split('\n')[0], r1.out.split('\n')[0], 'the summary line');
      for (const n of NAMES) assert.equal(timeless(readFileSync(join(out, n), 'utf8')), timeless(readFileSync(join(one, n), 'utf8')), `${n} with --jobs ${jobs}`);
    }
  });

  test('--jobs takes a number of threads', () => {
    const r = run('report', join(tree, 'drivers'), '--out', join(dir, 'bad'), '--jobs', '0');
    assert.equal(r.code, 2);
    assert.match(r.err, /--jobs takes a number of threads/);
  });

  test('a file that takes its worker past the heap limit is audited again by a worker with twice the limit, and the report is one thread\'s', () => {
    const big = heapHog(join(dir, 'heap', 'drivers'));
    const one = join(dir, 'heap-j1');
    const r1 = run('report', big, '--out', one, '--format', 'json', '--exit-zero', '--jobs', '1');
    assert.equal(r1.code, 0, r1.err);
    const out = join(dir, 'heap-j2');
    const r2 = runCli(['report', big, '--out', out, '--format', 'json', '--exit-zero', '--jobs', '2'], { TDX_AUDIT_WORKER_HEAP_MB: '32' });
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.err, /big\.c: its worker ran out of memory; audited again by a worker with 64 MB of heap/);
    assert.equal(timeless(readFileSync(join(out, 'tdx-audit.json'), 'utf8')), timeless(readFileSync(join(one, 'tdx-audit.json'), 'utf8')));
  });

  test('scan\'s workers have the same heap limit and retry: the output is one thread\'s', () => {
    const big = heapHog(join(dir, 'scan-heap', 'drivers'));
    const r1 = run('scan', big, '--format', 'json', '--exit-zero', '--jobs', '1');
    assert.equal(r1.code, 0, r1.err);
    const r2 = runCli(['scan', big, '--format', 'json', '--exit-zero', '--jobs', '2'], { TDX_AUDIT_WORKER_HEAP_MB: '32' });
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.err, /big\.c: its worker ran out of memory; audited again by a worker with 64 MB of heap/);
    assert.equal(timeless(r2.out), timeless(r1.out));
  });
});

/**
 * A tree whose big.c takes a worker past 32 MB of heap (8 functions of 1,000 lines with
 * two accessors each: 16,000 findings, 400 KB), where starting a worker and the small
 * files (the example's) need less.
 */
function heapHog(big: string): string {
  mkdirSync(big, { recursive: true });
  for (const f of ['acme_wdt.c', 'acme_io.h']) copyFileSync(join(EXAMPLE, f), join(big, f));
  const lines = ['#include <linux/io.h>', 'struct big { void __iomem *base; };'];
  for (let f = 0; f < 8; f++) {
    lines.push(`void big_fill${f}(struct big *b)`, '{');
    for (let i = 0; i < 1000; i++) lines.push(`\twritel(${i}, b->base + ${i * 4}); readl(b->base + ${i});`);
    lines.push('}');
  }
  writeFileSync(join(big, 'big.c'), lines.join('\n') + '\n');
  return big;
}
