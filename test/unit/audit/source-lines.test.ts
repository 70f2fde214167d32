// openCallStart (audit/compiled/sourceLines.ts): the line gcc records for code
// expanded from a multi-line macro call is the line the call opens on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openCallStart } from '../../../server/src/audit/compiled/sourceLines';

const at = (src: string, needle: string): number | undefined => {
  const lines = src.split('\n');
  const l = lines.findIndex((x) => x.includes(needle));
  return openCallStart(lines, l, lines[l]!.indexOf(needle));
};

test('a site in the arguments of a macro call opened on an earlier line', () => {
  assert.equal(at('x = 1;\npr_info("%x",\n\treadl(p));', 'readl'), 1);
});

test('grouping parentheses on the way out are stepped over (eni.c: EEPMOK(..., (readl(p) & M) >> S))', () => {
  const src = 'vci = 1;\nif (!EEPMOK(pos, size,\n    (readl(vci+4) & MASK) >> SHIFT,\n    size))';
  assert.equal(at(src, 'readl'), 1);
});

test('a call opened on the same line, or a statement condition, is not a macro call', () => {
  assert.equal(at('foo(readl(p));', 'readl'), undefined);
  assert.equal(at('if (x &&\n    readl(p))', 'readl'), undefined);
  assert.equal(at('x = 1;\nreadl(p);', 'readl'), undefined);
});
