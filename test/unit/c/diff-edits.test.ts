// The edit list CParser.parse gives tree-sitter (c/parser.ts diffEdits): the runs of
// lines that differ, each in the coordinates the edits before it left. A wrong offset
// or point would leave reused nodes at wrong rows or offsets, which only a comparison
// with a fresh parse shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'web-tree-sitter';
import { CParser, diffEdits, pointAt } from '../../../server/src/c/parser';
import { prepare } from '../../../server/src/c/annotations';
import { generate } from '../../bench/bigfile';
import { mulberry32 as rng } from '../../fuzz/prng';

const parserP = CParser.create();

/** Every node's kind, offsets and points, in order. */
function shape(n: Node, out: string[] = []): string[] {
  out.push(`${n.type} ${n.startIndex}-${n.endIndex} ${n.startPosition.row}:${n.startPosition.column}-${n.endPosition.row}:${n.endPosition.column}`);
  for (const c of n.children) if (c) shape(c, out);
  return out;
}

/**
 * `before` with some of its lines changed (same count: a slice whose kept function
 * moved) or whole lines added and removed: digits changed (a literal gets longer or
 * shorter), a comment with non-ASCII text appended, a line emptied, a definition added.
 */
function edited(before: string, r: () => number, sameLines: boolean): string {
  const lines = before.split('\n');
  const n = 1 + Math.floor(r() * 12);
  for (let k = 0; k < n; k++) {
    const i = r() < 0.15 ? 0 : Math.floor(r() * lines.length);
    const pick = r();
    if (sameLines || pick < 0.6) lines[i] = pick < 0.1 ? '' : pick < 0.35 ? `${lines[i]} /* é 𝔘 ${k} */` : lines[i]!.replace(/\d+/g, (d) => String(Number(d) * 10 + k));
    else if (pick < 0.8) lines.splice(i, 0, `int added_${k}(void) { return ${k}; }`);
    else lines.splice(i, 1);
  }
  return lines.join('\n');
}

test('the edits of diffEdits turn the old text into the new one, each at its offsets and points in the text the edits before it left', () => {
  const before = 'a\nbb\nccc\ndddd\neeeee\nffffff\n';
  const after = 'a\nbX\nccc\ndddd\nYeeee\nffffff\n';
  const edits = diffEdits(before, after);
  assert.equal(edits.length, 2, 'two runs of lines apart: two edits');
  let text = before;
  for (const e of edits) {
    assert.deepEqual(e.startPosition, pointAt(text, e.startIndex));
    assert.deepEqual(e.oldEndPosition, pointAt(text, e.oldEndIndex));
    text = text.slice(0, e.startIndex) + after.slice(e.startIndex, e.newEndIndex) + text.slice(e.oldEndIndex);
    assert.deepEqual(e.newEndPosition, pointAt(text, e.newEndIndex));
  }
  assert.equal(text, after);
  assert.deepEqual(diffEdits(before, before), []);
  // Differences at the very start (a line end added before the first line and taken back).
  for (const [b, a] of [['\nx\ny\nz\n', 'x\ny\nz\n'], ['x\ny\nz\n', '\nx\ny\nz\n'], ['\n\nx\n', 'q\n\nx\n'], ['\nab\ncd\n', 'xab\ncd\n']]) {
    let t = b!;
    for (const e of diffEdits(b!, a!)) t = t.slice(0, e.startIndex) + a!.slice(e.startIndex, e.newEndIndex) + t.slice(e.oldEndIndex);
    assert.equal(t, a, JSON.stringify([b, a]));
  }
  // Another line count: the one span between the common prefix and suffix.
  assert.equal(diffEdits(before, before.replace('ccc\n', '')).length, 1);
});

test('a tree edited with diffEdits and parsed again is the tree a fresh parse gives (scattered lines, lines added and removed, non-ASCII)', async () => {
  const parser = await parserP;
  const base = generate(12 * 1024);
  let multi = 0;
  let checked = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const r = rng(seed * 104729);
    let text = base;
    parser.forget('k');
    parser.parse('k', text);
    for (let step = 0; step < 12; step++) {
      const next = edited(text, r, step % 2 === 0);
      // The edits rebuild the new text, whatever the tree.
      let rebuilt = text;
      for (const e of diffEdits(text, next)) rebuilt = rebuilt.slice(0, e.startIndex) + next.slice(e.startIndex, e.newEndIndex) + rebuilt.slice(e.oldEndIndex);
      assert.equal(rebuilt, next, `seed ${seed}, step ${step}: the edits rebuild the new text`);
      const fresh = parser.parseOnce(prepare(next).text);
      try {
        // tree-sitter's recovery from a parse error may differ between an incremental
        // parse and a fresh one whatever the edits: only texts without one compare.
        if (fresh.rootNode.hasError) continue;
        checked++;
        if (diffEdits(text, next).length > 1) multi++;
        const got = parser.parse('k', next);
        assert.deepEqual(shape(got.tree.rootNode), shape(fresh.rootNode), `seed ${seed}, step ${step}`);
      } finally {
        fresh.delete();
      }
      text = next;
    }
  }
  parser.forget('k');
  assert.ok(checked > 40 && multi > checked / 3, `${checked} edits compared, ${multi} of them split into several`);
});
