// Shortcuts of the analyses after the parse (BENCHMARKS.md "The analyses after the
// parse (15.3, helper-analyses)"): each must answer what the plain way answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nestingHint } from '../../../server/src/c/analyze';
import { mulberry32 } from '../../fuzz/prng';
import { engineWith } from './helpers';

/** nestingHint as it read every character (before the table of characters it passes over). */
function nestingHintPlain(text: string): number {
  let best = 0;
  let cur = 0;
  let depth = 0;
  let lineStart = true;
  let directive = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      if (directive && text.charCodeAt(i - 1) !== 92) {
        if (cur > best) best = cur;
        cur = 0;
        directive = false;
      }
      lineStart = true;
      continue;
    }
    if (lineStart && c !== 32 && c !== 9) {
      directive = c === 35;
      lineStart = false;
    }
    if (c === 59 || c === 123 || c === 125) {
      if (cur > best) best = cur;
      cur = 0;
      if (c === 123) {
        if (++depth > best) best = depth;
      } else if (c === 125 && depth > 0) depth--;
      continue;
    }
    if (c === 40 || c === 42 || c === 38 || c === 33 || c === 126 || c === 43 || c === 45 || c === 124 || c === 94 || c === 63) cur++;
  }
  return Math.max(best, cur);
}

test('nestingHint passes ordinary characters by a table and answers as the character-by-character reading', () => {
  const pieces = ['(', ')', '*', '&', '!', '~', '+', '-', '|', '^', '?', ';', '{', '}', '\n', '#', ' ', '\t', '\\', 'a', 'é', '\r', '#define X(a) ((a)+1)\n', 'x = (((y)));', '  # if\\\n (a\n'];
  const rand = mulberry32(21);
  for (let k = 0; k < 2000; k++) {
    let s = '';
    const len = Math.floor(rand() * 80);
    for (let i = 0; i < len; i++) s += pieces[Math.floor(rand() * pieces.length)]!;
    assert.equal(nestingHint(s), nestingHintPlain(s), JSON.stringify(s));
  }
  assert.equal(nestingHint('#if ((((a\n'), 4);
  assert.equal(nestingHint('x = a + (b * c);\n{ { } }'), 3);
});

test('wrapper rounds: each call keeps its own parameter flow (computed once), wrappers of wrappers are found in later rounds', async () => {
  const text = [
    'static inline u32 rd_a(int off, void __iomem *base) { return readl(base + off); }',
    'static inline u32 rd_c(int x, void __iomem *q) { u32 v = readl(q); return v + x; }',
    // Round 2: rd_c is a wrapper only after round 1; rd_d hands its parameter to rd_c's second.
    'static inline u32 rd_d(void __iomem *r) { void __iomem *t = r; return rd_c(0, t); }',
    // Round 3: a wrapper of rd_d.
    'static inline u32 rd_e(int k, void __iomem *s) { return rd_d(s) + k; }',
    // Not a wrapper in any round: the accessor's address is no parameter's.
    'static inline u32 rd_f(int z) { return readl(global_base) + z; }',
    'int probe(void __iomem *m) { return rd_e(1, m) + rd_c(2, m) + rd_a(4, m) + rd_f(3); }',
    '',
  ].join('\n');
  const e = await engineWith();
  const a = e.auditOnce('/t/w.c', text);
  const probe = a.analysis.sites.filter((s) => s.function === 'probe').map((s) => `${s.accessor}(${s.address}) via ${s.via.map((v) => v.callee).join(' ')}`).sort();
  // rd_a's address is its first wrapper parameter (off, base: both flow into readl's address).
  assert.deepEqual(probe, ['rd_a(4) via readl', 'rd_c(m) via readl', 'rd_e(m) via rd_d rd_c readl']);
});
