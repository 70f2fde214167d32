// Compiling one file from compile_commands.json into a temporary directory, to
// read its compiled form when no object is at hand (or it is stale).
//
// The command comes from the workspace, so: callers only get here in a trusted
// workspace; the command is split into argv here and started without a shell
// (a command that needs one is refused, not run); every run has a timeout and
// can be cancelled, and the whole process group (gcc → cc1 → as) is killed;
// the user's build tree is never written (the object goes to a temp dir and
// dependency-file flags are dropped).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { checkRegular, MAX_COMPILE_DB_BYTES, SafeReadError, safeReadText } from '../fs/safeRead';
import { filterCompileArgs, type FilteredArgv } from './compileArgs';
import { killTagged } from './processTree';

export interface CompileEntry {
  directory: string;
  /** Absolute path of the source. */
  file: string;
  argv: string[];
}

export class CompileError extends Error {}

/**
 * Splits a compile command as a POSIX shell would split words, without any
 * expansion. Quoting and backslashes are honoured; an unquoted shell operator
 * or expansion ($, `, ;, |, &, <, >, parentheses, globs) means the command
 * needs a shell, and we refuse it rather than guess.
 */
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      if (end < 0) throw new CompileError('unterminated single quote in the compile command');
      cur += cmd.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < cmd.length && cmd[i] !== '"'; i++) {
        const d = cmd[i]!;
        if (d === '\\' && i + 1 < cmd.length && '"\\$`\n'.includes(cmd[i + 1]!)) cur += cmd[++i];
        else if (d === '$' || d === '`') throw new CompileError(`the compile command uses shell expansion (${d} inside double quotes); refusing to run it without a shell`);
        else cur += d;
      }
      if (i >= cmd.length) throw new CompileError('unterminated double quote in the compile command');
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < cmd.length) cur += cmd[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (';|&<>()$`*?[]{}~#'.includes(c) && !(c === '#' && inWord) && !(c === '~' && inWord)) {
      throw new CompileError(`the compile command contains the shell operator '${c}'; refusing to run it without a shell`);
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

interface DbCache {
  mtimeMs: number;
  entries: Map<string, CompileEntry>;
}
const dbCache = new Map<string, DbCache>();

/** Entries of a compile_commands.json by absolute source path (cached by mtime). */
export function loadCompileCommands(path: string): Map<string, CompileEntry> {
  let st;
  try {
    // A FIFO named compile_commands.json blocked the server's main thread on open().
    st = checkRegular(path, { maxBytes: MAX_COMPILE_DB_BYTES });
  } catch (e) {
    throw new CompileError(e instanceof SafeReadError ? e.message : `${path}: ${(e as Error).message}`);
  }
  const hit = dbCache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.entries;
  let raw: unknown;
  let text: string;
  try {
    text = safeReadText(path, { maxBytes: MAX_COMPILE_DB_BYTES });
  } catch (e) {
    throw new CompileError(e instanceof SafeReadError ? e.message : `${path}: ${(e as Error).message}`);
  }
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new CompileError(`${path}: not valid JSON${at ? ` (at byte ${at})` : ''}`);
  }
  // JSON Compilation Database: "directory" is the working directory of the
  // compile; a relative one is taken relative to the database's own folder (as
  // clang's JSONCompilationDatabase does), never to whatever cwd we run in.
  const dbDir = dirname(resolve(path));
  if (!Array.isArray(raw)) throw new CompileError(`${path}: expected a JSON array of compile commands`);
  const entries = new Map<string, CompileEntry>();
  for (const e of raw) {
    if (typeof e !== 'object' || e === null) continue;
    const { directory, file, arguments: args, command } = e as Record<string, unknown>;
    if (typeof directory !== 'string' || typeof file !== 'string') continue;
    let argv: string[] | undefined;
    if (Array.isArray(args) && args.every((a) => typeof a === 'string')) argv = args as string[];
    else if (typeof command === 'string') {
      try {
        argv = splitCommand(command);
      } catch {
        argv = undefined; // reported when this file is compiled
      }
    }
    const dir = resolve(dbDir, directory);
    const abs = isAbsolute(file) ? file : resolve(dir, file);
    entries.set(abs, { directory: dir, file: abs, argv: argv ?? [] });
  }
  dbCache.set(path, { mtimeMs: st.mtimeMs, entries });
  return entries;
}

/**
 * The argv that compiles the entry's source into `output`, with debug info: the
 * command's options filtered by kind (compileArgs.ts), so nothing but `output` is
 * written. `dropped` says what was left out and why.
 */
export function buildCompile(entry: CompileEntry, output: string): { argv: string[]; dropped: FilteredArgv['dropped'] } {
  if (!entry.argv.length) throw new CompileError(`no usable compile command for ${entry.file}`);
  const f = filterCompileArgs(entry.argv, (a) => resolve(entry.directory, a) === entry.file);
  const out = f.argv;
  if (!out.slice(1).some((a) => resolve(entry.directory, a) === entry.file)) throw new CompileError(`the compile command for ${entry.file} does not name it`);
  if (!out.some((a) => /^-g(?!no)/.test(a) && a !== '-g0')) out.push('-g');
  if (!out.includes('-c')) out.push('-c');
  out.push('-o', output);
  return { argv: out, dropped: f.dropped };
}

/** The argv alone (see buildCompile). */
export function buildArgv(entry: CompileEntry, output: string): string[] {
  return buildCompile(entry, output).argv;
}

export interface CompileResult {
  object: string;
  argv: string[];
  /** Arguments of the database's command that were left out, with why. */
  dropped: FilteredArgv['dropped'];
  stderr: string;
  ms: number;
}

/** Compiles still running, with the tag their processes carry; killed on every way the server ends. */
const running = new Map<ChildProcess, string>();
/** Temp dirs of compiles, removed when their object is replaced and when the server ends. */
const tempDirs = new Set<string>();

/** The environment variable every process of one compile inherits (processTree.ts). */
export const COMPILE_TAG_VAR = 'TDX_AUDIT_COMPILE';

/**
 * Kills a compile's whole tree: its process group (gcc -> cc1 -> as) and every
 * process carrying its tag, which also finds a child that called setsid() and
 * was reparented to init.
 */
function killTree(child: ChildProcess, tag: string): void {
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  killTagged(COMPILE_TAG_VAR, tag);
}

/** Kills every compile still running (shutdown, exit, a signal). Synchronous, so it works in process.on('exit'). */
export function killAllCompiles(): void {
  for (const [c, tag] of running) killTree(c, tag);
  running.clear();
}

/** Removes a compile's temp dir (its object was replaced or is no longer wanted). */
export function removeCompileDir(object: string): void {
  const dir = dirname(object);
  if (!tempDirs.has(dir)) return;
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Removes every compile temp dir (the server ends). */
export function removeAllCompileDirs(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * Compiles the entry into a fresh temp directory. Rejects with CompileError on
 * a refused command, a non-zero exit, a timeout or cancellation; the process
 * group is killed in the last two cases.
 */
export function compileEntry(entry: CompileEntry, opts: { timeoutMs: number; signal?: AbortSignal; tmpRoot?: string }): Promise<CompileResult> {
  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), 'tdx-audit-'));
  tempDirs.add(dir);
  const drop = () => {
    tempDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  const object = join(dir, basename(entry.file).replace(/\.[^.]+$/, '') + '.o');
  let argv: string[];
  let dropped: FilteredArgv['dropped'];
  try {
    ({ argv, dropped } = buildCompile(entry, object));
  } catch (e) {
    drop();
    return Promise.reject(e);
  }
  const tag = `${process.pid}-${randomBytes(8).toString('hex')}`;
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    if (opts.signal?.aborted) {
      drop();
      reject(new CompileError('compile cancelled'));
      return;
    }
    // TMPDIR: gcc's own temporaries (-pipe aside) go to our dir too, not /tmp.
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: entry.directory,
      shell: false,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', TMPDIR: dir, [COMPILE_TAG_VAR]: tag },
    });
    running.set(child, tag);
    let stderr = '';
    let done = false;
    const finish = (err: CompileError | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      running.delete(child);
      // Whatever the compile left behind (a daemonised child) dies with it.
      killTree(child, tag);
      if (err) {
        drop();
        reject(err);
      } else resolvePromise({ object, argv, dropped, stderr, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(new CompileError(`compile of ${basename(entry.file)} timed out after ${Math.round(opts.timeoutMs / 1000)} s`)), opts.timeoutMs);
    const onAbort = () => finish(new CompileError('compile cancelled'));
    opts.signal?.addEventListener('abort', onAbort);
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString();
    });
    child.on('error', (e) => finish(new CompileError(`cannot start ${argv[0]}: ${e.message}`)));
    const settle = (code: number | null, sig: NodeJS.Signals | null) => {
      if (code === 0 && !existsSync(object)) finish(new CompileError(`${argv[0]} exited 0 but wrote no object (${object})`));
      else if (code === 0) finish(undefined);
      else finish(new CompileError(`${argv[0]} exited with ${code ?? sig}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`));
    };
    child.on('close', settle);
    // 'close' waits for stderr to close, which a daemon the compiler left behind
    // holds open: after the compiler's exit, give stderr a moment, then settle
    // (finish kills what is left).
    child.on('exit', (code, sig) => setTimeout(() => settle(code, sig), 250));
  });
}

/** compile_commands.json candidates for a source: the workspace root and the build directory. */
export function findCompileEntry(source: string, dbPaths: string[]): CompileEntry | undefined {
  const abs = resolve(source);
  for (const db of dbPaths) {
    try {
      const e = loadCompileCommands(db).get(abs);
      if (e) return e;
    } catch {
      continue;
    }
  }
  return undefined;
}
