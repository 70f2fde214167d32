// `scan --cache DIR` (issue 15, the warm result cache for CI re-runs): a warm run's
// output is the cold run's (per-file `ms` and the cache counts aside); an edit to a
// file, to a header it includes, or to an option that reaches the audit makes the
// file miss; an entry that is corrupt, foreign, a symlink or a FIFO is a miss with a
// warning, never a crash, a hang or a wrong answer.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CACHE_TREE, driverTree } from '../support/driverTree';
import { compileObject, driverFixtureTree, skipWithoutGcc } from '../support/gcc';
import { runCli } from '../support/reportRuns';
import { buildDigest } from '../../server/src/cli/resultKeys';
import { STAMPS_KEY } from '../../server/src/cli/headerStamps';

const ROOT = resolve(__dirname, '../..');

let dir = '';
let tree = '';
/** Files the scan of the tree lists (.c and .h). */
let nFiles = 0;

/** A scan's JSON without what two runs may differ in: per-file `ms` and the cache counts. */
function comparable(out: string): unknown {
  const j = JSON.parse(out) as { files: { ms?: number }[]; cache?: unknown };
  delete j.cache;
  for (const f of j.files) delete f.ms;
  return j;
}

function scan(...args: string[]) {
  const r = runCli(['scan', ...args, '--exit-zero', '--no-objects', '--no-header-cache']);
  assert.equal(r.code, 0, r.err);
  return r;
}

const counts = (out: string) => (JSON.parse(out) as { cache: { hits: number; audited: number } }).cache;
/** The files' entries (not the key pass's kept header stamps: headerStamps.ts). */
const entries = (cache: string) => readdirSync(cache).filter((n) => n.endsWith('.entry') && n !== `${STAMPS_KEY}.entry`);

