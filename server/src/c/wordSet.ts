// A set of C words with a bit per hash beside it, so that a scan of a file's words
// (syntax.ts scanMembersAndWords, which hashes as it reads) makes a string of a word
// and looks it up only when its bit is set. The header index's names (every wrapper,
// `__iomem` global and field the headers seen so far declare: tens of thousands on
// drivers/) are asked of each word of every file the pre-filter looks at.

import { wordHash } from './words';

/** 2^20 bits (128 KB): under 3 % of other words' bits set by 30,000 names. */
const BITS_LOG2 = 20;
const MASK = (1 << (BITS_LOG2 - 5)) - 1;

export class WordSet implements Iterable<string> {
  private readonly words = new Set<string>();
  private readonly bits = new Int32Array(1 << (BITS_LOG2 - 5));

  add(w: string): void {
    if (this.words.has(w)) return;
    this.words.add(w);
    const h = wordHash(w);
    this.bits[(h >>> 5) & MASK]! |= 1 << (h & 31);
  }

  has(w: string): boolean {
    return this.words.has(w);
  }

  /** False when no word of this hash (wordHash) is in the set; true may be another word's. */
  mayHave(hash: number): boolean {
    return (this.bits[(hash >>> 5) & MASK]! & (1 << (hash & 31))) !== 0;
  }

  get size(): number {
    return this.words.size;
  }

  [Symbol.iterator](): Iterator<string> {
    return this.words[Symbol.iterator]();
  }
}
