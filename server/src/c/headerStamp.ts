// A header's stat as one string, and when facts read under it may be kept between runs.
//
// What is trusted: a header that `lstat` says is a regular file (a symlink is always
// read) and whose size, mtime, ctime, inode and device are those it had when its text
// was read has that text still. Every change to a file's contents sets its ctime to the
// time of the change, which no user can set back; what would break it is a change within
// the same timestamp tick as the read (the kernel's clock for file times is coarse: a
// tick of a few ms; FAT's is 2 s). So facts are kept only when the header's ctime and
// mtime are at least SETTLE_MS older than the read: git's rule for "racily clean" index
// entries. Assumed: the clock does not step back by more than SETTLE_MS between runs.
// Both stores that keep header facts by stat follow it: the header cache
// (headerCache.ts) and the result cache's key pass (cli/headerStamps.ts).

import type { Stats } from 'node:fs';

/** How old a header's ctime and mtime must be at its read for its facts to be kept: over two ticks of a 2 s-coarse filesystem. */
export const SETTLE_MS = 3000;

/** The stamp a header is kept under: lstat's size, mtime, ctime, inode and device; undefined unless a regular file. */
export function stampOf(st: Stats | undefined): string | undefined {
  return st?.isFile() ? `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev}` : undefined;
}

/** Whether a header stat'ed with these times when its read began at `readAt` (ms) may be kept (SETTLE_MS). */
export function settled(st: { ctimeMs: number; mtimeMs: number }, readAt: number): boolean {
  return st.ctimeMs + SETTLE_MS <= readAt && st.mtimeMs + SETTLE_MS <= readAt;
}

/** settled() of a stamp made by stampOf; false for anything else. */
export function stampSettled(stamp: string, readAt: number): boolean {
  const [, mtime, ctime] = stamp.split(':');
  return settled({ mtimeMs: Number(mtime), ctimeMs: Number(ctime) }, readAt);
}
