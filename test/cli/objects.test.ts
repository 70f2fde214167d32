// The CLI finds objects as the editor does (issue 16): the .o beside each source
// without any option, the O= build directory's with --build-dir, none with
// --no-objects, and a tree built under another prefix through --path-map. The
// objects are compiled here with gcc; the CLI is the built dist/cli.js.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { copyDriverFixture, gcc } from '../support/gcc';
import { hasGcc } from '../support/gcc';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const FIX = join(ROOT, 'test/fixtures/drivers');
const skip = hasGcc ? false : 'gcc is not installed: these tests build their objects with it';
const PREFIX = '/build/linux-6.1/debian/build/build_amd64_none_amd64';

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const copySources = (to: string): void => copyDriverFixture(to, FIX);

/** JSON scan's instructions for foo_poll's readl. */
function pollInstructions(out: string): { function: string; text: string }[] {
  const j = JSON.parse(out);
  return (j.instructions ?? []).filter((i: { site: { accessor: string }; function: string }) => i.site.accessor === 'readl' && i.function === 'foo_poll');
}

let dir = '';

describe('scan reads objects like the editor (gcc fixtures)', { skip }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-cli-objects-'));
    // In-tree build: foo_nic.o beside foo_nic.c.
    copySources(join(dir, 'intree'));
    gcc(['-O2', '-g', '-c', 'foo_nic.c', '-o', 'foo_nic.o'], join(dir, 'intree'));
    // O= build: the tree has only sources, the objects are at the same paths under build/.
    copySources(join(dir, 'otree', 'drivers'));
    mkdirSync(join(dir, 'build', 'drivers'), { recursive: true });
    gcc(['-O2', '-g', '-c', join(dir, 'otree', 'drivers', 'foo_nic.c'), '-o', join(dir, 'build', 'drivers', 'foo_nic.o')], join(dir, 'build'));
    // Built under a distribution prefix in one place, its sources unpacked in another layout.
    copySources(join(dir, 'pkgbuild', 'drivers'));
    mkdirSync(join(dir, 'dbg', 'drivers'), { recursive: true });
    gcc(['-O2', '-g', `-fdebug-prefix-map=${join(dir, 'pkgbuild')}=${PREFIX}`, '-c', join(dir, 'pkgbuild', 'drivers', 'foo_nic.c'), '-o', join(dir, 'dbg', 'drivers', 'foo_nic.o')], join(dir, 'pkgbuild'));
    copySources(join(dir, 'unpacked', 'net'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('without options, the .o beside the source gives compiled forms; --no-objects reads none', () => {
    const r = run('scan', join(dir, 'intree'), '--format', 'json', '--exit-zero');
    assert.equal(r.code, 0, r.err);
    const ins = pollInstructions(r.out);
    assert.equal(ins.length, 1, r.err);
    assert.match(ins[0]!.text, /^mov eax,/);
    const text = run('scan', join(dir, 'intree'), '--exit-zero');
    assert.match(text.out, /foo_kick\+0x\w+ .*or dword ptr \[rax\],1/);
    const off = run('scan', join(dir, 'intree'), '--format', 'json', '--exit-zero', '--no-objects');
    assert.equal(off.code, 0, off.err);
    assert.deepEqual(pollInstructions(off.out), []);
    assert.equal(JSON.parse(off.out).instructions, undefined);
    assert.doesNotMatch(run('scan', join(dir, 'intree'), '--exit-zero', '--no-objects').out, /foo_kick\+0x/);
  });

  test('the error an object reveals counts for the exit status by default (foo_kick\'s or on MMIO)', () => {
    assert.equal(run('scan', join(dir, 'intree')).code, 1);
  });

  test('--build-dir finds the object at the source\'s path under the O= build directory', () => {
    const r = run('scan', join(dir, 'otree'), '--build-dir', join(dir, 'build'), '--format', 'json', '--exit-zero');
    assert.equal(pollInstructions(r.out).length, 1, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.files[0].object.origin, 'build-dir');
  });

  test('--path-map FROM=TO joins a tree built under another prefix; without it, one line says both paths', () => {
    const without = run('scan', join(dir, 'unpacked'), '--objects', join(dir, 'dbg'), '--format', 'json', '--exit-zero');
    assert.deepEqual(pollInstructions(without.out), []);
    const line = without.err.split('\n').find((l) => l.includes(`names ${PREFIX}/drivers/foo_nic.c`));
    assert.ok(line, without.err);
    assert.ok(line.includes(`this file is ${join(dir, 'unpacked', 'net', 'foo_nic.c')}`), line);
    const mapped = run('scan', join(dir, 'unpacked'), '--objects', join(dir, 'dbg'), '--path-map', `${PREFIX}/drivers=${join(dir, 'unpacked', 'net')}`, '--format', 'json', '--exit-zero');
    assert.equal(pollInstructions(mapped.out).length, 1, mapped.err);
  });

  test('--no-objects with objects named, and a --path-map without FROM=TO, are usage errors', () => {
    const both = run('scan', join(dir, 'intree'), '--no-objects', '--objects', join(dir, 'dbg'));
    assert.equal(both.code, 2);
    assert.match(both.err, /--no-objects reads no object; it cannot go with --objects/);
    const bad = run('scan', join(dir, 'intree'), '--path-map', '/only/one/side');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--path-map takes FROM=TO/);
  });
});
