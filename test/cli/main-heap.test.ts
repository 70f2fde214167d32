// What bounds the CLI's memory besides the workers' thresholds (BENCHMARKS.md, "drivers/
// with a margin"): the main thread's heap collected in full past a bound while workers
// audit (cli/mainHeap.ts), and which heavy files make a grown worker renew its engine
// first (cli/pool.ts heavyFile, renewBeforeObject; the pool's side is in
// pool-schedule.test.ts).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeapKeeper, mainHeapMb, MAIN_HEAP_MB } from '../../server/src/cli/mainHeap';
import { heavyFile, HEAVY_BYTES, renewBeforeObject, RENEW_BEFORE_OBJECT_MB, RENEW_BEFORE_OBJECT_AFTER } from '../../server/src/cli/pool';

describe('the main thread\'s heap', () => {
  /** A keeper over a fake heap of `total` MB committed, of which `live` survive a collection. */
  const fake = (limit: number, heap: { total: number; live: number }) => {
    let gcs = 0;
    const k = new HeapKeeper(
      limit,
      () => {
        gcs++;
        heap.total = heap.live;
      },
      () => ({ totalMb: heap.total, usedMb: heap.total }),
    );
    return { k, gcs: () => gcs };
  };

  test('is collected in full once it is past the bound, looked at every 64 answers', () => {
    const heap = { total: 30, live: 20 };
    const { k, gcs } = fake(40, heap);
    for (let i = 0; i < 640; i++) k.tick();
    assert.equal(gcs(), 0, 'under the bound: never');
    heap.total = 64;
    for (let i = 0; i < 63; i++) k.tick();
    assert.equal(gcs(), 0, 'only every 64th answer looks');
    k.tick();
    assert.equal(gcs(), 1);
    assert.equal(heap.total, 20);
    for (let i = 0; i < 640; i++) k.tick();
    assert.equal(gcs(), 1, 'back under the bound');
  });

  test('a heap that holds more than the bound is collected again only past twice what it held', () => {
    const heap = { total: 100, live: 90 };
    const { k, gcs } = fake(40, heap);
    for (let i = 0; i < 64; i++) k.tick();
    assert.equal(gcs(), 1);
    heap.total = 170;
    for (let i = 0; i < 640; i++) k.tick();
    assert.equal(gcs(), 1, '170 MB is under twice the 90 live');
    heap.total = 181;
    for (let i = 0; i < 64; i++) k.tick();
    assert.equal(gcs(), 2);
  });

  test('with V8\'s own collection: it runs on this thread and is counted', () => {
    // A bound of 1 MB: the first look collects (a test process's heap is larger).
    const k = new HeapKeeper(1);
    for (let i = 0; i < 63; i++) k.tick();
    assert.equal(k.collections, 0);
    k.tick();
    assert.equal(k.collections, 1);
  });

  test('bound: MAIN_HEAP_MB unless TDX_AUDIT_MAIN_HEAP_MB gives a whole number; 0 turns it off', () => {
    assert.equal(mainHeapMb({}), MAIN_HEAP_MB);
    assert.equal(mainHeapMb({ TDX_AUDIT_MAIN_HEAP_MB: '64' }), 64);
    assert.equal(mainHeapMb({ TDX_AUDIT_MAIN_HEAP_MB: '0' }), undefined);
    assert.equal(mainHeapMb({ TDX_AUDIT_MAIN_HEAP_MB: 'x' }), MAIN_HEAP_MB);
    assert.equal(mainHeapMb({ TDX_AUDIT_MAIN_HEAP_MB: '-3' }), MAIN_HEAP_MB);
  });
});

describe('heavy files and renewals before an object', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-heavy-'));
    writeFileSync(join(dir, 'small.c'), 'int x;\n');
    writeFileSync(join(dir, 'big.c'), 'x'.repeat(HEAVY_BYTES));
    writeFileSync(join(dir, 'big.h'), 'x'.repeat(HEAVY_BYTES));
    writeFileSync(join(dir, 'built.c'), 'int y;\n');
    writeFileSync(join(dir, 'built.o'), '');
    writeFileSync(join(dir, 'built.h'), 'int z;\n');
    writeFileSync(join(dir, 'big2.c'), 'x'.repeat(HEAVY_BYTES));
    writeFileSync(join(dir, 'big2.o'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a .c with its object beside it is "object" (whatever its size), a large source "large", others not heavy', () => {
    assert.equal(heavyFile(join(dir, 'small.c')), false);
    assert.equal(heavyFile(join(dir, 'big.c')), 'large');
    assert.equal(heavyFile(join(dir, 'big.h')), 'large');
    assert.equal(heavyFile(join(dir, 'built.c')), 'object');
    assert.equal(heavyFile(join(dir, 'big2.c')), 'object');
    assert.equal(heavyFile(join(dir, 'built.h')), false, 'only a .c has an object');
    assert.equal(heavyFile(join(dir, 'gone.c')), false);
  });

  test('renewal before an object is off unless TDX_AUDIT_RENEW_BEFORE_OBJECT_MB gives a whole number above 0', () => {
    assert.equal(renewBeforeObject({}), undefined);
    assert.deepEqual(renewBeforeObject({ TDX_AUDIT_RENEW_BEFORE_OBJECT_MB: String(RENEW_BEFORE_OBJECT_MB) }), { mb: RENEW_BEFORE_OBJECT_MB, files: RENEW_BEFORE_OBJECT_AFTER });
    assert.deepEqual(renewBeforeObject({ TDX_AUDIT_RENEW_BEFORE_OBJECT_MB: '60' }), { mb: 60, files: RENEW_BEFORE_OBJECT_AFTER });
    assert.equal(renewBeforeObject({ TDX_AUDIT_RENEW_BEFORE_OBJECT_MB: '0' }), undefined);
    assert.equal(renewBeforeObject({ TDX_AUDIT_RENEW_BEFORE_OBJECT_MB: 'no' }), undefined);
  });
});
