// The pool's workers get the young generation pool.ts asks for (youngGeneration.ts):
// V8 flags are process-wide, so the --max-semi-space-size=4 that the re-executed CLI
// gives its main thread (reexec.ts) would cap every worker's new space at 8 MB
// whatever its resourceLimits say. The pool lifts the flag before its first worker.
// Each case runs in a node of its own, started as reexec.ts starts the CLI's child.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { workerYoungMb, MAIN_SEMI_SPACE_FLAG, MAIN_SEMI_SPACE_MARK } from '../../server/src/cli/youngGeneration';

/** A worker of the pool's protocol that allocates short-lived objects, then answers with its new space's size (MB) and its resourceLimits. */
const WORKER = `
const { parentPort, resourceLimits } = require('node:worker_threads');
const { getHeapSpaceStatistics } = require('node:v8');
parentPort.on('message', (m) => {
  let keep = [];
  for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100000) keep = []; }
  const ns = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  parentPort.postMessage({ id: m.id, result: { newSpaceMb: ns.space_size / 1048576, asked: resourceLimits.maxYoungGenerationSizeMb }, footprintMb: 1 });
});
parentPort.postMessage({ ready: true });
`;

/** Runs two files through runPool with two workers and prints each answer. */
const DRIVER = (script: string) => `
import { runPool } from ${JSON.stringify(resolve(__dirname, '../../server/src/cli/pool.ts'))};
const out: unknown[] = [];
await runPool({ files: ['a', 'b'], jobs: 2, workerData: { task: 'scan' }, workerScript: ${JSON.stringify(script)},
  local: async () => () => ({ here: true }), failed: (m: string) => ({ m }), emit: (_i: number, r: unknown) => out.push(r), maxHeapMb: 64 });
const { getHeapSpaceStatistics } = await import('node:v8');
console.log(JSON.stringify({ workers: out, mainNewSpaceMb: getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size / 1048576 }));
`;

let dir = '';
let driver = '';

function run(env: NodeJS.ProcessEnv): { workers: { newSpaceMb: number; asked: number }[]; mainNewSpaceMb: number } {
  const r = spawnSync(process.execPath, [MAIN_SEMI_SPACE_FLAG, '--import', 'tsx', driver], {
    encoding: 'utf8',
    env: { ...process.env, [MAIN_SEMI_SPACE_MARK]: '', TDX_AUDIT_WORKER_YOUNG_MB: '', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('the workers\' young generation under the main thread\'s semi-space flag', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-young-'));
    const script = join(dir, 'worker.js');
    writeFileSync(script, WORKER);
    driver = join(dir, 'driver.mts');
    writeFileSync(driver, DRIVER(script));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a worker asked for 48 MB gets V8\'s 32 MB of new space although the main thread keeps its 4 MB semi-spaces', () => {
    const r = run({ [MAIN_SEMI_SPACE_MARK]: '1', TDX_AUDIT_WORKER_YOUNG_MB: '48' });
    assert.equal(r.workers.length, 2);
    for (const w of r.workers) {
      assert.equal(w.asked, 48);
      assert.equal(w.newSpaceMb, 32, 'the flag was not lifted before the worker started');
    }
    assert.ok(r.mainNewSpaceMb <= 8, `the main thread's new space is still capped (${r.mainNewSpaceMb} MB)`);
  });

  test('without the re-exec\'s mark the user\'s own flag is left alone and caps the workers', () => {
    const r = run({ TDX_AUDIT_WORKER_YOUNG_MB: '48' });
    for (const w of r.workers) assert.equal(w.newSpaceMb, 8);
  });

  test('the default: 12 MB for each of several workers, V8\'s own for one; TDX_AUDIT_WORKER_YOUNG_MB wins', () => {
    assert.equal(workerYoungMb(2, {}), 12);
    assert.equal(workerYoungMb(1, {}), undefined);
    assert.equal(workerYoungMb(1, { TDX_AUDIT_WORKER_YOUNG_MB: '24' }), 24);
    assert.equal(workerYoungMb(2, { TDX_AUDIT_WORKER_YOUNG_MB: '2' }), 12, 'too small: ignored');
    assert.equal(workerYoungMb(2, { TDX_AUDIT_WORKER_YOUNG_MB: 'x' }), 12);
  });
});
