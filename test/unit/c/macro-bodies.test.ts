// Calls in macro bodies spatch finds and the body parse missed (issue 14, item 4 recall):
// object-like macros (qlogicfas408.h REG0, radio-trust.c TR_DELAY, rtc-rs5c313.c) and
// function-like bodies whose casts hold annotations (`(void __iomem *)`, `(__force u32)`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CParser } from '../../../server/src/c/parser';
import { objectLikeMacros } from '../../../server/src/c/macroBodies';
import { sitesOf } from './helpers';

test('calls in object-like macro bodies are sites, at their own columns', async () => {
  const text = [
    '#define REG0 ( outb( inb( qbase + 0xd ) & 0x7f , qbase + 0xd ), outb( 4 , qbase + 0xd ))',
    '#define TR_DELAY do { inb(tr->isa.io); inb(tr->isa.io); } while (0)',
    '#define RS5C313_CEENABLE    __raw_writeb(RS5C313_CE_RTCCE, RS5C313_CE);',
    '#define LONG_ONE \\',
    '\tioread8(ioaddr + 4)',
    '#define NOT_A_CALL (1 << 3)',
    '',
  ].join('\n');
  assert.deepEqual((await sitesOf(text)).sort(), [
    ['__raw_writeb', 3, 28], ['inb', 1, 21], ['inb', 2, 22], ['inb', 2, 39], ['ioread8', 5, 1], ['outb', 1, 15], ['outb', 1, 64],
  ].sort());
});

test('calls in function-like macro bodies whose casts hold annotations are sites (intelfbhw.h, p54pci.h, esas2r.h)', async () => {
  const text = [
    '#define INREG8(addr)\t      readb((u8 __iomem *)(dinfo->mmio_base + (addr)))',
    '#define P54P_WRITE(r, val) __raw_writel((__force u32)(__le32)(val), &priv->map->r)',
    '#define R128_READ(reg)\t\treadl(((void __iomem *)dev_priv->mmio->handle) + (reg))',
    '',
  ].join('\n');
  assert.deepEqual((await sitesOf(text)).sort(), [['__raw_writel', 2, 27], ['readb', 1, 27], ['readl', 3, 24]].sort());
});

test('object-like macros are found from the text: function-like ones and bodies without a call are not', async () => {
  const p = await CParser.create();
  const text = '#define A (1 << 3)\n#define B(x) readl(x)\n#define C\tfoo(1)\n#  define D \\\n\tbar(2)\n';
  const r = p.parse(undefined, text);
  try {
    assert.deepEqual(objectLikeMacros(r.tree.rootNode, text).map((m) => [m.name, m.bodyNode.text.trim()]), [['C', 'foo(1)'], ['D', 'bar(2)']]);
  } finally {
    r.tree.delete();
  }
});
