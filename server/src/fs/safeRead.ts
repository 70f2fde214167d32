// Reading a path the workspace controls. A kernel tree is a repository someone
// cloned: any name in it may be a symlink to /dev/zero, a FIFO that blocks open()
// and read() forever, a loop, or a 50 GB file. Every reader of such a path (sources,
// headers in the server and its index workers, triage, Makefile/.config, compile
// databases, objects) goes through here, so the rules live in one place:
//   - symlinks are resolved first (a loop is said as a loop, not "not found");
//   - only a regular file is read (stat before open, so a FIFO or device is never
//     opened; fstat after open, so a swap between the two is caught);
//   - inside the allowed roots where the caller names them (after resolution);
//   - never more than the cap: the size is checked before reading, and the read
//     stops at the cap even if the file grows (or lies, as /proc files do);
//   - with a deadline between chunks;
//   - failures are a typed SafeReadError whose message names the path and the reason
//     and never quotes the file's bytes.
// This module imports nothing from the rest of the server.

import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * One size policy for C sources and headers in the CLI, the server and the index:
 * the largest hand-written kernel C file is under 2 MB, the largest generated
 * register header (amdgpu's dcn_3_2_0_sh_mask.h) 24 MB.
 */
export const MAX_TEXT_BYTES = 32 * 1024 * 1024;
/** Small configuration files: a top-level Makefile, .config, triage.json. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Compile databases of a whole kernel build run to tens of MB. */
export const MAX_COMPILE_DB_BYTES = 256 * 1024 * 1024;
/** A default deadline for one read; local files take milliseconds. */
export const DEFAULT_DEADLINE_MS = 30_000;

export type SafeReadKind = 'missing' | 'loop' | 'not-regular' | 'outside' | 'too-large' | 'timeout' | 'io';

export class SafeReadError extends Error {
  constructor(
    readonly kind: SafeReadKind,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SafeReadOptions {
  /** Bytes; larger files are refused with kind 'too-large'. Default MAX_TEXT_BYTES. */
  maxBytes?: number;
  /** When set, the resolved path must lie inside one of these (themselves resolved). */
  roots?: readonly string[];
  /** Milliseconds for the whole read. Default DEFAULT_DEADLINE_MS. */
  deadlineMs?: number;
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 2 : 0)} MB`;

/** The one wording of the size policy, shown by the CLI, the server and the index. */
export function tooLargeMessage(path: string, size: number, cap: number): string {
  return `${path}: skipped: too large (${MiB(size)} > ${MiB(cap)})`;
}

function kindOfErrno(e: unknown): SafeReadKind {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
  if (code === 'ELOOP') return 'loop';
  return 'io';
}

function errnoError(path: string, e: unknown): SafeReadError {
  const kind = kindOfErrno(e);
  const why = kind === 'missing' ? 'no such file' : kind === 'loop' ? 'symlink loop' : ((e as NodeJS.ErrnoException).code ?? 'unreadable');
  return new SafeReadError(kind, path, `${path}: ${why}`);
}

function describeType(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** realpath, or the typed error (loop, missing). */
export function resolvePath(path: string): string {
  try {
    return realpathSync.native(resolve(path));
  } catch (e) {
    throw errnoError(path, e);
  }
}

const resolvedRoots = (roots: readonly string[]) =>
  roots.map((r) => {
    try {
      return realpathSync.native(resolve(r));
    } catch {
      return resolve(r);
    }
  });

/**
 * Resolves and checks a path without opening it: the real path and its stat, or a
 * SafeReadError. A FIFO, device, socket or directory is refused here, before any open().
 */
export function checkRegular(path: string, opts: Pick<SafeReadOptions, 'maxBytes' | 'roots'> = {}): { real: string; size: number; mtimeMs: number } {
  const real = resolvePath(path);
  if (opts.roots && !resolvedRoots(opts.roots).some((r) => isInside(r, real))) {
    throw new SafeReadError('outside', path, `${path}: resolves outside the workspace (${real})`);
  }
  return statRegular(path, real, opts.maxBytes ?? MAX_TEXT_BYTES);
}

/** The stat of `target` (symlinks followed) when it is a regular file within the cap, else the typed error naming `path`. */
function statRegular(path: string, target: string, cap: number): { real: string; size: number; mtimeMs: number } {
  let st: Stats;
  try {
    st = statSync(target);
  } catch (e) {
    throw errnoError(path, e);
  }
  if (!st.isFile()) throw new SafeReadError('not-regular', path, `${path}: skipped: ${describeType(st)}, not a regular file`);
  if (st.size > cap) throw new SafeReadError('too-large', path, tooLargeMessage(path, st.size, cap));
  return { real: target, size: st.size, mtimeMs: st.mtimeMs };
}

/** Opens a checked regular file without blocking (O_NONBLOCK) and re-checks the open fd. */
function openChecked(path: string, real: string, cap: number): number {
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw errnoError(path, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SafeReadError('not-regular', path, `${path}: skipped: ${describeType(st)}, not a regular file`);
    if (st.size > cap) throw new SafeReadError('too-large', path, tooLargeMessage(path, st.size, cap));
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Reads up to cap bytes of an open fd, in chunks, within the deadline. */
function readCapped(fd: number, path: string, cap: number, deadline: number, sizeHint: number): Buffer {
  const chunk = 1 << 20;
  // One byte past the stat size, so reaching EOF needs no second buffer.
  let buf = Buffer.allocUnsafe(Math.min(Math.max(sizeHint + 1, 4096), cap + 1));
  let len = 0;
  for (;;) {
    if (Date.now() > deadline) throw new SafeReadError('timeout', path, `${path}: read timed out`);
    if (len === buf.length) {
      if (buf.length > cap) break;
      const next = Buffer.allocUnsafe(Math.min(buf.length * 2, cap + 1));
      buf.copy(next, 0, 0, len);
      buf = next;
    }
    let n: number;
    try {
      n = readSync(fd, buf, len, Math.min(chunk, buf.length - len), null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw errnoError(path, e);
    }
    if (n === 0) break;
    len += n;
  }
  if (len > cap) throw new SafeReadError('too-large', path, tooLargeMessage(path, len, cap));
  return buf.subarray(0, len);
}

/** The bytes of a regular file under the rules above. Throws SafeReadError. */
export function safeReadBytes(path: string, opts: SafeReadOptions = {}): Buffer {
  const cap = opts.maxBytes ?? MAX_TEXT_BYTES;
  const deadline = Date.now() + (opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
  // Without roots nothing needs the real path: stat and open follow the symlinks
  // themselves (a loop is ELOOP, said as a loop; a dangling link is missing), and
  // realpath cost a readlink per component of the path (drivers/: ten per source).
  const { real, size } = opts.roots ? checkRegular(path, { maxBytes: cap, roots: opts.roots }) : statRegular(path, resolve(path), cap);
  const fd = openChecked(path, real, cap);
  try {
    return readCapped(fd, path, cap, deadline, size);
  } finally {
    closeSync(fd);
  }
}

/** The UTF-8 text of a regular file under the rules above. Throws SafeReadError. */
export function safeReadText(path: string, opts: SafeReadOptions = {}): string {
  return safeReadBytes(path, opts).toString('utf8');
}

/** The text, or undefined when the file does not exist; other failures throw SafeReadError. */
export function safeReadTextIfExists(path: string, opts: SafeReadOptions = {}): string | undefined {
  try {
    return safeReadText(path, opts);
  } catch (e) {
    if (e instanceof SafeReadError && e.kind === 'missing') return undefined;
    throw e;
  }
}

/** The text, or the reason it was not read (never throws). */
export function tryReadText(path: string, opts: SafeReadOptions = {}): { text: string } | { why: string; kind: SafeReadKind } {
  try {
    return { text: safeReadText(path, opts) };
  } catch (e) {
    if (e instanceof SafeReadError) return { why: e.message, kind: e.kind };
    return { why: `${path}: ${(e as Error).message}`, kind: 'io' };
  }
}

/**
 * The first `n` bytes of a regular file (a magic number, an ELF header) without
 * reading the rest: a 2 GB non-ELF file is refused after 64 bytes.
 */
export function safeReadHead(path: string, n: number, opts: Pick<SafeReadOptions, 'roots' | 'maxBytes'> = {}): { head: Buffer; real: string; size: number; mtimeMs: number } {
  const cap = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
  const info = checkRegular(path, { maxBytes: cap, roots: opts.roots });
  const fd = openChecked(path, info.real, cap);
  try {
    const head = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const k = readSync(fd, head, got, n - got, got);
      if (k === 0) break;
      got += k;
    }
    return { head: head.subarray(0, got), ...info };
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a regular file for the caller's own positioned reads (a sparse read of a
 * large ELF image). The caller closes the fd.
 */
export function safeOpen(path: string, opts: Pick<SafeReadOptions, 'roots' | 'maxBytes'> = {}): { fd: number; real: string; size: number; mtimeMs: number } {
  const cap = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
  const info = checkRegular(path, { maxBytes: cap, roots: opts.roots });
  return { fd: openChecked(path, info.real, cap), ...info };
}

/**
 * For a host's readFile (headers, a source's saved text): the text, or undefined for
 * any failure. The caller has nothing to say about a header it cannot read beyond
 * "not followed"; what matters is that /dev/zero or a FIFO is never read.
 */
export function readTextOrUndefined(path: string, opts: SafeReadOptions = {}): string | undefined {
  const r = tryReadText(path, opts);
  return 'text' in r ? r.text : undefined;
}

