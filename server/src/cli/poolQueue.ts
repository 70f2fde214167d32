// Which file a worker of the pool (pool.ts) gets next, and the results put back in the
// files' order. Files go out in path order, except that a file handed back unstarted
// (its worker retired or died with it queued) goes out again before any later one.
// A result that arrives before an earlier file's is held until that one is written;
// what is held is bounded: past `budget` (in the units `weigh` gives a result), no file
// after the one the writer waits for is handed out until the writer catches up.

import { partitionPoint } from '../sorted';

/** Files handed out ahead of the writer stop past this much held (weigh's units). */
export const DEFAULT_HELD_BUDGET = 20_000;

export class FileQueue<R> {
  /** The next file never handed out. */
  private next = 0;
  /** Files handed back unstarted, smallest first. */
  private readonly back: number[] = [];
  /** Files handed out and not answered. */
  private readonly out = new Set<number>();
  /** Results waiting for an earlier file's, with their weight. */
  private readonly waiting = new Map<number, { r: R; w: number }>();
  /** The next file to write. */
  private written = 0;
  /** Sum of the weights in `waiting`. */
  held = 0;

  /** Heavy files handed out and not answered. */
  private heavyOut = 0;

  /**
   * `heavy` marks the files whose audit takes a worker's memory up for a while (a large
   * source, an object to join): one of them is out at a time, and while it is, the
   * other workers take the light files after it (within the budget) and the heavy
   * ones wait, so two such peaks never add up.
   */
  constructor(
    private readonly count: number,
    private readonly emit: (index: number, result: R) => void,
    private readonly weigh: (r: R) => number = () => 1,
    private readonly budget = DEFAULT_HELD_BUDGET,
    private readonly heavy: (index: number) => boolean = () => false,
  ) {}

  /**
   * The file to hand out next, or undefined: none is left, the held results are over
   * budget, or only heavy files are left while one is out. Files handed back (and
   * heavy files passed over) go out first, smallest first; past the budget only they
   * and the file the writer waits for do (they are what lets the writer go on).
   */
  take(): number | undefined {
    let i: number | undefined;
    const k = this.back.findIndex((b) => this.heavyOut === 0 || !this.heavy(b));
    if (k >= 0) i = this.back.splice(k, 1)[0]!;
    else {
      while (this.next < this.count && (this.next === this.written || this.held < this.budget)) {
        const n = this.next++;
        // Passed over while another heavy file is out (which the writer reaches first: it
        // is earlier, so the budget cannot hold this back for ever).
        if (this.heavyOut > 0 && this.heavy(n)) this.back.push(n);
        else {
          i = n;
          break;
        }
      }
    }
    if (i !== undefined) {
      this.out.add(i);
      if (this.heavy(i)) this.heavyOut++;
    }
    return i;
  }

  /** Files handed out and not answered are handed out again (to another worker), smallest first. */
  giveBack(ids: readonly number[]): void {
    for (const i of ids) {
      if (!this.out.delete(i)) continue;
      if (this.heavy(i)) this.heavyOut--;
      this.back.splice(partitionPoint(this.back.length, (j) => this.back[j]! <= i), 0, i);
    }
  }

  /** A file's result: written at once when every earlier file is, else held until they are. Returns whether the writer went on. */
  answer(i: number, r: R): boolean {
    if (i < this.written || this.waiting.has(i)) return false; // answered already
    if (this.out.delete(i) && this.heavy(i)) this.heavyOut--;
    const b = this.back.indexOf(i);
    if (b >= 0) this.back.splice(b, 1);
    const w = this.weigh(r);
    this.waiting.set(i, { r, w });
    this.held += w;
    const from = this.written;
    for (let x = this.waiting.get(this.written); x !== undefined; x = this.waiting.get(this.written)) {
      this.waiting.delete(this.written);
      this.held -= x.w;
      this.emit(this.written++, x.r);
    }
    return this.written > from;
  }

  /** Whether a file is left to hand out (now or once the writer catches up). */
  get more(): boolean {
    return this.back.length > 0 || this.next < this.count;
  }

  /** Files without a result, in order: handed out and unanswered, handed back, never handed out. */
  rest(): number[] {
    const r = [...this.out, ...this.back].sort((a, b) => a - b);
    for (let i = this.next; i < this.count; i++) r.push(i);
    return r;
  }
}
