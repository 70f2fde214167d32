// `report --cache DIR` (issue 15, the warm result cache for CI re-runs): a warm run
// writes the cold run's report in every format (time stamps and per-file timings
// aside) and says how many files came from the cache; an edited file misses and the
// others hit; an option that reaches the rows misses, while what is applied after the
// per-file step (triage, allow list) hits and still shows; in a kernel tree an edit of
// the io.h a finding points at misses; a rebuilt object misses; a corrupt entry is a
// miss with a warning.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CACHE_TREE, driverTree } from '../support/driverTree';
import { compileObject, driverFixtureTree, skipWithoutGcc } from '../support/gcc';
import { runCli, timeless } from '../support/reportRuns';
import { STAMPS_KEY } from '../../server/src/cli/headerStamps';

const ROOT = resolve(__dirname, '../..');
const NAMES = ['tdx-audit.json', 'tdx-audit.sarif', 'tdx-audit.md', 'tdx-audit.html'];

let dir = '';
let outs = 0;

/** `report` of `paths` into a fresh folder: its exit, stderr, and each format's text without time stamps and timings. */
function report(paths: string[], args: string[] = [], env: Record<string, string> = {}): { err: string; files: Record<string, string>; json: { findings: { related: { file: string; line: number }[]; triage?: unknown; build?: { allowed?: boolean } }[] } } {
  const out = join(dir, `out-${++outs}`);
  const r = runCli(['report', ...paths, '--out', out, '--exit-zero', ...args], env);
  assert.equal(r.code, 0, r.err);
  const files: Record<string, string> = {};
  for (const n of NAMES) files[n] = timeless(readFileSync(join(out, n), 'utf8'));
  return { err: r.err, files, json: JSON.parse(files['tdx-audit.json']!) };
}

/** The stderr line's counts: files answered from the cache, files audited. */
function counts(err: string): { hits: number; audited: number } {
  const m = /cache .*: (\d+) of (\d+) file\(s\) answered from the cache, (\d+) audited/.exec(err);
  assert.ok(m, `no cache line in: ${err}`);
  assert.equal(Number(m[1]) + Number(m[3]), Number(m[2]));
  return { hits: Number(m[1]), audited: Number(m[3]) };
}

function sameReport(a: Record<string, string>, b: Record<string, string>, what: string): void {
  for (const n of NAMES) assert.equal(a[n], b[n], `${n}: ${what}`);
}

/** The files' entries (not the key pass's kept header stamps: headerStamps.ts). */
const entries = (cache: string) => readdirSync(cache).filter((n) => n.endsWith('.entry') && n !== `${STAMPS_KEY}.entry`);

