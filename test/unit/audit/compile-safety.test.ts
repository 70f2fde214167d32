// A trusted compile from compile_commands.json writes nothing but its object in its
// own temp dir, whatever flags the database carries; it leaves no process behind,
// not even one that called setsid(); a relative `directory` is the database's.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { buildCompile, compileEntry, findCompileEntry, loadCompileCommands, removeCompileDir } from '../../../server/src/audit/compile';
import { filterCompileArgs } from '../../../server/src/audit/compileArgs';
import { isDead, stateOf } from '../../support/proc';
import { hasGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'tdx-cc-safe-'));
  dirs.push(d);
  return d;
}

/** Every file under dir with its bytes' hash: equal snapshots mean nothing was written. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${createHash('sha1').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

/** Flags from the issue that made gcc write outside the temp dir, and their kin. */
const HOSTILE = ['-save-temps=cwd', '-save-temps', '-dumpdir', 'dump/', '-fdump-tree-all', '-fstack-usage', '-Wa,-adhln=listing.lst', '-aux-info', 'protos.txt', '-fcallgraph-info', '-MD', '-MF', 'deps.d', '-fprofile-arcs', '-ftest-coverage'];

describe('compile argument allow-list', () => {
  test('each file-writing flag of the issue is dropped with its reason; code-generation flags pass', () => {
    const argv = ['gcc', '-nostdinc', '-I./include', '-isystem', '/usr/include', '-include', './include/linux/kconfig.h', '-D__KERNEL__', '-DKBUILD_MODNAME="x"', '-O2', '-g', '-std=gnu11', '-mno-sse', '-mcmodel=kernel', '-fno-strict-aliasing', '-Wall', '-Wno-unused', '-Wa,--gdwarf-5', '-x', 'c', '--param=allow-store-data-races=0', ...HOSTILE, '-c', '-o', 'out.o', 'drivers/a.c', 'other.c', '@opts.rsp', '-specs=evil.specs', '-B/tmp/evil', '-Wl,-T,x.ld', '-flto'];
    const f = filterCompileArgs(argv, (a) => a === 'drivers/a.c');
    assert.deepEqual(f.argv, ['gcc', '-nostdinc', '-I./include', '-isystem', '/usr/include', '-include', './include/linux/kconfig.h', '-D__KERNEL__', '-DKBUILD_MODNAME="x"', '-O2', '-g', '-std=gnu11', '-mno-sse', '-mcmodel=kernel', '-fno-strict-aliasing', '-Wall', '-Wno-unused', '-Wa,--gdwarf-5', '-x', 'c', '--param=allow-store-data-races=0', '-c', 'drivers/a.c']);
    const dropped = new Map(f.dropped.map((d) => [d.arg, d.why]));
    for (const a of ['-save-temps=cwd', '-save-temps', '-dumpdir dump/', '-fdump-tree-all', '-fstack-usage', '-Wa,-adhln=listing.lst', '-aux-info protos.txt', '-fcallgraph-info', '-MD', '-MF deps.d', '-o out.o', 'other.c', '@opts.rsp', '-specs=evil.specs', '-B/tmp/evil', '-Wl,-T,x.ld', '-flto']) {
      assert.ok(dropped.has(a), `${a} is dropped (dropped: ${[...dropped.keys()].join(' | ')})`);
    }
    assert.match(dropped.get('-save-temps=cwd')!, /writes files outside the temp dir/);
  });

  test('a real kernel compile command keeps every code-generation flag', () => {
    // Shape of Debian 6.1's drivers/ata/libahci.o entry (abridged).
    const cmd = ['gcc', '-Wp,-MMD,drivers/ata/.libahci.o.d', '-nostdinc', '-I./arch/x86/include', '-I./arch/x86/include/generated', '-I./include', '-include', './include/linux/compiler-version.h', '-include', './include/linux/kconfig.h', '-include', './include/linux/compiler_types.h', '-D__KERNEL__', '-fmacro-prefix-map=./=', '-Wall', '-Werror=strict-prototypes', '-fno-strict-aliasing', '-fno-common', '-fshort-wchar', '-fno-PIE', '-std=gnu11', '-mno-sse', '-mno-mmx', '-mno-red-zone', '-mcmodel=kernel', '-mindirect-branch=thunk-extern', '-mfunction-return=thunk-extern', '-fcf-protection=none', '-falign-jumps=1', '-fno-asynchronous-unwind-tables', '--param=allow-store-data-races=0', '-fstack-protector-strong', '-gdwarf-5', '-pg', '-mrecord-mcount', '-mfentry', '-DCC_USING_FENTRY', '-fno-stack-clash-protection', '-fzero-call-used-regs=used-gpr', '-O2', '-DMODULE', '-DKBUILD_BASENAME="libahci"', '-DKBUILD_MODNAME="libahci"', '-D__KBUILD_MODNAME=kmod_libahci', '-c', '-o', 'drivers/ata/libahci.o', 'drivers/ata/libahci.c'];
    const { argv, dropped } = buildCompile({ directory: '/k', file: '/k/drivers/ata/libahci.c', argv: cmd }, '/tmp/x/libahci.o');
    assert.deepEqual(dropped.map((d) => d.arg), ['-Wp,-MMD,drivers/ata/.libahci.o.d', '-pg', '-o drivers/ata/libahci.o']);
    assert.ok(argv.includes('-mindirect-branch=thunk-extern') && argv.includes('-fzero-call-used-regs=used-gpr'));
  });

  test('with gcc: compiling with every hostile flag leaves the build tree byte-identical', { skip: hasGcc ? false : 'gcc is not installed' }, async () => {
    const dir = tree();
    copyFileSync(join(FIX, 'drivers/foo_nic.c'), join(dir, 'foo_nic.c'));
    copyFileSync(join(FIX, 'drivers/tdx_io.h'), join(dir, 'tdx_io.h'));
    mkdirSync(join(dir, 'dump'));
    writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify([{ directory: dir, file: 'foo_nic.c', arguments: ['gcc', '-O2', ...HOSTILE, '-c', '-o', 'foo_nic.o', 'foo_nic.c'] }]));
    const before = snapshot(dir);
    const e = findCompileEntry(join(dir, 'foo_nic.c'), [join(dir, 'compile_commands.json')])!;
    const r = await compileEntry(e, { timeoutMs: 60_000 });
    assert.ok(existsSync(r.object));
    assert.deepEqual(snapshot(dir), before, 'nothing written into the build tree');
    assert.deepEqual(readdirSync(join(r.object, '..')), ['foo_nic.o'], 'only the object in the temp dir');
    removeCompileDir(r.object);
    assert.ok(!existsSync(join(r.object, '..')), 'the temp dir is removed when its object is dropped');
  });
});

