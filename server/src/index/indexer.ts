// Background workspace indexing: walks the workspace folders for C sources,
// skips what cannot hold a site (the pre-filter), and audits the rest on worker
// threads (one per core), caching results by content hash so an unchanged file
// is never parsed twice. Never blocks the caller; cancellable; capped.
//
// The workers audit with the server engine's configuration, objects included (a
// vmlinux aside: each worker would read the whole image), and write each file's
// report rows to a spool folder (spool.ts) that the export reads instead of auditing
// unchanged files again. A header that changes on disk empties the cache and starts
// a new spool: every result may depend on it.

import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { MAX_TEXT_BYTES, tryReadText } from '../fs/safeRead';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SKIP_DIRS as TREE_SKIP_DIRS, textDecision } from '../audit/sources';
import type { AuditConfig } from '../audit/engine';
import { makeSpoolDir, removeSpoolDir } from './spool';
import type { FromWorker, IndexedFile, ToWorker } from './types';

/** The tree walk's skips, plus editor and build-output folders a workspace has. */
const SKIP_DIRS = new Set([...TREE_SKIP_DIRS, '.vscode', '.cache', 'out']);
const MAX_FILES = 100_000;
const DEFAULT_RELEASE_MS = 30_000;
const MAX_INTERNED = 200_000;

export interface IndexProgress {
  done: number;
  total: number;
  message: string;
}

export interface IndexResult {
  files: IndexedFile[];
  /** Files the pre-filter skipped (no accessor name, no __iomem, no local include). */
  skipped: number;
  /** Files found beyond the cap. */
  capped: boolean;
  failures: { path: string; message: string }[];
  cacheHits: number;
  ms: number;
  cancelled: boolean;
}

export interface CancelToken {
  readonly cancelled: boolean;
}

/** Sources under the folders, breadth-first, without following symlinks. */
export async function discover(folders: readonly string[], token: CancelToken, max = MAX_FILES): Promise<{ files: string[]; capped: boolean }> {
  const files: string[] = [];
  const queue = [...folders];
  while (queue.length && !token.cancelled) {
    const dir = queue.shift()!;
    let ents;
    try {
      ents = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of ents) {
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) queue.push(join(dir, e.name));
      } else if (e.isFile() && /\.[ch]$/.test(e.name)) {
        files.push(join(dir, e.name));
        if (files.length >= max) return { files, capped: true };
      }
    }
  }
  return { files, capped: false };
}


interface Slot {
  worker: Worker;
  busy: boolean;
  ready: Promise<void>;
}

export class WorkspaceIndexer {
  private slots: Slot[] = [];
  private readonly byHash = new Map<string, Omit<IndexedFile, 'path'>>();
  private nextId = 1;
  private readonly pending = new Map<number, (m: FromWorker) => void>();
  private configKey = '';
  private lastError: string | undefined;

  /** Ends the idle workers (their parsers' WASM heaps and header indexes) after a run. */
  private releaseTimer: NodeJS.Timeout | undefined;
  /** One copy of each short string the findings repeat (function, accessor, rule names). */
  private readonly strings = new Map<string, string>();
  /** Where the workers write report rows (made on the first run); undefined when it cannot be made. */
  private spoolDir: string | undefined;
  private spoolMade = false;
  /** Bumped by headerChanged(): results of audits started before it are not cached. */
  private epoch = 0;
  private folders: readonly string[] = [];
  private config: AuditConfig | undefined;

  /**
   * @param releaseAfterMs how long worker threads stay after a run before they are
   * ended: a worker holds tree-sitter's WASM heap (it never shrinks) and the header
   * index of what it audited, hundreds of MB after a kernel tree. The next run starts
   * new ones (about 0.5 s each, and the headers are analysed again). Infinity keeps them.
   */
  constructor(
    private readonly workerPath: string,
    private readonly threads = Math.max(1, availableParallelism()),
    private readonly releaseAfterMs = DEFAULT_RELEASE_MS,
  ) {}

