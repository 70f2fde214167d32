// The annotation rewrite (annotations.ts) changes a few code units of a text of the
// same length: it copies the text's UTF-16 code units into an array, overwrites some,
// and reads the array back as a string. Two costs of doing that per text (drivers/net's
// region texts, helper-v8): a fresh zero-filled array for every text, and the read-back
// as a two-byte string (`utf16le`) even when the text is ASCII, as nearly every kernel
// file is: twice the bytes of a one-byte string, allocated in the young generation,
// copied by each scavenge the parse outlives, and held for the whole file's audit.
// Here the arrays are kept between texts, and an ASCII text is copied and read back
// one byte per unit (`latin1`: for ASCII the same string, one-byte).

/** An array of a text's code units: one byte each for an ASCII text, two otherwise. */
export type Units = Uint8Array | Uint16Array;

export class TextUnits {
  private narrow = new Uint8Array(0);
  private wide = new Uint16Array(0);

  /** `keep`: the most code units an array kept between texts holds (a larger text gets one of its own). */
  constructor(private readonly keep = 1 << 22) {}

  /**
   * The code units of `text` in an array (at least `text.length` long, only that much
   * meaningful), to overwrite with ASCII units and read back with `read`. The array is
   * this object's until the next `copy`.
   */
  copy(text: string): Units {
    const n = text.length;
    if (Buffer.byteLength(text, 'utf8') === n) {
      const u = n <= this.narrow.length ? this.narrow : this.grown(n, 1);
      Buffer.from(u.buffer, u.byteOffset, n).write(text, 0, 'latin1');
      return u;
    }
    const u = n <= this.wide.length ? this.wide : this.grown(n, 2);
    // Native copy of the code units (lone surrogates too), little-endian as `read` assumes.
    Buffer.from(u.buffer, u.byteOffset, 2 * n).write(text, 0, 'utf16le');
    return u;
  }

  /** The first `n` units of an array `copy` gave, as a string (unit for unit: lone surrogates kept). */
  read(units: Units, n: number): string {
    const bytes = Buffer.from(units.buffer, units.byteOffset, n * units.BYTES_PER_ELEMENT);
    return units.BYTES_PER_ELEMENT === 1 ? bytes.toString('latin1') : bytes.toString('utf16le');
  }

  /** A new array for `n` units of `size` bytes, kept for later texts when within `keep`. */
  private grown(n: number, size: 1 | 2): Units {
    if (n > this.keep) return size === 1 ? new Uint8Array(n) : new Uint16Array(n);
    const len = Math.min(this.keep, Math.max(n, 2 * (size === 1 ? this.narrow.length : this.wide.length)));
    if (size === 1) return (this.narrow = new Uint8Array(len));
    return (this.wide = new Uint16Array(len));
  }
}
