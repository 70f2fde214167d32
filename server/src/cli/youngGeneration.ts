// The young generation (V8's nursery) of the CLI's threads. V8 flags are process-wide:
// the --max-semi-space-size the re-executed CLI gives its main thread (reexec.ts) caps
// every isolate of the process, worker threads too, whatever their resourceLimits ask.
// So the flag is lifted once the main thread's heap exists (V8 reads it when it
// configures a new isolate's heap), before the first worker starts.

import { setFlagsFromString } from 'node:v8';

/** The main thread's semi-space when the CLI re-executes itself (reexec.ts): 4 MB instead of 16 took its heap from 52-57 to 29-43 MB on drivers/. */
export const MAIN_SEMI_SPACE_FLAG = '--max-semi-space-size=4';

/** Set in the re-executed child's environment when it added MAIN_SEMI_SPACE_FLAG (the user's own flag is left alone). */
export const MAIN_SEMI_SPACE_MARK = 'TDX_AUDIT_MAIN_SEMI_SPACE';

let lifted = false;

/**
 * Lets worker isolates started from now on size their young generation from their
 * resourceLimits (maxYoungGenerationSizeMb) instead of the main thread's flag; the main
 * thread keeps the semi-space it was started with. Does nothing unless reexec.ts set the flag.
 */
export function liftMainSemiSpaceCap(env: NodeJS.ProcessEnv = process.env): boolean {
  if (lifted || env[MAIN_SEMI_SPACE_MARK] !== '1') return lifted;
  // 0 is V8's "not set": a new isolate's heap then takes its constraints (the worker's resourceLimits).
  setFlagsFromString('--max-semi-space-size=0');
  return (lifted = true);
}

/**
 * Each worker's young generation when more than one runs (V8 splits it into two
 * semi-spaces and a new large-object space of a third each): 12 MB instead of V8's 48,
 * so each worker keeps 8 MB of new space committed instead of 32. With two workers on
 * drivers/ (and glibc's arenas limited, reexec.ts) V8's pages at the peak went from 383
 * to 347 MiB (runs in different pairs: 4 % more CPU, within what the load moved;
 * BENCHMARKS.md, "Two workers in 500 MB"). A larger one does not cut the copying: on
 * drivers/net/ethernet/intel, 12, 24 and 48 MB all copied ~230 MB within the new space and
 * promoted ~240 MB (V8's --trace-gc-nvp), in 316, 194 and 124 scavenges
 * (BENCHMARKS.md, "Worker threads' own cost").
 */
const WORKER_YOUNG_MB = 12;

/**
 * The young generation (maxYoungGenerationSizeMb) a pool worker is started with, or
 * undefined for V8's own (one worker: it has the machine to itself).
 * TDX_AUDIT_WORKER_YOUNG_MB (at least 3) overrides it, for any number of workers.
 */
export function workerYoungMb(threads: number, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = Number(env.TDX_AUDIT_WORKER_YOUNG_MB);
  if (env.TDX_AUDIT_WORKER_YOUNG_MB && Number.isInteger(v) && v >= 3) return v;
  return threads > 1 ? WORKER_YOUNG_MB : undefined;
}
