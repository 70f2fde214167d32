// The CLI's worker pool (cli/pool.ts, cli/poolQueue.ts) hands each worker a second file
// before it answers the first, so that a worker never waits for the main thread between
// files. A worker can die or retire with that second file queued: the file must go to
// another worker, once, and every result must come out once and in the files' order,
// whatever the number of workers. The workers here are a small script of the pool's
// protocol (ready; {id, path} in; {id, result, retire?} out), so the scheduling is
// tested without the audit engine; test/cli/recycle.test.ts and report-jobs.test.ts
// run the real worker through the same paths.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPool, IN_FLIGHT, type Heaviness, type RenewBeforeObject } from '../../server/src/cli/pool';
import { FileQueue } from '../../server/src/cli/poolQueue';

/**
 * A worker of the pool's protocol. A path naming `slow` takes 30 ms, `stall` 1 s; `crash` throws
 * (the worker dies) unless the worker has the retry's doubled heap limit; `retire`
 * asks to be replaced with its answer (and the worker then starts no queued file, as
 * scanWorker.ts); `fat` leaves the worker at 250 MB (its footprint, sent with each
 * answer) until its engine is renewed, any other file at 60. Asked to renew its engine (PoolRequest), a worker that
 * audited a `lean` file drops back to 60 MB; any other frees nothing and retires. Each answer says which thread gave it and whether the pool had
 * already queued the next file when this one was done (receiveMessageOnPort takes it
 * out of the port: the worker keeps it in a queue of its own).
 */
const WORKER = `
const { parentPort, threadId, resourceLimits, receiveMessageOnPort } = require('node:worker_threads');
const queue = [];
let retiring = false;
let running = false;
const big = (resourceLimits.maxOldGenerationSizeMb ?? 0) >= 64;
/** The footprint of the last answer; whether a file named lean was audited (its renewal frees the fat). */
let last = 60;
let lean = false;
/** This thread's files in the order it audited them. */
let seq = 0;
function one(m) {
  if (m.renew) {
    // As scanWorker.ts: a fresh engine, and the footprint before and after; too little freed, it retires.
    const before = last;
    last = lean ? 60 : last;
    const retire = last > before * 0.75;
    parentPort.postMessage({ renewed: true, before, after: last, footprintMb: last, ...(retire ? { retire: true } : {}) });
    return retire;
  }
  if (m.path.includes('crash') && !big) throw new Error('a worker dies on ' + m.path);
  if (m.path.includes('lean')) lean = true;
  const start = Date.now();
  const before = last;
  const ms = m.path.includes('stall') ? 1000 : m.path.includes('slow') ? 30 : 0;
  while (Date.now() - start < ms);
  const next = receiveMessageOnPort(parentPort);
  if (next) queue.push(next.message);
  const retire = m.path.includes('retire');
  // The fat stays until the worker's engine is renewed, as a real worker's header knowledge does.
  const footprintMb = (last = m.path.includes('fat') || last === 250 ? 250 : 60);
  parentPort.postMessage({ id: m.id, result: { path: m.path, thread: threadId, seq: ++seq, queued: next !== undefined || queue.length > 0, start, end: Date.now(), before }, footprintMb, ...(retire ? { retire: true } : {}) });
  return retire;
}
function drain() {
  if (running) return;
  running = true;
  while (queue.length && !retiring) retiring = one(queue.shift());
  running = false;
}
parentPort.on('message', (m) => { queue.push(m); drain(); });
parentPort.postMessage({ ready: true });
`;

interface Answer {
  path: string;
  start?: number;
  end?: number;
  thread?: number;
  /** Which of its thread's files this was, in the order the thread audited them. */
  seq?: number;
  queued?: boolean;
  here?: true;
  /** The worker's footprint when it started this file. */
  before?: number;
}

let dir = '';
let script = '';

