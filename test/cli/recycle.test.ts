// A scan worker past its recycle threshold (cli/pool.ts workerRecycleMb: V8 heap plus
// WASM memory after a file) is replaced by a fresh worker, which takes the lane on
// with the next file. The output must be the one a worker that is never replaced
// writes: no file lost, none twice, the same header knowledge (taken from the
// header cache or analysed again), in path order.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, timeless } from '../support/reportRuns';
import { driverTree } from '../support/driverTree';
import { workerFootprintMb, workerRecycleMb } from '../../server/src/cli/pool';


let dir = '';
let tree = '';
/** Files the walk gives the pool (.c and .h under tree). */
let walked = 0;

describe('scan workers replaced past the recycle threshold', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-recycle-'));
    tree = join(dir, 'tree');
    walked = driverTree(tree, [
      ['net', 'drivers', ['foo_nic.c', 'tdx_io.h']],
      ['prov', 'provenance', ['global_irq.c', 'member.c', 'negative.c', 'overlay.c', 'prov_io.h']],
      ['watchdog', 'example', ['acme_wdt.c', 'acme_io.h']],
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const cache of ['--no-header-cache', '--header-cache-dir'] as const) {
    test(`a worker replaced after every file writes what a worker never replaced writes (${cache})`, () => {
      const args = (tag: string) => ['scan', join(tree, 'drivers'), '--format', 'json', '--exit-zero', '--jobs', '1', '--no-objects', ...(cache === '--no-header-cache' ? [cache] : [cache, join(dir, `cache-${tag}`)])];
      const kept = runCli(args('kept'), { TDX_AUDIT_WORKER_RECYCLE_MB: '0' });
      assert.equal(kept.code, 0, kept.err);
      assert.doesNotMatch(kept.err, /replaced past/, 'a threshold of 0 replaces no worker and says nothing');
      const doc = JSON.parse(kept.out);
      assert.ok(doc.sites.length > 10 && doc.files.length >= 6, 'sites in several files');
      const replaced = runCli(args('replaced'), { TDX_AUDIT_WORKER_RECYCLE_MB: '1' });
      assert.equal(replaced.code, 0, replaced.err);
      // Every file but the last takes a worker past 1 MB: each is followed by a fresh worker.
      assert.match(replaced.err, new RegExp(`tdx-audit: ${walked - 1} worker\\(s\\) replaced past 1 MB of heap and WASM memory`));
      assert.equal(timeless(replaced.out), timeless(kept.out));
    });
  }

  test('--jobs 2 with workers replaced after every file writes one worker\'s output', () => {
    const one = runCli(['scan', join(tree, 'drivers'), '--format', 'json', '--exit-zero', '--jobs', '1', '--no-objects', '--no-header-cache'], { TDX_AUDIT_WORKER_RECYCLE_MB: '0' });
    const two = runCli(['scan', join(tree, 'drivers'), '--format', 'json', '--exit-zero', '--jobs', '2', '--no-objects', '--no-header-cache'], { TDX_AUDIT_WORKER_RECYCLE_MB: '1' });
    assert.equal(two.code, 0, two.err);
    assert.match(two.err, /worker\(s\) replaced past 1 MB/);
    assert.equal(timeless(two.out), timeless(one.out));
  });

  test('report\'s workers replaced after every file write the report a worker never replaced writes, in every format', () => {
    const report = (tag: string, mb: string) => {
      const out = join(dir, `report-${tag}`);
      const r = runCli(['report', join(tree, 'drivers'), '--out', out, '--exit-zero', '--jobs', '1', '--no-objects'], { TDX_AUDIT_WORKER_RECYCLE_MB: mb });
      assert.equal(r.code, 0, r.err);
      return { err: r.err, files: Object.fromEntries(readdirSync(out).sort().map((f) => [f, timeless(readFileSync(join(out, f), 'utf8'))])) };
    };
    const kept = report('kept', '0');
    const replaced = report('replaced', '1');
    assert.match(replaced.err, /worker\(s\) replaced past 1 MB/);
    assert.doesNotMatch(replaced.err, / 0 worker\(s\) replaced/, 'report\'s workers are replaced too');
    assert.deepEqual(Object.keys(replaced.files), ['tdx-audit.html', 'tdx-audit.json', 'tdx-audit.md', 'tdx-audit.sarif']);
    assert.ok(JSON.parse(kept.files['tdx-audit.json']!).findings.length > 10, 'findings in the report');
    assert.deepEqual(replaced.files, kept.files);
  });
});

describe('the recycle threshold', () => {
  const withEnv = (v: string | undefined, f: () => void) => {
    const old = process.env.TDX_AUDIT_WORKER_RECYCLE_MB;
    if (v === undefined) delete process.env.TDX_AUDIT_WORKER_RECYCLE_MB;
    else process.env.TDX_AUDIT_WORKER_RECYCLE_MB = v;
    try {
      f();
    } finally {
      if (old === undefined) delete process.env.TDX_AUDIT_WORKER_RECYCLE_MB;
      else process.env.TDX_AUDIT_WORKER_RECYCLE_MB = old;
    }
  };

  test('is the default unless TDX_AUDIT_WORKER_RECYCLE_MB gives a whole number; 0 turns it off', () => {
    withEnv(undefined, () => assert.deepEqual(workerRecycleMb(), { mb: 288, given: false, totalMb: undefined }));
    withEnv(undefined, () => assert.deepEqual(workerRecycleMb(2), { mb: 200, given: false, totalMb: 260 }, 'lower when two workers share the machine, and a total for the two'));
    withEnv(undefined, () => assert.deepEqual(workerRecycleMb(3), { mb: 200, given: false, totalMb: 390 }));
    withEnv('300', () => assert.deepEqual(workerRecycleMb(2), { mb: 300, given: true, totalMb: undefined }, "the user's threshold is the only one"));
    withEnv('lots', () => assert.deepEqual(workerRecycleMb(), { mb: 288, given: false, totalMb: undefined }));
    withEnv('-5', () => assert.deepEqual(workerRecycleMb(), { mb: 288, given: false, totalMb: undefined }));
    withEnv('300', () => assert.deepEqual(workerRecycleMb(), { mb: 300, given: true, totalMb: undefined }));
    withEnv('0', () => assert.deepEqual(workerRecycleMb(2), { mb: undefined, given: true, totalMb: undefined }));
  });

  test('counts the WASM memories (external memory) with the heap', () => {
    assert.equal(workerFootprintMb({ total_heap_size: 100 << 20, external_memory: 28 << 20 }), 128);
  });

  test('leaves out the linked images a worker holds for the whole run (a fresh worker would hold them again)', () => {
    // A --vmlinux run: 605 MB of image among the external memory, 28 MB of WASM.
    const h = { total_heap_size: 100 << 20, external_memory: (605 + 28) << 20 };
    assert.equal(workerFootprintMb(h, 605 << 20), 128);
    assert.equal(workerFootprintMb({ total_heap_size: 100 << 20, external_memory: 0 }, 605 << 20), 100, 'never below the heap');
  });
});
