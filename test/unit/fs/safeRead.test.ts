// fs/safeRead and fs/walk: every reader of a workspace path goes through them, so
// each hostile shape a cloned tree can hold is pinned here by name.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safeReadText, safeReadHead, SafeReadError, tryReadText, MAX_TEXT_BYTES, tooLargeMessage } from '../../../server/src/fs/safeRead';
import { walkFiles } from '../../../server/src/fs/walk';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'tdx-safe-'));
  dirs.push(d);
  return d;
}
const mkfifo = (p: string) => execFileSync('mkfifo', [p]);
const kindOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SafeReadError, `a SafeReadError, not ${String(e)}`);
    return (e as SafeReadError).kind;
  }
  return 'read';
};

describe('safeRead', () => {
  test('a symlink to /dev/zero is refused without reading (not a regular file)', () => {
    const d = tree();
    symlinkSync('/dev/zero', join(d, 'triage.json'));
    assert.equal(kindOf(() => safeReadText(join(d, 'triage.json'))), 'not-regular');
    const r = tryReadText(join(d, 'triage.json'));
    assert.ok('why' in r && /character device, not a regular file/.test(r.why));
  });

  test('a FIFO is refused without blocking on open()', () => {
    const d = tree();
    mkfifo(join(d, 'f.c'));
    assert.equal(kindOf(() => safeReadText(join(d, 'f.c'))), 'not-regular');
  });

  test('without roots (no realpath) each shape reads or fails as with roots (realpath first), with the same message', () => {
    const d = tree();
    mkdirSync(join(d, 'real'));
    writeFileSync(join(d, 'real/x.c'), 'int x;\n');
    symlinkSync(join(d, 'real'), join(d, 'dirlink'));
    symlinkSync(join(d, 'real/x.c'), join(d, 'filelink.c'));
    symlinkSync(join(d, 'real/gone.c'), join(d, 'dangling.c'));
    symlinkSync(join(d, 'loop2.c'), join(d, 'loop1.c'));
    symlinkSync(join(d, 'loop1.c'), join(d, 'loop2.c'));
    symlinkSync('/dev/zero', join(d, 'zero.c'));
    mkfifo(join(d, 'real/fifo.c'));
    symlinkSync(join(d, 'real/fifo.c'), join(d, 'fifolink.c'));
    writeFileSync(join(d, 'real/big.c'), 'x'.repeat(64));
    const cases: [string, string][] = [
      ['real/x.c', 'read'], ['dirlink/x.c', 'read'], ['filelink.c', 'read'], ['dangling.c', 'missing'], ['real/x.c/y.c', 'missing'],
      ['loop1.c', 'loop'], ['dirlink/../real/x.c', 'read'], ['zero.c', 'not-regular'], ['fifolink.c', 'not-regular'], ['real', 'not-regular'], ['real/big.c', 'too-large'],
    ];
    for (const [rel, kind] of cases) {
      const p = join(d, rel);
      const plain = tryReadText(p, { maxBytes: 32 });
      // roots: `/` lets everything in, and makes the reader resolve the path first.
      const resolved = tryReadText(p, { maxBytes: 32, roots: ['/'] });
      assert.deepEqual(plain, resolved, rel);
      assert.equal('text' in plain ? 'read' : plain.kind, kind, rel);
    }
  });

  test('a symlink loop is said as a loop', () => {
    const d = tree();
    symlinkSync(join(d, 'b'), join(d, 'a'));
    symlinkSync(join(d, 'a'), join(d, 'b'));
    const r = tryReadText(join(d, 'a'));
    assert.ok('why' in r && r.kind === 'loop' && /symlink loop/.test(r.why), JSON.stringify(r));
  });

  test('a file over the cap is skipped as too large, with the one message', () => {
    const d = tree();
    const p = join(d, 'big.c');
    const fd = openSync(p, 'w');
    ftruncateSync(fd, MAX_TEXT_BYTES + 1);
    closeSync(fd);
    const r = tryReadText(p);
    assert.ok('why' in r && r.kind === 'too-large');
    assert.equal(r.why, tooLargeMessage(p, MAX_TEXT_BYTES + 1, MAX_TEXT_BYTES));
    assert.match(r.why, /skipped: too large \(32 MB > 32 MB\)/);
  });

  test('a path that resolves outside the roots is refused, inside is read', () => {
    const d = tree();
    const other = tree();
    writeFileSync(join(other, 'secret.h'), 'int secret;');
    symlinkSync(join(other, 'secret.h'), join(d, 'x.h'));
    writeFileSync(join(d, 'ok.h'), 'int ok;');
    assert.equal(kindOf(() => safeReadText(join(d, 'x.h'), { roots: [d] })), 'outside');
    assert.equal(safeReadText(join(d, 'ok.h'), { roots: [d] }), 'int ok;');
  });

  test('the head of a 2 GB file is read without reading the rest', () => {
    const d = tree();
    const p = join(d, 'vmlinux');
    const fd = openSync(p, 'w');
    ftruncateSync(fd, 2 * 1024 ** 3); // sparse: no disk, but stat says 2 GB
    closeSync(fd);
    const before = process.memoryUsage().rss;
    const h = safeReadHead(p, 64);
    assert.equal(h.head.length, 64);
    assert.equal(h.size, 2 * 1024 ** 3);
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
  });

  test('a missing file is kind missing, and an ordinary file reads whole', () => {
    const d = tree();
    assert.equal(kindOf(() => safeReadText(join(d, 'nope.c'))), 'missing');
    writeFileSync(join(d, 'a.c'), 'x'.repeat(100_000));
    assert.equal(safeReadText(join(d, 'a.c')).length, 100_000);
  });
});

