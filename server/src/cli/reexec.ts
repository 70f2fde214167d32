// The CLI started again, once, with glibc's malloc held to two arenas when it will run
// more than one worker thread. glibc gives each thread that allocates its own arena (up
// to 8 per core) and keeps what a thread freed in that arena's heap: with two workers
// (V8's compiler zones, tree-sitter's and iced-x86's host allocations, libuv's pool)
// the arenas held 122-136 MiB at drivers/' peak against ~87 MiB with two arenas
// (BENCHMARKS.md, "Two workers in 500 MB"). glibc reads MALLOC_ARENA_MAX only when
// the process starts, and node cannot exec itself in place, so the first process
// becomes a parent that only waits: the child inherits stdin, stdout and stderr (its
// bytes go straight to them), gets every signal the parent gets, and its exit code or
// the signal it died of becomes the parent's.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { defaultJobs } from './pool';
import { MAIN_SEMI_SPACE_FLAG, MAIN_SEMI_SPACE_MARK } from './youngGeneration';

/** Set in the child's environment: a process that has it never starts another. */
export const REEXEC_MARK = 'TDX_AUDIT_REEXECUTED';
const ARENAS = '2';

/** Signals a CI runner or a terminal sends that the child must see too (the parent only waits). */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/** Worker threads a scan or report command line asks for: its last --jobs/-j, else the default. */
export function jobsOf(argv: readonly string[]): number {
  let jobs = defaultJobs();
  for (let i = 1; i < argv.length; i++) if ((argv[i] === '--jobs' || argv[i] === '-j') && /^[1-9]\d{0,2}$/.test(argv[i + 1] ?? '')) jobs = Number(argv[i + 1]);
  return jobs;
}

/** Whether this process is glibc's (only glibc reads MALLOC_ARENA_MAX; musl and other systems would start a child for nothing). */
function glibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/**
 * Whether `argv` (the command and its arguments) should run in a child with the
 * arena limit: scan and report with more than one job, on glibc, when neither the
 * user (MALLOC_ARENA_MAX, or GLIBC_TUNABLES naming arena_max) nor an earlier start
 * (REEXEC_MARK) has set it. TDX_AUDIT_NO_REEXEC=1 turns it off.
 */
export function wantsReexec(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, isGlibc: () => boolean = glibc): boolean {
  if (env[REEXEC_MARK] || env.TDX_AUDIT_NO_REEXEC === '1') return false;
  if (env.MALLOC_ARENA_MAX || /arena_max/.test(env.GLIBC_TUNABLES ?? '')) return false;
  if (argv[0] !== 'scan' && argv[0] !== 'report') return false;
  return jobsOf(argv) > 1 && isGlibc();
}

/**
 * Runs this script again with `argv` and the arena limit, and resolves to the exit code
 * the parent should end with; a child killed by a signal kills the parent with the same
 * signal (the promise then never resolves).
 */
export function reexec(argv: readonly string[]): Promise<number> {
  const script = process.argv[1]!;
  // The main thread's young generation too (the workers' is set per worker, pool.ts):
  // semi-spaces of 4 MB instead of 16 took its heap from 52-57 to 29-43 MB on drivers/.
  const semi = process.execArgv.some((a) => a.startsWith('--max-semi-space-size')) ? [] : [MAIN_SEMI_SPACE_FLAG];
  const child = spawn(process.execPath, [...semi, ...process.execArgv, script, ...argv], {
    stdio: 'inherit',
    env: { ...process.env, MALLOC_ARENA_MAX: ARENAS, [REEXEC_MARK]: '1', ...(semi.length ? { [MAIN_SEMI_SPACE_MARK]: '1' } : {}) },
  });
  const forward = (sig: NodeJS.Signals) => {
    child.kill(sig);
  };
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise<number>((resolve) => {
    child.on('error', (e) => {
      for (const s of FORWARDED) process.off(s, forward);
      process.stderr.write(`tdx-audit: could not start the scan's process: ${e.message}\n`);
      resolve(2);
    });
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      if (signal) {
        // Die the same way (a shell or CI then sees 128+n, and a core dump setting applies).
        process.kill(process.pid, signal);
        // Not reached once the signal is delivered; what a shell would say of it otherwise.
        setTimeout(() => resolve(128 + (constants.signals[signal] ?? 0)), 1000);
        return;
      }
      resolve(code ?? 2);
    });
  });
}