describe('scan --cache DIR', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-result-cache-'));
    tree = join(dir, 'tree');
    nFiles = driverTree(tree, CACHE_TREE);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a warm run answers every file from the cache with the cold output, JSON and text', () => {
    const cache = join(dir, 'c-warm');
    const cold = scan(tree, '--format', 'json');
    assert.ok(!('cache' in JSON.parse(cold.out)), 'no cache field without --cache');
    assert.doesNotMatch(cold.err, /answered from the cache/);
    const fill = scan(tree, '--format', 'json', '--cache', cache);
    assert.deepEqual(counts(fill.out), { hits: 0, audited: nFiles });
    assert.equal(entries(cache).length, nFiles);
    const warm = scan(tree, '--format', 'json', '--cache', cache);
    assert.deepEqual(counts(warm.out), { hits: nFiles, audited: 0 });
    assert.match(warm.err, new RegExp(`${nFiles} of ${nFiles} file\\(s\\) answered from the cache, 0 audited`));
    assert.deepEqual(comparable(warm.out), comparable(cold.out));
    assert.deepEqual(comparable(fill.out), comparable(cold.out));
    assert.ok(JSON.parse(cold.out).sites.length > 5, 'the tree has sites');
    // Text output has no timings: byte for byte, and stderr but the cache's line.
    const coldText = scan(tree);
    const warmText = scan(tree, '--cache', cache);
    assert.equal(warmText.out, coldText.out);
    assert.equal(warmText.err.split('\n').filter((l) => !/answered from the cache/.test(l)).join('\n'), coldText.err);
    // Nothing but entries was left in DIR (the temporary files were renamed).
    assert.deepEqual(readdirSync(cache).filter((n) => !n.endsWith('.entry')), []);
  });

  test('an edited file misses and the others hit', () => {
    const cache = join(dir, 'c-edit');
    const copy = join(dir, 'tree-edit');
    driverTree(copy, [
      ['net', 'drivers', ['foo_nic.c', 'tdx_io.h']],
      ['watchdog', 'example', ['acme_wdt.c', 'acme_io.h']],
    ]);
    scan(copy, '--format', 'json', '--cache', cache);
    const wdt = join(copy, 'drivers/watchdog/acme_wdt.c');
    // A site moved down by a line: the cached answer would be wrong.
    writeFileSync(wdt, '/* moved */\n' + readFileSync(wdt, 'utf8'));
    const warm = scan(copy, '--format', 'json', '--cache', cache);
    assert.deepEqual(counts(warm.out), { hits: 3, audited: 1 });
    assert.deepEqual(comparable(warm.out), comparable(scan(copy, '--format', 'json').out));
  });

  test('an edited header makes the file that includes it miss', () => {
    const cache = join(dir, 'c-header');
    const copy = join(dir, 'tree-header');
    driverTree(copy, [['net', 'drivers', ['foo_nic.c', 'tdx_io.h']]]);
    const nic = join(copy, 'drivers/net/foo_nic.c');
    scan(nic, '--format', 'json', '--cache', cache);
    assert.deepEqual(counts(scan(nic, '--format', 'json', '--cache', cache).out), { hits: 1, audited: 0 });
    appendFileSync(join(copy, 'drivers/net/tdx_io.h'), '\n/* edited */\n');
    const after = scan(nic, '--format', 'json', '--cache', cache);
    assert.deepEqual(counts(after.out), { hits: 0, audited: 1 });
    assert.deepEqual(comparable(after.out), comparable(scan(nic, '--format', 'json').out));
    // A header that was not there and now is, where the include is looked for first, misses too.
    const prov = join(copy, 'drivers/net/prov.c');
    writeFileSync(prov, '#include "prov_io.h"\n#include "tdx_io.h"\nvoid f(void) {}\n');
    scan(prov, '--format', 'json', '--cache', cache);
    assert.equal(counts(scan(prov, '--format', 'json', '--cache', cache).out).hits, 1);
    copyFileSync(join(ROOT, 'test/fixtures/drivers/provenance/prov_io.h'), join(copy, 'drivers/net/prov_io.h'));
    assert.deepEqual(counts(scan(prov, '--format', 'json', '--cache', cache).out), { hits: 0, audited: 1 });
  });

  test('a changed option misses', () => {
    const cache = join(dir, 'c-option');
    const wdt = join(tree, 'drivers/watchdog/acme_wdt.c');
    scan(wdt, '--format', 'json', '--cache', cache);
    assert.equal(counts(scan(wdt, '--format', 'json', '--cache', cache).out).hits, 1);
    const other = scan(wdt, '--format', 'json', '--cache', cache, '--profile', 'tdx-linux-5.19');
    assert.deepEqual(counts(other.out), { hits: 0, audited: 1 });
    assert.deepEqual(comparable(other.out), comparable(scan(wdt, '--format', 'json', '--profile', 'tdx-linux-5.19').out));
    assert.deepEqual(counts(scan(wdt, '--format', 'json', '--cache', cache, '--no-includes').out), { hits: 0, audited: 1 });
    // Each setting has its own entry: both are warm now.
    assert.equal(counts(scan(wdt, '--format', 'json', '--cache', cache).out).hits, 1);
  });

  /** A cache holding the one entry of acme_wdt.c, its path, and the cold output. */
  function oneEntry(name: string): { cache: string; entry: string; wdt: string; cold: string } {
    const cache = join(dir, name);
    const wdt = join(tree, 'drivers/watchdog/acme_wdt.c');
    const cold = scan(wdt, '--format', 'json', '--cache', cache).out;
    const [e] = entries(cache);
    return { cache, entry: join(cache, e!), wdt, cold };
  }

  /** A warm run over a bad entry: a miss with a warning, the cold output, and a good entry again after. */
  function missesWithWarning(o: { cache: string; wdt: string; cold: string }, why: RegExp): void {
    const r = scan(o.wdt, '--format', 'json', '--cache', o.cache);
    assert.deepEqual(counts(r.out), { hits: 0, audited: 1 });
    assert.match(r.err, /cache entry .*\.entry: /);
    assert.match(r.err, why);
    assert.deepEqual(comparable(r.out), comparable(o.cold));
    assert.equal(counts(scan(o.wdt, '--format', 'json', '--cache', o.cache).out).hits, 1, 'the entry was written again');
  }

  test('a truncated or corrupt entry is a miss with a warning', () => {
    const o = oneEntry('c-corrupt');
    const text = readFileSync(o.entry, 'utf8');
    writeFileSync(o.entry, text.slice(0, text.length - 10));
    missesWithWarning(o, /truncated or corrupt/);
    // The same length, one site's line changed: the checksum catches it.
    writeFileSync(o.entry, readFileSync(o.entry, 'utf8').replace(/"line":(\d)/, (_, d) => `"line":${(Number(d) + 1) % 10}`));
    missesWithWarning(o, /truncated or corrupt/);
    writeFileSync(o.entry, 'not an entry\n{}');
    missesWithWarning(o, /not an entry of this cache format/);
  });

  test('an entry written under another key, or of another shape, is a miss with a warning', () => {
    const o = oneEntry('c-foreign');
    // Another file's entry under this file's name (its first line names its own key).
    const other = join(dir, 'c-foreign-other');
    scan(join(tree, 'drivers/net/foo_nic.c'), '--format', 'json', '--cache', other);
    copyFileSync(join(other, entries(other)[0]!), o.entry);
    missesWithWarning(o, /written under another key/);
    // A well-formed entry whose body is not a result (a forged or older layout).
    const key = entries(o.cache)[0]!.replace(/\.entry$/, '');
    const body = JSON.stringify({ kind: 'result', result: { file: 'x' } });
    writeFileSync(o.entry, `tdx-audit-result-cache 1 ${key} ${createHash('sha256').update(body).digest('hex')} ${Buffer.byteLength(body)}\n${body}`);
    missesWithWarning(o, /not a result this version writes/);
  });

  test('an entry that is a symlink is not followed, and a FIFO does not block', () => {
    const o = oneEntry('c-links');
    const target = join(dir, 'outside-entry');
    copyFileSync(o.entry, target);
    const kept = readFileSync(target, 'utf8');
    unlinkSync(o.entry);
    symlinkSync(target, o.entry);
    missesWithWarning(o, /a symlink/);
    // The symlink was replaced by an entry of its own; its target was left alone.
    assert.ok(!lstatSync(o.entry).isSymbolicLink());
    assert.ok(readFileSync(target, 'utf8') === kept, 'the target is unchanged');
    unlinkSync(o.entry);
    const fifo = spawnSync('mkfifo', [o.entry]);
    if (fifo.status !== 0) return; // no mkfifo here
    missesWithWarning(o, /a FIFO/);
  });

  test('a cache folder that is a file is a usage error', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const r = runCli(['scan', join(tree, 'drivers/watchdog/acme_wdt.c'), '--cache', file]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--cache/);
  });
});

