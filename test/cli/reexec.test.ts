// With more than one worker the CLI starts itself again, once, with glibc's malloc
// arenas limited (cli/reexec.ts). The parent only waits: the user must see the bytes,
// the exit code and the signal the child gives, and no third process.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli, timeless } from '../support/reportRuns';
import { driverTree } from '../support/driverTree';
import { jobsOf, wantsReexec, REEXEC_MARK } from '../../server/src/cli/reexec';

const ROOT = resolve(__dirname, '../..');
const FIX = join(ROOT, 'test/fixtures');
const CLI = join(ROOT, 'dist/cli.js');

let dir = '';
let tree = '';
let probe = '';

/** The main threads started by one CLI run: pid, parent pid and their arena setting, as the probe preloaded through NODE_OPTIONS logged them. */
function starts(log: string): { pid: number; ppid: number; arenas: string; mark: string }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The probe on, and the settings that would stop a start again off (an empty MALLOC_ARENA_MAX is glibc's unset). */
const probed = (log: string) => ({ NODE_OPTIONS: `--require ${probe}`, W2_PROBE_LOG: log, MALLOC_ARENA_MAX: '', TDX_AUDIT_NO_REEXEC: '', [REEXEC_MARK]: '' });

describe('the CLI started again with malloc arenas limited', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-reexec-'));
    tree = join(dir, 'tree');
    driverTree(tree, [
      ['net', 'drivers', ['foo_nic.c', 'tdx_io.h']],
      ['prov', 'provenance', ['global_irq.c', 'member.c', 'prov_io.h']],
    ]);
    // Logs each main thread the CLI starts (workers are not processes).
    probe = join(dir, 'probe.js');
    writeFileSync(
      probe,
      `if (require('worker_threads').isMainThread && process.env.W2_PROBE_LOG) require('fs').appendFileSync(process.env.W2_PROBE_LOG, JSON.stringify({ pid: process.pid, ppid: process.ppid, arenas: process.env.MALLOC_ARENA_MAX ?? '', mark: process.env.${REEXEC_MARK} ?? '' }) + '\\n');\n`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('which command lines start again: scan and report with more than one job, never a started one, never over the user\'s setting', () => {
    const glibc = () => true;
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2'], {}, glibc), true);
    assert.equal(wantsReexec(['report', 'x', '-j', '3', '--out', 'o'], {}, glibc), true);
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '1'], {}, glibc), false, 'one worker: nothing to gain');
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2', '--jobs', '1'], {}, glibc), false, 'the last --jobs wins, as in the parser');
    assert.equal(wantsReexec(['merge', 'a', 'b', '--jobs', '2'], {}, glibc), false);
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2'], { [REEXEC_MARK]: '1' }, glibc), false, 'never twice');
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2'], { MALLOC_ARENA_MAX: '8' }, glibc), false, 'the user\'s setting stays');
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' }, glibc), false);
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2'], { TDX_AUDIT_NO_REEXEC: '1' }, glibc), false);
    assert.equal(wantsReexec(['scan', 'x', '--jobs', '2'], {}, () => false), false, 'not glibc: the variable means nothing');
    assert.equal(jobsOf(['scan', 'x', '--jobs', 'lots']), jobsOf(['scan', 'x']), 'a bad --jobs is the parser\'s to refuse: the default here');
  });

  test('--jobs 2 runs once more, with two arenas, and writes the bytes and exit code of a run that did not', () => {
    const args = ['scan', join(tree, 'drivers'), '--format', 'json', '--jobs', '2', '--no-objects', '--no-header-cache'];
    const logA = join(dir, 'starts-a.log');
    const again = runCli(args, probed(logA));
    const logB = join(dir, 'starts-b.log');
    const here = runCli(args, { ...probed(logB), TDX_AUDIT_NO_REEXEC: '1' });
    assert.equal(here.code, 1, `an error-severity finding exits 1: ${here.err}`);
    assert.equal(again.code, here.code, 'the child\'s exit code is the parent\'s');
    assert.ok(JSON.parse(again.out).sites.length > 5);
    assert.equal(timeless(again.out), timeless(here.out), 'stdout the same bytes but for per-file ms');
    assert.equal(again.err, here.err, 'stderr the same');
    const a = starts(logA);
    assert.equal(a.length, 2, `one parent and one child, no third: ${JSON.stringify(a)}`);
    assert.deepEqual([a[0]!.arenas, a[0]!.mark], ['', '']);
    assert.deepEqual([a[1]!.arenas, a[1]!.mark], ['2', '1']);
    assert.equal(a[1]!.ppid, a[0]!.pid, 'the child is the parent\'s');
    assert.equal(starts(logB).length, 1);
    // --exit-zero's 0 goes through too.
    const zero = runCli([...args, '--exit-zero'], probed(join(dir, 'starts-c.log')));
    assert.equal(zero.code, 0, zero.err);
  });

  test('--jobs 1, or the user\'s MALLOC_ARENA_MAX, runs in one process', () => {
    const args = ['scan', join(tree, 'drivers'), '--format', 'json', '--exit-zero', '--no-objects', '--no-header-cache'];
    const one = join(dir, 'starts-one.log');
    assert.equal(runCli([...args, '--jobs', '1'], probed(one)).code, 0);
    assert.equal(starts(one).length, 1);
    const user = join(dir, 'starts-user.log');
    assert.equal(runCli([...args, '--jobs', '2'], { ...probed(user), MALLOC_ARENA_MAX: '4' }).code, 0);
    assert.deepEqual(starts(user).map((s) => s.arenas), ['4']);
  });

  test('a signal to the parent reaches the child, and the parent dies of it', async () => {
    const log = join(dir, 'starts-signal.log');
    // Enough work that the run is still going when the signal comes: one driver many times over.
    const many = join(dir, 'many');
    mkdirSync(many, { recursive: true });
    for (let i = 0; i < 300; i++) copyFileSync(join(FIX, 'drivers', 'foo_nic.c'), join(many, `nic${i}.c`));
    copyFileSync(join(FIX, 'drivers', 'tdx_io.h'), join(many, 'tdx_io.h'));
    const p = spawn(process.execPath, [CLI, 'scan', many, '--format', 'json', '--jobs', '2', '--no-objects', '--no-header-cache'], {
      env: { ...process.env, ...probed(log) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const deadline = Date.now() + 60_000;
    while (starts(log).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const child = starts(log)[1];
    assert.ok(child, 'the child started');
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => p.on('exit', (code, signal) => res({ code, signal })));
    p.kill('SIGTERM');
    const how = await ended;
    assert.deepEqual(how, { code: null, signal: 'SIGTERM' }, 'the parent died of the child\'s signal');
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        process.kill(child.pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, 'the child is gone');
  });
});
