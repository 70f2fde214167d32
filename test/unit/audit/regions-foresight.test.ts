// The region audit in one round: what the seeds foresee (audit/foresight.ts, and the
// bodies indexed whatever they are kept for) and what the fixpoint no longer waits a
// round for. Each test fails when its mechanism is removed: the round count, or the
// body's reason, changes (the analysis is checked against the whole-file audit too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRegions } from '../../support/regions';

const PAD = 'static int unrelated(int x)\n{\n\tint y = x * 2;\n\treturn y + 1;\n}\n';

test('a field assigned from ioremap in one function and read in another: one round', async () => {
  const src = `struct foo { void *regs; void *ring; int n; };
static int probe(struct foo *p, unsigned long start)
{
\tvoid *base = devm_ioremap(NULL, start, 0x100);
\tif (!base)
\t\treturn -1;
\tp->regs = base;
\tp->ring = (void *)((char *)p->regs + 0x40);
\treturn 0;
}
static void poke(struct foo *p)
{
\t((unsigned int *)p->regs)[1] |= 1;
}
static void ring_kick(struct foo *p)
{
\t*(volatile unsigned int *)p->ring = 1;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.ok(r.on.sites.some((s) => s.function === 'poke'));
  assert.ok(r.on.sites.some((s) => s.function === 'ring_kick'));
  // `base` (a local given the mapping) carries into `regs`, `regs` into `ring`.
  assert.equal(r.bodies.get('poke'), 'seed regs');
  assert.equal(r.bodies.get('ring_kick'), 'seed ring');
  assert.equal(r.bodies.get('unrelated'), 'blanked');
  assert.equal(r.stats.rounds, 1);
});

test('a function returning a mapping: its callers are kept in the first round', async () => {
  // Not static: no helper (whose callers the seeds keep anyway), only its return value.
  const src = `void *map_regs(unsigned long a)
{
\treturn pci_iomap(NULL, 0, 0);
}
static void use(void)
{
\tunsigned int *r = map_regs(0);
\tr[2] = 7;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.ok(r.on.sites.some((s) => s.function === 'use'));
  assert.equal(r.bodies.get('use'), 'seed map_regs');
  assert.equal(r.stats.rounds, 1);
});

test('a value read from MMIO is no mapping: the field it is stored in is not foreseen (nor made to matter)', async () => {
  // `p->len = readl(...)` gives `len` a plain value (provenance's `N:len`): a body
  // naming `len` and nothing else reads nothing provenance looks at.
  const src = `struct foo { void __iomem *regs; int len; };
static void fill(struct foo *p)
{
\tp->len = readl(p->regs + 4);
}
static int length_of(struct foo *p)
{
\treturn p->len * 2;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.equal(r.bodies.get('length_of'), 'blanked');
  assert.equal(r.stats.rounds, 1);
});

test("a static helper kept for a directive (never blanked) that holds a site makes its callers' bodies seeds", async () => {
  // A directive where no statement ends: the body is never blanked (c/regions.ts midStatementDirective).
  const src = `static void kick(int v)
{
\twhile (v--)
#ifdef CONFIG_X
\t\toutb(v, 0x80);
#else
\t\toutb(v, 0x84);
#endif
}
static void caller(void)
{
\tkick(1);
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  const caller = r.on.functions.find((f) => f.name === 'caller')!;
  assert.deepEqual(caller.via, ['kick']);
  assert.equal(r.bodies.get('caller'), 'seed kick');
  assert.equal(r.stats.rounds, 1);
});

test("a static function's parameter given MMIO after a round unblanks that function alone, not every body naming the parameter's name", async () => {
  // A global given the mapping is not foreseen (only fields, locals, returns and
  // helpers' parameters are): the fixpoint finds `g`, then the parameter `base` of
  // `helper`; `other` names a `base` of its own and stays blanked.
  const src = `static void *g;
static void helper(void *base)
{
\t*(volatile unsigned int *)base = 1;
}
static int probe(void)
{
\tg = ioremap(0, 4);
\treturn 0;
}
static void run(void)
{
\thelper(g);
}
static int other(int base)
{
\treturn base + 1;
}
${PAD}`;
  const r = await compareRegions({ '/t/k.c': src }, '/t/k.c');
  assert.ok(r.on.sites.some((s) => s.function === 'helper'));
  assert.equal(r.bodies.get('run'), 'matter g');
  assert.equal(r.bodies.get('helper'), 'matter a parameter');
  assert.equal(r.bodies.get('other'), 'blanked');
  assert.equal(r.stats.rounds, 3);
});
