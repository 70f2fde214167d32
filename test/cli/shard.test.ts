// `report --shard K/N` on N machines, then `merge`, gives the report one run gives
// (issue 15, item 7): every format byte for byte once the time stamps are set aside
// (generatedAt: merge takes the latest shard's; per-file `ms`: each run's own timing).
// The tree mixes names that a plain string sort and the walk order put differently
// ('net' and 'net-x'), compiled objects (instructions in the report), a FIFO the walk
// skips (in every shard's list), and a triage file.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { copyDriverFixture, gcc, skipWithoutGcc } from '../support/gcc';
import { runCli, timeless } from '../support/reportRuns';

const ROOT = resolve(__dirname, '../..');
const FIX = join(ROOT, 'test/fixtures/drivers');
const EXAMPLE = join(ROOT, 'examples/acme_wdt');
const NAMES = ['tdx-audit.json', 'tdx-audit.sarif', 'tdx-audit.md', 'tdx-audit.html'];

const run = (...args: string[]) => runCli(args);

let dir = '';
let tree = '';

describe('sharded reports merge to the single run', { skip: skipWithoutGcc }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-shard-'));
    tree = join(dir, 'tree');
    mkdirSync(join(tree, '.git'), { recursive: true });
    copyDriverFixture(join(tree, 'drivers', 'net'), FIX);
    gcc(['-O2', '-g', '-c', 'foo_nic.c', '-o', 'foo_nic.o'], join(tree, 'drivers', 'net'));
    copyDriverFixture(join(tree, 'drivers', 'net-x'), FIX);
    mkdirSync(join(tree, 'drivers', 'watchdog'), { recursive: true });
    for (const f of ['acme_wdt.c', 'acme_io.h']) copyFileSync(join(EXAMPLE, f), join(tree, 'drivers', 'watchdog', f));
    for (const f of ['global_irq.c', 'member.c', 'negative.c', 'overlay.c', 'prov_io.h']) {
      mkdirSync(join(tree, 'drivers', 'prov'), { recursive: true });
      copyFileSync(join(FIX, 'provenance', f), join(tree, 'drivers', 'prov', f));
    }
    spawnSync('mkfifo', [join(tree, 'drivers', 'net', 'pipe.c')]);
    // A triage entry for one finding (taken from a first run), so triage survives the merge too.
    const first = join(dir, 'first');
    assert.notEqual(run('report', join(tree, 'drivers'), '--out', first, '--format', 'json', '--exit-zero').code, 2);
    const fp = JSON.parse(readFileSync(join(first, 'tdx-audit.json'), 'utf8')).findings[0].fingerprint;
    mkdirSync(join(tree, '.tdx-audit'), { recursive: true });
    writeFileSync(join(tree, '.tdx-audit', 'triage.json'), JSON.stringify({ version: 1, entries: { [fp]: { status: 'safe', when: '2026-01-01T00:00:00.000Z' } } }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('3 shards merged equal one run in every format, and each shard holds only its files', () => {
    const single = join(dir, 'single');
    const r = run('report', join(tree, 'drivers'), '--out', single, '--exit-zero');
    assert.equal(r.code, 0, r.err);
    const whole = JSON.parse(readFileSync(join(single, 'tdx-audit.json'), 'utf8'));
    assert.ok(whole.findings.some((f: { compiled: unknown }) => f.compiled), 'the objects were joined');
    assert.ok(whole.skipped.some((s: { file: string }) => s.file.endsWith('pipe.c')), 'the FIFO is skipped');
    assert.ok(whole.findings.some((f: { triage: unknown }) => f.triage), 'a finding is triaged');
    const parts: string[] = [];
    const filesPerShard: string[][] = [];
    for (const k of [1, 2, 3]) {
      const out = join(dir, `shard${k}`);
      const s = run('report', join(tree, 'drivers'), '--out', out, '--format', 'json', '--shard', `${k}/3`, '--exit-zero');
      assert.equal(s.code, 0, s.err);
      parts.push(join(out, 'tdx-audit.json'));
      const j = JSON.parse(readFileSync(join(out, 'tdx-audit.json'), 'utf8'));
      assert.deepEqual(j.shard, { index: k, of: 3 });
      filesPerShard.push(j.files.map((f: { file: string }) => f.file));
    }
    // Together the shards hold every file once.
    assert.deepEqual(filesPerShard.flat().sort(), whole.files.map((f: { file: string }) => f.file).sort());
    assert.ok(filesPerShard.every((fs) => fs.length < whole.files.length), 'no shard holds the whole tree');
    const merged = join(dir, 'merged');
    // Given in any order.
    const m = run('merge', parts[2]!, parts[0]!, parts[1]!, '--out', merged, '--exit-zero');
    assert.equal(m.code, 0, m.err);
    for (const n of NAMES) {
      assert.equal(timeless(readFileSync(join(merged, n), 'utf8')), timeless(readFileSync(join(single, n), 'utf8')), n);
    }
    // The time stamp is the latest shard's.
    const stamps = parts.map((p) => JSON.parse(readFileSync(p, 'utf8')).provenance.generatedAt as string).sort();
    assert.equal(JSON.parse(readFileSync(join(merged, 'tdx-audit.json'), 'utf8')).provenance.generatedAt, stamps[2]);
  });

  test('merge refuses a missing shard, a shard given twice, and shards of different runs', () => {
    const out = (k: number, n: number, extra: string[] = []) => {
      const o = join(dir, `s${k}of${n}${extra.length ? 'x' : ''}`);
      assert.equal(run('report', join(tree, 'drivers'), '--out', o, '--format', 'json', '--shard', `${k}/${n}`, '--exit-zero', '--force', ...extra).code, 0);
      return join(o, 'tdx-audit.json');
    };
    const a = out(1, 2);
    const b = out(2, 2);
    const missing = run('merge', a, '--out', join(dir, 'm1'));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /shard 2\/2 not given/);
    const twice = run('merge', a, a, '--out', join(dir, 'm2'));
    assert.equal(twice.code, 2);
    assert.match(twice.err, /both shard 1\/2/);
    const other = out(2, 2, ['--profile', 'sev-es']);
    const mixed = run('merge', a, other, '--out', join(dir, 'm3'));
    assert.equal(mixed.code, 2);
    assert.match(mixed.err, /profile differs/);
    assert.equal(run('merge', a, b, '--out', join(dir, 'm4'), '--exit-zero').code, 0);
    // A shard field that cannot be a shard, and a file that is no report.
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, readFileSync(a, 'utf8').replace('"index": 1', '"index": 3'));
    const r = run('merge', bad, b, '--out', join(dir, 'm5'));
    assert.equal(r.code, 2);
    assert.match(r.err, /"shard" must be \{"index": K, "of": N\}/);
    writeFileSync(bad, '{"not": "a report"}');
    assert.match(run('merge', bad, '--out', join(dir, 'm6')).err, /not a tdx-audit JSON report/);
  });

  test('--shard with --baseline is a usage error: the baseline is given to merge', () => {
    const r = run('report', join(tree, 'drivers'), '--out', join(dir, 'b'), '--shard', '1/2', '--baseline', 'x.json');
    assert.equal(r.code, 2);
    assert.match(r.err, /give it to `tdx-audit merge`/);
    const bad = run('report', join(tree, 'drivers'), '--out', join(dir, 'b'), '--shard', '3/2');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--shard takes K\/N/);
  });
});
