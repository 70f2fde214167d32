// A pool worker renews its engine on its own thread (cli/scanWorker.ts) before the pool
// replaces it: asked under the workers' total (PoolRun.recycleTotalMb), the real worker
// drops its engine, collects, builds a fresh one and says its footprint before and
// after; the files after it are audited by the fresh engine (or, when the renewal freed
// too little, by a fresh worker). Either way the results are those of a run that never
// renewed or replaced anything.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { driverTree } from '../support/driverTree';
import { collectSources } from '../../server/src/cli/scan';
import { runPool } from '../../server/src/cli/pool';
import type { ScanJobResult } from '../../server/src/cli/scanPool';

const WORKER = resolve(__dirname, '../../dist/scanWorker.js');

let dir = '';
let files: string[] = [];

async function scan(recycleTotalMb: number | undefined) {
  const results: ScanJobResult[] = [];
  const renewed: [number, number][] = [];
  let replaced = 0;
  await runPool<ScanJobResult>({
    files,
    jobs: 2,
    workerData: { task: 'scan', config: { followIncludes: true, headerCache: false } },
    workerScript: WORKER,
    local: async () => () => {
      throw new Error('audited on the main thread');
    },
    failed: (m) => ({ kind: 'skipped', why: m }),
    emit: (_i, r) => results.push(r),
    maxHeapMb: 256,
    recycleTotalMb,
    recycled: () => replaced++,
    renewed: (b, a) => renewed.push([b, a]),
  });
  return { results, renewed, replaced };
}

describe('a worker renews its engine before it is replaced', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-renew-'));
    const tree = join(dir, 'tree');
    driverTree(tree, [
      ['net', 'drivers', ['foo_nic.c', 'tdx_io.h']],
      ['prov', 'provenance', ['global_irq.c', 'member.c', 'negative.c', 'overlay.c', 'prov_io.h']],
      ['watchdog', 'example', ['acme_wdt.c', 'acme_io.h']],
    ]);
    files = collectSources([join(tree, 'drivers')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('asked under a total every answer passes, the real worker renews and the results are a plain run\'s', { skip: !existsSync(WORKER) && 'dist/scanWorker.js not built' }, async () => {
    const plain = await scan(undefined);
    assert.equal(plain.renewed.length, 0);
    assert.ok(plain.results.filter((r) => r.kind === 'result').length >= 5, 'sites in several files');
    // 1 MB together: after every answer the larger worker is over it.
    const renewing = await scan(1);
    assert.ok(renewing.renewed.length >= 1, 'a worker renewed its engine');
    for (const [b, a] of renewing.renewed) assert.ok(b > 0 && a > 0 && Number.isFinite(a), `${b} -> ${a}`);
    assert.deepEqual(JSON.parse(JSON.stringify(renewing.results, (k, v) => (k === 'ms' ? 0 : v))), JSON.parse(JSON.stringify(plain.results, (k, v) => (k === 'ms' ? 0 : v))));
  });
});
