// The disk header store keeps each component's line as text until its key is
// asked for (a warm run asks for a few hundred of tens of thousands). Proves that
// what get() hands out is what parsing every line on load gave: the first line
// of a key that parses wins (a torn one before it is passed over), a key whose
// every line is torn is a miss that put() writes again, a line whose JSON names
// another key gives nothing for the key its prefix shows, and the facts lines
// beside them still load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentLineKey, DiskHeaderStore } from '../../../server/src/c/headerCache';
import { emptyKnowledge, type Knowledge } from '../../../server/src/c/knowledge';

const KEY = 'a'.repeat(40);
const OTHER = 'b'.repeat(40);

function knowing(field: string): Knowledge {
  const k = emptyKnowledge();
  k.plainFields.add(field);
  return k;
}

/** The line put() writes for `key` (through a store of its own). */
function lineOf(key: string, k: Knowledge): string {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-hlazy-line-'));
  try {
    new DiskHeaderStore(dir).put(key, k);
    const [f] = readdirSync(dir);
    return readFileSync(join(dir, f!), 'utf8').trimEnd();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withCache(files: Record<string, string>, body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-hlazy-'));
  try {
    for (const [n, text] of Object.entries(files)) writeFileSync(join(dir, n), text);
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('componentLineKey reads the key of the lines put() writes and of no other line', () => {
  const line = lineOf(KEY, knowing('x'));
  assert.equal(componentLineKey(line), KEY);
  assert.equal(componentLineKey(line.replace(KEY, KEY.toUpperCase())), undefined);
  assert.equal(componentLineKey(`{"p":"/a.h","s":"1","h":"${KEY}","d":[]}`), undefined);
  assert.equal(componentLineKey(`{"k":"${KEY}"}`), undefined);
  assert.equal(componentLineKey(`{"k":"${KEY}x","v":{}}`), undefined);
});

test('a torn line of a key is passed over: the next line of that key that parses is the one handed out', () => {
  const first = lineOf(KEY, knowing('first'));
  const second = lineOf(KEY, knowing('second'));
  // Files load in name order: the torn copy of `first` comes before `second`.
  withCache({ '1.jsonl': first.slice(0, first.length - 3) + '\n', '2.jsonl': second + '\n' + first + '\n' }, (dir) => {
    const k = new DiskHeaderStore(dir).get(KEY);
    assert.deepEqual(k && [...k.plainFields], ['second']);
  });
});

test('a key whose every line is torn is a miss, and put() writes it again', () => {
  const line = lineOf(KEY, knowing('x'));
  withCache({ '1.jsonl': line.slice(0, 60) + '\n' + line.slice(0, 50) + '\n' }, (dir) => {
    const store = new DiskHeaderStore(dir);
    assert.equal(store.get(KEY), undefined);
    store.put(KEY, knowing('again'));
    const k = new DiskHeaderStore(dir).get(KEY);
    assert.deepEqual(k && [...k.plainFields], ['again']);
  });
});

test('a line whose JSON names another key gives nothing for the key its prefix shows', () => {
  const line = lineOf(KEY, knowing('x'));
  // Valid JSON, but a second "k" makes the parsed key OTHER.
  const forged = line.replace(/\}$/, `,"k":"${OTHER}"}`);
  assert.equal(componentLineKey(forged), KEY);
  withCache({ '1.jsonl': forged + '\n' }, (dir) => {
    assert.equal(new DiskHeaderStore(dir).get(KEY), undefined);
  });
});

test('facts lines load beside component lines, and a handed-out key is not handed out twice', () => {
  const facts = `{"p":"/t/include/a.h","s":"9:1:1:1:1","h":"${KEY}","d":[["b.h","q",0,3]]}`;
  withCache({ '1.jsonl': lineOf(KEY, knowing('x')) + '\n' + facts + '\n' }, (dir) => {
    const store = new DiskHeaderStore(dir);
    assert.deepEqual(store.facts('/t/include/a.h', '9:1:1:1:1'), { hash: KEY, directives: [{ spec: 'b.h', kind: 'quote', next: false, line: 3 }] });
    assert.ok(store.get(KEY));
    assert.equal(store.get(KEY), undefined, 'the index keeps it after the first get');
  });
});
