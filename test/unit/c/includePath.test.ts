// Include resolution as the compiler's: kernel trees (top Makefile with VERSION and
// PATCHLEVEL) get the kernel's x86 order, files in a compile_commands.json their
// -I/-iquote/-include, anything else only quoted includes beside the file. Fixtures
// imitate the kernel's layout (include/linux/virtio_pci_modern.h's vp_io* wrappers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { batchHost } from '../../../server/src/audit/sources';
import { contextFromArgv, includeDirectives, isKernelMakefile, KERNEL_X86_DIRS } from '../../../server/src/c/includePath';
import { locate } from './helpers';

const MAKEFILE = '# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\nEXTRAVERSION =\n';
const VP_HEADER = [
  '/* SPDX-License-Identifier: GPL-2.0 */',
  '#ifndef _LINUX_VIRTIO_PCI_MODERN_H',
  '#define _LINUX_VIRTIO_PCI_MODERN_H',
  '#include <linux/pci.h>',
  '',
  'static inline u16 vp_ioread16(const __le16 __iomem *addr)',
  '{',
  '\treturn ioread16(addr);',
  '}',
  '',
  'static inline void vp_iowrite16(u16 value, __le16 __iomem *addr)',
  '{',
  '\tiowrite16(value, addr);',
  '}',
  '#endif',
  '',
].join('\n');
const DRIVER = [
  '#include <linux/virtio_pci_modern.h>',
  '#include <linux/module.h>',
  '',
  'u16 vp_modern_get_num_queues(struct virtio_pci_modern_device *mdev)',
  '{',
  '\treturn vp_ioread16(&mdev->common->num_queues);',
  '}',
  '',
  'void vp_modern_set_queue_size(struct virtio_pci_modern_device *mdev, u16 size)',
  '{',
  '\tvp_iowrite16(size, &mdev->common->queue_size);',
  '}',
  '',
].join('\n');

/** A kernel-like tree under /k as an in-memory disk. */
function kernelTree(extra: Record<string, string> = {}): Record<string, string> {
  return {
    '/k/Makefile': MAKEFILE,
    '/k/include/linux/virtio_pci_modern.h': VP_HEADER,
    '/k/include/linux/pci.h': 'struct pci_dev { int devfn; };\n',
    '/k/include/linux/module.h': '#include <linux/types.h>\n',
    '/k/include/linux/types.h': 'typedef unsigned short u16;\n',
    '/k/drivers/virtio/virtio_pci_modern_dev.c': DRIVER,
    ...extra,
  };
}

async function engineOn(files: Record<string, string>, snapshot = false): Promise<AuditEngine> {
  return AuditEngine.create({ readFile: (p) => files[p], snapshot });
}

test('the kernel Makefile is recognised by VERSION and PATCHLEVEL, not by its name', () => {
  assert.ok(isKernelMakefile(MAKEFILE));
  assert.ok(!isKernelMakefile('all:\n\tcc -o x x.c\n'));
  assert.ok(!isKernelMakefile('VERSION = 2\n'), 'PATCHLEVEL too');
});

test('include lines: quoted, angle, computed and #include_next, with their lines', () => {
  const d = includeDirectives('#include "a.h"\n  #  include <b/c.h>\n#include_next <d.h>\n#include FOO_H\n// #include "no.h" is a comment but still a line\n');
  assert.deepEqual(
    d.map((x) => [x.kind, x.spec, x.next, x.line]),
    [
      ['quote', 'a.h', false, 0],
      ['angle', 'b/c.h', false, 1],
      ['angle', 'd.h', true, 2],
      ['macro', 'FOO_H', false, 3],
    ],
  );
});

test('in a kernel tree an angle-bracket include is followed: calls of vp_io* wrappers from <linux/virtio_pci_modern.h> are sites, via the header and the wrapper line', async () => {
  const files = kernelTree();
  const e = await engineOn(files);
  const a = e.auditOnce('/k/drivers/virtio/virtio_pci_modern_dev.c', DRIVER);
  assert.deepEqual(
    a.analysis.sites.map((s) => [s.accessor, s.base]),
    [
      ['vp_ioread16', 'ioread16'],
      ['vp_iowrite16', 'iowrite16'],
    ],
  );
  const rd = a.analysis.sites[0]!;
  assert.deepEqual(rd.range.start, locate(DRIVER, 'vp_ioread16'));
  assert.equal(rd.via[0]!.file, '/k/include/linux/virtio_pci_modern.h');
  assert.equal(rd.via[0]!.name, 'vp_ioread16');
  assert.equal(rd.via[0]!.range.start.line, locate(VP_HEADER, 'ioread16(addr)').line, 'the line of the accessor call inside the wrapper');
  assert.equal(e.includeContextFor('/k/drivers/virtio/virtio_pci_modern_dev.c')!.origin.kind, 'kernel');
});

