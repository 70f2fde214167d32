// Writing report files safely:
// - atomically: each file is written to a temp file in the same folder, then renamed
//   over the target, so a reader never sees half a report;
// - all or nothing: every temp file is written before the first rename, and a
//   cancellation before that point removes the temps and writes nothing;
// - never silently over an existing file: without `overwrite` existing targets are
//   returned and nothing is written;
// - never outside the chosen folder: names are plain file names, the folder is
//   resolved with realpath, and a symlink at a target name is never written through
//   (rename replaces the link itself; the file it points to is untouched).

import { linkSync, renameSync, unlinkSync } from 'node:fs';
import { lstat, mkdir, open, realpath, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, join, sep } from 'node:path';

export interface OutputFile {
  /** Plain file name inside the output folder (no directory part). */
  name: string;
  /**
   * The bytes, or a function that renders them when the file is written, or the
   * pieces of the text to write as they are made (`chunks`): a whole tree's SARIF
   * and JSON run to hundreds of MB each; written in pieces neither exists as one
   * string, and the files are rendered one at a time.
   */
  content: string | Uint8Array | (() => string | Uint8Array) | { chunks: () => Iterable<string> };
}

/** A file's whole text (tests, and callers that want a small report as one string). */
export function outputText(f: OutputFile): string {
  const c = f.content;
  if (typeof c === 'object' && 'chunks' in c) return [...c.chunks()].join('');
  const v = typeof c === 'function' ? c() : c;
  return typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
}

/** Pieces are gathered into a buffer of this many bytes, written when the next piece would not fit. */
const WRITE_BATCH = 1 << 20;

export interface WriteOptions {
  /** Replace existing files (the CLI's --force; the editor asks first). */
  overwrite?: boolean;
  /** Aborting before the renames leaves the folder as it was. */
  signal?: AbortSignal;
}

export interface WriteResult {
  /** Absolute paths written. Empty when nothing was written. */
  written: string[];
  /** Targets that exist and were left alone (overwrite not set): nothing was written then. */
  exists: string[];
  cancelled: boolean;
}

export class OutputPathError extends Error {}

function checkName(name: string): void {
  if (!name || name === '.' || name === '..' || name !== basename(name) || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new OutputPathError(`report file name ${JSON.stringify(name)} must be a plain file name`);
  }
}

const within = (base: string, p: string) => p === base || p.startsWith(base.endsWith(sep) ? base : base + sep);

async function existing(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeReportFiles(outDir: string, files: OutputFile[], opts: WriteOptions = {}): Promise<WriteResult> {
  for (const f of files) checkName(f.name);
  if (new Set(files.map((f) => f.name)).size !== files.length) throw new OutputPathError('two report files have the same name');
  await mkdir(outDir, { recursive: true });
  // The folder the user chose, with its own symlinks resolved: that is where files go.
  const base = await realpath(outDir);
  const targets = files.map((f) => join(base, f.name));

  const exists: string[] = [];
  for (const t of targets) {
    const st = await existing(t);
    if (!st) continue;
    if (st.isDirectory()) throw new OutputPathError(`${t} is a directory`);
    if (st.isSymbolicLink()) {
      // Said plainly, so nobody believes the report went to where the link points.
      let dest: string | undefined;
      try {
        dest = await realpath(t);
      } catch {
        dest = undefined;
      }
      if (dest === undefined || !within(base, dest)) {
        if (!opts.overwrite) {
          throw new OutputPathError(`${t} is a symbolic link out of ${base}${dest ? ` (to ${dest})` : ''}; remove it or use --force to replace the link itself`);
        }
      }
    }
    exists.push(t);
  }
  if (exists.length && !opts.overwrite) return { written: [], exists, cancelled: false };
  if (opts.signal?.aborted) return { written: [], exists: [], cancelled: true };

  const temps: string[] = [];
  const cleanup = async () => {
    await Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
  };
  try {
    for (let i = 0; i < files.length; i++) {
      const tmp = join(base, `.${files[i].name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      // 'wx': O_CREAT|O_EXCL, which fails on any existing name, a planted symlink included.
      const fh = await open(tmp, 'wx', 0o644);
      temps.push(tmp);
      let stopped = false;
      try {
        const c = files[i].content;
        if (typeof c === 'object' && 'chunks' in c) {
          // Pieces are encoded into one reused buffer, not joined into a string per batch: a
          // 1 MB string lives in V8's large-object space until a full collection, and the
          // hundreds of them a drivers/ report's JSON and SARIF make piled up to 240 MB
          // of the main thread's heap between collections (issue 15, report's peak RSS).
          const buffer = Buffer.allocUnsafe(WRITE_BATCH);
          let size = 0;
          const flush = async () => {
            for (let done = 0; done < size; ) done += (await fh.write(buffer, done, size - done)).bytesWritten;
            size = 0;
          };
          for (const piece of c.chunks()) {
            const bytes = Buffer.byteLength(piece);
            if (size + bytes > WRITE_BATCH) {
              await flush();
              // A long file stops at the next batch rather than at its end.
              if (opts.signal?.aborted) {
                stopped = true;
                break;
              }
            }
            // A piece larger than the buffer (Markdown is one string) is written on its own.
            if (bytes > WRITE_BATCH) await fh.write(piece);
            else size += buffer.write(piece, size);
          }
          if (!stopped && size) await flush();
        } else await fh.writeFile(typeof c === 'function' ? c() : c);
        if (!stopped) await fh.sync();
      } finally {
        await fh.close();
      }
      if (opts.signal?.aborted) {
        await cleanup();
        return { written: [], exists: [], cancelled: true };
      }
    }
    // The folder must still be the one checked (not swapped for a link meanwhile).
    if ((await realpath(outDir)) !== base) throw new OutputPathError(`${outDir} changed while the report was written`);
    if (opts.signal?.aborted) {
      await cleanup();
      return { written: [], exists: [], cancelled: true };
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  // Commits only from here: no await between them and the abort check above, so a
  // signal handler cannot run in the middle and leave a partial set.
  const written: string[] = [];
  if (!opts.overwrite) {
    // link() fails with EEXIST if the name appeared since it was checked (another
    // run writing into the same folder): a check-then-rename would replace that
    // run's file silently. On the first clash the files this run linked are taken
    // back and the clash is reported as an existing file.
    try {
      for (let i = 0; i < files.length; i++) {
        try {
          linkSync(temps[i], targets[i]);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          for (const w of written) unlinkSync(w);
          await cleanup();
          return { written: [], exists: [targets[i]], cancelled: false };
        }
        written.push(targets[i]);
      }
    } catch (e) {
      for (const w of written) {
        try {
          unlinkSync(w);
        } catch {
          // already gone
        }
      }
      await cleanup();
      throw e;
    }
    await cleanup();
    return { written, exists, cancelled: false };
  }
  try {
    for (let i = 0; i < files.length; i++) {
      renameSync(temps[i], targets[i]);
      written.push(targets[i]);
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { written, exists, cancelled: false };
}

/** Used by tests and callers that only want to know what would be replaced. */
export async function existingReportFiles(outDir: string, names: string[]): Promise<string[]> {
  let base: string;
  try {
    base = await realpath(outDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) if (await existing(join(base, n))) out.push(join(base, n));
  return out;
}
