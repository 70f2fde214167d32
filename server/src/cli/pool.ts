// Files audited on worker threads, one per core (the design of the server's index
// pool), shared by `scan` and `report`: files are handed out in path order to whichever
// worker has room (each holds IN_FLIGHT), and the results are put back in the files'
// order (poolQueue.ts), so the output does not depend on the number of threads or on
// which finished first.
// Without the bundled worker (running from sources under tsx), or with one job,
// the files are audited on this thread.

import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FileQueue } from './poolQueue';
import { liftMainSemiSpaceCap, workerYoungMb } from './youngGeneration';
import { HeapKeeper, mainHeapMb } from './mainHeap';

/**
 * Worker threads by default: one per core. One per core but one was the default while
 * two workers did not fit issue 15's 500 MB on drivers/ of Debian 6.1 (509-514 MiB with
 * glibc's arenas limited, reexec.ts; BENCHMARKS.md, "Two workers in 500 MB"). With one
 * heavy file at a time and the workers' footprints held under a total (PoolRun.heavy,
 * recycleTotalMb), two took 417 MiB there, and finished in 15:45 against one worker's
 * 23+ minutes started at the same moment (BENCHMARKS.md, "Two workers within 500 MB").
 * The main thread only hands out paths and writes: each worker holds its next file
 * (IN_FLIGHT), so the main thread needs no core of its own.
 */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/**
 * A worker's heap limit (scan and report alike): the live set of one file's audit and
 * join, with the last module's decoded units, stays under 300 MB on drivers/ of Debian
 * 6.1 (measured with --max-old-space-size); a file that needs more is audited again by
 * a worker with twice the limit (runPool). Without a limit V8 grows each worker's heap
 * towards a quarter of the machine's memory before collecting it in full. 384 MB (with
 * such a retry, and vmlinux's .debug_info left in the file) took the whole Debian 6.1
 * kernel report from 1,480 MB at 512 MB to 1,297 MB, for 12-16 % more CPU
 * (BENCHMARKS.md); scan of drivers/ from 1,781 MB to the figure there.
 */
const WORKER_HEAP_MB = 384;

/** The limit, or TDX_AUDIT_WORKER_HEAP_MB's (at least 16 MB): to trade CPU for memory on a small machine. */
export function workerHeapMb(): number {
  const v = Number(process.env.TDX_AUDIT_WORKER_HEAP_MB);
  return Number.isInteger(v) && v >= 16 ? v : WORKER_HEAP_MB;
}

/**
 * A scan or report worker is replaced by a fresh one once its V8 heap plus its WASM memory
 * (tree-sitter's, iced-x86's: they never shrink) passes this after a file. What a
 * scan worker keeps from file to file is the header knowledge of every include
 * closure it met: on drivers/ of Debian 6.1 the live set after a full collection
 * grew from 27 MB to 190 MB over the run, and the heap V8 kept around it to 290 MB
 * (BENCHMARKS.md, "One worker under a recycle threshold"). Most of that growth was
 * header and file texts kept alive by include names sliced out of them (fixed in
 * includePath.ts includeDirectives), the rest is bounded now (headerIndex.ts
 * maxRemembered): the threshold stays as a safety net. A fresh worker takes back
 * from the header cache only what the next files include, but runs unoptimised
 * until the JIT warms up again: each replacement costs seconds of CPU. At 288 MB
 * one worker was replaced on drivers/: peak 436-440 MB against 513-520 MB without,
 * for 5-9 % more CPU, under the same load; at 256 MB two, for no lower peak.
 * `report`'s workers too (640 MB → 531-536 MB on drivers/); what kept report above
 * 500 MB was the main thread unpacking and re-spooling every file's rows, now
 * spooled by the workers themselves (BENCHMARKS.md, report of drivers/ at 423 MiB).
 */
const WORKER_RECYCLE_MB = 288;

