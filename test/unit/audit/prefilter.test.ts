// The pre-filter decides which files are parsed at all: a miss is a lost site, a
// pass is only time. Each rule is pinned here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namesSite, SiteFilter } from '../../../server/src/audit/sources';

const filterOf = (files: Record<string, string>) => {
  const reads: string[] = [];
  const f = new SiteFilter((p) => (reads.push(p), files[p]));
  return { f, reads };
};

test('a file naming an accessor, __iomem or an MMIO mapping API passes without reading headers', () => {
  assert.ok(namesSite('x = readl(p);'));
  assert.ok(namesSite('void __iomem *p;'));
  assert.ok(namesSite('p = devm_platform_ioremap_resource(pdev, 0);'), 'a mapping API: untyped dereferences follow from it');
  assert.ok(!namesSite('x = memremap(a, n, MEMREMAP_WB);'), 'memremap returns memory');
  const { f, reads } = filterOf({});
  assert.ok(f.mayHoldSites('/t/a.c', '#include "x.h"\nint f(void) { return ioread32(p); }\n'));
  assert.deepEqual(reads, []);
});

test('a quoted include passes a file only when that header (or one it includes) names something', () => {
  const { f } = filterOf({
    '/t/plain.h': 'struct s { int a; };\n',
    '/t/regs.h': '#include "deeper.h"\n',
    '/t/deeper.h': '#define rd(p) readl(p)\n',
    '/t/x/up.h': '#include "../plain.h"\n',
  });
  assert.equal(f.mayHoldSites('/t/a.c', '#include "plain.h"\nint f(void) { return 0; }\n'), false);
  assert.equal(f.mayHoldSites('/t/b.c', '#include "regs.h"\nint g(void *p) { return rd(p); }\n'), true, 'through a chain');
  assert.equal(f.mayHoldSites('/t/x/c.c', '#include "up.h"\n'), false, 'relative to the including file');
  assert.equal(f.mayHoldSites('/t/d.c', '#include "missing.h"\n'), false);
  assert.equal(f.mayHoldSites('/t/e.c', 'int h(void) { return 0; }\n'), false);
});

test('include cycles end and what a cycle cut is not remembered as "names nothing"', () => {
  const { f } = filterOf({
    '/t/a.h': '#include "b.h"\n',
    '/t/b.h': '#include "a.h"\n#include "c.h"\n',
    '/t/c.h': 'void __iomem *base;\n',
  });
  assert.equal(f.mayHoldSites('/t/x.c', '#include "a.h"\n'), true);
  assert.equal(f.mayHoldSites('/t/y.c', '#include "b.h"\n'), true);
});

test("the engine's look through headers is asked only when the text tests fail, and never for a file without includes", () => {
  const asked: string[] = [];
  const f = new SiteFilter(
    () => undefined,
    (p) => (asked.push(p), p.endsWith('wrapped.c')),
  );
  assert.equal(f.mayHoldSites('/t/direct.c', '#include <linux/io.h>\nvoid f(void) { readl(p); }\n'), true);
  assert.equal(f.mayHoldSites('/t/none.c', 'int f(void) { return vp_ioread16(p); }\n'), false, 'no include: nothing to learn from headers');
  assert.equal(f.mayHoldSites('/t/wrapped.c', '#include <linux/virtio_pci_modern.h>\nint f(void) { return vp_ioread16(p); }\n'), true);
  assert.equal(f.mayHoldSites('/t/plain.c', '#include <linux/module.h>\nint g(void) { return 0; }\n'), false);
  assert.deepEqual(asked, ['/t/wrapped.c', '/t/plain.c']);
});
