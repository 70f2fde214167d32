// c/lexFlows.ts: the value flows a lexer reads from a body (the region audit's
// foresight), and whether a value can carry what provenance follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itemsOf, lexFlows, parameterNamesOf, valueCarries } from '../../../server/src/c/lexFlows';

const flowsOf = (body: string) => lexFlows(body, 0, body.length).flows.map((f) => `${f.kind} ${f.to} =${body.slice(f.from, f.end)}`);

test('simple assignments, initialisers and returns are flows; comparisons, compound assignments, comments and strings are not', () => {
  const body = `
\tvoid __iomem *base = ioremap(a, 4);
\tp->regs[i] = base + 8;
\tp -> ring = base;
\ts.win = base;
\tif ((x = f(base)) != NULL && a == b && c <= d && e >= g)
\t\ty |= 1;
\tz <<= 2;
\t/* q = base; */ // r = base;
\tpr_info("w = %p\\n", base);
\treturn base;
`;
  assert.deepEqual(flowsOf(body), [
    'name base = ioremap(a, 4)',
    'field regs = base + 8',
    'field ring = base',
    'field win = base',
    'name x = f(base)',
    'return  = base',
  ]);
});

test('the calls of a body with their argument lists', () => {
  const body = 'helper(p, (void *)base, g(x));\n';
  const calls = lexFlows(body, 0, body.length).calls.map((c) => `${c.name}(${body.slice(c.from, c.end)})`);
  assert.deepEqual(calls.sort(), ['g(x)', 'helper(p, (void *)base, g(x))'].sort());
  const helper = lexFlows(body, 0, body.length).calls.find((c) => c.name === 'helper')!;
  assert.deepEqual(itemsOf(body, helper.from, helper.end).map(([a, b]) => body.slice(a, b).trim()), ['p', '(void *)base', 'g(x)']);
});

test('a value carries as provenance evaluates it', () => {
  const carrier = (w: string) => ['base', 'ioremap', 'pcim_iomap_table', 'regs'].includes(w);
  const transparent = (w: string) => w === 'OFFSET_OF';
  const carries = (v: string) => valueCarries(v, 0, v.length, carrier, transparent);
  for (const v of ['ioremap(a, 4)', 'base', '(void *)base + 8', '(u8 __force *)(base)', 'p->regs', 'p->regs + 4', 'c ? base : NULL', 'x = base', '&base->ctrl', 'pcim_iomap_table(pdev)[0]', 'OFFSET_OF(base, 4)', 'sizeof(x) + base']) {
    assert.equal(carries(v), true, v);
  }
  for (const v of ['readl(base + 4)', 'base->ctrl', 'base == NULL', '!base', 'base && x', 'sizeof(*base)', 'sizeof base', 'base ? 1 : 0', 'x | base', 'foo(base)', '-base', '"base"', 'p->len']) {
    assert.equal(carries(v), false, v);
  }
});

test('parameter names of a definition header', () => {
  assert.deepEqual(parameterNamesOf('static int foo(struct x *p, void __iomem *base, u32 regs[4], int (*cb)(int))'), ['p', 'base', 'regs', 'int']);
  assert.deepEqual(parameterNamesOf('\nstatic void __init bar(void)\n'), ['void']);
  assert.deepEqual(parameterNamesOf('int x'), []);
});
