// test/bench/bigfile.ts measures its audit bundled by esbuild (as dist/ runs) in a
// child process, not the tsx-compiled source: both must audit the same file to the
// same findings and sites, and the bundle must not outlive the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

function bench(dir: string, name: string, extra: string[]): { dump: string; stderr: string; pid: number } {
  const dump = join(dir, `${name}.json`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/bench/bigfile.ts', '--mb', '0.05', '--runs', '1', '--out', join(dir, 'big.c'), '--dump', dump, ...extra], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { dump: readFileSync(dump, 'utf8'), stderr: r.stderr, pid: r.pid! };
}

test('the bigfile bench measures the bundle by default and the source with --source: the same audit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-bigfile-test-'));
  try {
    const bundled = bench(dir, 'bundled', []);
    const source = bench(dir, 'source', ['--source']);
    assert.match(bundled.stderr, /measuring the esbuild bundle/);
    assert.match(source.stderr, /measuring the tsx-compiled source/);
    assert.ok(JSON.parse(bundled.dump).analysis.sites.length > 0);
    assert.equal(bundled.dump, source.dump);
    // lib.ts bundleWorker's folder; the bundle is named by the bench's own pid.
    assert.ok(!existsSync(join(tmpdir(), 'tdx-audit-bench', `bigfile-${bundled.pid}.js`)), 'the bundle was removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