/**
 * The threshold when more than one worker runs: two workers under 288 MB each and the
 * main thread took drivers/ to 562 MiB; at 200 MB (2 replaced, with the young
 * generation and arenas limited) to 509-514 MiB (BENCHMARKS.md, "Two workers in 500 MB").
 */
const WORKER_RECYCLE_MB_SHARED = 200;

/**
 * The recycle threshold for a run of `jobs` workers, or TDX_AUDIT_WORKER_RECYCLE_MB's
 * (0: never replace a worker); `given` says whether the user chose it (the run then says how often it
 * acted).
 */
export function workerRecycleMb(jobs = 1): { mb: number | undefined; given: boolean; totalMb: number | undefined } {
  const raw = process.env.TDX_AUDIT_WORKER_RECYCLE_MB;
  const v = Number(raw);
  if (raw === undefined || raw === '' || !Number.isInteger(v) || v < 0)
    return jobs > 1 ? { mb: WORKER_RECYCLE_MB_SHARED, given: false, totalMb: jobs * WORKERS_RECYCLE_MB_EACH } : { mb: WORKER_RECYCLE_MB, given: false, totalMb: undefined };
  // The user's threshold is the only one (0: no worker is ever replaced).
  return { mb: v === 0 ? undefined : v, given: true, totalMb: undefined };
}

/**
 * With more than one worker, the largest is also replaced when the workers' footprints
 * together pass this much a worker (PoolRun.recycleTotalMb): 130 MB each, 260 for two.
 * What grows in a scan worker is its header knowledge, steadily (two workers on
 * drivers/: 85 and 99 MB after 400 files each, 131 and 151 after 16,700, V8 heap
 * plus WASM), and the process's RSS followed the two together at ~100 MB above them
 * (the main thread, glibc's arenas, the node binary; BENCHMARKS.md, "Two workers
 * within 500 MB"). Each worker's own threshold lets both reach 200 MB at once; the
 * total keeps the sum where the process stays under 500 MB with room for one large
 * file's transient, and replaces the one worker whose fresh start frees the most.
 * The footprints sit just under the total most of the run, so the total is most of the
 * peak: at 150 MB each drivers/ peaked at 422-447 MiB, at 130 at 387-400 MiB, for 8-12
 * renewals instead of 5-7, and 8 % more CPU in a pair at load 4-7 (none seen at 10-18;
 * BENCHMARKS.md, "drivers/ with a margin"): a trade for the lead to settle quiet.
 */
const WORKERS_RECYCLE_MB_EACH = 130;

/**
 * What a worker holds that its recycle threshold is measured against, in MB: V8 heap
 * (committed) and external memory (WASM memories among it), less `runBytes`: the
 * linked images (vmlinux, 600 MB) the worker holds for the whole run
 * (ObjectStore.heldImageBytes). A fresh worker would hold those again: counted, they
 * put every worker of a `--vmlinux` run past the threshold after each file, and each
 * successor read vmlinux again (the whole-kernel report took 8x its CPU).
 */
export function workerFootprintMb(h: { total_heap_size: number; external_memory: number }, runBytes = 0): number {
  return (h.total_heap_size + Math.max(0, h.external_memory - runBytes)) / (1 << 20);
}

/** What the pool posts to a worker: a file to audit, or (PoolRun.recycleTotalMb) to renew its engine. */
export type PoolRequest = { id: number; path: string } | { renew: true };

/**
 * Whether renewing a worker's engine (scanWorker.ts: a fresh engine on the same
 * thread, its JIT's code kept) freed enough to be tried again: a quarter of its
 * footprint. What a fresh engine does not free (WASM memories, which never shrink;
 * what modules keep for the thread's life) only a fresh thread does: the pool
 * replaces the worker once a renewal frees less.
 */
export function renewalFreed(beforeMb: number, afterMb: number): boolean {
  return afterMb <= beforeMb * 0.75;
}