test('the build digest changes with the build and needs a built CLI', () => {
  const d = mkdtempSync(join(tmpdir(), 'tdx-build-digest-'));
  try {
    assert.equal(buildDigest(d), undefined, 'no cli.js: no build to key on');
    writeFileSync(join(d, 'cli.js'), 'one');
    const a = buildDigest(d);
    assert.ok(a);
    writeFileSync(join(d, 'cli.js'), 'two');
    const b = buildDigest(d);
    assert.notEqual(b, a);
    writeFileSync(join(d, 'tree-sitter-c.wasm'), 'grammar');
    assert.notEqual(buildDigest(d), b);
    assert.ok(buildDigest(join(ROOT, 'dist')), 'the built CLI has one');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('with objects, a rebuilt object and a new object beside the file miss', { skip: skipWithoutGcc }, () => {
  const { d, net, nic, cache } = driverFixtureTree('tdx-result-cache-objects-', join(ROOT, 'test/fixtures/drivers'));
  try {
    const withObjects = (...args: string[]) => {
      const r = runCli(['scan', nic, '--format', 'json', '--exit-zero', '--no-header-cache', ...args]);
      assert.equal(r.code, 0, r.err);
      return r.out;
    };
    // No object yet: the source view, cached.
    withObjects('--cache', cache);
    assert.equal(counts(withObjects('--cache', cache)).hits, 1);
    // An object appears beside it: the join would now say more.
    compileObject('foo_nic.c', net);
    const joined = withObjects('--cache', cache);
    assert.deepEqual(counts(joined), { hits: 0, audited: 1 });
    assert.ok(JSON.parse(joined).instructions.length > 0, 'the object was joined');
    assert.deepEqual(comparable(joined), comparable(withObjects()));
    assert.equal(counts(withObjects('--cache', cache)).hits, 1);
    // Rebuilt with other flags: other bytes, other instructions.
    compileObject('foo_nic.c', net, ['-O1', '-g']);
    const rebuilt = withObjects('--cache', cache);
    assert.deepEqual(counts(rebuilt), { hits: 0, audited: 1 });
    assert.deepEqual(comparable(rebuilt), comparable(withObjects()));
    // --no-objects is another setting: its own entry.
    assert.deepEqual(counts(withObjects('--cache', cache, '--no-objects')), { hits: 0, audited: 1 });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('with objects, new times in the same order (a fresh checkout) hit; an object now older than its source misses', { skip: skipWithoutGcc }, () => {
  const { d, net, nic, cache } = driverFixtureTree('tdx-result-cache-times-', join(ROOT, 'test/fixtures/drivers'));
  try {
    const obj = join(net, 'foo_nic.o');
    compileObject('foo_nic.c', net);
    const scanIt = (...args: string[]) => {
      const r = runCli(['scan', nic, '--format', 'json', '--exit-zero', '--no-header-cache', ...args]);
      assert.equal(r.code, 0, r.err);
      return r.out;
    };
    const at = (t: number) => {
      utimesSync(nic, t, t);
      utimesSync(obj, t + 5, t + 5);
    };
    at(1_700_000_000);
    scanIt('--cache', cache);
    // Both files checked out again later, the object still the newer.
    at(1_800_000_000);
    assert.deepEqual(counts(scanIt('--cache', cache)), { hits: 1, audited: 0 });
    // The object an hour older than the source: the check says so, and the entry is another.
    utimesSync(obj, 1_800_000_000 - 3600, 1_800_000_000 - 3600);
    const older = scanIt('--cache', cache);
    assert.deepEqual(counts(older), { hits: 0, audited: 1 });
    const cold = scanIt();
    assert.deepEqual(comparable(older), comparable(cold));
    assert.match(JSON.stringify(JSON.parse(cold).files), /older than the source \(by 60 min\)/);
    // Older by another amount that shows the same: the same entry.
    utimesSync(obj, 1_800_000_000 - 3590, 1_800_000_000 - 3590);
    assert.deepEqual(counts(scanIt('--cache', cache)), { hits: 1, audited: 0 });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
