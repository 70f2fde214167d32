/**
 * Runs a fuzz target in worker threads with a watchdog: every input must end
 * (result or typed error) within its time budget and the worker's heap limit.
 * A worker stuck on an input is terminated, the input is regenerated from
 * (seed, index) and saved, and a fresh worker carries on after it.
 */
import { Worker } from 'node:worker_threads';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { loadTarget, type TargetKind, type TargetPayload } from './targets';

export const CRASH_DIR = resolve(__dirname, '..', '..', 'test-output', 'fuzz', 'crashes');
const TSX_CJS = require.resolve('tsx/cjs/api');
const WORKER = join(__dirname, 'worker.ts');

export interface FuzzOptions {
  kind: TargetKind;
  seed: number;
  inputs: number;
  /** First input index (to continue a run). */
  start?: number;
  workers?: number;
  /** Per-input wall-clock budget; an input over it is a hang. */
  budgetMs?: number;
  /** Heap limit of a worker (old generation, MB). */
  memoryMb?: number;
  payload: TargetPayload;
  crashDir?: string;
  /** Progress line every so many ms (0: quiet). */
  progressMs?: number;
  log?: (line: string) => void;
  /** A bundled worker (see bundleWorker) instead of the TypeScript one through tsx: faster, same code. */
  workerFile?: string;
}

export interface Failure {
  index: number;
  kind: 'crash' | 'hang' | 'oom';
  label: string;
  ops: string;
  message: string;
  /** Input derived from one of our own fixtures (may be committed as a regression test). */
  own: boolean;
  file?: string;
}

export interface FuzzResult {
  kind: TargetKind;
  seed: number;
  tried: number;
  ok: number;
  typed: number;
  crashes: Failure[];
  hangs: Failure[];
  slowest: { index: number; ms: number; label: string; ops: string };
  elapsedMs: number;
}

interface Progress {
  type: 'progress' | 'done';
  tried: number;
  ok: number;
  typed: number;
  slowest: { index: number; ms: number; label: string; ops: string };
}

interface CrashMsg {
  type: 'crash';
  index: number;
  label: string;
  ops: string;
  message: string;
  own: boolean;
  file?: string;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const nWorkers = Math.max(1, o.workers ?? 1);
  const budgetMs = o.budgetMs ?? 5000;
  const memoryMb = o.memoryMb ?? 1024;
  const crashDir = o.crashDir ?? CRASH_DIR;
  const start = o.start ?? 0;
  const end = start + o.inputs;
  const log = o.log ?? (() => undefined);
  const t0 = performance.now();
  // Per worker: [current index, start time (ms, Date.now()), budget ms]; index -1 when idle.
  const shared = new Float64Array(new SharedArrayBuffer(8 * 3 * nWorkers));
  const res: FuzzResult = {
    kind: o.kind, seed: o.seed, tried: 0, ok: 0, typed: 0, crashes: [], hangs: [],
    slowest: { index: -1, ms: 0, label: '', ops: '' }, elapsedMs: 0,
  };
  // Totals of finished worker incarnations, plus the live counters of the running ones.
  const live: Array<{ tried: number; ok: number; typed: number }> = [];
  const settled = { tried: 0, ok: 0, typed: 0 };
  let target: ReturnType<typeof loadTarget> | undefined; // loaded lazily, only to regenerate a hang

  const regenerate = (index: number): { bytes: Uint8Array; label: string; ops: string; own: boolean } => {
    target ??= loadTarget(o.kind, o.payload);
    return target.generate(o.seed, index);
  };

  const save = (prefix: string, index: number, bytes: Uint8Array, note: string): string => {
    mkdirSync(crashDir, { recursive: true });
    const h = createHash('sha1').update(bytes).digest('hex').slice(0, 10);
    const file = join(crashDir, `${o.kind}-${prefix}-${o.seed}-${index}-${h}.bin`);
    writeFileSync(file, bytes);
    writeFileSync(file.replace(/\.bin$/, '.txt'), note + '\n');
    return file;
  };

