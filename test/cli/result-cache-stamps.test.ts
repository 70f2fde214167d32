// The key pass trusts a header's stat between runs (headerStamps.ts): a regular file
// whose lstat (size, mtime, ctime, inode, device) is the one its facts were kept
// under is not read. Safe only because facts are kept when the header's ctime is
// SETTLE_MS older than the read: a same-size rewrite in the same timestamp tick as the
// read would keep every field of the stat. The tests freeze the times a filesystem
// reports (as a coarse one would, or a rewrite within one tick) to show both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultCache } from '../../server/src/cli/resultCache';
import { HeaderClosures } from '../../server/src/cli/resultKeys';
import { HeaderStamps, STAMPS_KEY } from '../../server/src/cli/headerStamps';
import { SETTLE_MS } from '../../server/src/c/headerStamp';

/** A filesystem whose every file reports mtime and ctime `at` (ms): what a rewrite within one tick looks like. */
const frozenAt = (at: number) => (p: string): Stats | undefined => {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (st) {
    st.mtimeMs = at;
    st.ctimeMs = at;
  }
  return st;
};

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-stamps-'));
  const header = join(dir, 'regs.h');
  const file = join(dir, 'a.c');
  writeFileSync(header, '#define REG_A 0x10\n');
  const text = '#include "regs.h"\nvoid f(void) {}\n';
  writeFileSync(file, text);
  const store = ResultCache.open(join(dir, 'cache'), () => {});
  if ('error' in store) throw new Error(store.error);
  /** One run's key pass over a.c: its closure's digest, the kept facts loaded before and saved after. */
  const run = (lstat: (p: string) => Stats | undefined) => {
    const h = new HeaderClosures(undefined, lstat);
    const stamps = HeaderStamps.load(store);
    h.useStamps(stamps);
    const d = h.digest(file, text);
    stamps.save(store);
    return d;
  };
  return { dir, header, store, run };
}

test('a same-size rewrite within the tick of the read is seen: a header that recent is never kept', () => {
  const { dir, header, store, run } = setup();
  try {
    const tick = Date.now() - 100; // the header's times as the filesystem reports them: now
    const first = run(frozenAt(tick));
    assert.equal(store.get(STAMPS_KEY, (v): v is unknown => true), undefined, 'nothing kept: the header changed less than SETTLE_MS ago');
    // Rewritten, the same size, the same inode, in the same tick: its stat is the same.
    writeFileSync(header, '#define REG_B 0x10\n');
    const second = run(frozenAt(tick));
    assert.notEqual(second, first, 'the new text is read');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a settled header is kept and not read while its stat stays; any other stat reads it', () => {
  const { dir, header, store, run } = setup();
  try {
    const old = Date.now() - SETTLE_MS - 10_000;
    const first = run(frozenAt(old));
    assert.ok(store.get(STAMPS_KEY, (v): v is unknown => true), 'the facts are kept');
    // What is trusted, exactly: the same lstat. A rewrite that kept all of it (only a
    // clock set back could) is not read: the digest stays the first text's.
    writeFileSync(header, '#define REG_B 0x10\n');
    assert.equal(run(frozenAt(old)), first);
    // Any field of the stat otherwise: read again (the times here; size, inode and device alike).
    assert.notEqual(run(frozenAt(old + 1)), first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a header reached through a symlink is always read', () => {
  const { dir, header, store } = setup();
  try {
    const real = join(dir, 'real.h');
    writeFileSync(real, '#define REG_A 0x10\n');
    rmSync(header);
    symlinkSync(real, header);
    const old = Date.now() - SETTLE_MS - 10_000;
    const h = new HeaderClosures(undefined, frozenAt(old));
    const stamps = HeaderStamps.load(store);
    h.useStamps(stamps);
    h.digest(join(dir, 'a.c'), '#include "regs.h"\n');
    stamps.save(store);
    const kept = store.get(STAMPS_KEY, (v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
    assert.ok(!kept || !(header in kept.value), 'the symlink is not kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