/**
 * A source this large, or with an object beside it (foo.o beside foo.c: the compiled
 * form is joined, DWARF decoded), is heavy (PoolRun.heavy). Two workers on drivers/
 * peaked where both held such files at once: one had just audited i40e_main.c (474 KB,
 * 135 MB of live heap after it) while the other went through e1000e's object-backed
 * files (BENCHMARKS.md, "Two workers within 500 MB").
 */
export const HEAVY_BYTES = 128 << 10;

/** What makes a file heavy: its size, or an object beside it (the larger transient: PoolRun.renewBeforeObject). */
export type Heaviness = false | 'large' | 'object';

/** Whether `path` is heavy, and why (HEAVY_BYTES, or an object beside it); a file that cannot be stat'ed is not. */
export function heavyFile(path: string): Heaviness {
  try {
    if (/\.c$/.test(path) && existsSync(path.slice(0, -2) + '.o')) return 'object';
    return statSync(path).size >= HEAVY_BYTES ? 'large' : false;
  } catch {
    return false;
  }
}

/**
 * With more than one worker, a worker that has grown this much (MB) past its fresh
 * engine (its least footprint since it started or renewed) renews its engine before it
 * starts a file with an object beside it (PoolRun.renewBeforeObject). The peak of
 * drivers/ was such a file on a grown worker: e1000e/netdev.c (DWARF joined) took its
 * worker from 145 to 213 MB while the other held 100 and the main thread 64: 446 MiB
 * (BENCHMARKS.md, "drivers/ with a margin"). A renewed engine starts at 72-85 MB, so the
 * same file then peaked 50 MB lower (164 MB). A large source alone no longer has such a
 * transient (i40e_main.c, 474 KB: +6 MB), so only objects ask for it; measured against
 * growth, not an absolute footprint, so that a tree where every file has its object
 * renews once per this much growth, not before every file.
 *
 * Off unless TDX_AUDIT_RENEW_BEFORE_OBJECT_MB asks for it (this value is the one measured):
 * each renewal re-reads the engine's header knowledge, and on drivers/ the 9-12 renewals
 * cost 7-8 % more CPU (quiet pairs, lead, 2026-12-08) for 3-5 MiB of peak below what the
 * 130 MB worker total (WORKERS_RECYCLE_MB_EACH) gives alone (379-382 MiB). A tree whose objects are
 * larger than its sources' audits may want it.
 */
export const RENEW_BEFORE_OBJECT_MB = 40;

/**
 * And only a worker that has answered this many files since its engine was fresh: a file
 * with its object leaves the heap grown for a while (e1000e's 11 object-backed files
 * each left their worker 45-58 MB past its fresh engine), so without it a run of such
 * files renewed before nearly every one of them (7 renewals in 30 s on drivers/). A tree
 * where every file has its object then renews a worker at most once per this many files.
 */
export const RENEW_BEFORE_OBJECT_AFTER = 256;

/** When a worker renews its engine before a file with an object beside it (PoolRun.renewBeforeObject). */
export interface RenewBeforeObject {
  mb: number;
  files: number;
}

/** TDX_AUDIT_RENEW_BEFORE_OBJECT_MB's growth, a whole number above 0, with RENEW_BEFORE_OBJECT_AFTER; else never (the default). */
export function renewBeforeObject(env: NodeJS.ProcessEnv = process.env): RenewBeforeObject | undefined {
  const raw = env.TDX_AUDIT_RENEW_BEFORE_OBJECT_MB;
  const v = Number(raw);
  if (raw === undefined || raw === '' || !Number.isInteger(v) || v <= 0) return undefined;
  return { mb: v, files: RENEW_BEFORE_OBJECT_AFTER };
}


/** PoolRun.retried that tells the user, on `note`, which file needed the bigger worker. */
export function noteRetried(note: (m: string) => void): (path: string, heapMb: number | undefined) => void {
  return (path, heapMb) => note(`tdx-audit: ${path}: its worker ran out of memory; audited again by a worker with ${heapMb} MB of heap`);
}

