/**
 * Bounded little-endian byte cursor with LEB128, the one primitive every
 * ELF/DWARF parser here reads through. Each read checks the bound first and
 * reports a fault through the caller's factory, so the ELF layer throws
 * ElfError and the DWARF layer DwarfError with their own section names.
 */

/** Builds the typed error for a fault at an absolute offset in `data`. */
export type FaultFn = (offset: number, what: string) => Error;

const utf8 = new TextDecoder('utf-8');
const U64_MASK = (1n << 64n) - 1n;

export class ByteReader {
  readonly data: Uint8Array;
  /** Current offset (absolute, into `data`). */
  pos: number;
  /** Exclusive bound; reads never pass it. */
  readonly end: number;
  private readonly view: DataView;
  readonly fault: FaultFn;

  constructor(data: Uint8Array, fault: FaultFn, start = 0, end = data.length) {
    if (start < 0 || end > data.length || start > end) {
      throw fault(start, `range [${start}, ${end}) outside data of ${data.length} bytes`);
    }
    this.data = data;
    this.pos = start;
    this.end = end;
    this.fault = fault;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** A reader over [start, end) of the same data, sharing the fault factory. */
  sub(start: number, end: number): ByteReader {
    if (start < 0 || end > this.end || start > end) {
      throw this.fault(start, `sub-range [${start}, ${end}) outside [0, ${this.end})`);
    }
    return new ByteReader(this.data, this.fault, start, end);
  }

  need(n: number, what = 'read'): void {
    if (n < 0 || this.pos + n > this.end) {
      throw this.fault(this.pos, `${what} of ${n} bytes runs past end (${this.end})`);
    }
  }

  seek(pos: number): void {
    if (pos < 0 || pos > this.end) throw this.fault(pos, `seek outside data (end ${this.end})`);
    this.pos = pos;
  }

  skip(n: number): void {
    this.need(n, 'skip');
    this.pos += n;
  }

  u8(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  i8(): number {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const d = this.data;
    const p = this.pos;
    this.pos += 3;
    return d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16);
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 that must be a usable offset/size (<= 2^53). */
  u64n(what = 'value'): number {
    const at = this.pos;
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fault(at, `${what} 0x${v.toString(16)} too large`);
    return Number(v);
  }

  /** Unsigned integer of 1, 2, 4 or 8 bytes as a bigint (addresses). */
  uintBig(size: number): bigint {
    switch (size) {
      case 1: return BigInt(this.u8());
      case 2: return BigInt(this.u16());
      case 4: return BigInt(this.u32());
      case 8: return this.u64();
      default: throw this.fault(this.pos, `unsupported integer size ${size}`);
    }
  }

  /** Unsigned integer of 4 or 8 bytes that must fit a number (section offsets). */
  offset(size: number, what = 'offset'): number {
    if (size === 4) return this.u32();
    if (size === 8) return this.u64n(what);
    throw this.fault(this.pos, `unsupported offset size ${size}`);
  }

  bytes(n: number): Uint8Array {
    this.need(n, 'block');
    const v = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Unsigned LEB128 as a bigint; at most 64 significant bits. */
  ulebBig(): bigint {
    const start = this.pos;
    let result = 0n;
    let shift = 0n;
    // Bounded by `end`: every iteration consumes one byte or throws.
    for (;;) {
      if (this.pos >= this.end) throw this.fault(start, 'truncated LEB128');
      const b = this.data[this.pos++]!;
      const bits = BigInt(b & 0x7f);
      if (bits !== 0n) {
        if (shift >= 64n || (bits << shift) > U64_MASK) throw this.fault(start, 'LEB128 wider than 64 bits');
        result |= bits << shift;
      }
      shift += 7n;
      if ((b & 0x80) === 0) return result;
    }
  }

  /** Unsigned LEB128 that must fit a number (sizes, indices, counts). */
  uleb(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw this.fault(start, 'truncated LEB128');
      const b = this.data[this.pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 63) {
        // Long padded encodings are legal; only real bits past 2^53 are not.
        this.pos = start;
        const big = this.ulebBig();
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fault(start, 'LEB128 value too large');
        return Number(big);
      }
    }
    if (result > Number.MAX_SAFE_INTEGER) throw this.fault(start, 'LEB128 value too large');
    return result;
  }

  /** Signed LEB128 as a bigint, sign-extended from its encoded width (max 64 bits). */
  slebBig(): bigint {
    const start = this.pos;
    let result = 0n;
    let shift = 0n;
    let b = 0;
    for (;;) {
      if (this.pos >= this.end) throw this.fault(start, 'truncated LEB128');
      b = this.data[this.pos++]!;
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      else if ((b & 0x7f) !== 0 && (b & 0x7f) !== 0x7f) throw this.fault(start, 'SLEB128 wider than 64 bits');
      shift += 7n;
      if ((b & 0x80) === 0) break;
    }
    if (shift < 64n && (b & 0x40) !== 0) result -= 1n << shift;
    return BigInt.asIntN(64, result);
  }

  /** Signed LEB128 that must fit a number. */
  sleb(): number {
    const start = this.pos;
    const v = this.slebBig();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.fault(start, 'SLEB128 value too large');
    }
    return Number(v);
  }

  /** NUL-terminated UTF-8 string; the NUL must lie before `end`. */
  cstring(): string {
    const s = cstringAt(this.data, this.pos, this.end, this.fault);
    this.pos = s.next;
    return s.value;
  }
}

/** Node's Latin-1 slice of a byte view: an ASCII string without a TextDecoder call and a subarray. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** Reads a NUL-terminated string at `pos`, bounded by `end`. */
export function cstringAt(
  data: Uint8Array,
  pos: number,
  end: number,
  fault: FaultFn,
): { value: string; next: number } {
  if (pos < 0 || pos >= end) throw fault(pos, 'string offset outside section');
  // Search only inside [pos, end) so a missing NUL cannot scan a whole vmlinux.
  // Symbol and DWARF names are ASCII: those are sliced as Latin-1 (the same text).
  let nul = pos;
  let high = 0;
  for (; nul < end; nul++) {
    const b = data[nul]!;
    if (b === 0) break;
    high |= b;
  }
  if (nul >= end) throw fault(pos, 'unterminated string');
  return { value: high < 0x80 ? latin1Slice.call(data, pos, nul) : utf8.decode(data.subarray(pos, nul)), next: nul + 1 };
}
