// A warm header cache stats headers instead of reading them: a header's facts (content
// hash, include lines) are taken from the disk store only while its lstat (size,
// mtime, ctime, inode, device) is the one it was read under. Any change reads it
// again; a corrupt store is ignored; a symlink or FIFO put where a header was is
// never taken on its stat (the safe reader decides, as without a cache).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { batchHost } from '../../../server/src/audit/sources';
import { factsFromJson, headerCacheDir } from '../../../server/src/c/headerCache';
import { SETTLE_MS } from '../../../server/src/c/headerStamp';

const SRC = '#include <linux/regs.h>\nvoid f(void __iomem *p) { rd_a(p); rd_b(p); }\n';
const ONE = '#include <linux/types.h>\n#define rd_a(p) readl(p)\n#define rd_z(p) readl(p)\n';
/** Same length as ONE: rd_z becomes rd_b. */
const TWO = '#include <linux/types.h>\n#define rd_a(p) readl(p)\n#define rd_b(p) readl(p)\n';

/**
 * A driver tree and an empty store. Settled (the default), it waits SETTLE_MS after
 * writing, so that its headers' times are old enough for their facts to be kept
 * (headerStamp.ts): a file's ctime cannot be set back, only waited out.
 */
function tree(settle = true): { root: string; cache: string; hdr: string; file: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'tdx-hfacts-'));
  const cache = mkdtempSync(join(tmpdir(), 'tdx-hfacts-cache-'));
  mkdirSync(join(root, 'include/linux'), { recursive: true });
  mkdirSync(join(root, 'drivers/x'), { recursive: true });
  writeFileSync(join(root, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\n');
  writeFileSync(join(root, 'include/linux/types.h'), 'typedef unsigned int u32;\n');
  const hdr = join(root, 'include/linux/regs.h');
  writeFileSync(hdr, ONE);
  if (settle) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SETTLE_MS + 100);
  return { root, cache, hdr, file: join(root, 'drivers/x/x.c'), done: () => [root, cache].forEach((d) => rmSync(d, { recursive: true, force: true })) };
}

/** Runs `body` on a fresh tree and store, removed afterwards whatever happens. */
async function withTree(body: (t: ReturnType<typeof tree>) => Promise<void>, settle = true): Promise<void> {
  const t = tree(settle);
  try {
    await body(t);
  } finally {
    t.done();
  }
}

/** One batch engine's audit of the driver: its sites' accessors, the headers it read, its stats, what was not followed. */
async function run(t: { cache: string; file: string }) {
  const base = batchHost();
  const reads: string[] = [];
  const e = await AuditEngine.create({ ...base, tryReadFile: (p) => (reads.push(p), base.tryReadFile(p)) });
  e.configure({ headerCache: true, headerCacheDir: t.cache });
  const a = e.auditOnce(t.file, SRC);
  return { accessors: a.analysis.sites.map((s) => s.accessor).sort(), reads: reads.filter((p) => p.endsWith('.h')), stats: e.headerStats, notFollowed: a.notFollowed ?? [] };
}

test('a warm run takes every header on its stat: none is read, the sites are the cold run\'s', () =>
  withTree(async (t) => {
    const cold = await run(t);
    assert.deepEqual(cold.accessors, ['rd_a']);
    assert.ok(cold.reads.some((p) => p.endsWith('regs.h')));
    const warm = await run(t);
    assert.deepEqual(warm.reads, [], 'no header opened');
    assert.ok(warm.stats.factsFromDisk >= 2, 'regs.h and types.h (and the forced includes that exist) from the store');
    assert.equal(warm.stats.analysed, 0);
    assert.deepEqual(warm.accessors, cold.accessors);
  }));

test('a header written within SETTLE_MS of its read is not kept: the next run reads it again (a rewrite in the same timestamp tick would keep its stat)', () =>
  withTree(async (t) => {
    const cold = await run(t);
    assert.ok(cold.reads.some((p) => p.endsWith('regs.h')));
    const again = await run(t);
    assert.ok(again.reads.some((p) => p.endsWith('regs.h')), 'regs.h read again');
    assert.equal(again.stats.factsFromDisk, 0);
    assert.deepEqual(again.accessors, cold.accessors);
  }, false));

test('a header whose size changed is read again and its new wrapper seen', () =>
  withTree(async (t) => {
    await run(t);
    writeFileSync(t.hdr, TWO + '#define rd_c(p) readl(p)\n');
    const again = await run(t);
    assert.ok(again.reads.some((p) => p.endsWith('regs.h')));
    assert.deepEqual(again.accessors, ['rd_a', 'rd_b']);
  }));

test('a header whose mtime changed (same size) is read again', () =>
  withTree(async (t) => {
    await run(t);
    writeFileSync(t.hdr, TWO);
    utimesSync(t.hdr, new Date(), new Date(Date.now() + 60_000));
    const again = await run(t);
    assert.ok(again.reads.some((p) => p.endsWith('regs.h')));
    assert.deepEqual(again.accessors, ['rd_a', 'rd_b']);
  }));

test('a header rewritten with its size and mtime put back is read again (its ctime moved)', () =>
  withTree(async (t) => {
    // Whole seconds, so utimes can put the mtime back exactly.
    const when = Math.floor(Date.now() / 1000) - 100;
    utimesSync(t.hdr, when, when);
    await run(t);
    const before = statSync(t.hdr);
    writeFileSync(t.hdr, TWO);
    utimesSync(t.hdr, when, when);
    assert.equal(statSync(t.hdr).mtimeMs, before.mtimeMs);
    assert.equal(statSync(t.hdr).size, before.size);
    const again = await run(t);
    assert.ok(again.reads.some((p) => p.endsWith('regs.h')));
    assert.deepEqual(again.accessors, ['rd_a', 'rd_b']);
  }));

