// The header index under bad input: headers that cannot be found, read or parsed
// are listed once and never fatal; cycles and 1,000-deep chains end; the cache is
// bounded; an include cycle keeps what its members declare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { batchHost } from '../../../server/src/audit/sources';
import { HeaderIndex } from '../../../server/src/c/headerIndex';
import { emptyKnowledge } from '../../../server/src/c/knowledge';
import { kernelContext } from '../../../server/src/c/includePath';

const MAKEFILE = 'VERSION = 6\nPATCHLEVEL = 1\n';

test('an include cycle whose second member defines the wrapper keeps it (ixgbe.h <-> ixgbe_common.h)', async () => {
  for (const snapshot of [false, true]) {
    const files: Record<string, string> = {
      '/t/ixgbe.h': '#include "ixgbe_type.h"\n#include "ixgbe_common.h"\n',
      '/t/ixgbe_type.h': 'struct ixgbe_hw { u8 __iomem *hw_addr; };\n',
      '/t/ixgbe_common.h':
        '#include "ixgbe_type.h"\n#include "ixgbe.h"\nstatic inline void ixgbe_write_reg(struct ixgbe_hw *hw, u32 reg, u32 value)\n{\n\tu8 __iomem *reg_addr = READ_ONCE(hw->hw_addr);\n\twritel(value, reg_addr + reg);\n}\n#define IXGBE_WRITE_REG(a, reg, value) ixgbe_write_reg((a), (reg), (value))\n',
      '/t/a.c': '#include "ixgbe.h"\nvoid f(struct ixgbe_hw *hw) { IXGBE_WRITE_REG(hw, 4, 1); }\n',
    };
    const e = await AuditEngine.create({ readFile: (p) => files[p], snapshot });
    const a = e.auditOnce('/t/a.c', files['/t/a.c']!);
    assert.deepEqual(a.analysis.sites.map((s) => [s.accessor, s.base]), [['IXGBE_WRITE_REG', 'writel']], `snapshot ${snapshot}`);
  }
});

test('a 1,000-deep include chain ends (no recursion) and what its bottom declares arrives; so does a chain that loops back', async () => {
  const files: Record<string, string> = { '/k/Makefile': MAKEFILE };
  const N = 1000;
  for (let i = 0; i < N; i++) files[`/k/include/linux/h${i}.h`] = `#include <linux/h${i + 1}.h>\n`;
  files[`/k/include/linux/h${N}.h`] = '#include <linux/h0.h>\n#define deep_rd(p) readl(p)\n';
  files['/k/drivers/x.c'] = '#include <linux/h0.h>\nvoid f(void __iomem *p) { deep_rd(p); }\n';
  for (const snapshot of [false, true]) {
    const e = await AuditEngine.create({ readFile: (p) => files[p], snapshot });
    const a = e.auditOnce('/k/drivers/x.c', files['/k/drivers/x.c']!);
    assert.deepEqual(a.analysis.sites.map((s) => s.accessor), ['deep_rd']);
    assert.equal(a.notFollowed, undefined);
  }
  // Without the loop back: a plain chain.
  files[`/k/include/linux/h${N}.h`] = '#define deep_rd(p) readl(p)\n';
  const e = await AuditEngine.create({ readFile: (p) => files[p] });
  assert.equal(e.auditOnce('/k/drivers/x.c', files['/k/drivers/x.c']!).analysis.sites.length, 1);
});

test('the walk stops at its header budget and says so once', () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`/k/include/h${i}.h`] = `#include <h${i + 1}.h>\n`;
  files['/k/include/h50.h'] = '#define far_rd(p) readl(p)\n';
  const ctx = kernelContext('/k');
  const idx = new HeaderIndex(() => emptyKnowledge(), { snapshot: false, maxHeadersPerWalk: 10 });
  const r = idx.importsOf('/k/x.c', '#include <h0.h>\n', ctx, (p) => (files[p] !== undefined ? { text: files[p]! } : { why: 'no such file', missing: true }), (p) => p);
  const budget = r.notFollowed.filter((n) => /reached 10 headers/.test(n.why));
  assert.equal(budget.length, 1);
  assert.ok(r.headers <= 10);
});

