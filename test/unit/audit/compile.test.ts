// Compiling from compile_commands.json: argv only (a command that needs a shell is
// refused), the user's tree untouched, a timeout that kills the whole process group.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildArgv, compileEntry, CompileError, findCompileEntry, splitCommand } from '../../../server/src/audit/compile';
import { hasGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures');

describe('splitCommand', () => {
  test('splits like a shell without expanding: kernel-style quoting survives', () => {
    assert.deepEqual(splitCommand(`gcc -DKBUILD_MODNAME='"libahci"' -D"X=\\"y z\\"" -c  a.c`), ['gcc', '-DKBUILD_MODNAME="libahci"', '-DX="y z"', '-c', 'a.c']);
    assert.deepEqual(splitCommand('cc a\\ b.c'), ['cc', 'a b.c']);
  });

  test('refuses operators and expansions instead of running them', () => {
    for (const bad of ['gcc -c a.c; touch /tmp/pwned', 'gcc $(id) a.c', 'gcc `id` a.c', 'gcc a.c | tee x', 'gcc a.c > out', 'gcc "$HOME" a.c', 'gcc a.c && rm x']) {
      assert.throws(() => splitCommand(bad), CompileError, bad);
    }
  });
});

describe('buildArgv', () => {
  test('drops dependency-file flags and the output, adds -g, writes only to the given object', () => {
    const argv = buildArgv(
      { directory: '/k', file: '/k/drivers/a.c', argv: ['gcc', '-Wp,-MMD,drivers/.a.o.d', '-MD', '-MF', 'x.d', '-O2', '-c', '-o', 'drivers/a.o', 'drivers/a.c'] },
      '/tmp/out/a.o',
    );
    assert.deepEqual(argv, ['gcc', '-O2', '-c', 'drivers/a.c', '-g', '-o', '/tmp/out/a.o']);
    const keep = buildArgv({ directory: '/k', file: '/k/a.c', argv: ['gcc', '-gdwarf-5', '-c', 'a.c'] }, '/o.o');
    assert.equal(keep.filter((a) => a.startsWith('-g')).length, 1);
  });
});

describe('compileEntry', () => {
  test('compiles a fixture from compile_commands.json into a temp dir, leaving the tree untouched', { skip: hasGcc ? false : 'gcc is not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdx-cc-'));
    try {
      copyFileSync(join(FIX, 'drivers/foo_nic.c'), join(dir, 'foo_nic.c'));
      copyFileSync(join(FIX, 'drivers/tdx_io.h'), join(dir, 'tdx_io.h'));
      writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify([
        { directory: dir, file: 'foo_nic.c', command: `gcc -Wp,-MMD,.foo_nic.o.d -O2 -DNAME='"x"' -c -o foo_nic.o foo_nic.c` },
      ]));
      const e = findCompileEntry(join(dir, 'foo_nic.c'), [join(dir, 'compile_commands.json')]);
      assert.ok(e);
      const r = await compileEntry(e, { timeoutMs: 60_000 });
      assert.ok(existsSync(r.object));
      assert.ok(!r.object.startsWith(dir));
      assert.deepEqual(readdirSync(dir).sort(), ['compile_commands.json', 'foo_nic.c', 'tdx_io.h'], 'no .o or .d written into the tree');
      rmSync(resolve(r.object, '..'), { recursive: true, force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a compiler that hangs is killed with its children at the timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdx-cc-'));
    try {
      const pidFile = join(dir, 'child.pid');
      const fake = join(dir, 'fakecc');
      // A "compiler" that starts a grandchild and waits, as gcc waits for cc1.
      writeFileSync(fake, `#!/bin/sh\nsleep 60 &\necho $! > ${pidFile}\nwait\n`);
      chmodSync(fake, 0o755);
      const t0 = Date.now();
      await assert.rejects(compileEntry({ directory: dir, file: join(dir, 'a.c'), argv: [fake, '-c', 'a.c'] }, { timeoutMs: 500 }), /timed out after 1 s|timed out/);
      assert.ok(Date.now() - t0 < 10_000);
      await new Promise((r) => setTimeout(r, 200));
      const pid = Number(require('node:fs').readFileSync(pidFile, 'utf8'));
      // Gone, or a zombie nobody reaped yet (PID 1 in a container may not reap).
      const state = (() => {
        try {
          return /^State:\s+(\w)/m.exec(require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        } catch {
          return 'gone';
        }
      })();
      assert.ok(state === 'gone' || state === 'Z', `the grandchild was killed too (state ${state})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cancellation kills the compile and rejects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdx-cc-'));
    try {
      const fake = join(dir, 'fakecc');
      writeFileSync(fake, '#!/bin/sh\nexec sleep 60\n');
      chmodSync(fake, 0o755);
      const ac = new AbortController();
      const p = compileEntry({ directory: dir, file: join(dir, 'a.c'), argv: [fake, '-c', 'a.c'] }, { timeoutMs: 60_000, signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      await assert.rejects(p, /cancelled/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a command with shell syntax in compile_commands.json is never run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdx-cc-'));
    try {
      const marker = join(dir, 'pwned');
      writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify([{ directory: dir, file: 'a.c', command: `gcc -c a.c; touch ${marker}` }]));
      const e = findCompileEntry(join(dir, 'a.c'), [join(dir, 'compile_commands.json')]);
      assert.ok(e);
      await assert.rejects(compileEntry(e, { timeoutMs: 5000 }), /no usable compile command/);
      assert.equal(existsSync(marker), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
