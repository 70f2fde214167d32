// The header index on disk: a second engine over the same tree parses no header the
// first one did, gives the same sites, skips lines it cannot read, and never
// writes through a symlink planted where its folder should be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { batchHost } from '../../../server/src/audit/sources';
import { headerCacheDir } from '../../../server/src/c/headerCache';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'tdx-hcache-'));
  const w = (rel: string, text: string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  w('Makefile', 'VERSION = 6\nPATCHLEVEL = 1\n');
  w('include/linux/virtio_pci_modern.h', '#include <linux/types.h>\nstatic inline u16 vp_ioread16(const __le16 __iomem *addr)\n{\n\treturn ioread16(addr);\n}\n');
  w('include/linux/types.h', 'typedef unsigned short u16;\n');
  w('drivers/virtio/dev.c', '#include <linux/virtio_pci_modern.h>\nu16 f(struct d *m) { return vp_ioread16(&m->c->n); }\n');
  return root;
}

const audit = async (root: string, cacheDir?: string) => {
  const e = await AuditEngine.create(batchHost());
  e.configure({ headerCache: true, ...(cacheDir ? { headerCacheDir: cacheDir } : {}) });
  const f = join(root, 'drivers/virtio/dev.c');
  const a = e.auditOnce(f, '#include <linux/virtio_pci_modern.h>\nu16 f(struct d *m) { return vp_ioread16(&m->c->n); }\n');
  return { e, sites: a.analysis.sites.map((s) => [s.accessor, s.via.map((v) => [v.file, v.range.start.line])]) };
};

test('a warm disk cache: the second engine analyses no header and finds the same sites; the tree is not written', async () => {
  const root = tree();
  const home = mkdtempSync(join(tmpdir(), 'tdx-hcache-home-'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = home;
  try {
    const cold = await audit(root);
    assert.ok(cold.e.headerStats.analysed > 0);
    assert.equal(cold.sites.length, 1);
    assert.ok(!existsSync(join(root, '.tdx-audit')), 'nothing written into the tree (a planted cache could hide wrappers)');
    assert.ok(readdirSync(join(home, 'tdx-audit/headers')).length > 0, 'the user cache');
    const warm = await audit(root);
    assert.equal(warm.e.headerStats.analysed, 0);
    assert.ok(warm.e.headerStats.fromDisk > 0);
    assert.deepEqual(warm.sites, cold.sites);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    for (const d of [root, home]) rmSync(d, { recursive: true, force: true });
  }
});

test('lines that do not parse, or name no catalogued accessor, are skipped (the header is analysed again)', async () => {
  const root = tree();
  const cache = mkdtempSync(join(tmpdir(), 'tdx-hcache-dir-'));
  try {
    await audit(root, cache);
    const dir = headerCacheDir(root, cache)!;
    for (const n of readdirSync(dir)) {
      // Every stored wrapper now names an accessor that does not exist.
      const text = readFileSync(join(dir, n), 'utf8');
      writeFileSync(join(dir, n), text.replace(/"a":"ioread16"/g, '"a":"no_such_accessor"'));
      appendFileSync(join(dir, n), '{"k": torn\n\u0000\u0001\n');
    }
    const again = await audit(root, cache);
    assert.equal(again.sites.length, 1);
    assert.ok(again.e.headerStats.analysed > 0);
    assert.ok(!existsSync(join(root, '.tdx-audit')), 'a chosen folder keeps the tree unwritten');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
});

test('a symlink planted as the tree\'s .tdx-audit is not written through', { skip: process.platform === 'win32' }, async () => {
  const root = tree();
  const elsewhere = mkdtempSync(join(tmpdir(), 'tdx-hcache-evil-'));
  const home = mkdtempSync(join(tmpdir(), 'tdx-hcache-home-'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = home;
  try {
    symlinkSync(elsewhere, join(root, '.tdx-audit'));
    const r = await audit(root);
    assert.equal(r.sites.length, 1);
    assert.deepEqual(readdirSync(elsewhere), []);
    assert.ok(readdirSync(join(home, 'tdx-audit/headers')).length > 0, 'the user cache instead');
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    for (const d of [root, elsewhere, home]) rmSync(d, { recursive: true, force: true });
  }
});