  const spawnWorker = (slot: number, from: number): Promise<void> =>
    new Promise((resolveDone) => {
      const me = { tried: 0, ok: 0, typed: 0 };
      live[slot] = me;
      shared[slot * 3] = -1;
      const code = o.workerFile
        ? `require(${JSON.stringify(o.workerFile)});`
        : `require(${JSON.stringify(TSX_CJS)}).register(); require(${JSON.stringify(WORKER)});`;
      const w = new Worker(code, {
        eval: true,
        workerData: { kind: o.kind, payload: o.payload, seed: o.seed, from, to: end, stride: nWorkers, slot, shared: shared.buffer, crashDir },
        resourceLimits: { maxOldGenerationSizeMb: memoryMb },
        stdout: false,
        stderr: false,
      });
      let finished = false;
      let killedFor: 'hang' | undefined;
      const finish = (next: number | undefined) => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        settled.tried += me.tried;
        settled.ok += me.ok;
        settled.typed += me.typed;
        live[slot] = { tried: 0, ok: 0, typed: 0 };
        if (next !== undefined && next < end) spawnWorker(slot, next).then(resolveDone);
        else resolveDone();
      };
      const watch = setInterval(() => {
        const idx = shared[slot * 3]!;
        const began = shared[slot * 3 + 1]!;
        const budget = shared[slot * 3 + 2]! || budgetMs;
        if (idx < 0 || finished || killedFor) return;
        const ms = Date.now() - began;
        if (ms <= budget) return;
        killedFor = 'hang';
        const g = regenerate(idx);
        const f: Failure = { index: idx, kind: 'hang', label: g.label, ops: g.ops, message: `no result after ${ms} ms (budget ${budget} ms)`, own: g.own };
        f.file = save('hang', idx, g.bytes, `hang: ${f.message}\nseed ${o.seed} index ${idx}\ninput from ${g.label}\nmutations ${g.ops}`);
        res.hangs.push(f);
        log(`HANG input ${idx} (${g.label}; ${g.ops}) after ${ms} ms -> ${f.file}`);
        me.tried++;
        void w.terminate().then(() => finish(idx + nWorkers));
      }, Math.min(200, Math.max(20, budgetMs / 4)));
      w.on('message', (m: Progress | CrashMsg) => {
        if (m.type === 'crash') {
          const f: Failure = { index: m.index, kind: 'crash', label: m.label, ops: m.ops, message: m.message, own: m.own, file: m.file };
          res.crashes.push(f);
          log(`CRASH input ${m.index} (${m.label}; ${m.ops}): ${m.message.split('\n')[0]}${m.file ? ` -> ${m.file}` : ''}`);
          return;
        }
        me.tried = m.tried;
        me.ok = m.ok;
        me.typed = m.typed;
        if (m.slowest.ms > res.slowest.ms) res.slowest = m.slowest;
        if (m.type === 'done') finish(undefined);
      });
      w.on('error', (err: Error & { code?: string }) => {
        if (killedFor) return;
        const idx = shared[slot * 3]!;
        if (idx < 0) {
          res.crashes.push({ index: -1, kind: 'crash', label: 'worker', ops: '', message: err.stack ?? String(err), own: false });
          log(`WORKER FAILED outside an input: ${err.stack ?? err}`);
          finish(undefined);
          return;
        }
        const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
        const g = regenerate(idx);
        const f: Failure = { index: idx, kind: oom ? 'oom' : 'crash', label: g.label, ops: g.ops, message: `${oom ? 'out of memory' : 'worker died'}: ${err.message}`, own: g.own };
        f.file = save(f.kind, idx, g.bytes, `${f.message}\nseed ${o.seed} index ${idx}\ninput from ${g.label}\nmutations ${g.ops}`);
        res.crashes.push(f);
        log(`${f.kind.toUpperCase()} input ${idx} (${g.label}; ${g.ops}) -> ${f.file}`);
        me.tried++;
        finish(idx + nWorkers);
      });
      w.on('exit', () => {
        if (!finished && !killedFor) finish(undefined);
      });
    });

  let ticker: NodeJS.Timeout | undefined;
  if (o.progressMs) {
    ticker = setInterval(() => {
      const tried = settled.tried + live.reduce((a, l) => a + (l?.tried ?? 0), 0);
      const secs = (performance.now() - t0) / 1000;
      log(`${o.kind}: ${tried}/${o.inputs} inputs, ${res.crashes.length} crashes, ${res.hangs.length} hangs, ` +
        `slowest ${res.slowest.ms.toFixed(0)} ms (#${res.slowest.index}), ${(tried / secs).toFixed(0)}/s`);
    }, o.progressMs);
  }
  const runs: Promise<void>[] = [];
  for (let s = 0; s < nWorkers && start + s < end; s++) runs.push(spawnWorker(s, start + s));
  await Promise.all(runs);
  if (ticker) clearInterval(ticker);
  res.tried = settled.tried;
  res.ok = settled.ok;
  res.typed = settled.typed;
  res.elapsedMs = performance.now() - t0;
  return res;
}

export function summary(r: FuzzResult): string {
  return `${r.kind}: seed ${r.seed}: ${r.tried} inputs (${r.ok} read cleanly, ${r.typed} with typed errors), ` +
    `${r.crashes.length} crashes, ${r.hangs.length} hangs, slowest ${r.slowest.ms.toFixed(1)} ms ` +
    `(input ${r.slowest.index}: ${r.slowest.label}; ${r.slowest.ops}), ${(r.elapsedMs / 1000).toFixed(1)} s`;
}

/** Bundles worker.ts with esbuild (as the server is bundled) into test-output/fuzz/worker.cjs. */
export async function bundleWorker(): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = resolve(CRASH_DIR, '..', 'worker.cjs');
  await esbuild.build({
    entryPoints: [WORKER], outfile, bundle: true, platform: 'node', target: 'node18', format: 'cjs', logLevel: 'warning',
    external: ['iced-x86', 'web-tree-sitter', 'tree-sitter-c', 'esbuild'],
  });
  return outfile;
}