describe('walkFiles', () => {
  const c = (n: string) => /\.[ch]$/.test(n);

  test('directory symlink loops end and each file is listed once', () => {
    const d = tree();
    mkdirSync(join(d, 'd'));
    writeFileSync(join(d, 'd', 'a.c'), 'int a;');
    symlinkSync('.', join(d, 'd', 'l1'));
    symlinkSync('.', join(d, 'd', 'l2'));
    symlinkSync('..', join(d, 'd', 'up'));
    const r = walkFiles([d], { match: c });
    assert.deepEqual(r.files, [join(d, 'd', 'a.c')]);
  });

  test('a FIFO named f.c and z.c -> /dev/zero are skipped with the reason, never opened', () => {
    const d = tree();
    mkfifo(join(d, 'f.c'));
    symlinkSync('/dev/zero', join(d, 'z.c'));
    writeFileSync(join(d, 'ok.c'), 'int ok;');
    const r = walkFiles([d], { match: c });
    assert.deepEqual(r.files, [join(d, 'ok.c')]);
    assert.deepEqual(r.skipped.map((s) => [s.path, s.why]).sort(), [
      [join(d, 'f.c'), 'a FIFO, not a regular file'],
      [join(d, 'z.c'), 'a character device, not a regular file'],
    ]);
  });

  test('a file symlink loop is reported as a loop, and a deep tree does not overflow the stack', () => {
    const d = tree();
    symlinkSync(join(d, 'y.c'), join(d, 'x.c'));
    symlinkSync(join(d, 'x.c'), join(d, 'y.c'));
    let p = d;
    for (let i = 0; i < 300; i++) {
      p = join(p, 'n');
      mkdirSync(p);
    }
    writeFileSync(join(p, 'deep.c'), 'int d;');
    const r = walkFiles([d], { match: c });
    assert.deepEqual(r.files, [join(p, 'deep.c')]);
    assert.ok(r.skipped.some((s) => s.why === 'symlink loop'));
  });

  test('files come in name order with subfolders where their names sort', () => {
    const d = tree();
    mkdirSync(join(d, 'b'));
    writeFileSync(join(d, 'a.c'), '');
    writeFileSync(join(d, 'b', 'x.c'), '');
    writeFileSync(join(d, 'c.c'), '');
    assert.deepEqual(walkFiles([d], { match: c }).files, [join(d, 'a.c'), join(d, 'b', 'x.c'), join(d, 'c.c')]);
  });
});