/**
 * PoolRun's recycleMb, recycled and renewed for a run, from workerRecycleMb: `done`
 * says on `note` how many workers were replaced when the user chose the threshold (it
 * trades a fresh worker's start-up CPU for memory), and nothing otherwise; with
 * TDX_AUDIT_POOL_STATS=1 it says how many were replaced and how many renewed their
 * engine (scanWorker.ts), whatever the threshold (for measurements).
 */
export function recycling(note: (m: string) => void, jobs = 1): Pick<PoolRun<unknown>, 'recycleMb' | 'recycleTotalMb' | 'recycled' | 'renewed'> & { done: () => void } {
  const { mb, given, totalMb } = workerRecycleMb(jobs);
  let replaced = 0;
  const renewals: string[] = [];
  return {
    recycleMb: mb,
    recycleTotalMb: totalMb,
    recycled: () => replaced++,
    renewed: (before, after) => renewals.push(`${before.toFixed(0)}->${after.toFixed(0)}`),
    done: () => {
      if (given && mb !== undefined) note(`tdx-audit: ${replaced} worker(s) replaced past ${mb} MB of heap and WASM memory`);
      if (process.env.TDX_AUDIT_POOL_STATS === '1') note(`tdx-audit: pool: ${replaced} worker(s) replaced, ${renewals.length} engine(s) renewed (MB before->after: ${renewals.join(' ') || 'none'})`);
    },
  };
}

/** The bundled worker beside this bundle (dist/scanWorker.js), if there is one. */
function workerPath(): string | undefined {
  const p = join(__dirname, 'scanWorker.js');
  return existsSync(p) ? p : undefined;
}

/** What a worker is started with: which task it runs (scanWorker.ts) and that task's settings. */
export interface PoolWorkerData {
  task: 'scan' | 'report';
  [k: string]: unknown;
}

export interface PoolRun<R> {
  files: readonly string[];
  jobs: number;
  workerData: PoolWorkerData;
  /** The task on this thread (one job, no worker bundle, or files every worker died on). */
  local: () => Promise<(path: string) => R>;
  /** What a file gives whose task threw on this thread. */
  failed: (message: string) => R;
  /** Each file's result, in the files' order, as soon as every earlier file is done. */
  emit: (index: number, result: R) => void;
  /** Stops handing out files; workers are terminated and the run ends early. */
  signal?: AbortSignal;
  /**
   * Each worker's V8 old-generation limit in MB. V8 grows a heap towards its limit
   * (by default a quarter of the machine's memory) before collecting it in full, so
   * without one two workers hold gigabytes of garbage. A worker that reaches it dies;
   * the file it was auditing is given at once to a fresh worker with twice the limit,
   * which ends after that file (a normal one takes the lane on), so the results of
   * later files do not wait for it and no thread runs without a limit. A file that
   * takes the bigger worker down too is audited on this thread once the workers are done.
   */
  maxHeapMb?: number;
  /** A file a worker died on, given again to a worker with `heapMb` (for a note to the user). */
  retried?: (path: string, heapMb: number | undefined) => void;
  /**
   * Past this footprint (workerFootprintMb) after a file, a worker renews its engine on
   * its own thread (scanWorker.ts: the JIT's code is kept); when it is still past it,
   * it says so with that file's result and is replaced: it is terminated, and once its
   * thread has exited (its memory gone) a fresh worker takes its lane on with the next file.
   */
  recycleMb?: number;
  /**
   * Past this sum of the workers' footprints (each as of its last answer), the worker
   * whose answer took the sum there, when none is larger, is asked to renew its engine
   * after the files it holds (PoolRequest), and is replaced when a renewal of it freed
   * too little (renewalFreed).
   */
  recycleTotalMb?: number;
  /** Called once per worker replaced under recycleMb or recycleTotalMb. */
  recycled?: () => void;
  /** Called once per worker that renewed its engine instead (scanWorker.ts), with its footprint before and after (MB). */
  renewed?: (beforeMb: number, afterMb: number) => void;
  /**
   * What a result weighs while it waits for an earlier file's (poolQueue.ts; by
   * default 1 a file), and how much may wait before files ahead of the writer stop
   * going out: results arriving out of order are held in memory.
   */
  weigh?: (r: R) => number;
  heldBudget?: number;
  /**
   * Files whose audit takes a worker's memory up for a while: with more than one worker,
   * one of them is audited at a time (poolQueue.ts). Asked once a file.
   */
  heavy?: (path: string) => boolean | Heaviness;
  /**
   * With more than one worker, a worker grown `mb` past its fresh engine, `files` files
   * after it was fresh, is asked to renew its engine before a file `heavy` calls
   * 'object' (by default renewBeforeObject(); a renewal that frees too little replaces
   * the worker, as under recycleTotalMb).
   */
  renewBeforeObject?: RenewBeforeObject;
  /** The worker's script, by default the bundle's (scanWorker.js); tests give one of their own. */
  workerScript?: string;
}

