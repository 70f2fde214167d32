// Report files written in pieces (issue 15, item 4): jsonChunks prints what
// JSON.stringify(doc, null, 2) prints, with a LazyArray's elements made one at a
// time; the JSON, SARIF and HTML writers' pieces join to the text the string
// writers return; write.ts writes pieces and stops at a batch boundary on abort,
// leaving nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonChunks, LazyArray } from '../../../server/src/audit/report/jsonStream';
import { jsonReportChunks, jsonText, toJsonReport } from '../../../server/src/audit/report/json';
import { sarifChunks, sarifText, toSarif } from '../../../server/src/audit/report/sarif';
import { htmlChunks, htmlText } from '../../../server/src/audit/report/html';
import { writeReportFiles } from '../../../server/src/audit/report/write';
import { DRIVER, makeTree, modelOf } from './helpers';

test('jsonChunks prints what JSON.stringify(doc, null, 2) prints, LazyArrays element by element', () => {
  const plain = {
    a: 1,
    empty: [],
    emptyObj: {},
    skip: undefined,
    s: 'x\ny "q"',
    nested: { list: [1, { b: [true, null] }], deeper: { lazy: [] as unknown[] } },
    big: [{ k: 1, v: [1, 2] }, { k: 2, v: [] }, 'three', null],
    last: [[], [[]]],
  };
  const made: number[] = [];
  const lazy = {
    ...plain,
    nested: { ...plain.nested, deeper: { lazy: new LazyArray(() => []) } },
    big: new LazyArray(function* () {
      for (const [i, x] of plain.big.entries()) {
        made.push(i);
        yield x;
      }
    }),
  };
  const pieces = [...jsonChunks(lazy)];
  assert.equal(pieces.join(''), JSON.stringify(plain, null, 2));
  assert.deepEqual(made, [0, 1, 2, 3], 'each element made once');
  assert.ok(pieces.length > 8, 'printed in pieces');
  // Anything without a LazyArray is printed by JSON.stringify itself, at any depth.
  for (const v of [[], {}, 'x', 3, null, [1, [2, { c: 3 }]]]) assert.equal([...jsonChunks(v)].join(''), JSON.stringify(v, null, 2));
  // A LazyArray nested deeper than the walk looks is still printed right (through toJSON).
  const deep = { a: { b: { c: { d: { e: new LazyArray(() => [1, { f: 2 }]) } } } } };
  assert.equal([...jsonChunks(deep)].join(''), JSON.stringify({ a: { b: { c: { d: { e: [1, { f: 2 }] } } } } }, null, 2));
});

test('the JSON, SARIF and HTML pieces join to the whole-document text', async () => {
  const root = makeTree({ 'drv.c': DRIVER, 'regs.h': '#define REG 4\n' });
  const model = await modelOf(root, ['drv.c']);
  assert.ok(model.findings.length > 2);
  assert.equal([...jsonReportChunks(model)].join(''), JSON.stringify(toJsonReport(model), null, 2) + '\n');
  assert.equal(jsonText(model), JSON.stringify(toJsonReport(model), null, 2) + '\n');
  assert.equal([...sarifChunks(model)].join(''), JSON.stringify(toSarif(model), null, 2) + '\n');
  assert.equal(sarifText(model), JSON.stringify(toSarif(model), null, 2) + '\n');
  const html = [...htmlChunks(model)];
  assert.equal(html.join(''), htmlText(model));
  // One piece per finding row at least: the page is not built as one string.
  assert.ok(html.length > model.findings.length, `${html.length} pieces`);
  // The shard tag is only in a shard's JSON.
  assert.doesNotMatch(jsonText(model), /"shard"/);
  assert.match(jsonText(model, { shard: { index: 2, of: 3 } }), /^ {2}"shard": \{\n {4}"index": 2,\n {4}"of": 3\n {2}\},$/m);
});

test('write.ts writes pieces in batches, and an abort between batches leaves nothing', async () => {
  const dir = makeTree({});
  const line = 'x'.repeat(1023) + '\n';
  const r = await writeReportFiles(join(dir, 'a'), [{ name: 'big.txt', content: { chunks: () => Array.from({ length: 3000 }, () => line) } }]);
  assert.equal(r.written.length, 1);
  assert.equal(readFileSync(r.written[0]!, 'utf8'), line.repeat(3000));
  const ac = new AbortController();
  let made = 0;
  const res = await writeReportFiles(join(dir, 'b'), [
    {
      name: 'big.txt',
      content: {
        *chunks() {
          for (let i = 0; i < 5000; i++) {
            made++;
            // Aborted during the first batch: the write stops at the end of it.
            if (i === 10) ac.abort();
            yield line;
          }
        },
      },
    },
  ], { signal: ac.signal });
  assert.deepEqual(res, { written: [], exists: [], cancelled: true });
  assert.ok(made < 5000, `stopped after ${made} pieces`);
  assert.deepEqual(readdirSync(join(dir, 'b')), [], 'no temp file left');
});
