// The object-wide MMIO dataflow (compiled/facts.ts objectFlow) runs a function
// again in a later round only when something was learned since its last run
// started. Proves, on an object where a member is learned in a function after
// the one that reads it (so a second round is needed), that the flows equal
// those of running every function every round (the rule before), and that the
// skipping did skip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBinary, type BinaryObject } from '../../../server/src/binary/index';
import { ObjectCode } from '../../../server/src/audit/code';
import { functionFlow, ObjectFacts, objectFlow } from '../../../server/src/audit/compiled/facts';
import type { FunctionFlow } from '../../../server/src/audit/compiled/dataflow';
import { gcc, GCC_FLAGS, skipWithoutGcc } from '../../support/gcc';

// read_ctrl comes first in the object and reads d->r, which setup (after it) is the
// first to store an ioremap()ed pointer into: read_ctrl's load is MMIO from round 2 on.
const LATE_LEARNING_C = `struct regs { unsigned int ctrl; unsigned int status; };
struct dev { int id; struct regs *r; };
extern void *ioremap(unsigned long, unsigned long);
unsigned int read_ctrl(struct dev *d) { return *(volatile unsigned int *)&d->r->ctrl; }
void setup(struct dev *d) { d->r = ioremap(0x1000, 8); }
void poke(struct dev *d) { *(volatile unsigned int *)&d->r->status = 1; }
int unrelated(int x) { return x * 3 + 1; }
`;

let dir = '';
let bin: BinaryObject;

before(() => {
  if (skipWithoutGcc) return;
  dir = mkdtempSync(join(tmpdir(), 'tdx-flow-rounds-'));
  writeFileSync(join(dir, 'late.c'), LATE_LEARNING_C);
  gcc([...GCC_FLAGS.plain, '-fno-inline', '-c', 'late.c', '-o', 'late.o'], dir);
  bin = openBinary(new Uint8Array(readFileSync(join(dir, 'late.o'))));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The rule before: every function, every round, until a round learns nothing (at most 4). */
function everyFunctionEveryRound(code: ObjectCode, facts: ObjectFacts): { functions: Map<string, FunctionFlow>; runs: number } {
  const functions = new Map<string, FunctionFlow>();
  let runs = 0;
  for (let round = 0; round < 4; round++) {
    let learned = false;
    for (const fn of code.functions) {
      runs++;
      const flow = functionFlow(code, fn, facts);
      functions.set(fn.name, flow);
      learned ||= flow.learned;
    }
    if (!learned) break;
  }
  return { functions, runs };
}

const accessesOf = (m: Map<string, FunctionFlow>) => new Map([...m].map(([k, f]) => [k, { accesses: f.accesses, truncated: f.truncated }]));

test('objectFlow skips a function whose inputs did not change and gives the flows of running every function every round', { skip: skipWithoutGcc }, () => {
  const units = bin.dwarf.units();
  const code = new ObjectCode(bin);
  const names = code.functions.map((f) => f.name);
  assert.ok(names.indexOf('read_ctrl') < names.indexOf('setup'), `read_ctrl must come before setup in the object: ${names.join(', ')}`);
  const reference = everyFunctionEveryRound(new ObjectCode(bin), new ObjectFacts(units, new ObjectCode(bin), new Map()));
  const flow = objectFlow(code, code.functions, new ObjectFacts(units, code, new Map()));
  // The scenario needs a second round: read_ctrl's load is MMIO only after setup taught it.
  assert.ok(reference.functions.get('read_ctrl')!.accesses.length > 0, 'read_ctrl reads MMIO once setup is learned');
  assert.ok(reference.runs > code.functions.length, 'the reference ran more than one round');
  assert.deepEqual(accessesOf(flow.functions), accessesOf(reference.functions));
  assert.ok(flow.runs < reference.runs, `skipped nothing: ${flow.runs} runs against ${reference.runs}`);
});