  private intern(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    if (this.strings.size < MAX_INTERNED) this.strings.set(s, s);
    return s;
  }

  /** A worker's file record with its repeated strings shared (structured clone copies every string). */
  private compact(f: IndexedFile): IndexedFile {
    for (const x of f.findings) {
      x.rule = this.intern(x.rule) as typeof x.rule;
      x.severity = this.intern(x.severity) as typeof x.severity;
      x.accessor = this.intern(x.accessor);
      if (x.function !== null) x.function = this.intern(x.function);
    }
    return f;
  }

  /** Worker threads alive now (for tests and measurements). */
  get liveWorkers(): number {
    return this.slots.length;
  }

  /** The spool folder of report rows (spool.ts), for the export; undefined before the first run or when none could be made. */
  get spool(): string | undefined {
    return this.spoolDir;
  }

  /**
   * A header changed on disk: every cached result may depend on it (the workers read
   * headers through the include path), so the cache and the spool start over and
   * the next run audits every file again.
   */
  headerChanged(): void {
    this.epoch++;
    this.byHash.clear();
    if (!this.spoolMade) return;
    removeSpoolDir(this.spoolDir, true);
    this.spoolDir = makeSpoolDir();
    this.configureWorkers();
  }

  private configMessage(): ToWorker {
    const c = this.config!;
    // A vmlinux is read whole by each thread that opens it: the workers join .o files only.
    const objects = c.objects?.vmlinux ? { ...c.objects, vmlinux: undefined } : c.objects;
    return { type: 'config', config: { ...c, objects }, folders: [...this.folders], ...(this.spoolDir ? { spool: this.spoolDir } : {}) };
  }

  private configureWorkers(): void {
    if (this.config) for (const s of this.slots) s.worker.postMessage(this.configMessage());
  }