test('outside a kernel tree an angle-bracket include is not followed, and says why once', async () => {
  const files = kernelTree({ '/k/Makefile': 'all:\n\t$(MAKE) -C src\n' });
  const e = await engineOn(files);
  const text = DRIVER + '#include <linux/virtio_pci_modern.h>\n';
  const a = e.auditOnce('/k/drivers/virtio/virtio_pci_modern_dev.c', text);
  assert.equal(a.analysis.sites.length, 0);
  const vp = (a.notFollowed ?? []).filter((n) => n.include === '<linux/virtio_pci_modern.h>');
  assert.equal(vp.length, 1, 'listed once although included twice');
  assert.match(vp[0]!.why, /outside a kernel tree/);
});

test("the kernel's x86 order: arch/x86/include before include, include before include/uapi", async () => {
  const files = kernelTree({
    '/k/arch/x86/include/asm/regs.h': '#define rd_reg(p) readl(p)\n',
    '/k/include/asm/regs.h': '#define rd_reg(p) readb(p)\n',
    '/k/include/linux/both.h': '#define rd_both(p) readw(p)\n',
    '/k/include/uapi/linux/both.h': '#define rd_both(p) readq(p)\n',
    '/k/include/uapi/linux/only_uapi.h': '#define rd_uapi(p) inb(p)\n',
    '/k/drivers/x/x.c': '#include <asm/regs.h>\n#include <linux/both.h>\n#include <linux/only_uapi.h>\nvoid f(void __iomem *p) { rd_reg(p); rd_both(p); rd_uapi(1); }\n',
  });
  const e = await engineOn(files);
  const a = e.auditOnce('/k/drivers/x/x.c', files['/k/drivers/x/x.c']!);
  assert.deepEqual(
    a.analysis.sites.map((s) => [s.accessor, s.base]),
    [
      ['rd_reg', 'readl'],
      ['rd_both', 'readw'],
      ['rd_uapi', 'inb'],
    ],
  );
  assert.deepEqual(KERNEL_X86_DIRS.slice(0, 3), ['arch/x86/include', 'arch/x86/include/generated', 'include']);
});

test("a quoted include looks beside the including header first, then the include path (gcc's order)", async () => {
  const files = kernelTree({
    '/k/drivers/x/local.h': '#define wr_local(v, p) writel(v, p)\n',
    '/k/include/linux/local.h': '#define wr_local(v, p) writeb(v, p)\n',
    '/k/include/linux/quoted_up.h': '#define wr_up(v, p) writew(v, p)\n',
    '/k/drivers/x/x.c': '#include "local.h"\n#include "linux/quoted_up.h"\nvoid f(void __iomem *p) { wr_local(1, p); wr_up(1, p); }\n',
  });
  const a = (await engineOn(files)).auditOnce('/k/drivers/x/x.c', files['/k/drivers/x/x.c']!);
  assert.deepEqual(
    a.analysis.sites.map((s) => [s.accessor, s.base]),
    [
      ['wr_local', 'writel'],
      ['wr_up', 'writew'],
    ],
  );
});

test('#include_next goes on after the folder the including header was found in', async () => {
  const files = kernelTree({
    '/k/arch/x86/include/asm/io_ext.h': '#include_next <asm/io_ext.h>\n',
    '/k/include/asm/io_ext.h': '#define rd_ext(p) readl(p)\n',
    '/k/drivers/x/x.c': '#include <asm/io_ext.h>\nvoid f(void __iomem *p) { rd_ext(p); }\n',
  });
  const a = (await engineOn(files)).auditOnce('/k/drivers/x/x.c', files['/k/drivers/x/x.c']!);
  assert.deepEqual(a.analysis.sites.map((s) => s.via.map((v) => v.file)), [['/k/include/asm/io_ext.h']]);
});

test("a catalogued accessor's own definition in a header (asm-generic/io.h's ioread32 calling readl) is the accessor, not a wrapper", async () => {
  const files = kernelTree({
    '/k/include/asm-generic/io.h': '#ifndef ioread32\n#define ioread32 ioread32\nstatic inline u32 ioread32(const volatile void __iomem *addr)\n{\n\treturn readl(addr);\n}\n#endif\n',
    '/k/drivers/x/x.c': '#include <asm-generic/io.h>\nu32 f(void __iomem *p) { return ioread32(p); }\n',
  });
  const a = (await engineOn(files)).auditOnce('/k/drivers/x/x.c', files['/k/drivers/x/x.c']!);
  assert.deepEqual(a.analysis.sites.map((s) => [s.accessor, s.base, s.via.length]), [['ioread32', 'ioread32', 0]]);
});