test('a corrupt or truncated store is ignored: headers are read again and the sites are the same', () =>
  withTree(async (t) => {
    const cold = await run(t);
    const dir = headerCacheDir(t.root, t.cache)!;
    for (const n of readdirSync(dir)) {
      const text = readFileSync(join(dir, n), 'utf8');
      // Every fact line claims a bogus hash or directive; the file is cut mid-line.
      const bad = text.replace(/"h":"[0-9a-f]{40}"/g, '"h":"zz"').replace(/"d":\[\[/g, '"d":[[7,');
      writeFileSync(join(dir, n), bad.slice(0, Math.floor(bad.length * 0.8)));
      appendFileSync(join(dir, n), '\n{"p": "' + t.hdr + '", "s": \u0000\n');
    }
    const again = await run(t);
    assert.ok(again.reads.some((p) => p.endsWith('regs.h')), 'regs.h read, not taken from a bad line');
    assert.deepEqual(again.accessors, cold.accessors);
    // ...and rebuilt: the next run reads nothing.
    const third = await run(t);
    assert.deepEqual(third.reads, []);
    assert.deepEqual(third.accessors, cold.accessors);
  }));

test('stored facts are checked before use (hash shape, directive kinds, lines)', () => {
  const h = 'a'.repeat(40);
  assert.deepEqual(factsFromJson(h, [['linux/x.h', 'a', 0, 3]]), { hash: h, directives: [{ spec: 'linux/x.h', kind: 'angle', next: false, line: 3 }] });
  assert.equal(factsFromJson('zz', []), undefined);
  assert.equal(factsFromJson(h, [['x.h', 'z', 0, 1]]), undefined);
  assert.equal(factsFromJson(h, [['x.h', 'q', 2, 1]]), undefined);
  assert.equal(factsFromJson(h, [['x.h', 'q', 0, -1]]), undefined);
  assert.equal(factsFromJson(h, [['', 'q', 0, 1]]), undefined);
  assert.equal(factsFromJson(h, {}), undefined);
});

test('a header replaced by a symlink to a FIFO, or by a FIFO, is not followed (no hang), warm cache or not', { skip: process.platform === 'win32' }, async () => {
  for (const how of ['symlink to FIFO', 'FIFO'] as const) {
    const t = tree();
    try {
      await run(t);
      unlinkSync(t.hdr);
      if (how === 'FIFO') execFileSync('mkfifo', [t.hdr]);
      else {
        execFileSync('mkfifo', [join(t.root, 'fifo')]);
        symlinkSync(join(t.root, 'fifo'), t.hdr);
      }
      const again = await run(t);
      assert.deepEqual(again.accessors, [], how);
      assert.ok(again.notFollowed.some((n) => /FIFO/.test(n.why)), `${how}: listed with why`);
    } finally {
      t.done();
    }
  }
});

test('a header replaced by a symlink to another regular file is read through the safe reader, not taken on the old stat', { skip: process.platform === 'win32' }, () =>
  withTree(async (t) => {
    await run(t);
    writeFileSync(join(t.root, 'other.h'), TWO);
    unlinkSync(t.hdr);
    symlinkSync(join(t.root, 'other.h'), t.hdr);
    const again = await run(t);
    assert.ok(again.reads.some((p) => p.endsWith('regs.h')));
    assert.deepEqual(again.accessors, ['rd_a', 'rd_b']);
  }));

test('the pre-filter: a file naming nothing any known header declares is skipped without a merge; one naming a wrapper its own headers do not declare is still skipped', () =>
  withTree(async (t) => {
    writeFileSync(join(t.root, 'include/linux/other.h'), '#define rd_other(p) readl(p)\n');
    const e = await AuditEngine.create(batchHost());
    e.configure({ headerCache: true, headerCacheDir: t.cache });
    // The index learns rd_other through another file first.
    assert.equal(e.mayHoldSitesThroughHeaders(join(t.root, 'drivers/x/o.c'), '#include <linux/other.h>\nint g(void *p) { return rd_other(p); }\n'), true);
    assert.equal(e.mayHoldSitesThroughHeaders(t.file, '#include <linux/regs.h>\nint g(void) { return 0; }\n'), false);
    assert.equal(e.mayHoldSitesThroughHeaders(t.file, '#include <linux/regs.h>\nint g(void *p) { return rd_other(p); }\n'), false, 'a name of another closure is not this one\'s');
    assert.equal(e.mayHoldSitesThroughHeaders(t.file, '#include <linux/regs.h>\nint g(void *p) { return rd_a(p); }\n'), true);
  }));

test('include candidates joined as strings are the paths path.resolve gives, for plain and unusual specs', async () => {
  const { resolveInclude, kernelContext } = await import('../../../server/src/c/includePath');
  const { resolve } = await import('node:path');
  const ctx = kernelContext('/k');
  for (const spec of ['linux/io.h', '../x.h', './x.h', 'a/../b.h', 'a/./b.h', 'a//b.h', '.hidden.h', 'a/.b.h', 'a..b.h', 'x.h/']) {
    for (const kind of ['angle', 'quote'] as const) {
      const probed: string[] = [];
      resolveInclude({ spec, kind, next: false, line: 0 }, '/k/drivers/x/x.c', ctx, (p) => (probed.push(p), 'missing'));
      const want = [...(kind === 'quote' ? ['/k/drivers/x'] : []), ...ctx.angle].map((d) => resolve(d, spec));
      assert.deepEqual(probed, want, `${kind} ${spec}`);
    }
  }
});