test('a header that is missing, unreadable or junk is listed once with why, and the audit goes on', async () => {
  const files: Record<string, string> = {
    '/k/Makefile': MAKEFILE,
    '/k/include/linux/junk.h': '\u0000}}}{{{ #define (( static inline ;;\n' + '{'.repeat(200),
    '/k/include/linux/good.h': '#include <linux/missing.h>\n#define good_rd(p) readl(p)\n',
    '/k/drivers/x.c': '#include <linux/missing.h>\n#include <linux/missing.h>\n#include <linux/junk.h>\n#include <linux/good.h>\n#include <linux/refused.h>\n#include GENERATED_H\nvoid f(void __iomem *p) { good_rd(p); }\n',
  };
  const e = await AuditEngine.create({
    readFile: (p) => files[p],
    tryReadFile: (p) => (p.endsWith('refused.h') ? { why: 'skipped: a FIFO, not a regular file', missing: false } : files[p] !== undefined ? { text: files[p]! } : { why: 'no such file', missing: true }),
  });
  const a = e.auditOnce('/k/drivers/x.c', files['/k/drivers/x.c']!);
  assert.deepEqual(a.analysis.sites.map((s) => s.accessor), ['good_rd']);
  const nf = a.notFollowed ?? [];
  const missing = nf.filter((n) => n.include === '<linux/missing.h>');
  assert.deepEqual(missing.map((n) => n.from), ['/k/drivers/x.c', '/k/include/linux/good.h'], 'once per including file, not once per line');
  assert.match(missing[0]!.why, /not found in the include path/);
  assert.match(nf.find((n) => n.include === '<linux/refused.h>')!.why, /FIFO/);
  assert.match(nf.find((n) => n.include === 'GENERATED_H')!.why, /computed include/);
});

test('a FIFO where a header should be is not opened (the scan does not hang) and is listed', { skip: process.platform === 'win32' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-fifo-'));
  try {
    execFileSync('mkfifo', [join(dir, 'regs.h')]);
    writeFileSync(join(dir, 'a.c'), '#include "regs.h"\nvoid f(void __iomem *p) { writel(1, p); }\n');
    const e = await AuditEngine.create(batchHost());
    const a = e.auditOnce(join(dir, 'a.c'), '#include "regs.h"\nvoid f(void __iomem *p) { writel(1, p); }\n');
    assert.equal(a.analysis.sites.length, 1);
    assert.match(a.notFollowed?.[0]?.why ?? '', /FIFO/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the component cache is bounded (least recently used dropped)', () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 20; i++) files[`/k/include/h${i}.h`] = `#define rd${i}(p) readl(p)\n`;
  const ctx = kernelContext('/k');
  const idx = new HeaderIndex(() => emptyKnowledge(), { snapshot: false, maxEntries: 5 });
  const read = (p: string) => (files[p] !== undefined ? { text: files[p]! } : { why: 'no such file', missing: true });
  for (let i = 0; i < 20; i++) idx.importsOf(`/k/x${i}.c`, `#include <h${i}.h>\n`, ctx, read, (p) => p);
  assert.equal(idx.size, 5);
});

test("an editor's engine reads a kernel header again only when its size or mtime changed, and sees the change", async () => {
  const { mkdirSync, utimesSync } = await import('node:fs');
  const { readTextOrUndefined } = await import('../../../server/src/fs/safeRead');
  const root = mkdtempSync(join(tmpdir(), 'tdx-stamp-'));
  try {
    mkdirSync(join(root, 'include/linux'), { recursive: true });
    mkdirSync(join(root, 'drivers/x'), { recursive: true });
    writeFileSync(join(root, 'Makefile'), MAKEFILE);
    const hdr = join(root, 'include/linux/regs.h');
    writeFileSync(hdr, '#define rd_a(p) readl(p)\n');
    const src = '#include <linux/regs.h>\nvoid f(void __iomem *p) { rd_a(p); rd_b(p); }\n';
    const reads: string[] = [];
    const e = await AuditEngine.create({ readFile: (p) => (reads.push(p), readTextOrUndefined(p)) });
    const file = join(root, 'drivers/x/x.c');
    assert.equal(e.audit(file, src, 1).analysis.sites.length, 1);
    reads.length = 0;
    assert.equal(e.audit(file, src + '\n', 2).analysis.sites.length, 1);
    assert.deepEqual(reads.filter((p) => p.includes('/include/')), [], 'unchanged kernel headers are not read again');
    writeFileSync(hdr, '#define rd_a(p) readl(p)\n#define rd_b(p) readw(p)\n');
    utimesSync(hdr, new Date(), new Date(Date.now() + 5000));
    assert.equal(e.audit(file, src, 3).analysis.sites.length, 2, 'the edit is seen');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a host that throws while headers are read costs the file its headers, not its audit', async () => {
  const e = await AuditEngine.create({
    readFile: () => undefined,
    tryReadFile: () => {
      throw new Error('EIO from a dying disk');
    },
  });
  const a = e.auditOnce('/t/a.c', '#include "regs.h"\nvoid f(void __iomem *p) { writel(1, p); }\n');
  assert.equal(a.analysis.sites.length, 1);
  assert.match(a.notFollowed?.[0]?.why ?? '', /header walk failed: EIO/);
});