/** Runs the pool over `files` with the test worker; every emitted index and result, and the pool's notes. */
async function pool(files: string[], jobs: number, extra: { recycleMb?: number; recycleTotalMb?: number; heldBudget?: number; weigh?: (r: Answer) => number; heavy?: (p: string) => boolean | Heaviness; renewBeforeObject?: RenewBeforeObject } = {}) {
  const emitted: { i: number; r: Answer; burst: number }[] = [];
  // Results emitted within one synchronous run of the pool's code share a burst.
  let burst = 0;
  let open = false;
  const retried: string[] = [];
  let recycled = 0;
  const renewed: [number, number][] = [];
  await runPool<Answer>({
    files,
    jobs,
    workerData: { task: 'scan' },
    workerScript: script,
    local: async () => (path) => ({ path, here: true }),
    failed: (m) => ({ path: m }),
    emit: (i, r) => {
      if (!open) {
        open = true;
        burst++;
        queueMicrotask(() => (open = false));
      }
      emitted.push({ i, r, burst });
    },
    maxHeapMb: 32,
    retried: (p) => retried.push(p),
    recycleMb: extra.recycleMb ?? 1,
    recycleTotalMb: extra.recycleTotalMb,
    recycled: () => recycled++,
    renewed: (b, a) => renewed.push([b, a]),
    heldBudget: extra.heldBudget,
    heavy: extra.heavy,
    renewBeforeObject: extra.renewBeforeObject,
    weigh: extra.weigh,
  });
  return { emitted, retried, recycled, renewed };
}

const names = (n: number, f: (i: number) => string = (i) => `f${String(i).padStart(3, '0')}.c`) => Array.from({ length: n }, (_, i) => f(i));