  private ensureWorkers(config: AuditConfig, folders: readonly string[]): void {
    if (!this.spoolMade) {
      this.spoolMade = true;
      this.spoolDir = makeSpoolDir();
    }
    const key = JSON.stringify([config.profile, config.followIncludes, config.severity, config.objects ?? null, folders]);
    this.config = config;
    this.folders = folders;
    if (key !== this.configKey) {
      // Results depend on the configuration: a new one empties the cache.
      this.byHash.clear();
      this.configKey = key;
      this.configureWorkers();
    }
    while (this.slots.length < this.threads) {
      const worker = new Worker(this.workerPath);
      worker.unref();
      let markReady!: () => void;
      const ready = new Promise<void>((r) => (markReady = r));
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') return markReady();
        const cb = this.pending.get(m.id);
        if (cb) {
          this.pending.delete(m.id);
          cb(m);
        }
      });
      const gone = () => {
        // A crashed (or never started) worker fails what it held and stops blocking the run;
        // a new one replaces it on the next run.
        markReady();
        this.slots = this.slots.filter((s) => s.worker !== worker);
        for (const [id, cb] of this.pending) cb({ type: 'error', id, path: '', message: 'indexer worker crashed' });
        this.pending.clear();
      };
      worker.on('error', (e) => {
        this.lastError = e instanceof Error ? e.message : String(e);
        gone();
      });
      worker.on('exit', gone);
      worker.postMessage(this.configMessage());
      this.slots.push({ worker, busy: false, ready });
    }
  }

  private run(slot: Slot, path: string, text: string, hash: string, headersOnly: boolean): Promise<FromWorker> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      slot.worker.postMessage({ type: 'audit', id, path, text, hash, headersOnly } satisfies ToWorker);
    });
  }

  /** Indexes the folders. Resolves (never rejects) with what was done, also when cancelled. */
  async index(folders: readonly string[], config: AuditConfig, onProgress: (p: IndexProgress) => void, token: CancelToken): Promise<IndexResult> {
    const t0 = performance.now();
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    this.ensureWorkers(config, folders);
    await Promise.all(this.slots.map((s) => s.ready));
    if (!this.slots.length) throw new Error(`the indexer's worker threads did not start: ${this.lastError ?? 'unknown error'} (${this.workerPath})`);
    const { files: paths, capped } = await discover(folders, token);
    const out: IndexedFile[] = [];
    const failures: { path: string; message: string }[] = [];
    let skipped = 0;
    let hits = 0;
    let done = 0;
    let next = 0;
    const total = paths.length;
    let lastReport = 0;
    const inflight = new Map<string, Promise<FromWorker>>();
    const report = () => {
      const now = performance.now();
      if (now - lastReport < 100 && done < total) return;
      lastReport = now;
      onProgress({ done, total, message: `${done}/${total} files` });
    };
    const lane = async (slot: Slot) => {
      while (!token.cancelled && next < paths.length) {
        const path = paths[next++]!;
        try {
          const r = tryReadText(path, { maxBytes: MAX_TEXT_BYTES });
          if ('why' in r) {
            failures.push({ path, message: r.why });
            continue;
          }
          const text = r.text;
          // A file that names nothing itself may still name what its headers declare
          // (a wrapper, an __iomem global or field): the worker, which holds the header
          // index, has the last word (the pre-filter of audit/sources.ts).
          const decision = textDecision(text);
          if (decision === 'skip') {
            skipped++;
            continue;
          }
          const headersOnly = decision === 'headers';
          const hash = createHash('sha1').update(text).digest('hex');
          const cached = this.byHash.get(hash);
          if (cached) {
            hits++;
            out.push({ ...cached, path });
            continue;
          }
          // The same text already on its way through another lane (copied files, symlinked trees).
          const flying = inflight.get(hash);
          if (flying) {
            const m = await flying;
            if (m.type === 'result') {
              hits++;
              out.push({ ...m.file, path });
            } else if (m.type === 'no-sites') skipped++;
            else failures.push({ path, message: m.type === 'error' ? m.message : 'indexer failed' });
            continue;
          }
          const job = this.run(slot, path, text, hash, headersOnly);
          inflight.set(hash, job);
          const epoch = this.epoch;
          const m = await job;
          inflight.delete(hash);
          if (m.type === 'no-sites') skipped++;
          else if (m.type === 'result') {
            const file = this.compact(m.file);
            const { path: _p, ...rest } = file;
            // Audited before a header changed: used for this run, not kept.
            if (epoch === this.epoch) this.byHash.set(hash, rest);
            out.push(file);
          } else if (m.type === 'error') failures.push({ path, message: m.message });
        } catch (e) {
          failures.push({ path, message: e instanceof Error ? e.message : String(e) });
        } finally {
          done++;
          report();
        }
      }
    };
    await Promise.all(this.slots.map((s) => lane(s)));
    // Lanes whose worker died left files undone: say so rather than report a short index.
    if (next < paths.length && !token.cancelled) failures.push({ path: paths[next]!, message: `indexing stopped: ${this.lastError ?? 'worker threads exited'}` });
    onProgress({ done, total, message: `${done}/${total} files` });
    out.sort((a, b) => (a.path < b.path ? -1 : 1));
    this.releaseLater();
    return { files: out, skipped, capped, failures, cacheHits: hits, ms: performance.now() - t0, cancelled: token.cancelled };
  }

  /** Ends the workers once no run has started for releaseAfterMs (the summaries stay). */
  private releaseLater(): void {
    clearTimeout(this.releaseTimer);
    if (!Number.isFinite(this.releaseAfterMs)) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = undefined;
      if (this.pending.size) return; // a run is under way: it schedules its own release
      this.endWorkers();
    }, this.releaseAfterMs);
    this.releaseTimer.unref();
  }

  private endWorkers(): void {
    const slots = this.slots;
    this.slots = [];
    // New workers get the configuration when they start (ensureWorkers); the cached
    // summaries stay valid, as the configuration is unchanged.
    for (const s of slots) void s.worker.terminate();
  }

  dispose(): void {
    clearTimeout(this.releaseTimer);
    for (const s of this.slots) void s.worker.terminate();
    this.slots = [];
    removeSpoolDir(this.spoolDir);
    this.spoolDir = undefined;
  }
}