test('a snapshot engine walks a tree once: the second file of the same headers analyses none again', async () => {
  const files = kernelTree({ '/k/drivers/virtio/second.c': DRIVER });
  const e = await engineOn(files, true);
  const a = e.auditOnce('/k/drivers/virtio/virtio_pci_modern_dev.c', DRIVER);
  const analysed = e.headerStats.analysed;
  assert.ok(analysed > 0);
  const b = e.auditOnce('/k/drivers/virtio/second.c', DRIVER);
  assert.equal(e.headerStats.analysed, analysed);
  assert.deepEqual(
    b.analysis.sites.map((s) => [s.accessor, s.via]),
    a.analysis.sites.map((s) => [s.accessor, s.via]),
  );
});

test('the pre-filter asks the engine about a file that names only a header wrapper', async () => {
  const { SiteFilter } = await import('../../../server/src/audit/sources');
  const files = kernelTree({ '/k/drivers/x/plain.c': '#include <linux/module.h>\nint f(void) { return 0; }\n' });
  const e = await engineOn(files, true);
  const f = new SiteFilter((p) => files[p], (p, t) => e.mayHoldSitesThroughHeaders(p, t));
  assert.equal(new SiteFilter((p) => files[p]).mayHoldSites('/k/drivers/virtio/virtio_pci_modern_dev.c', DRIVER), false, 'the text tests alone miss it');
  assert.equal(f.mayHoldSites('/k/drivers/virtio/virtio_pci_modern_dev.c', DRIVER), true);
  assert.equal(f.mayHoldSites('/k/drivers/x/plain.c', files['/k/drivers/x/plain.c']!), false);
});

test('a compile_commands.json entry gives the include path: -I, -iquote, -include, relative to its directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-inc-'));
  try {
    const w = (rel: string, text: string) => {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), text);
    };
    w('hw/include/chip/regs.h', '#define chip_rd(p) readl(p)\n');
    w('quoted/q.h', '#define q_wr(v, p) writel(v, p)\n');
    w('forced/pre.h', '#define pre_rd(p) readb(p)\n');
    w('src/drv.c', '#include <chip/regs.h>\n#include "q.h"\nvoid f(void __iomem *p) { chip_rd(p); q_wr(1, p); pre_rd(p); }\n');
    w('src/other.c', '#include <chip/regs.h>\nvoid g(void __iomem *p) { chip_rd(p); }\n');
    writeFileSync(
      join(dir, 'compile_commands.json'),
      JSON.stringify([{ directory: dir, file: 'src/drv.c', command: 'gcc -Ihw/include -iquote quoted -include forced/pre.h -DX=1 -c -o src/drv.o src/drv.c' }]),
    );
    const e = await AuditEngine.create(batchHost());
    const src = join(dir, 'src/drv.c');
    const a = e.auditOnce(src, '#include <chip/regs.h>\n#include "q.h"\nvoid f(void __iomem *p) { chip_rd(p); q_wr(1, p); pre_rd(p); }\n');
    assert.deepEqual(
      a.analysis.sites.map((s) => [s.accessor, s.base]),
      [
        ['chip_rd', 'readl'],
        ['q_wr', 'writel'],
        ['pre_rd', 'readb'],
      ],
    );
    const ctx = e.includeContextFor(src)!;
    assert.equal(ctx.origin.kind, 'compile-db');
    assert.equal(ctx.defines.get('X'), '1');
    // A file the database does not describe (and no kernel tree): quoted includes only.
    const b = e.auditOnce(join(dir, 'src/other.c'), '#include <chip/regs.h>\nvoid g(void __iomem *p) { chip_rd(p); }\n');
    assert.equal(b.analysis.sites.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('contextFromArgv keeps gcc order (-iquote for quotes only; -I, -isystem, -idirafter) and reads -Wp,-D', () => {
  const c = contextFromArgv(['gcc', '-idirafter', 'late', '-isystem', 'sys', '-I', 'a', '-Ib', '-iquote', 'q', '-Wp,-DY=2,-Ic', '-include', 'f.h', '-DZ', '-UZ', '-c', 'x.c'], '/w', '/w/compile_commands.json');
  assert.deepEqual(c.quote, ['/w/q']);
  assert.deepEqual(c.angle, ['/w/a', '/w/b', '/w/c', '/w/sys', '/w/late']);
  assert.deepEqual(c.forced, ['/w/f.h']);
  assert.equal(c.defines.get('Y'), '2');
  assert.equal(c.defines.has('Z'), false);
  const d = contextFromArgv(['gcc', '-I', 'a', '-DKBUILD_MODNAME="x"', 'x.c'], '/w', '/w/db.json');
  const e = contextFromArgv(['gcc', '-I', 'a', '-DKBUILD_MODNAME="y"', 'y.c'], '/w', '/w/db.json');
  assert.equal(d.key, e.key, 'per-file defines do not split the header cache');
});