describe('the pool keeps a worker fed', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-pool-'));
    script = join(dir, 'worker.js');
    writeFileSync(script, WORKER);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('one worker: the next file is queued before it answers the last, and the results come out in order', async () => {
    assert.equal(IN_FLIGHT, 2);
    const files = names(12, (i) => `f${String(i).padStart(2, '0')}-slow.c`);
    const { emitted } = await pool(files, 1);
    assert.deepEqual(emitted.map((e) => e.i), files.map((_, i) => i));
    assert.deepEqual(emitted.map((e) => e.r.path), files);
    assert.ok(emitted.every((e) => !e.r.here), 'every file audited by the worker');
    // Every file but the last had the next one waiting in its worker's port when it was done.
    assert.deepEqual(emitted.slice(0, -1).filter((e) => !e.r.queued).map((e) => e.r.path), []);
  });

  for (const jobs of [1, 2, 3]) {
    test(`${jobs} worker(s): a worker that dies with a file queued behind the one it died on loses neither`, async () => {
      // crash files are audited again by a bigger worker; the files after them were queued on the dead worker.
      const files = names(40, (i) => `f${String(i).padStart(2, '0')}${i % 9 === 4 ? '-crash' : i % 5 === 0 ? '-slow' : ''}.c`);
      const { emitted, retried } = await pool(files, jobs, { recycleMb: 100_000 });
      assert.deepEqual(emitted.map((e) => e.i), files.map((_, i) => i), 'each file once, in order');
      assert.deepEqual(emitted.map((e) => e.r.path), files);
      assert.deepEqual(emitted.filter((e) => e.r.here).map((e) => e.r.path), [], 'none left to this thread');
      assert.deepEqual(retried.sort(), files.filter((f) => f.includes('crash')));
    });

    test(`${jobs} worker(s): a worker that retires with a file queued hands it to its successor`, async () => {
      // Files follow each retiring one (a worker that answers the last file has no successor).
      const files = names(30, (i) => `f${String(i).padStart(2, '0')}${i % 4 === 1 && i < 24 ? '-retire' : ''}${i % 3 === 0 ? '-slow' : ''}.c`);
      const { emitted, recycled } = await pool(files, jobs);
      assert.deepEqual(emitted.map((e) => e.i), files.map((_, i) => i), 'each file once, in order');
      assert.deepEqual(emitted.map((e) => e.r.path), files);
      assert.deepEqual(emitted.filter((e) => e.r.here).map((e) => e.r.path), []);
      assert.equal(recycled, files.filter((f) => f.includes('retire')).length, 'every retiring worker replaced');
      // A file queued behind a retiring worker's answer is audited by another thread than the one that retired:
      // no thread audits a file after its retiring one. (Not "the next file by index is on another thread": a
      // file handed on from a worker that retired before starting it can reach a thread after a later file did.)
      for (const e of emitted.filter((x) => x.r.path.includes('retire'))) {
        const after = emitted.filter((o) => o.r.thread === e.r.thread && o.r.seq! > e.r.seq!).map((o) => o.r.path);
        assert.deepEqual(after, [], `${e.r.path}'s thread audited no file after it`);
      }
    });
  }

  for (const jobs of [1, 2]) {
    test(`${jobs} worker(s) under a total of 300 MB: a worker that takes the sum past it is replaced, and nothing is lost`, async () => {
      // Every file takes 30 ms, so both workers have answered (and said their footprint) before the first fat file.
      const files = names(30, (i) => `f${String(i).padStart(2, '0')}${i % 7 === 6 ? '-fat' : ''}-slow.c`);
      const { emitted, recycled } = await pool(files, jobs, { recycleMb: 100_000, recycleTotalMb: 300 });
      assert.deepEqual(emitted.map((e) => e.i), files.map((_, i) => i), 'each file once, in order');
      assert.deepEqual(emitted.map((e) => e.r.path), files);
      assert.deepEqual(emitted.filter((e) => e.r.here).map((e) => e.r.path), []);
      // One worker at 250 MB is under 300; two are at 250 + 60 after a fat file (unless the other has not answered yet since it started).
      if (jobs === 1) assert.equal(recycled, 0);
      else assert.ok(recycled >= 1 && recycled <= 4, `${recycled} replaced`);
    });
  }

  test('2 workers under a total of 300 MB: a worker whose renewed engine frees enough is kept, with its queued file, and nothing is lost', async () => {
    const files = names(30, (i) => `f${String(i).padStart(2, '0')}${i % 7 === 6 ? '-fat' : ''}-lean-slow.c`);
    const { emitted, recycled, renewed } = await pool(files, 2, { recycleMb: 100_000, recycleTotalMb: 300 });
    assert.deepEqual(emitted.map((e) => e.i), files.map((_, i) => i), 'each file once, in order');
    assert.deepEqual(emitted.map((e) => e.r.path), files);
    assert.deepEqual(emitted.filter((e) => e.r.here).map((e) => e.r.path), []);
    assert.equal(recycled, 0, 'no worker replaced');
    assert.ok(renewed.length >= 1, 'a worker renewed its engine');
    assert.ok(renewed.every(([b, a]) => b === 250 && a === 60), JSON.stringify(renewed));
    // Two threads did every file: the renewal did not start a third.
    assert.equal(new Set(emitted.map((e) => e.r.thread)).size, 2);
  });

  test('two workers never audit two heavy files at once, and the output keeps its order', async () => {
    const files = names(24, (i) => `f${String(i).padStart(2, '0')}${i % 3 !== 2 ? '-heavy' : ''}-slow.c`);
    const overlaps = (emitted: { r: Answer }[]) => {
      const h = emitted.filter((e) => e.r.path.includes('heavy')).map((e) => e.r);
      let n = 0;
      for (const a of h) for (const b of h) if (a.thread !== b.thread && a.start! < b.start! && b.start! < a.end!) n++;
      return n;
    };
    const free = await pool(files, 2, { recycleMb: 100_000 });
    assert.ok(overlaps(free.emitted) > 0, 'without the rule two heavy files run at once');
    const one = await pool(files, 2, { recycleMb: 100_000, heavy: (p) => p.includes('heavy') });
    assert.deepEqual(one.emitted.map((e) => e.r.path), files);
    assert.equal(overlaps(one.emitted), 0);
  });

  test('two workers: a worker grown past its fresh engine renews it before a file with an object, not before a large one', async () => {
    // Every worker starts on lean files (60 MB: its fresh engine), grows on fat ones (250), then meets the object file.
    // Enough lean files that a worker slow to start (a loaded machine) still gets some.
    const files = [...names(32, (i) => `f${String(i).padStart(2, '0')}-lean-slow.c`), ...names(4, (i) => `g${i}-fat-slow.c`), 'h-obj-slow.c'];
    const heavy = (kind: Heaviness) => (p: string) => (p.includes('obj') ? kind : false);
    const grown = { mb: 40, files: 2 };
    const obj = (r: { emitted: { r: Answer }[] }) => r.emitted.find((e) => e.r.path.includes('obj'))!.r;
    const renewing = await pool(files, 2, { recycleMb: 100_000, heavy: heavy('object'), renewBeforeObject: grown });
    assert.deepEqual(renewing.emitted.map((e) => e.r.path), files);
    assert.equal(obj(renewing).before, 60, 'the object file started on a renewed engine');
    assert.ok(renewing.renewed.some(([b, a]) => b === 250 && a === 60), JSON.stringify(renewing.renewed));
    assert.equal(renewing.recycled, 0);
    const large = await pool(files, 2, { recycleMb: 100_000, heavy: heavy('large'), renewBeforeObject: grown });
    assert.equal(obj(large).before, 250, 'a large source alone renews nothing');
    assert.deepEqual(large.renewed, []);
    const off = await pool(files, 2, { recycleMb: 100_000, heavy: heavy('object'), renewBeforeObject: { mb: 1000, files: 2 } });
    assert.equal(obj(off).before, 250, 'under the growth no renewal');
  });

  test('two workers: a run of object files renews each worker once per so many files, not before every one', async () => {
    const files = [...names(32, (i) => `f${String(i).padStart(2, '0')}-lean-slow.c`), ...names(8, (i) => `g${i}-fat-obj-lean-slow.c`)];
    const heavy = (p: string): Heaviness => (p.includes('obj') ? 'object' : false);
    const every = await pool(files, 2, { recycleMb: 100_000, heavy, renewBeforeObject: { mb: 40, files: 0 } });
    // On a thread that started lean (its fresh engine at 60), every object file after its first starts renewed.
    let checked = 0;
    for (const thread of new Set(every.emitted.map((e) => e.r.thread))) {
      const mine = every.emitted.filter((e) => e.r.thread === thread).map((e) => e.r);
      const objs = mine.filter((r) => r.path.startsWith('g'));
      if (!mine[0]!.path.startsWith('f')) continue;
      for (const r of objs.slice(1)) {
        checked++;
        assert.equal(r.before, 60, `without the file count ${r.path} starts on a renewed engine`);
      }
    }
    assert.ok(checked >= 1 && every.renewed.length >= checked, `${checked} checked, ${every.renewed.length} renewed`);
    const guarded = await pool(files, 2, { recycleMb: 100_000, heavy, renewBeforeObject: { mb: 40, files: 8 } });
    assert.deepEqual(guarded.emitted.map((e) => e.r.path), files);
    assert.ok(guarded.renewed.length <= 2, `at most once a worker within 8 files (${guarded.renewed.length})`);
  });

  test('two workers: files ahead of the writer stop going out past the held budget, and the run still ends', async () => {
    // f000 stalls one worker for 1 s; the other does the rest in far less, unless the budget stops it.
    const files = names(40, (i) => (i === 0 ? 'f000-stall.c' : `f${String(i).padStart(3, '0')}.c`));
    const heldWith = async (heldBudget: number) => {
      const { emitted } = await pool(files, 2, { recycleMb: 100_000, heldBudget, weigh: () => 1 });
      assert.deepEqual(emitted.map((e) => e.i), files.map((_, i) => i), 'each file once, in order');
      assert.deepEqual(emitted.filter((e) => e.r.here).map((e) => e.r.path), []);
      // Results written in one synchronous burst were held until the one before them came.
      const sizes = new Map<number, number>();
      for (const e of emitted) sizes.set(e.burst, (sizes.get(e.burst) ?? 0) + 1);
      return Math.max(...sizes.values()) - 1;
    };
    const unbounded = await heldWith(1_000_000);
    assert.ok(unbounded > 3 + IN_FLIGHT, `without a budget the other worker runs further ahead (${unbounded} held)`);
    // Over budget no file after f000 goes out; what was queued on the worker still comes back.
    assert.ok((await heldWith(3)) <= 3 + IN_FLIGHT);
  });
});

