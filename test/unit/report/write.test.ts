import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { OutputPathError, existingReportFiles, writeReportFiles } from '../../../server/src/audit/report/write';
import { makeTree } from './helpers';

const files = [
  { name: 'r.json', content: '{"a":1}\n' },
  { name: 'r.md', content: '# report\n' },
];

test('writes every file, creating the folder, and leaves no temp file', async () => {
  const dir = join(makeTree({}), 'out/deeper');
  const r = await writeReportFiles(dir, files);
  assert.deepEqual(r, { written: [join(realpathSync(dir), 'r.json'), join(realpathSync(dir), 'r.md')], exists: [], cancelled: false });
  assert.equal(readFileSync(join(dir, 'r.md'), 'utf8'), '# report\n');
  assert.deepEqual(readdirSync(dir).sort(), ['r.json', 'r.md']);
});

test('never overwrites silently: existing files are returned and nothing is written', async () => {
  const dir = makeTree({ 'r.md': 'mine\n' });
  const r = await writeReportFiles(dir, files);
  assert.deepEqual(r.written, []);
  assert.deepEqual(r.exists, [join(realpathSync(dir), 'r.md')]);
  assert.equal(readFileSync(join(dir, 'r.md'), 'utf8'), 'mine\n');
  assert.deepEqual(readdirSync(dir), ['r.md'], 'not even the file that did not exist was written');
  // What an editor asks before offering to overwrite.
  assert.deepEqual(await existingReportFiles(dir, ['r.json', 'r.md']), [join(realpathSync(dir), 'r.md')]);
  assert.deepEqual(await existingReportFiles(join(dir, 'nope'), ['r.md']), []);
  const forced = await writeReportFiles(dir, files, { overwrite: true });
  assert.equal(forced.written.length, 2);
  assert.equal(readFileSync(join(dir, 'r.md'), 'utf8'), '# report\n');
});

test('a symlink out of the output folder is never written through', async () => {
  const tree = makeTree({ 'secret/target.md': 'do not touch\n' });
  const out = join(tree, 'out');
  mkdirSync(out);
  symlinkSync(join(tree, 'secret/target.md'), join(out, 'r.md'));
  // Without overwrite: refused, naming the link and where it goes.
  await assert.rejects(writeReportFiles(out, files), (e: Error) => e instanceof OutputPathError && /symbolic link out of/.test(e.message) && e.message.includes('target.md'));
  assert.equal(readFileSync(join(tree, 'secret/target.md'), 'utf8'), 'do not touch\n');
  assert.deepEqual(readdirSync(out), ['r.md']);
  // With overwrite: the link itself is replaced; its target is untouched.
  const r = await writeReportFiles(out, files, { overwrite: true });
  assert.equal(r.written.length, 2);
  assert.equal(readFileSync(join(tree, 'secret/target.md'), 'utf8'), 'do not touch\n');
  assert.equal(lstatSync(join(out, 'r.md')).isSymbolicLink(), false);
  assert.equal(readFileSync(join(out, 'r.md'), 'utf8'), '# report\n');
});

test('a dangling symlink at a target name counts as existing, and is not followed to create its target', async () => {
  const tree = makeTree({});
  const out = join(tree, 'out');
  mkdirSync(out);
  symlinkSync(join(tree, 'elsewhere/created.md'), join(out, 'r.md'));
  await assert.rejects(writeReportFiles(out, files), /symbolic link out of/);
  await writeReportFiles(out, files, { overwrite: true });
  assert.deepEqual(readdirSync(tree).sort(), ['out']);
});

test('file names must be plain names: no path out of the folder', async () => {
  const dir = makeTree({});
  await assert.rejects(writeReportFiles(join(dir, 'o'), [{ name: '../escape.md', content: 'x' }]), OutputPathError);
  await assert.rejects(writeReportFiles(join(dir, 'o'), [{ name: 'a/b.md', content: 'x' }]), OutputPathError);
  await assert.rejects(writeReportFiles(join(dir, 'o'), [{ name: '..', content: 'x' }]), OutputPathError);
  assert.deepEqual(readdirSync(dir), []);
});

test('the chosen output folder may itself be a symlink: files go where it resolves', async () => {
  const tree = makeTree({});
  mkdirSync(join(tree, 'real'));
  symlinkSync(join(tree, 'real'), join(tree, 'link'));
  const r = await writeReportFiles(join(tree, 'link'), files);
  assert.deepEqual(r.written, [join(realpathSync(tree), 'real/r.json'), join(realpathSync(tree), 'real/r.md')]);
});

test('cancelled before the renames: nothing is written and no temp file is left', async () => {
  const dir = makeTree({ 'keep.txt': 'k' });
  const ac = new AbortController();
  ac.abort();
  const r = await writeReportFiles(dir, files, { signal: ac.signal });
  assert.equal(r.cancelled, true);
  assert.deepEqual(readdirSync(dir), ['keep.txt']);
  // Aborted while the temp files are being written.
  const ac2 = new AbortController();
  const big = [{ name: 'a.bin', content: new Uint8Array(1 << 20) }, ...files];
  const p = writeReportFiles(dir, big, { signal: ac2.signal });
  setImmediate(() => ac2.abort());
  const r2 = await p;
  assert.equal(r2.cancelled, true);
  assert.deepEqual(readdirSync(dir), ['keep.txt']);
});
