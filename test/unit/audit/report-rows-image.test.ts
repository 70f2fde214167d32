// A report's worker threads share one copy of vmlinux (objects.ts readSharedImage,
// ObjectStore.shareImage): the bytes read once are what every thread's load()
// uses while the file is unchanged; a rebuilt image is read again. And a batch
// run's store keeps only the last file's decoded units (ObjectStore.batchMode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStore, readSharedImage } from '../../../server/src/audit/objects';
import { gcc, paddedImage as bigImage, skipWithoutGcc } from '../../support/gcc';

test('threads share an image read once; a changed image is read again', { skip: skipWithoutGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-image-'));
  try {
    const p = bigImage(dir);
    const image = readSharedImage(p);
    assert.ok(image, 'read');
    assert.ok(image.bytes instanceof SharedArrayBuffer);
    const store = new ObjectStore();
    store.shareImage(image);
    const o = store.load(p, true);
    assert.ok(!('error' in o), 'error' in o ? o.error : '');
    assert.equal(o.bin.elf.data.buffer, image.bytes, 'the shared bytes are used, not a second read');
    assert.ok(o.bin.dwarf.hasDebugInfo);
    // What a worker holds for the run (cli/pool.ts workerFootprintMb leaves it out): the shared bytes, once.
    assert.equal(store.heldImageBytes(), 80 << 20);
    // The image rebuilt (another mtime): this thread reads the file itself.
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    const again = store.load(p, true);
    assert.ok(!('error' in again));
    assert.notEqual(again.bin.elf.data.buffer, image.bytes);
    assert.equal(store.heldImageBytes(), 160 << 20, 'the shared copy and its own');
    store.forget(p);
    assert.equal(store.heldImageBytes(), 80 << 20, 'a forgotten image is not held');
    // A store with no shared image: the image it read itself.
    const own = new ObjectStore();
    assert.equal(own.heldImageBytes(), 0);
    assert.ok(!('error' in own.load(p, true)));
    assert.equal(own.heldImageBytes(), 80 << 20);
    // Small files and non-images are not shared (each thread reads them as before).
    writeFileSync(join(dir, 'small'), 'x');
    assert.equal(readSharedImage(join(dir, 'small')), undefined);
    assert.equal(readSharedImage(join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch store releases the previous file\'s units of a module when the next file of it is joined; an editor\'s store keeps them', { skip: skipWithoutGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-batch-'));
  try {
    const src = join(dir, 'tree/drivers/x');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'a.c'), 'int a(volatile int *p) { return *p; }\n');
    writeFileSync(join(src, 'b.c'), 'int b(volatile int *p) { return *p + 1; }\n');
    gcc(['-O2', '-g', '-c', 'a.c', 'b.c'], src);
    const mods = join(dir, 'mods/kernel/drivers/x');
    mkdirSync(mods, { recursive: true });
    spawnSync('ld', ['-r', join(src, 'a.o'), join(src, 'b.o'), '-o', join(mods, 'm.ko')]);
    rmSync(join(src, 'a.o'));
    rmSync(join(src, 'b.o'));
    const search = { objects: [join(dir, 'mods')], sourceRoot: join(dir, 'tree') };
    for (const batch of [true, false]) {
      const store = new ObjectStore();
      if (batch) store.batchMode();
      const a = store.find(join(src, 'a.c'), search);
      assert.equal(a.info.state, 'fresh', a.info.message);
      assert.equal(a.info.origin, 'module');
      let released = 0;
      for (const u of a.units) {
        const release = u.release.bind(u);
        u.release = () => {
          released++;
          release();
        };
      }
      const b = store.find(join(src, 'b.c'), search);
      assert.equal(b.info.state, 'fresh', b.info.message);
      assert.equal(b.object, a.object, 'one module');
      assert.equal(released, batch ? a.units.length : 0, batch ? 'batch' : 'editor');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
