// The region audit parses only the function bodies that can matter; each test pins
// one keep rule: it fails when the rule is removed (the analysis differs from the
// whole-file audit, or the body is kept only by a later round than its rule allows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRegions } from '../../support/regions';
import { topBlocks, blankInsides } from '../../../server/src/c/regions';

const PAD = 'static int unrelated(int x)\n{\n\tint y = x * 2;\n\treturn y + 1;\n}\n';

test('a body reached only through a field ioremap sets in another function is kept (provenance facts)', async () => {
  const src = `struct foo { void *regs; int n; };
static int probe(struct foo *p)
{
\tp->regs = ioremap(0x1000, 0x100);
\treturn 0;
}
static void poke(struct foo *p)
{
\t((unsigned int *)p->regs)[1] |= 1;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.ok(r.on.sites.some((s) => s.function === 'poke'), 'the untyped dereference in poke is a site');
  // Foreseen (audit/foresight.ts): `p->regs = ioremap(...)` makes `regs` a seed before the parse.
  assert.match(r.bodies.get('probe')!, /^seed (ioremap|regs)$/);
  assert.equal(r.bodies.get('poke'), 'seed regs');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
  assert.equal(r.stats.rounds, 1);
});

test("a static helper's parameter given MMIO by its caller keeps the helper's body", async () => {
  const src = `static void helper(void *base)
{
\t*(volatile unsigned int *)base = 1;
}
static int probe(void)
{
\tvoid *b = ioremap(0, 4);
\thelper(b);
\treturn 0;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.ok(r.on.sites.some((s) => s.function === 'helper'));
  assert.equal(r.bodies.get('helper'), 'param of helper');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
  assert.equal(r.stats.rounds, 1);
});

test("a macro wrapper of the file keeps its callers' bodies from the first round", async () => {
  const src = `struct x { void __iomem *regs; };
#define RD(p) readl((p)->regs)
#define RD2(p) RD(p)
static int f(struct x *p)
{
\treturn RD2(p);
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.on.sites.filter((s) => s.function === 'f').length, 1);
  assert.equal(r.bodies.get('f'), 'seed RD2');
  assert.equal(r.stats.rounds, 1);
});

test('a wrapper imported from a header keeps the bodies that call it', async () => {
  const files = {
    '/t/w.h': 'static inline unsigned int hw_rd(void __iomem *a)\n{\n\treturn readl(a);\n}\n',
    '/t/k.c': `#include "w.h"
static int g(void __iomem *b);
static int g2(int *b)
{
\treturn hw_rd((void *)b);
}
${PAD}`,
  };
  const r = await compareRegions(files, '/t/k.c');
  assert.equal(r.on.sites.filter((s) => s.function === 'g2').length, 1);
  assert.equal(r.bodies.get('g2'), 'seed hw_rd');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
});

test('callers of a static inline holding a site keep their bodies (function view `via` and `reached`)', async () => {
  const src = `static inline void kick(void)
{
\toutb(1, 0x80);
}
static void helper2(void)
{
\tkick();
}
void top(void)
{
\thelper2();
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  const top = r.on.functions.find((f) => f.name === 'top')!;
  assert.deepEqual([top.via, top.reached], [['helper2'], 1]);
  assert.equal(r.bodies.get('helper2'), 'seed kick');
  assert.equal(r.bodies.get('top'), 'seed helper2');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
  assert.equal(r.stats.rounds, 1);
});

test('a conditional group whose branches leave the brace depth different makes the file whole', async () => {
  const src = `#ifdef CONFIG_A
static int two(int a)
{
#else
static int two(int a, int b)
{
#endif
\treturn a;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.match(r.stats.whole ?? '', /conditional group/);
  assert.match(String((topBlocks(src) as { unsure?: string }).unsure), /conditional group/);
  // Balanced branches inside one body are blanked with it.
  const ok = `static int one(int a)\n{\n#ifdef X\n\tif (a) {\n#else\n\tif (!a) {\n\t}\n#endif\n\treturn a;\n}\n`;
  assert.match(String((topBlocks(ok) as { unsure?: string }).unsure), /conditional group/);
  const balanced = `static int one(int a)\n{\n#ifdef X\n\ta++;\n#else\n\ta--;\n#endif\n\treturn a;\n}\n`;
  assert.equal((await compareRegions({ '/t/k.c': balanced + PAD }, '/t/k.c')).bodies.get('one'), 'blanked');
});

test('braces in comments, strings, character literals and continued line comments do not delimit', async () => {
  const src = `/* { not a block */
static const char *s = "}{";
static int f(int c)
{
\t// a } in a comment, continued \\
\t} still the comment
\tif (c == '{' || c == '}') return 1; /* } */
\treturn "\\"}"[0];
}
#define OPEN {
static int g(void)
{
\treturn inb(0x60);
}
${PAD}`;
  const b = topBlocks(src);
  assert.ok('blocks' in b, JSON.stringify(b));
  assert.deepEqual(b.blocks.map((x) => src.slice(x.headerStart, x.open).trim().split('\n').pop()), ['static int f(int c)', 'static int g(void)', 'static int unrelated(int x)']);
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.bodies.get('f'), 'blanked');
  assert.equal(r.bodies.get('g'), 'seed inb');
  assert.equal(r.stats.whole, undefined);
  assert.ok(r.stats.blanked > 0);
});

test('a K&R definition (declarations between the parameters and the body) is kept whole', async () => {
  const src = `int knr(a, b)
int a;
char *b;
{
\treturn a + *b;
}
${PAD}static int h(void)
{
\treturn inl(0xcf8);
}
`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  const open = src.indexOf('{');
  assert.equal(r.stats.kept!.get(open), 'no function body');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
});

test('a #define inside a body keeps the body (macros are read from the whole tree)', async () => {
  const src = `static int f(void)
{
#define LOCAL_RD(a) readl(a)
\treturn 0;
}
static int g(void *p)
{
\treturn LOCAL_RD(p);
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.stats.kept!.get(src.indexOf('{')), 'a directive');
  assert.equal(r.on.sites.filter((s) => s.function === 'g').length, 1);
});

test('blanking keeps every offset, row and column', () => {
  const src = 'int f(void)\n{\n\treturn 1; /* x */\n}\nint g;\n';
  const b = topBlocks(src);
  assert.ok('blocks' in b);
  const out = blankInsides(src, b.blocks);
  assert.equal(out.length, src.length);
  assert.deepEqual(out.split('\n').map((l) => l.length), src.split('\n').map((l) => l.length));
  assert.equal(out, `int f(void)\n{\n${' '.repeat('\treturn 1; /* x */'.length)}\n}\nint g;\n`);
});

test('bodies with shapes tree-sitter trips on are kept: a directive inside an expression, `if MACRO(x)`', async () => {
  const src = `static unsigned int f(void)
{
\treturn 1
#ifdef CONFIG_X
\t\t| 2
#endif
\t\t;
}
static int g(int r)
{
\tif ACPI_FAILURE(r)
\t\treturn 1;
\treturn 0;
}
static unsigned int h(void __iomem *p)
{
\treturn readl(p);
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.stats.kept!.get(src.indexOf('{')), 'a shape the parser trips on');
  assert.equal(r.stats.kept!.get(src.indexOf('{', src.indexOf('g(int r)'))), 'a shape the parser trips on');
  assert.ok(r.on.parseErrors > 0, 'the fixture has parse errors for the rule to keep');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
});

test('a parse error in a blanked body is not counted: parseErrors is the analysed text\'s (documented), sites are the same', async () => {
  // `10:10` is sis/init.c's GETBITSTR: no lexical rule keeps this body.
  const src = `static int bits(int a)
{
\tint x = GETBITSTR(a, 10:10, 0:0);
\treturn x;
}
static unsigned int h(void __iomem *p)
{
\treturn readl(p);
}
`;
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const on = await AuditEngine.create({ readFile: () => undefined });
  const off = await AuditEngine.create({ readFile: () => undefined });
  off.configure({ regions: false });
  const a = on.auditOnce('/t/k.c', src).analysis;
  const b = off.auditOnce('/t/k.c', src).analysis;
  assert.deepEqual(a.sites, b.sites);
  assert.deepEqual(a.functions, b.functions);
  assert.ok(b.parseErrors > 0);
  assert.equal(a.parseErrors, 0);
  assert.ok(on.lastRegions!.blanked > 0);
});

test('the editor path (audit, not auditOnce) parses the whole text', async () => {
  const src = `static int bits(int a)\n{\n\tint x = GETBITSTR(a, 10:10, 0:0);\n\treturn x;\n}\n`;
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const e = await AuditEngine.create({ readFile: () => undefined });
  assert.ok(e.audit('/t/k.c', src, 1).analysis.parseErrors > 0);
  assert.equal(e.lastRegions, undefined);
});

test('a body holding inline assembly is kept (its operands are macros tree-sitter cannot read)', async () => {
  const src = `static unsigned long rd(void)
{
\tunsigned long low, high;
\tasm volatile("rdtsc" : EAX_EDX_RET(val, low, high));
\treturn low;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.stats.kept!.get(src.indexOf('{')), 'a shape the parser trips on');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
});

test('the lexer reads `$`, digits and non-ASCII letters as parts of a word (an `if` inside one is no keyword)', () => {
  const inside = (body: string) => {
    const b = topBlocks(`void f(void)\n{\n${body}\n}\n`);
    assert.ok('blocks' in b);
    return b.blocks[0]!;
  };
  assert.equal(inside('\ta$if x;\n\tb9if y;\n\téif z;\n\tif (x) y;').midStatementDirective, false);
  assert.equal(inside('\tif x;').midStatementDirective, true);
  assert.equal(inside('\t(x)if y;').midStatementDirective, true);
});

test('every body naming a seed: the whole file, answered before the foresight reads any flow', async () => {
  // `rd` names readl (a seed) and is a static helper given MMIO by `probe`: the
  // foresight would keep it first as `param of rd`. The shortcut never runs the
  // foresight, so its reason is the seed it names.
  const src = `static unsigned int rd(void *p)
{
\treturn readl(p);
}
static int probe(void)
{
\tvoid *m = ioremap(0, 4);
\treturn rd(m);
}
`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.stats.whole, 'every body matters');
  assert.equal(r.stats.rounds, 0);
  assert.equal(r.bodies.get('rd'), 'seed readl');
  assert.equal(r.bodies.get('probe'), 'seed ioremap');
  // One body naming no seed of its own: the fixpoint runs (it keeps `rd` for its caller's argument).
  const more = await compareRegions({ '/t/k.c': `${src}${PAD}` }, '/t/k.c');
  assert.equal(more.stats.whole, undefined);
  assert.equal(more.bodies.get('rd'), 'param of rd');
  assert.equal(more.bodies.get('unrelated'), 'blanked');
  // A body kept whatever it names (`__iomem`) is no candidate: it does not stand for the one left.
  const kept = await compareRegions({ '/t/k.c': `static unsigned int g(void)\n{\n\tvoid __iomem *q = 0;\n\treturn readl(q);\n}\n${PAD}` }, '/t/k.c');
  assert.equal(kept.stats.whole, undefined);
  assert.equal(kept.bodies.get('g'), '__iomem');
  assert.equal(kept.bodies.get('unrelated'), 'blanked');
});
