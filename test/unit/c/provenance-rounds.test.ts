// The provenance fixpoint stops after a round whose reads were all final (the
// confirming round would repeat it), and runs another round whenever something it
// read changed later in the same round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeFile } from '../../../server/src/c/analyze';
import { emptyKnowledge } from '../../../server/src/c/knowledge';
import { CParser } from '../../../server/src/c/parser';
import type { ProvenanceTrace } from '../../../server/src/c/provenance';
import { locate } from './helpers';

async function run(src: string) {
  const parser = await CParser.create();
  const parsed = parser.parse(undefined, src);
  try {
    const trace: ProvenanceTrace = { writers: new Set(), facts: new Map(), plain: new Set(), plainBy: new Map(), capped: false };
    const r = analyzeFile(parser, parsed, '/p/x.c', emptyKnowledge(), { trace });
    return { trace, untyped: r.analysis.sites.filter((s) => s.kind === 'untyped-deref') };
  } finally {
    parsed.tree.delete();
  }
}

const starts = (sites: { range: { start: { line: number; character: number } } }[]) => sites.map((s) => s.range.start);

test('a file whose flows read only final facts settles in one round, with its sites', async () => {
  const src = `
static void probe(unsigned long phys)
{
\tunsigned int *regs = ioremap(phys, 0x100);
\tregs[1] = 1;
}
`;
  const { trace, untyped } = await run(src);
  assert.equal(trace.rounds, 1);
  assert.equal(trace.capped, false);
  assert.deepEqual(starts(untyped), [locate(src, 'regs[1]')]);
});

test('a global read before a later function stores MMIO in it takes another round (a slot looked up and filled later)', async () => {
  // `hw` is live when kick() reads the global (probe's local of that name gave it
  // provenance first), its slot is empty then, and setup() fills it afterwards.
  const src = `
static unsigned int *hw;
static void probe(unsigned long phys)
{
\tunsigned int *hw = ioremap(phys, 0x100);
\thw[0] = 1;
}
static void kick(void)
{
\tunsigned int *p = hw;
\tp[2] = 3;
}
static void setup(unsigned long phys)
{
\thw = ioremap(phys, 0x100);
}
`;
  const { trace, untyped } = await run(src);
  assert.equal(trace.rounds, 2);
  assert.deepEqual(starts(untyped), [locate(src, 'hw[0]'), locate(src, 'p[2]')]);
});

test('a flow skipped as naming nothing live is read again when a later store makes its word live', async () => {
  const src = `
static unsigned int *late;
static void kick(void)
{
\tunsigned int *p = late;
\tp[2] = 3;
}
static void setup(unsigned long phys)
{
\tlate = ioremap(phys, 0x100);
}
`;
  const { trace, untyped } = await run(src);
  assert.equal(trace.rounds, 2);
  assert.deepEqual(starts(untyped), [locate(src, 'p[2]')]);
});

test('the last round\'s values are kept for the uses only when no evaluation stopped at the nesting cap', async () => {
  // The flow into `v` meets `*regs` 400 parentheses down, at the cap, and leaves it
  // unknown; evaluated as a use of its own it is an MMIO load.
  const deep = `${'('.repeat(400)}*regs${')'.repeat(400)}`;
  const src = `
static void probe(unsigned long phys)
{
\tunsigned int *regs = ioremap(phys, 0x100);
\tunsigned int v;
\tv = ${deep};
}
`;
  const { trace, untyped } = await run(src);
  assert.equal(trace.rounds, 1);
  assert.deepEqual(starts(untyped), [locate(src, '*regs', 1)]);
});
