// The header index between the worker threads of one run (scan, report): what a
// header component declares, by its content key (headerIndex.ts), in memory every
// thread of the process sees, so that two workers do not both analyse the kernel
// headers their first drivers reach (a quarter of each worker's CPU on arch/x86 with
// --no-header-cache, and the whole of a cold first run's header cost, twice).
//
// One SharedArrayBuffer, made by the main thread and handed to each worker: a table
// of slots (open addressing on the key) and a data area the slots point into. A
// thread that meets a component first claims its slot, analyses it and publishes
// the result (knowledgeToJson, the disk cache's form); a thread that meets a claimed
// slot waits for it (Atomics.wait) instead of doing the same work. A claim is held
// only while its owner analyses that one component, which waits for nothing, so no
// two threads wait on each other. When the table or the data area is full, or an
// owner never publishes (its thread died), the waiter analyses the component itself:
// sharing saves work, it never changes what a component declares.

import { CATALOGUE } from './catalogue';
import { knowledgeFromJson, knowledgeToJson, type Knowledge } from './knowledge';

const EMPTY_SLOT = 0;
const INITIALISING = 1;
const CLAIMED = 2;
const PUBLISHED = 3;
const ABANDONED = 4;

/** Int32 words per slot: state, three words of the key, data offset, data length. */
const SLOT_WORDS = 6;
/** Header words: bytes of the data area used. */
const HEADER_WORDS = 2;
const DEFAULT_SLOTS = 1 << 19;
const DEFAULT_DATA_BYTES = 48 * 1024 * 1024;
/** How long a waiter waits for an owner before analysing the component itself. */
const WAIT_MS = 60_000;

/** The buffer a run shares between its workers (made once, on the main thread). */
export function createHeaderShareBuffer(slots = DEFAULT_SLOTS, dataBytes = DEFAULT_DATA_BYTES): SharedArrayBuffer {
  const sab = new SharedArrayBuffer((HEADER_WORDS + slots * SLOT_WORDS) * 4 + dataBytes);
  new Int32Array(sab, 0, HEADER_WORDS)[1] = slots;
  return sab;
}

/** What a claim gives: another thread's result, the duty to publish one, or neither (analyse locally, publish nothing). */
export type ShareClaim = { knowledge: Knowledge } | { mine: true } | undefined;

export class HeaderShare {
  private readonly words: Int32Array;
  private readonly slots: number;
  private readonly dataStart: number;
  private readonly data: Buffer;
  /** Slots this thread claimed and has not published yet, by key. */
  private readonly claimed = new Map<string, number>();
  /** Components taken from another thread (for measurements). */
  received = 0;

  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly waitMs = WAIT_MS,
  ) {
    this.slots = new Int32Array(buffer, 0, HEADER_WORDS)[1]!;
    this.words = new Int32Array(buffer, 0, HEADER_WORDS + this.slots * SLOT_WORDS);
    this.dataStart = this.words.byteLength;
    this.data = Buffer.from(buffer, this.dataStart);
  }

  /**
   * The component keyed `key` (a hex content hash): published by another thread,
   * claimed for this one (publish or abandon it), or undefined.
   */
  claim(key: string): ShareClaim {
    const c = this.claimJson(key, true);
    if (!c || 'mine' in c) return c;
    const k = knowledgeFromJson(c.json, (n) => CATALOGUE.get(n));
    if (k) this.received++;
    return k ? { knowledge: k } : undefined;
  }

  /** Hands a claimed component's result to every thread. */
  publish(key: string, k: Knowledge): void {
    this.publishJson(key, knowledgeToJson(k));
  }

  /**
   * Any JSON value by key, as claim does for components. Without `wait`, a slot
   * another thread has claimed and not yet published answers undefined at once
   * (for work cheaper than a wait: reading and hashing one header).
   */
  claimJson(key: string, wait: boolean): { json: unknown } | { mine: true } | undefined {
    const k0 = parseInt(key.slice(0, 8), 16) | 0;
    const k1 = parseInt(key.slice(8, 16), 16) | 0;
    const k2 = parseInt(key.slice(16, 24), 16) | 0;
    if (Number.isNaN(k0 + k1 + k2) || key.length < 24) return undefined;
    const w = this.words;
    let i = (k0 >>> 0) % this.slots;
    for (let probes = 0; probes < this.slots; ) {
      const at = HEADER_WORDS + i * SLOT_WORDS;
      let s = Atomics.load(w, at);
      if (s === EMPTY_SLOT) {
        if (Atomics.compareExchange(w, at, EMPTY_SLOT, INITIALISING) !== EMPTY_SLOT) continue; // lost the race: look again
        Atomics.store(w, at + 1, k0);
        Atomics.store(w, at + 2, k1);
        Atomics.store(w, at + 3, k2);
        Atomics.store(w, at, CLAIMED);
        Atomics.notify(w, at);
        this.claimed.set(key, at);
        return { mine: true };
      }
      // Another thread is writing this slot's key: a few stores away.
      while (s === INITIALISING) {
        Atomics.wait(w, at, INITIALISING, 1);
        s = Atomics.load(w, at);
      }
      if (Atomics.load(w, at + 1) !== k0 || Atomics.load(w, at + 2) !== k1 || Atomics.load(w, at + 3) !== k2) {
        i = (i + 1) % this.slots;
        probes++;
        continue;
      }
      if (s === CLAIMED && !wait) return undefined;
      const deadline = Date.now() + this.waitMs;
      while (s === CLAIMED) {
        const left = deadline - Date.now();
        if (left <= 0) {
          // The owner is gone (or stuck): nobody else waits on it either.
          Atomics.compareExchange(w, at, CLAIMED, ABANDONED);
          Atomics.notify(w, at);
          return undefined;
        }
        Atomics.wait(w, at, CLAIMED, left);
        s = Atomics.load(w, at);
      }
      if (s !== PUBLISHED) return undefined;
      const off = Atomics.load(w, at + 4);
      const len = Atomics.load(w, at + 5);
      try {
        return { json: JSON.parse(this.data.toString('utf8', off, off + len)) as unknown };
      } catch {
        return undefined;
      }
    }
    return undefined; // the table is full
  }

  /** Hands a value claimed with claimJson to every thread. */
  publishJson(key: string, value: unknown): void {
    const at = this.claimed.get(key);
    if (at === undefined) return;
    this.claimed.delete(key);
    const text = JSON.stringify(value);
    const len = Buffer.byteLength(text);
    const off = Atomics.add(this.words, 0, len);
    if (off + len > this.data.length) return this.release(at);
    this.data.write(text, off, len, 'utf8');
    Atomics.store(this.words, at + 4, off);
    Atomics.store(this.words, at + 5, len);
    Atomics.store(this.words, at, PUBLISHED);
    Atomics.notify(this.words, at);
  }

  /** Gives up a claim (its analysis failed): waiters analyse it themselves. */
  abandon(key: string): void {
    const at = this.claimed.get(key);
    if (at === undefined) return;
    this.claimed.delete(key);
    this.release(at);
  }

  private release(at: number): void {
    Atomics.store(this.words, at, ABANDONED);
    Atomics.notify(this.words, at);
  }
}

/**
 * The share of this thread's run, when its creator set one (scanWorker.ts, from
 * the buffer the main thread made): every HeaderIndex made on this thread uses it.
 */
let threadShare: HeaderShare | undefined;

export function shareHeadersOnThisThread(buffer: SharedArrayBuffer | undefined): void {
  threadShare = buffer ? new HeaderShare(buffer) : undefined;
}

export function headerShareOfThisThread(): HeaderShare | undefined {
  return threadShare;
}
