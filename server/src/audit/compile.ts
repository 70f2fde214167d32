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
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';

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
  const st = statSync(path);
  const hit = dbCache.get(path);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit.entries;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CompileError(`${path}: not valid JSON (${(e as Error).message})`);
  }
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
    const abs = isAbsolute(file) ? file : resolve(directory, file);
    entries.set(abs, { directory, file: abs, argv: argv ?? [] });
  }
  dbCache.set(path, { mtimeMs: st.mtimeMs, entries });
  return entries;
}

/** Flags that write next to the user's objects (dependency files) or name the output. */
const DROP_WITH_ARG = new Set(['-o', '-MF', '-MT', '-MQ']);
const DROP = /^(-MD|-MMD|-M|-MM|-MP|-Wp,-MMD,.*|-Wp,-MD,.*)$/;

/** The argv that compiles the entry's source into `output`, with debug info. */
export function buildArgv(entry: CompileEntry, output: string): string[] {
  if (!entry.argv.length) throw new CompileError(`no usable compile command for ${entry.file}`);
  const out: string[] = [];
  for (let i = 0; i < entry.argv.length; i++) {
    const a = entry.argv[i]!;
    if (DROP_WITH_ARG.has(a)) {
      i++;
      continue;
    }
    if (DROP.test(a) || (a.startsWith('-o') && a.length > 2 && i > 0)) continue;
    out.push(a);
  }
  if (!out.some((a) => /^-g(?!no)/.test(a) && a !== '-g0')) out.push('-g');
  if (!out.includes('-c')) out.push('-c');
  out.push('-o', output);
  return out;
}

export interface CompileResult {
  object: string;
  argv: string[];
  stderr: string;
  ms: number;
}

/** Children still running; killed on shutdown. */
const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
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

/** Kills every compile still running (server shutdown). */
export function killAllCompiles(): void {
  for (const c of running) killGroup(c);
  running.clear();
}

/**
 * Compiles the entry into a fresh temp directory. Rejects with CompileError on
 * a refused command, a non-zero exit, a timeout or cancellation; the process
 * group is killed in the last two cases.
 */
export function compileEntry(entry: CompileEntry, opts: { timeoutMs: number; signal?: AbortSignal; tmpRoot?: string }): Promise<CompileResult> {
  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), 'tdx-audit-'));
  const object = join(dir, basename(entry.file).replace(/\.[^.]+$/, '') + '.o');
  let argv: string[];
  try {
    argv = buildArgv(entry, object);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return Promise.reject(e);
  }
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    if (opts.signal?.aborted) {
      rmSync(dir, { recursive: true, force: true });
      reject(new CompileError('compile cancelled'));
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: entry.directory,
      shell: false,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    running.add(child);
    let stderr = '';
    let done = false;
    const finish = (err: CompileError | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      running.delete(child);
      if (err) {
        killGroup(child);
        rmSync(dir, { recursive: true, force: true });
        reject(err);
      } else resolvePromise({ object, argv, stderr, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(new CompileError(`compile of ${basename(entry.file)} timed out after ${Math.round(opts.timeoutMs / 1000)} s`)), opts.timeoutMs);
    const onAbort = () => finish(new CompileError('compile cancelled'));
    opts.signal?.addEventListener('abort', onAbort);
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString();
    });
    child.on('error', (e) => finish(new CompileError(`cannot start ${argv[0]}: ${e.message}`)));
    child.on('close', (code, sig) => {
      if (code === 0 && !existsSync(object)) finish(new CompileError(`${argv[0]} exited 0 but wrote no object (${object})`));
      else if (code === 0) finish(undefined);
      else finish(new CompileError(`${argv[0]} exited with ${code ?? sig}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`));
    });
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