describe('report --cache DIR', () => {
  let tree = '';
  /** Files the walk lists and audits (a link to /dev/zero is skipped by the walk, never keyed). */
  let nFiles = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-report-cache-'));
    tree = join(dir, 'tree');
    nFiles = driverTree(tree, CACHE_TREE);
    symlinkSync('/dev/zero', join(tree, 'drivers', 'prov', 'zero.c'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a warm run writes the cold report in every format and says how many files came from the cache', () => {
    const cache = join(dir, 'c-warm');
    const cold = report([tree]);
    assert.doesNotMatch(cold.err, /answered from the cache/);
    assert.ok(cold.json.findings.length > 5, 'the tree has findings');
    const fill = report([tree], ['--cache', cache]);
    assert.deepEqual(counts(fill.err), { hits: 0, audited: nFiles });
    assert.equal(entries(cache).length, nFiles);
    sameReport(fill.files, cold.files, 'the run that fills the cache');
    const warm = report([tree], ['--cache', cache]);
    assert.match(warm.err, new RegExp(`${nFiles} of ${nFiles} file\\(s\\) answered from the cache, 0 audited`));
    sameReport(warm.files, cold.files, 'warm');
    // Each hit read again at its turn (none held from the key pass), and on one thread.
    sameReport(report([tree], ['--cache', cache, '--jobs', '1'], { TDX_AUDIT_CACHE_HELD_BYTES: '0' }).files, cold.files, 'warm, hits read again');
    // Nothing but entries was left in DIR.
    assert.deepEqual(readdirSync(cache).filter((n) => !n.endsWith('.entry')), []);
  });

  test('an edited file misses and the others hit', () => {
    const copy = join(dir, 'tree-edit');
    const n = driverTree(copy, [
      ['net', 'drivers', ['foo_nic.c', 'tdx_io.h']],
      ['watchdog', 'example', ['acme_wdt.c', 'acme_io.h']],
    ]);
    const cache = join(dir, 'c-edit');
    report([copy], ['--cache', cache]);
    const wdt = join(copy, 'drivers/watchdog/acme_wdt.c');
    // Every site moves down a line: the stored rows would be wrong.
    writeFileSync(wdt, '/* moved */\n' + readFileSync(wdt, 'utf8'));
    const warm = report([copy], ['--cache', cache]);
    assert.deepEqual(counts(warm.err), { hits: n - 1, audited: 1 });
    sameReport(warm.files, report([copy]).files, 'after the edit');
  });

  test('an option that reaches the rows misses; the triage and the allow list, applied after, hit and show', () => {
    const cache = join(dir, 'c-option');
    const net = join(tree, 'drivers/net');
    report([net], ['--cache', cache]);
    const other = report([net], ['--cache', cache, '--profile', 'tdx-linux-5.19']);
    assert.deepEqual(counts(other.err), { hits: 0, audited: 2 });
    sameReport(other.files, report([net], ['--profile', 'tdx-linux-5.19']).files, 'another profile');
    assert.deepEqual(counts(report([net], ['--cache', cache, '--no-includes']).err), { hits: 0, audited: 2 });
    assert.deepEqual(counts(report([net], ['--cache', cache, '--no-objects']).err), { hits: 0, audited: 2 });
    // The triage and the allow list are the run's: the rows are the same, the report is not.
    const plain = report([net]);
    const fp = (plain.json.findings[0] as unknown as { fingerprint: string }).fingerprint;
    const triage = join(dir, 'triage.json');
    writeFileSync(triage, JSON.stringify({ version: 1, entries: { [fp]: { status: 'safe', when: '2026-01-01T00:00:00.000Z' } } }));
    const allow = join(dir, 'allow.txt');
    writeFileSync(allow, 'drivers/net/\n');
    const args = ['--triage', triage, '--allow-list', allow];
    const warm = report([net], ['--cache', cache, ...args]);
    assert.deepEqual(counts(warm.err), { hits: 2, audited: 0 });
    assert.ok(warm.json.findings.some((f) => f.triage), 'the triage shows');
    assert.ok(warm.json.findings.every((f) => f.build?.allowed === true), 'the allow list shows');
    sameReport(warm.files, report([net], args).files, 'with a triage and an allow list');
  });

  test('a truncated or corrupt entry is a miss with a warning, and the report is the cold one', () => {
    const cache = join(dir, 'c-corrupt');
    const wdt = join(tree, 'drivers/watchdog/acme_wdt.c');
    const cold = report([wdt], ['--cache', cache]);
    const [e] = entries(cache);
    const entry = join(cache, e!);
    const text = readFileSync(entry, 'utf8');
    // The same length, one finding's line changed: only the checksum catches it.
    const forged = text.replace(/"line":(\d)/, (_, d) => `"line":${(Number(d) + 1) % 10}`);
    assert.notEqual(forged, text);
    writeFileSync(entry, forged);
    const r = report([wdt], ['--cache', cache]);
    assert.deepEqual(counts(r.err), { hits: 0, audited: 1 });
    assert.match(r.err, /cache entry .*\.entry: truncated or corrupt/);
    sameReport(r.files, cold.files, 'over a corrupt entry');
    assert.equal(counts(report([wdt], ['--cache', cache]).err).hits, 1, 'the entry was written again');
    writeFileSync(entry, text.slice(0, text.length - 10));
    assert.match(report([wdt], ['--cache', cache]).err, /truncated or corrupt/);
    // A well-formed entry whose rows are not rows (a forged or older layout): a miss too.
    const key = e!.replace(/\.entry$/, '');
    const body = JSON.stringify({ kind: 'rows', rows: { path: wdt, file: 'drivers/watchdog/acme_wdt.c', findings: [{ file: 1 }], functions: [], row: {} } });
    writeFileSync(entry, `tdx-audit-result-cache 1 ${key} ${createHash('sha256').update(body).digest('hex')} ${Buffer.byteLength(body)}\n${body}`);
    const forgedRun = report([wdt], ['--cache', cache]);
    assert.match(forgedRun.err, /not a result this version writes/);
    sameReport(forgedRun.files, cold.files, 'over a forged entry');
  });

  test('in a kernel tree, an edit of the io.h a finding points at misses', () => {
    const k = join(dir, 'kernel');
    driverTree(k, [['net', 'drivers', ['foo_nic.c', 'tdx_io.h']]]);
    writeFileSync(join(k, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\nNAME = Test\n');
    const ioh = join(k, 'arch/x86/include/asm/io.h');
    mkdirSync(resolve(ioh, '..'), { recursive: true });
    writeFileSync(ioh, '#define build_mmio_read(name, size, type, reg, barrier) x\nbuild_mmio_read(readl, "l", unsigned int, "=r", :"memory")\nbuild_mmio_write(writel, "l", unsigned int, "r", :"memory")\n');
    const net = join(k, 'drivers/net');
    const cache = join(dir, 'c-kernel');
    const first = report([net], ['--cache', cache]);
    const ioLines = (r: typeof first) => r.json.findings.flatMap((f) => f.related.filter((l) => l.file === 'arch/x86/include/asm/io.h').map((l) => l.line));
    assert.ok(ioLines(first).length > 0, 'findings point at io.h');
    assert.equal(counts(report([net], ['--cache', cache]).err).hits, 2);
    writeFileSync(ioh, '/* moved */\n' + readFileSync(ioh, 'utf8'));
    const after = report([net], ['--cache', cache]);
    assert.deepEqual(counts(after.err), { hits: 0, audited: 2 });
    assert.notDeepEqual(ioLines(after), ioLines(first));
    sameReport(after.files, report([net]).files, 'after io.h moved');
  });

  test('a scan and a report share a cache folder without taking each other\'s entries', () => {
    const cache = join(dir, 'c-shared');
    const wdt = join(tree, 'drivers/watchdog/acme_wdt.c');
    const s = runCli(['scan', wdt, '--format', 'json', '--exit-zero', '--cache', cache]);
    assert.equal(s.code, 0, s.err);
    const r = report([wdt], ['--cache', cache]);
    assert.deepEqual(counts(r.err), { hits: 0, audited: 1 });
    assert.doesNotMatch(r.err, /cache entry/, 'no entry of the scan was read as the report\'s');
    assert.equal(entries(cache).length, 2);
    assert.equal(counts(report([wdt], ['--cache', cache]).err).hits, 1);
  });

  test('a cache folder that is a file is a usage error', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const r = runCli(['report', join(tree, 'drivers/watchdog/acme_wdt.c'), '--out', join(dir, 'nowhere'), '--cache', file]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--cache/);
  });
});

test('report --cache: a rebuilt object misses, and a new one beside the file', { skip: skipWithoutGcc }, () => {
  const { d, net, nic, cache } = driverFixtureTree('tdx-report-cache-objects-', join(ROOT, 'test/fixtures/drivers'));
  const saved = dir;
  dir = d;
  try {
    report([nic], ['--cache', cache]);
    assert.equal(counts(report([nic], ['--cache', cache]).err).hits, 1);
    compileObject('foo_nic.c', net);
    const joined = report([nic], ['--cache', cache]);
    assert.deepEqual(counts(joined.err), { hits: 0, audited: 1 });
    assert.ok(joined.files['tdx-audit.json']!.includes('"compiled"'), 'the object was joined');
    sameReport(joined.files, report([nic]).files, 'with the object');
    assert.equal(counts(report([nic], ['--cache', cache]).err).hits, 1);
    // Rebuilt with other flags: other bytes, other instructions.
    compileObject('foo_nic.c', net, ['-O1', '-g']);
    const rebuilt = report([nic], ['--cache', cache]);
    assert.deepEqual(counts(rebuilt.err), { hits: 0, audited: 1 });
    sameReport(rebuilt.files, report([nic]).files, 'rebuilt');
    // The object read from a folder named with --objects: the candidates are in the key too.
    const objs = join(d, 'objs');
    mkdirSync(objs);
    copyFileSync(join(net, 'foo_nic.o'), join(objs, 'foo_nic.o'));
    appendFileSync(join(objs, 'README'), 'objects\n');
    assert.deepEqual(counts(report([nic], ['--cache', cache, '--objects', objs]).err), { hits: 0, audited: 1 });
  } finally {
    dir = saved;
    rmSync(d, { recursive: true, force: true });
  }
});