describe('compile database paths', () => {
  test('a relative directory is resolved against the database folder, not the cwd', () => {
    const dir = tree();
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'compile_commands.json'), JSON.stringify([{ directory: '..', file: 'src/a.c', arguments: ['gcc', '-c', 'src/a.c'] }]));
    const m = loadCompileCommands(join(dir, 'build', 'compile_commands.json'));
    const e = m.get(join(dir, 'src', 'a.c'));
    assert.ok(e, `keys: ${[...m.keys()].join(', ')}`);
    assert.equal(e.directory, dir);
  });

  test('a FIFO named compile_commands.json is refused without blocking', () => {
    const dir = tree();
    spawnSync('mkfifo', [join(dir, 'compile_commands.json')]);
    assert.throws(() => loadCompileCommands(join(dir, 'compile_commands.json')), /FIFO, not a regular file/);
  });
});

describe('compiles leave no process behind', () => {
  test('a child that calls setsid() is killed at the timeout', async () => {
    const dir = tree();
    const pidFile = join(dir, 'daemon.pid');
    const fake = join(dir, 'cc');
    // The grandchild leaves the process group (setsid) and its parent exits at once:
    // it is reparented to init, so neither the group nor a ppid walk finds it.
    writeFileSync(fake, `#!/bin/sh\nsetsid sh -c 'echo $$ > ${pidFile}; exec sleep 120' &\nsleep 120\n`);
    chmodSync(fake, 0o755);
    await assert.rejects(compileEntry({ directory: dir, file: join(dir, 'a.c'), argv: [fake, '-c', 'a.c'] }, { timeoutMs: 700 }), /timed out/);
    await new Promise((r) => setTimeout(r, 200));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0);
    assert.ok(isDead(pid), `the setsid child is dead (state ${stateOf(pid)})`);
  });

  test('a daemon left by a compile that succeeded is killed too', async () => {
    const dir = tree();
    const pidFile = join(dir, 'daemon.pid');
    const fake = join(dir, 'cc');
    writeFileSync(fake, `#!/bin/sh\nsetsid sh -c 'echo $$ > ${pidFile}; exec sleep 120' &\nwhile [ ! -s ${pidFile} ]; do sleep 0.05; done\nfor a; do o=$a; done\nprev=; for a; do [ "$prev" = -o ] && : > "$a"; prev=$a; done\n`);
    chmodSync(fake, 0o755);
    const r = await compileEntry({ directory: dir, file: join(dir, 'a.c'), argv: [fake, '-c', 'a.c'] }, { timeoutMs: 20_000 });
    removeCompileDir(r.object);
    await new Promise((res) => setTimeout(res, 200));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(isDead(pid), `the daemon is dead (state ${stateOf(pid)})`);
  });
});