/** Workers started again after one died, per run: a file that kills every worker does not loop forever. */
const MAX_RESTARTS = 16;

/**
 * Files a worker holds at once: the one it audits and the next, queued in its port, so
 * that it starts the next file the moment it answers instead of waiting for this
 * thread to wake, take the answer and post a path (on drivers/ the one worker sat idle
 * 6.5 s of 124 s between its 28,521 files with one at a time).
 */
export const IN_FLIGHT = 2;

/** Runs the task over every file (see PoolRun); resolves when each result was emitted, or on abort. */
export async function runPool<R>(run: PoolRun<R>): Promise<void> {
  const { files, signal } = run;
  const heavy = new Map<number, boolean | Heaviness>();
  const heaviness = (i: number) => {
    let h = heavy.get(i);
    if (h === undefined) heavy.set(i, (h = run.jobs > 1 && run.heavy !== undefined && run.heavy(files[i]!)));
    return h;
  };
  const queue = new FileQueue<R>(files.length, run.emit, run.weigh, run.heldBudget, (i) => heaviness(i) !== false);
  /**
   * Each live lane's feed: called after every answer, since a file held back may go out
   * now (the writer went on past the budget, or the heavy file out was answered).
   */
  const feeders = new Set<() => void>();
  /** The main thread's heap kept near what is live while workers audit (mainHeap.ts). */
  let keeper: HeapKeeper | undefined;
  const done = (i: number, r: R) => {
    queue.answer(i, r);
    keeper?.tick();
    for (const f of [...feeders]) f();
  };
  let here: ((path: string) => R) | undefined;
  const auditHere = async (i: number) => {
    here ??= await run.local();
    let r: R;
    try {
      r = here(files[i]!);
    } catch (e) {
      r = run.failed((e as Error).message);
    }
    done(i, r);
  };
  const wp = run.workerScript ?? workerPath();
  const threads = Math.min(run.jobs, files.length);
  // One job still runs on a worker when there is a heap limit to keep (and more than
  // one file): this thread's heap has none, and V8 grows it towards a quarter of the
  // machine before collecting in full.
  if (!wp || files.length <= 1 || (threads <= 1 && !run.maxHeapMb)) {
    for (let i = 0; i < files.length; i++) {
      // Let a SIGINT handler (or a cancellation request) run: the audit itself is synchronous.
      if (i % 8 === 0) await new Promise((r) => setImmediate(r));
      if (signal?.aborted) return;
      await auditHere(i);
    }
    return;
  }
  /** Files already given to a bigger worker after their first worker died. */
  const tried = new Set<number>();
  /** Each live worker's footprint (MB) after its last file, by its lane's feed. */
  const footprints = new Map<() => void, number>();
  /** Whether a worker that now holds `mb` is the one to replace under recycleTotalMb. */
  const overTotal = (feed: () => void, mb: number | undefined): boolean => {
    if (mb === undefined) return false;
    footprints.set(feed, mb);
    if (run.recycleTotalMb === undefined) return false;
    let sum = 0;
    let largest = 0;
    for (const v of footprints.values()) {
      sum += v;
      largest = Math.max(largest, v);
    }
    return sum > run.recycleTotalMb && mb >= largest;
  };
  // The main thread's semi-space flag (reexec.ts) would cap the workers' young generation too.
  liftMainSemiSpaceCap();
  const before = threads > 1 ? (run.renewBeforeObject ?? renewBeforeObject()) : undefined;
  const keepMb = mainHeapMb();
  if (keepMb !== undefined) keeper = new HeapKeeper(keepMb);
  let restarts = 0;
  const lane = (retry?: number): Promise<void> =>
    new Promise<void>((resolveLane, rejectLane) => {
      const heapMb = retry !== undefined && run.maxHeapMb ? run.maxHeapMb * 2 : run.maxHeapMb;
      /** A bigger worker audits the one file its predecessor died on, and ends. */
      const bigger = retry !== undefined;
      if (retry !== undefined) run.retried?.(files[retry]!, heapMb);
      const workerData = { ...run.workerData, recycleMb: run.recycleMb };
      const ymb = workerYoungMb(threads);
      const young = ymb !== undefined ? { maxYoungGenerationSizeMb: ymb } : {};
      const w = new Worker(wp, { workerData, ...(heapMb ? { resourceLimits: { maxOldGenerationSizeMb: heapMb, ...young } } : {}) });
      /** Files posted to this worker and not answered, in the order it audits them. */
      const inflight: number[] = [];
      let ready = false;
      let ended = false;
      /** Set when this worker is let go after a file (a bigger worker's one file, or past recycleMb): its exit starts the next worker. */
      let retiring = false;
      /** A renewal asked of this worker (under recycleTotalMb) and not yet answered. */
      let renewAsked = false;
      /** Whether this worker's last renewal freed enough to ask for another (renewalFreed). */
      let renewable = true;
      /** This worker's least footprint since its engine was fresh (started or renewed): what a renewal gets back to. */
      let fresh: number | undefined;
      /** Files this worker answered since its engine was fresh. */
      let sinceFresh = 0;
      const post = (i: number) => {
        // A file with an object beside it on a grown worker: its engine is renewed first
        // (the renewal is queued ahead of the file, and answered before it).
        const mb = footprints.get(feed);
        if (before !== undefined && mb !== undefined && fresh !== undefined && mb - fresh > before.mb && sinceFresh >= before.files && renewable && !renewAsked && heaviness(i) === 'object') {
          renewAsked = true;
          w.postMessage({ renew: true } satisfies PoolRequest);
        }
        inflight.push(i);
        w.postMessage({ id: i, path: files[i]! } satisfies PoolRequest);
      };
      /** Tops the worker up to IN_FLIGHT files; stops it when it has none and none is left. */
      const feed = () => {
        if (!ready || ended || retiring) return;
        if (signal?.aborted) return stop();
        if (bigger) {
          if (retry !== undefined) post(retry);
          retry = undefined;
          return;
        }
        while (inflight.length < IN_FLIGHT) {
          const i = queue.take();
          if (i === undefined) break;
          post(i);
        }
        if (inflight.length === 0 && !queue.more) stop();
      };
      /** died: this worker went down (an exception, or its heap limit) auditing inflight[0]; retired: let go after a file. */
      const end = (how: 'stopped' | 'died' | 'retired') => {
        if (ended) return;
        ended = true;
        feeders.delete(feed);
        footprints.delete(feed);
        signal?.removeEventListener('abort', stop);
        if (signal?.aborted) return resolveLane();
        if (how === 'died') {
          // The file it died on goes to a bigger worker (once); the files queued behind it were not started.
          const dying = inflight.shift();
          queue.giveBack(inflight);
          inflight.length = 0;
          if (restarts++ >= MAX_RESTARTS) return resolveLane();
          const again = dying !== undefined && !tried.has(dying) ? dying : undefined;
          if (again !== undefined) tried.add(again);
          if (again !== undefined || queue.more) return void lane(again).then(resolveLane, rejectLane);
        } else if (how === 'retired' && queue.more) return void lane().then(resolveLane, rejectLane);
        // A file that took even the bigger worker down, and a worker's files when it
        // stopped on its own, are left unanswered: audited on this thread at the end.
        resolveLane();
      };
      const stop = () => {
        void w.terminate();
        end('stopped');
      };
      signal?.addEventListener('abort', stop, { once: true });
      feeders.add(feed);
      /** Lets this worker go (past a threshold, or a bigger worker's one file): its queued files go to another. Returns false when none is left to go on with. */
      const retire = (): boolean => {
        queue.giveBack(inflight);
        inflight.length = 0;
        if (!bigger && !queue.more) return false;
        if (!bigger) run.recycled?.();
        retiring = true;
        void w.terminate();
        return true;
      };
      w.on('message', (m: { ready?: true; fatal?: string; id?: number; result?: R; retire?: true; footprintMb?: number; renewed?: true; before?: number; after?: number; renewedBefore?: number }) => {
        if (m.fatal) {
          ended = true;
          feeders.delete(feed);
          return rejectLane(new Error(`a worker failed to start: ${m.fatal}`));
        }
        if (m.ready) {
          ready = true;
          return feed();
        }
        if (m.renewed) {
          // The renewal asked under recycleTotalMb: its files go on unless it freed too little.
          renewAsked = false;
          if (retiring || ended) return;
          run.renewed?.(m.before!, m.after!);
          renewable = m.retire !== true;
          footprints.set(feed, m.footprintMb!);
          fresh = m.after!;
          sinceFresh = 0;
          if (m.retire && !signal?.aborted && retire()) return;
          return feed();
        }
        // A worker let go may still answer a file it had started: taken unless another worker's answer came first.
        if (retiring || ended) return done(m.id!, m.result!);
        const k = inflight.indexOf(m.id!);
        if (k >= 0) inflight.splice(k, 1);
        // Past recycleMb the worker renewed its engine before it answered (scanWorker.ts).
        if (m.renewedBefore !== undefined) {
          run.renewed?.(m.renewedBefore, m.footprintMb!);
          renewable = m.retire !== true;
          fresh = m.footprintMb;
          sinceFresh = 0;
        } else sinceFresh++;
        if (m.footprintMb !== undefined) fresh = Math.min(fresh ?? m.footprintMb, m.footprintMb);
        // A bigger worker ends after its one file, and a worker past recycleMb (its
        // engine renewed, and not enough freed) after the file that took it there (it
        // starts none of the files queued behind it: those go to the next worker):
        // their memory goes back to the system before the next worker of the lane
        // starts (two would be alive at once otherwise). Past recycleTotalMb the
        // worker is asked to renew its engine after the files it holds, and is replaced
        // (a file it has started given to another worker too) when that freed too little.
        const over = m.retire !== true && !bigger && overTotal(feed, m.footprintMb);
        if (over && renewable && !renewAsked && !signal?.aborted) {
          renewAsked = true;
          w.postMessage({ renew: true } satisfies PoolRequest);
        } else if ((bigger || m.retire === true || (over && !renewAsked)) && !signal?.aborted && retire()) {
          done(m.id!, m.result!);
          return;
        }
        // The next file goes out before this one's result is written: the worker
        // audits while this thread writes (on drivers/ the writer's JSON is 166 MB).
        feed();
        done(m.id!, m.result!);
      });
      // A worker that answered one file and died on the next one has both its answer
      // and its error on the way: node delivers every message a worker posted before
      // its 'exit' (not always before its 'error'), so the lane ends on 'exit', when
      // inflight[0] is the file it died on.
      let died = false;
      w.on('error', () => (died = true));
      w.on('exit', () => end(died ? 'died' : retiring ? 'retired' : 'stopped'));
    });
  await Promise.all(Array.from({ length: threads }, () => lane()));
  if (signal?.aborted) return;
  // Files a worker died on, and files no worker got to (every worker died): audited here.
  for (const i of queue.rest()) await auditHere(i);
}
