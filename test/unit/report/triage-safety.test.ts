// Triage decisions are acknowledged only once they are on disk, whoever else writes
// the file; the triage file never leads a write out of the tree, and an error about
// it never quotes another file's bytes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadTriage, parseTriage, serializeTriage, setTriage, TriageError, triagePathFor, updateTriage, emptyTriage, entryOf } from '../../../server/src/audit/report/triage';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'tdx-triage-'));
  dirs.push(d);
  return d;
}

test('14 decisions at once: every acknowledged one is on disk', async () => {
  const root = tree();
  const file = triagePathFor(root);
  await Promise.all(Array.from({ length: 14 }, (_, i) => updateTriage(file, (t) => setTriage(t, `fp${i}`, 'safe'), { root, create: true })));
  const t = loadTriage(file)!;
  assert.equal(Object.keys(t.entries).length, 14);
  assert.ok(!existsSync(`${file}.lock`), 'the lock is released');
});

test('two processes writing 14 decisions each lose none (lock, re-read, merge, rename)', async () => {
  const root = tree();
  const writer = resolve(__dirname, '../../support/triageWriter.ts');
  const run = (prefix: string) =>
    new Promise<number>((res) => {
      const c = spawn(process.execPath, ['--import', 'tsx', writer, root, prefix, '14'], { stdio: ['ignore', 'pipe', 'inherit'] });
      c.on('exit', (code) => res(code ?? 1));
    });
  const codes = await Promise.all([run('a'), run('b')]);
  assert.deepEqual(codes, [0, 0]);
  const t = loadTriage(triagePathFor(root))!;
  assert.equal(Object.keys(t.entries).length, 28, `entries: ${Object.keys(t.entries).join(',')}`);
});

test('a lock left by a dead writer is taken over', async () => {
  const root = tree();
  const file = triagePathFor(root);
  mkdirSync(join(root, '.tdx-audit'));
  // pid 2^22+1 is above Linux's pid_max default and never alive.
  writeFileSync(`${file}.lock`, `${2 ** 22 + 1} 2020-01-01T00:00:00Z\n`);
  await updateTriage(file, (t) => setTriage(t, 'fp', 'concern'), { root, create: true, lockTimeoutMs: 2000 });
  assert.equal(loadTriage(file)!.entries.fp.status, 'concern');
});

test('__proto__ as a fingerprint is written as an entry like any other', async () => {
  const root = tree();
  const file = triagePathFor(root);
  await updateTriage(file, (t) => setTriage(t, '__proto__', 'safe'), { root, create: true });
  const text = readFileSync(file, 'utf8');
  assert.match(text, /"__proto__": \{/);
  const back = loadTriage(file)!;
  assert.equal(entryOf(back, '__proto__')?.status, 'safe');
  assert.equal(entryOf(back, 'toString'), undefined);
  assert.equal(serializeTriage(parseTriage(text)), text);
});

test('a triage.json pointing at another file: the error names the file, never its bytes', () => {
  const root = tree();
  mkdirSync(join(root, '.tdx-audit'));
  const secret = join(tree(), 'secret');
  writeFileSync(secret, 'root:x:0:0:SECRET-BYTES\n');
  symlinkSync(secret, triagePathFor(root));
  assert.throws(() => loadTriage(triagePathFor(root)), (e: Error) => e instanceof TriageError && /not valid JSON/.test(e.message) && !/SECRET|root:x/.test(e.message));
  symlinkSync('/dev/zero', join(root, 'zero.json'));
  assert.throws(() => loadTriage(join(root, 'zero.json')), /not a regular file/);
});

test('a committed .tdx-audit symlink out of the tree is never written through', async () => {
  const root = tree();
  const outside = tree();
  symlinkSync(outside, join(root, '.tdx-audit'));
  await assert.rejects(updateTriage(triagePathFor(root), (t) => setTriage(t, 'fp', 'safe'), { root, create: true }), /leads out of the tree/);
  assert.ok(!existsSync(join(outside, 'triage.json')));
});

test('no triage folder is created where creating is not allowed (outside a workspace)', async () => {
  const root = tree();
  await assert.rejects(updateTriage(triagePathFor(root), (t) => setTriage(t, 'fp', 'safe'), { root, create: false }), /not creating/);
  assert.ok(!existsSync(join(root, '.tdx-audit')));
  assert.deepEqual(Object.keys(emptyTriage().entries), []);
});