describe('FileQueue', () => {
  test('hands out in order, files handed back first, smallest first; results come out in order once', () => {
    const out: [number, string][] = [];
    const q = new FileQueue<string>(6, (i, r) => out.push([i, r]));
    assert.deepEqual([q.take(), q.take(), q.take(), q.take()], [0, 1, 2, 3]);
    q.giveBack([3, 1]);
    assert.equal(q.take(), 1);
    assert.equal(q.answer(2, 'c'), false, 'held: 0 and 1 are not written');
    assert.equal(q.answer(0, 'a'), true);
    assert.equal(q.answer(1, 'b'), true);
    assert.equal(q.answer(1, 'b again'), false, 'a second answer is dropped');
    assert.deepEqual(out, [[0, 'a'], [1, 'b'], [2, 'c']]);
    assert.equal(q.take(), 3);
    assert.ok(q.more);
    assert.deepEqual(q.rest(), [3, 4, 5]);
  });

  test('past the budget only the file the writer waits for, and files handed back, go out', () => {
    const out: number[] = [];
    const q = new FileQueue<number>(10, (i) => out.push(i), (w) => w, 5);
    assert.equal(q.take(), 0);
    assert.equal(q.take(), 1);
    assert.equal(q.take(), 2);
    q.answer(1, 3);
    q.answer(2, 3);
    assert.equal(q.held, 6);
    assert.equal(q.take(), undefined, 'over budget: 3 would be ahead of the writer');
    assert.ok(q.more);
    q.giveBack([0]);
    assert.equal(q.take(), 0, 'handed back: the writer waits for it');
    q.answer(0, 1);
    assert.deepEqual(out, [0, 1, 2]);
    assert.equal(q.held, 0);
    assert.equal(q.take(), 3);
  });

  test('one heavy file out at a time: light files after it go first, the heavy ones wait', () => {
    const heavy = new Set([1, 2, 5]);
    const q = new FileQueue<number>(8, () => {}, () => 1, 100, (i) => heavy.has(i));
    assert.deepEqual([q.take(), q.take(), q.take(), q.take()], [0, 1, 3, 4], '2 waits while 1 is out');
    assert.equal(q.take(), 6, '5 waits too');
    q.answer(1, 0);
    assert.equal(q.take(), 2, 'with 1 answered, the smallest heavy file waiting goes');
    assert.equal(q.take(), 7);
    assert.equal(q.take(), undefined, '5 waits for 2');
    assert.ok(q.more);
    q.giveBack([2]);
    assert.equal(q.take(), 2, 'a heavy file handed back is no longer out');
    q.answer(2, 0);
    assert.equal(q.take(), 5);
    assert.equal(q.more, false);
  });

  test('the file the writer waits for goes out whatever is held', () => {
    const q = new FileQueue<number>(3, () => {}, (w) => w, 0);
    assert.equal(q.take(), 0);
    assert.equal(q.take(), undefined, 'a budget of 0: nothing ahead of the writer');
    q.answer(0, 5);
    assert.equal(q.take(), 1);
  });
});
