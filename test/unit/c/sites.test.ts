import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { engineWith, locate, siteAt } from './helpers';

const FIX = resolve(__dirname, '../../fixtures/drivers');
const disk = (...names: string[]) => Object.fromEntries(names.map((n) => [join(FIX, n), readFileSync(join(FIX, n), 'utf8')]));

test('a catalogued call is a site with the callee range, whole-call range, function and address', async () => {
  const src = 'void f(void __iomem *base)\n{\n\twritel(0x1, base + 0x10);\n}\n';
  const e = await engineWith();
  const a = e.auditOnce('/x/f.c', src);
  assert.equal(a.analysis.sites.length, 1);
  const s = a.analysis.sites[0];
  assert.deepEqual(s.range, { start: { line: 2, character: 1 }, end: { line: 2, character: 7 } });
  assert.deepEqual(s.callRange, { start: { line: 2, character: 1 }, end: { line: 2, character: 25 } });
  assert.equal(s.function, 'f');
  assert.equal(s.address, 'base + 0x10');
  assert.equal(s.rule, 'tdx-ve-mmio');
  assert.equal(s.width, 4);
});

test('columns are UTF-16 code units even after non-ASCII text on the line', async () => {
  const src = 'void f(void *p)\n{\n\t/* é😀 */ outb(1, 0x80);\n}\n';
  const e = await engineWith();
  const a = e.auditOnce('/x/u.c', src);
  assert.deepEqual(a.analysis.sites[0].range.start, locate(src, 'outb'));
});

test('a static inline wrapper whose accessor acts on its parameter is itself an accessor', async () => {
  const src = readFileSync(join(FIX, 'foo_nic.c'), 'utf8');
  const e = await engineWith(disk('tdx_io.h'));
  const a = e.auditOnce(join(FIX, 'foo_nic.c'), src);
  const s = siteAt(a, src, 'foo_writel(fp, 1, FOO_CTRL)')!;
  assert.ok(s, 'call of foo_writel is a site');
  assert.equal(s.base, 'writel');
  assert.equal(s.accessorKind, 'mmio-write');
  assert.equal(s.function, 'foo_reset_hw');
  assert.deepEqual(s.via.map((v) => v.name), ['foo_writel']);
  assert.deepEqual(s.via[0].range.start, locate(src, 'writel(val, fp->regs + reg)'));
});

test('a function-like macro over a wrapper is a wrapper, transitively', async () => {
  const src = readFileSync(join(FIX, 'foo_nic.c'), 'utf8');
  const e = await engineWith(disk('tdx_io.h'));
  const a = e.auditOnce(join(FIX, 'foo_nic.c'), src);
  const s = siteAt(a, src, 'FOO_WR(fp, FOO_CTRL')!;
  assert.ok(s);
  assert.equal(s.function, 'foo_open');
  assert.deepEqual(s.via.map((v) => v.name), ['FOO_WR', 'foo_writel']);
});

test('an address helper that performs no access is not a wrapper, nor is a non-inline static function', async () => {
  const src = `static inline void __iomem *port_base(void __iomem *mmio, int port)
{
\treturn mmio + 0x100 + port * 0x80;
}
static void kick(void __iomem *mmio) { writel(1, mmio); }
void use(void __iomem *mmio)
{
\tvoid __iomem *p = port_base(mmio, 2);
\twritel(2, p);
\tkick(mmio);
}
`;
  const e = await engineWith();
  const a = e.auditOnce('/x/h.c', src);
  assert.deepEqual(a.analysis.sites.map((s) => s.accessor), ['writel', 'writel']);
  const use = a.analysis.functions.find((f) => f.name === 'use')!;
  assert.equal(use.direct, 1);
  assert.deepEqual(use.via, ['kick']);
  assert.equal(use.reached, 1);
});

test('a wrapper declared in a quoted-include header is known to the including file', async () => {
  const hdr = '#include "tdx_io.h"\nstatic inline u32 hw_rd(void __iomem *hw, int r) { return readl(hw + r); }\n';
  const src = '#include "hw.h"\nint probe(void __iomem *m)\n{\n\treturn hw_rd(m, 4);\n}\n';
  const files = { ...disk('tdx_io.h'), [join(FIX, 'hw.h')]: hdr };
  const e = await engineWith(files);
  const a = e.auditOnce(join(FIX, 'probe.c'), src);
  const s = siteAt(a, src, 'hw_rd(m, 4)')!;
  assert.ok(s, 'hw_rd call is a site');
  assert.equal(s.base, 'readl');
  assert.equal(s.via[0].file, join(FIX, 'hw.h'));
  assert.equal(s.address, 'm');
});

test('sites reached through static helpers are named in the caller (where the #VE lands)', async () => {
  const src = `static void io_write(unsigned int reg, unsigned int v) { writel(v, regs + reg); }
static void modify(unsigned int reg) { io_write(reg, 1); }
static void set_entry(int i) { modify(0x10 + i); modify(0x11 + i); }
int activate(int irq)
{
\tset_entry(irq);
\treturn 0;
}
`;
  const e = await engineWith();
  const a = e.auditOnce('/x/ioapic.c', src);
  const act = a.analysis.functions.find((f) => f.name === 'activate')!;
  assert.equal(act.direct, 0);
  assert.deepEqual(act.via, ['set_entry']);
  assert.equal(act.reached, 1, 'io_write holds one site, reached through two helpers');
});

test('port I/O, MSR and string copies get their own rules', async () => {
  const src = readFileSync(join(FIX, 'foo_nic.c'), 'utf8');
  const e = await engineWith(disk('tdx_io.h'));
  const a = e.auditOnce(join(FIX, 'foo_nic.c'), src);
  assert.equal(siteAt(a, src, 'inb(')!.rule, 'tdx-ve-port-io');
  assert.equal(siteAt(a, src, 'native_read_msr(0x10)')!.rule, 'tdx-ve-msr');
  assert.equal(siteAt(a, src, '__iowrite32_copy(fp')!.rule, 'tdx-movs-copy');
  const copy = a.findings.find((f) => f.rule === 'tdx-movs-copy')!;
  assert.equal(copy.severity, 'error');
  assert.match(copy.message, /rejects it/);
});

test('a macro whose body starts on a continuation line still yields its calls, at their own columns', async () => {
  const src = '#define A(x) \\\n\t(readb(x) + 1)\n#define C(x) \\\n\treadb(x)\n#define B(x) (readb(x) + 1)\n';
  const e = await engineWith();
  const a = e.auditOnce('/x/m.c', src);
  const at = a.analysis.sites.map((s) => `${s.range.start.line}:${s.range.start.character}`).sort();
  assert.deepEqual(at, ['1:2', '3:1', '4:14']);
  for (const s of a.analysis.sites) assert.equal(src.split('\n')[s.range.start.line]!.slice(s.range.start.character, s.range.end.character), 'readb');
});
