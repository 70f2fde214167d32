// --cache-max-size (resultCache.ts evict): after a run, DIR's least recently used
// entries go until our entries fit; a hit marks its entry used (so it outlives older
// ones); nothing in DIR but our own entry files is ever removed or counted (a symlink
// named like an entry, another tool's file, a folder, our temporary files); the size
// takes bytes or K/M/G and 0 bounds nothing; a bad size is a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCacheSize, ResultCache } from '../../server/src/cli/resultCache';
import { STAMPS_KEY } from '../../server/src/cli/headerStamps';
import { CACHE_TREE, driverTree } from '../support/driverTree';
import { runCli } from '../support/reportRuns';

const key = (i: number) => i.toString(16).padStart(64, '0');
const valid = (v: unknown): v is { n: number } => typeof v === 'object' && v !== null && typeof (v as { n?: unknown }).n === 'number';

function open(dir: string): ResultCache {
  const c = ResultCache.open(dir, () => {});
  if ('error' in c) throw new Error(c.error);
  return c;
}

/** Entry i made `age` seconds ago. */
function put(c: ResultCache, i: number, age: number, pad = 1000): void {
  c.put(key(i), { n: i, pad: 'x'.repeat(pad) });
  const t = Date.now() / 1000 - age;
  utimesSync(join(c.dir, `${key(i)}.entry`), t, t);
}

const names = (dir: string) => readdirSync(dir).sort();

test('the least recently used entries go first, a hit counting as a use, until the rest fit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-evict-'));
  try {
    const c = open(dir);
    for (let i = 1; i <= 5; i++) put(c, i, 100 - i * 10); // 1 oldest ... 5 newest
    const size = lstatSync(join(dir, `${key(1)}.entry`)).size;
    // Entry 1, the oldest, is read: used now.
    assert.equal(c.get(key(1), valid)?.value.n, 1);
    const r = c.evict(size * 3);
    assert.deepEqual([r.removed, r.kept], [2, 3]);
    assert.equal(r.keptBytes, size * 3);
    assert.deepEqual(names(dir), [1, 4, 5].map((i) => `${key(i)}.entry`));
    // 0: no bound.
    assert.equal(c.evict(0).removed, 0);
    assert.equal(names(dir).length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only our own entry files are removed or counted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-evict-own-'));
  const outside = mkdtempSync(join(tmpdir(), 'tdx-evict-outside-'));
  try {
    const c = open(dir);
    put(c, 1, 50);
    put(c, 2, 40);
    // Named like entries but not ours to remove: a symlink (to a file outside DIR), a folder.
    const target = join(outside, 'precious');
    writeFileSync(target, 'x'.repeat(100_000));
    symlinkSync(target, join(dir, `${key(3)}.entry`));
    mkdirSync(join(dir, `${key(4)}.entry`));
    // Not named like entries: another tool's file, an uppercase key, a temporary file of a write.
    writeFileSync(join(dir, 'README'), 'x'.repeat(100_000));
    writeFileSync(join(dir, `${key(0xabc).toUpperCase()}.entry`), 'x');
    writeFileSync(join(dir, '.tmp-1-0123456789abcdef'), 'x');
    for (const n of ['README', `${key(0xabc).toUpperCase()}.entry`, '.tmp-1-0123456789abcdef']) utimesSync(join(dir, n), 1, 1);
    const r = c.evict(1);
    assert.deepEqual([r.removed, r.kept, r.keptBytes], [2, 0, 0], 'both entries go; nothing else counts towards the size');
    assert.ok(existsSync(target), 'the symlink\'s target is untouched');
    assert.ok(lstatSync(join(dir, `${key(3)}.entry`)).isSymbolicLink(), 'the symlink stays');
    assert.ok(lstatSync(join(dir, `${key(4)}.entry`)).isDirectory());
    for (const n of ['README', `${key(0xabc).toUpperCase()}.entry`, '.tmp-1-0123456789abcdef']) assert.ok(existsSync(join(dir, n)), n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('sizes: bytes, K, M, G (1024-based), 0; anything else is not one', () => {
  assert.equal(parseCacheSize('0'), 0);
  assert.equal(parseCacheSize('4096'), 4096);
  assert.equal(parseCacheSize('512K'), 512 * 1024);
  assert.equal(parseCacheSize('64M'), 64 * 1024 * 1024);
  assert.equal(parseCacheSize('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(parseCacheSize('2GiB'), 2 * 1024 ** 3);
  for (const bad of ['', 'lots', '-1', '1T', '1e9', 'G']) assert.equal(parseCacheSize(bad), undefined, bad);
});

test('scan and report --cache-max-size: DIR kept within the size after the run; a bad size is a usage error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-evict-cli-'));
  try {
    const tree = join(dir, 'tree');
    const n = driverTree(tree, CACHE_TREE);
    const cache = join(dir, 'cache');
    const scan = (...a: string[]) => runCli(['scan', tree, '--format', 'json', '--exit-zero', '--no-objects', '--no-header-cache', '--cache', cache, ...a]);
    const full = scan();
    assert.equal(full.code, 0, full.err);
    const bytes = () => readdirSync(cache).reduce((s, e) => s + lstatSync(join(cache, e)).size, 0);
    const all = bytes();
    assert.equal(readdirSync(cache).filter((e) => e !== `${STAMPS_KEY}.entry`).length, n);
    const bound = Math.floor(all / 2);
    const r = scan('--cache-max-size', String(bound));
    assert.equal(r.code, 0, r.err);
    assert.ok(bytes() <= bound, `${bytes()} bytes left, bound ${bound}`);
    assert.ok(readdirSync(cache).length > 0 && readdirSync(cache).length < n);
    assert.match(r.err, /least recently used entr(y|ies) \(.*\) evicted to stay within --cache-max-size/);
    // The output is the cold one whatever was evicted.
    assert.equal((JSON.parse(r.out) as { cache: { hits: number } }).cache.hits, n);
    const bad = scan('--cache-max-size', 'lots');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--cache-max-size takes a size/);
    const rep = runCli(['report', tree, '--out', join(dir, 'out'), '--format', 'json', '--exit-zero', '--no-objects', '--cache', join(dir, 'rcache'), '--cache-max-size', '1']);
    assert.equal(rep.code, 0, rep.err);
    assert.deepEqual(readdirSync(join(dir, 'rcache')).filter((e) => e.endsWith('.entry')), [], 'a 1-byte bound keeps no entry');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
