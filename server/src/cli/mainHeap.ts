// The main thread's heap while worker threads audit (pool.ts). The main thread only
// hands out paths, takes each answer (a structured clone of the file's results) and
// writes it; what it keeps between files is small (~20 MB on drivers/), but the
// answers outlive a scavenge or two while they wait for the writer, so they are
// promoted, and V8 lets the old generation grow to several times what is live before
// it collects it: on drivers/ the main thread's heap went from 24 to 64 MB by the
// intel NIC drivers, 55 MB used of which 20 MB survived the next full collection,
// and those 64 MB were part of the run's peak (BENCHMARKS.md, "drivers/ with a margin").
// The main thread is idle most of the run, so a full collection now and then costs it
// nothing the workers wait for.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The main thread's heap (V8's committed heap, MB) above which it is collected in full. */
export const MAIN_HEAP_MB = 40;

/** MAIN_HEAP_MB, or TDX_AUDIT_MAIN_HEAP_MB's (0: never collect; for measurements). */
export function mainHeapMb(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = Number(env.TDX_AUDIT_MAIN_HEAP_MB);
  if (env.TDX_AUDIT_MAIN_HEAP_MB === undefined || env.TDX_AUDIT_MAIN_HEAP_MB === '' || !Number.isInteger(v) || v < 0) return MAIN_HEAP_MB;
  return v === 0 ? undefined : v;
}

/** Answers between two looks at the heap (a look costs microseconds, a full collection ~10-30 ms). */
const EVERY = 64;

/** V8's full collection of this thread's isolate (--expose-gc for a new context only: this thread's gc()). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Keeps a thread's heap near what is live: `tick()` after each answer looks at the heap
 * every EVERY calls and collects it in full when its committed size is past `limitMb`,
 * or past twice what the last collection left live, whichever is larger (a thread that
 * does hold more is not collected over and over). `collect` and `heapMb` are for tests.
 */
export class HeapKeeper {
  private calls = 0;
  private bound: number;
  /** Full collections made so far. */
  collections = 0;
  private gc: (() => void) | undefined;

  constructor(
    private readonly limitMb = MAIN_HEAP_MB,
    private readonly collect?: () => void,
    private readonly heapMb: () => { totalMb: number; usedMb: number } = () => {
      const h = getHeapStatistics();
      return { totalMb: h.total_heap_size / (1 << 20), usedMb: h.used_heap_size / (1 << 20) };
    },
  ) {
    this.bound = limitMb;
  }

  tick(): void {
    if (++this.calls % EVERY !== 0) return;
    if (this.heapMb().totalMb <= this.bound) return;
    (this.gc ??= this.collect ?? fullGc())();
    this.collections++;
    this.bound = Math.max(this.limitMb, 2 * this.heapMb().usedMb);
  }
}
