// The CLI as a user runs it: the built dist/cli.js (npm test builds first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const FIX = join(ROOT, 'test/fixtures/drivers');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('scan --format json lists every site with the documented fields', () => {
  const r = run('scan', join(FIX, 'foo_nic.c'), '--format', 'json');
  const j = JSON.parse(r.out);
  const site = j.sites.find((s: { accessor: string; function: string }) => s.accessor === 'readl' && s.function === 'foo_poll');
  assert.ok(site, 'readl in foo_poll');
  for (const k of ['file', 'line', 'column', 'function', 'accessor', 'kind', 'rule', 'severity']) assert.ok(k in site, k);
  assert.equal(site.line, 52);
  assert.equal(site.column, 9);
  assert.equal(site.kind, 'mmio-read');
  const open = j.functions.find((f: { name: string }) => f.name === 'foo_open');
  assert.equal(open.direct, 2);
  assert.deepEqual(open.via, ['foo_reset_hw']);
});

test('scan exits 1 when an error-severity finding exists, 0 with --exit-zero', () => {
  assert.equal(run('scan', FIX).code, 1);
  assert.equal(run('scan', FIX, '--exit-zero').code, 0);
});

test('scan exits 0 on a clean file and 2 on a missing path', () => {
  const clean = run('scan', join(ROOT, 'examples/acme_wdt/acme_io.h'));
  assert.equal(clean.code, 0, clean.err);
  const missing = run('scan', join(FIX, 'does-not-exist.c'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read/);
});

test('scan text output is file:line:col: severity: [rule] with the function-level view', () => {
  const r = run('scan', join(ROOT, 'examples'), '--exit-zero');
  assert.match(r.out, /acme_wdt\.c:60:2: error: \[tdx-movs-copy\]/);
  assert.match(r.out, /acme_wdt_start: 1 direct, \+1 via wdt_ping/);
});

test('decode --format jsonl prints one verdict per instruction', () => {
  const r = run('decode', '8b07', '83 0f 01', '8827', '--format', 'jsonl');
  const rows = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((x) => [x.class, x.verdict]), [
    ['READ', 'emulated'],
    ['DECODE_FAILED', 'decode-failed'],
    ['WRITE', 'misemulated'],
  ]);
  assert.deepEqual(rows[2].misemulation, ['high-byte']);
});

test('an unknown command is a usage error with exit 2', () => {
  const r = run('frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.err, /usage:/);
});

test('scan on worker threads gives the output of one thread, and shards K/N together cover the tree once', () => {
  const trees = [FIX, join(ROOT, 'examples'), join(ROOT, 'test/fixtures/compiled')];
  const norm = (out: string) => {
    const j = JSON.parse(out);
    for (const f of j.files) delete f.ms; // time per file
    return j;
  };
  const one = norm(run('scan', ...trees, '--format', 'json', '--exit-zero', '--jobs', '1').out);
  const two = norm(run('scan', ...trees, '--format', 'json', '--exit-zero', '--jobs', '2').out);
  assert.ok(one.sites.length > 20 && one.files.length > 3);
  assert.deepEqual(two, one);
  assert.equal(run('scan', ...trees, '--jobs', '2').out, run('scan', ...trees, '--jobs', '1').out, 'text output too');
  const shards = [1, 2, 3].map((k) => norm(run('scan', ...trees, '--format', 'json', '--exit-zero', '--shard', `${k}/3`).out));
  const files = shards.flatMap((s) => s.files.map((f: { file: string }) => f.file)).sort();
  assert.deepEqual(files, one.files.map((f: { file: string }) => f.file).sort());
  assert.equal(shards.reduce((n, s) => n + s.sites.length, 0), one.sites.length);
  // Written as files complete (scanWriter.ts), the document is still exactly what
  // JSON.stringify(doc, null, 2) prints, empty arrays and skipped files included.
  for (const args of [trees, [join(FIX, 'tdx_io.h')], [FIX, join(FIX, 'no-such-dir-is-fine-here', '..')]]) {
    const out = run('scan', ...args, '--format', 'json', '--exit-zero').out;
    assert.equal(out, JSON.stringify(JSON.parse(out), null, 2) + '\n');
  }
  assert.equal(run('scan', FIX, '--shard', '4/3').code, 2);
  assert.equal(run('scan', FIX, '--jobs', '0').code, 2);
});
