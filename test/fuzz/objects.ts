/**
 * Object fuzzing: seeds (our gcc-compiled fixtures, optionally Debian kernel
 * objects), structure-aware and plain mutations, and the pipeline a user hits
 * (openBinary, symbols, every unit's line rows / inlined instances /
 * subprograms / inline chains, and decoding function bytes with the x86 module).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { DwarfError, ElfError, ElfFile, openBinary } from '../../server/src/binary/index';
import { classifyMmio, decodeFunction, deviceMemoryAccesses } from '../../server/src/x86/index';
import { DW_AT, DW_TAG } from '../../server/src/binary/dwarf/constants';
import { getAttr } from '../../server/src/binary/dwarf/info';
import { UnitTypes } from '../../server/src/binary/dwarf/types';
import { ObjectCode } from '../../server/src/audit/code';
import { ObjectFacts, objectFlow } from '../../server/src/audit/compiled/facts';
import { Pick, type Rand } from './prng';
import { walkFiles } from './files';
import { gcc, hasGcc } from '../support/gcc';

export const REPO = resolve(__dirname, '..', '..');
export const KERNEL_DIR = '/var/tmp/tdx-audit-kernel/linux-source-6.1';

// ------------------------------------------------------------------ seeds

export interface SeedSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  /** File offset of the section header. */
  hdr: number;
  /** sh_entsize */
  entsize: number;
}

export interface Seed {
  label: string;
  /** true for seeds built from our own fixtures (inputs derived from them may be committed). */
  own: boolean;
  data: Buffer;
  sections: SeedSection[];
}

export function describeSeed(label: string, data: Buffer, own: boolean): Seed | undefined {
  let elf: ElfFile;
  try {
    elf = ElfFile.parse(data);
  } catch {
    return undefined;
  }
  const shoff = Number(data.readBigUInt64LE(40));
  const sections = elf.sections.map((s) => ({
    index: s.index, name: s.name, type: s.type, flags: s.flags, offset: s.offset, size: s.size, hdr: shoff + s.index * 64, entsize: s.entsize,
  }));
  return { label, own, data, sections };
}

const TOOL_TIMEOUT_MS = 60_000;


/**
 * Compiles our fixtures (test/fixtures/binary/*.c, test/fixtures/drivers/*.c)
 * with several debug-info flavours; [] without gcc.
 */
export function ownSeeds(): Seed[] {
  if (!hasGcc) return [];
  const dir = mkdtempSync(join(tmpdir(), 'tdx-audit-fuzz-'));
  const out: Seed[] = [];
  try {
    const cc = (args: string[]) => gcc(args, dir, TOOL_TIMEOUT_MS);
    const flavours: Array<[string, string[]]> = [
      ['dwarf5', ['-O2', '-g']],
      ['dwarf4', ['-O2', '-gdwarf-4']],
      ['dwarf5-zlib', ['-O2', '-g', '-gz=zlib']],
      ['dwarf4-zlib', ['-O2', '-gdwarf-4', '-gz=zlib']],
      ['dwarf5-zdebug', ['-O2', '-g', '-gz=zlib-gnu']],
      ['dwarf5-O0', ['-O0', '-g']],
      ['dwarf5-sections', ['-O2', '-g', '-ffunction-sections', '-fdata-sections']],
    ];
    const sources = [
      join(REPO, 'test/fixtures/binary/mmio_dev.c'),
      ...readdirSync(join(REPO, 'test/fixtures/drivers')).filter((n) => n.endsWith('.c')).map((n) => join(REPO, 'test/fixtures/drivers', n)),
    ];
    for (const src of sources) {
      const base = src.split('/').pop()!.replace(/\.c$/, '');
      for (const [label, flags] of flavours) {
        const o = join(dir, `${base}-${label}.o`);
        try {
          cc([...flags, '-c', src, '-o', o]);
        } catch {
          continue;
        }
        const s = describeSeed(`${base}-${label}.o`, readFileSync(o), true);
        if (s) out.push(s);
      }
    }
    // Executables: the readers' non-relocatable path.
    const mainSrc = join(REPO, 'test/fixtures/binary/main.c');
    const dev = join(REPO, 'test/fixtures/binary/mmio_dev.c');
    for (const [label, flags] of [['exe-dwarf5', ['-g']], ['exe-dwarf4', ['-gdwarf-4']], ['exe-dwarf5-zlib', ['-g', '-gz=zlib']]] as const) {
      const exe = join(dir, label);
      try {
        cc(['-O2', ...flags, '-nostdlib', '-static', '-Wl,-e,main', dev, mainSrc, '-o', exe]);
      } catch {
        continue;
      }
      const s = describeSeed(label, readFileSync(exe), true);
      if (s) out.push(s);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Debian 6.1 kernel objects, when present, up to `maxBytes` each (never committed, never used for fixtures). */
export function kernelSeeds(maxBytes = 64 * 1024, limit = 40): Seed[] {
  if (!existsSync(KERNEL_DIR)) return [];
  const found: string[] = [];
  walkFiles(KERNEL_DIR, 12, (p, n, size) => {
    if (n.endsWith('.o') && size <= maxBytes && size > 0) found.push(p);
    return found.length < 5000;
  });
  const out: Seed[] = [];
  for (const p of found.slice(0, limit)) {
    const s = describeSeed(`kernel:${p.slice(KERNEL_DIR.length + 1)}`, readFileSync(p), false);
    if (s) out.push(s);
  }
  return out;
}

// ------------------------------------------------------------- mutations

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40];
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xffff, 0xff00, 0xfff1, 0xfff2, 0x100];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0xffffff00, 0x10000, 0xfffffff5, 0x1000000];
const INTERESTING_64 = [
  0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n,
  0xffffffffffffffffn, 0x1fffffffffffffn, 0x20000000000000n, 0xfffffffffffffff0n,
];
/** DWARF form codes (valid ones and a few invalid). */
const FORMS = [
  0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
  0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
  0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x00, 0x02, 0x2d, 0x7f,
];

/** A mutable working copy: a buffer that may grow (sections moved to the end). */
class Work {
  buf: Buffer;
  constructor(readonly seed: Seed, readonly p: Pick) {
    this.buf = Buffer.from(seed.data);
  }
  /** Section headers as they are now (re-read, mutations may have changed them). */
  hdr(s: SeedSection): { offset: number; size: number } | undefined {
    if (s.hdr + 64 > this.buf.length) return undefined;
    const off = this.buf.readBigUInt64LE(s.hdr + 24);
    const size = this.buf.readBigUInt64LE(s.hdr + 32);
    if (off > BigInt(this.buf.length) || size > BigInt(this.buf.length) || off + size > BigInt(this.buf.length)) return undefined;
    return { offset: Number(off), size: Number(size) };
  }
  /** Current bytes of a section (a copy), or undefined when its header no longer points inside the file. */
  bytesOf(s: SeedSection): Buffer | undefined {
    const h = this.hdr(s);
    return h ? Buffer.from(this.buf.subarray(h.offset, h.offset + h.size)) : undefined;
  }
  /** Appends new contents for a section at the end of the file and points its header there. */
  replace(s: SeedSection, bytes: Uint8Array, flags?: number): void {
    if (s.hdr + 64 > this.buf.length) return;
    const pad = (8 - (this.buf.length % 8)) % 8;
    const at = this.buf.length + pad;
    this.buf = Buffer.concat([this.buf, Buffer.alloc(pad), Buffer.from(bytes)]);
    this.buf.writeBigUInt64LE(BigInt(at), s.hdr + 24);
    this.buf.writeBigUInt64LE(BigInt(bytes.length), s.hdr + 32);
    if (flags !== undefined) this.buf.writeBigUInt64LE(BigInt(flags >>> 0), s.hdr + 8);
  }
  section(pred: (s: SeedSection) => boolean): SeedSection | undefined {
    const c = this.seed.sections.filter(pred);
    return c.length ? this.p.one(c) : undefined;
  }
}

function writeInteresting(b: Buffer, at: number, p: Pick, orig = true): void {
  const width = p.one([1, 2, 4, 8]);
  if (at < 0 || at + width > b.length) {
    if (at >= 0 && at < b.length) b[at] = p.one(INTERESTING_8);
    return;
  }
  const near = orig && p.chance(0.3);
  switch (width) {
    case 1: b[at] = near ? (b[at]! + p.range(-4, 4)) & 0xff : p.one(INTERESTING_8); break;
    case 2: b.writeUInt16LE(near ? (b.readUInt16LE(at) + p.range(-4, 4)) & 0xffff : p.one(INTERESTING_16), at); break;
    case 4: b.writeUInt32LE(near ? (b.readUInt32LE(at) + p.range(-16, 16)) >>> 0 : p.one(INTERESTING_32), at); break;
    default: b.writeBigUInt64LE(near ? BigInt.asUintN(64, b.readBigUInt64LE(at) + BigInt(p.range(-16, 16))) : p.one(INTERESTING_64), at);
  }
}

/** Plain byte mutations of a region [start, end) of b, in place. */
function byteMutate(b: Buffer, start: number, end: number, p: Pick): void {
  if (end <= start) return;
  const n = p.chance(0.7) ? p.range(1, 4) : p.range(5, 32);
  for (let k = 0; k < n; k++) {
    const at = start + p.int(end - start);
    switch (p.int(5)) {
      case 0: b[at] = b[at]! ^ (1 << p.int(8)); break;
      case 1: b[at] = p.int(256); break;
      case 2: writeInteresting(b, at, p); break;
      case 3: { // copy a chunk inside the region
        const len = Math.min(p.range(1, 64), end - start);
        const from = start + p.int(end - start - len + 1);
        const to = start + p.int(end - start - len + 1);
        b.copyWithin(to, from, from + len);
        break;
      }
      default: b.fill(p.chance(0.5) ? 0 : 0xff, at, Math.min(end, at + p.range(1, 16)));
    }
  }
}

/** Length-changing mutations of a section's bytes (the result is moved to the end of the file). */
function reshape(bytes: Buffer, p: Pick, other?: Buffer): Buffer {
  switch (p.int(6)) {
    case 0: return bytes.subarray(0, p.int(bytes.length + 1)); // truncate
    case 1: { // insert random bytes
      const at = p.int(bytes.length + 1);
      const ins = Buffer.alloc(p.range(1, 64));
      for (let i = 0; i < ins.length; i++) ins[i] = p.chance(0.5) ? p.int(256) : 0;
      return Buffer.concat([bytes.subarray(0, at), ins, bytes.subarray(at)]);
    }
    case 2: { // delete a chunk
      const at = p.int(bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + p.range(1, 64)))]);
    }
    case 3: { // duplicate a chunk (inflate)
      if (!bytes.length) return bytes;
      const at = p.int(bytes.length);
      const len = Math.min(bytes.length - at, p.range(1, 512));
      const times = p.range(1, p.chance(0.1) ? 200 : 4);
      const chunk = bytes.subarray(at, at + len);
      return Buffer.concat([bytes.subarray(0, at + len), ...Array(times).fill(chunk), bytes.subarray(at + len)]);
    }
    case 4: { // splice with the same section of another seed
      if (!other || !other.length) return bytes;
      const cut = p.int(bytes.length + 1);
      const from = p.int(other.length + 1);
      return Buffer.concat([bytes.subarray(0, cut), other.subarray(from)]);
    }
    default: { // append zeros / garbage
      const tail = Buffer.alloc(p.range(1, 128));
      if (p.chance(0.5)) for (let i = 0; i < tail.length; i++) tail[i] = p.int(256);
      return Buffer.concat([bytes, tail]);
    }
  }
}

function readUleb(b: Buffer, at: number, end: number): { value: number; next: number } | undefined {
  let v = 0;
  let mul = 1;
  for (let i = at; i < end && i < at + 10; i++) {
    v += (b[i]! & 0x7f) * mul;
    mul *= 128;
    if ((b[i]! & 0x80) === 0) return { value: v, next: i + 1 };
  }
  return undefined;
}

/** Positions of the fields of an abbreviation section: codes, tags, children flags, attributes, forms. */
function abbrevFields(b: Buffer): { kind: 'code' | 'tag' | 'children' | 'attr' | 'form'; at: number }[] {
  const out: { kind: 'code' | 'tag' | 'children' | 'attr' | 'form'; at: number }[] = [];
  let pos = 0;
  while (pos < b.length && out.length < 4000) {
    const code = readUleb(b, pos, b.length);
    if (!code) break;
    out.push({ kind: 'code', at: pos });
    pos = code.next;
    if (code.value === 0) continue;
    const tag = readUleb(b, pos, b.length);
    if (!tag) break;
    out.push({ kind: 'tag', at: pos });
    pos = tag.next;
    out.push({ kind: 'children', at: pos });
    pos++;
    for (;;) {
      const a = readUleb(b, pos, b.length);
      if (!a) return out;
      const aAt = pos;
      pos = a.next;
      const f = readUleb(b, pos, b.length);
      if (!f) return out;
      const fAt = pos;
      pos = f.next;
      if (a.value === 0 && f.value === 0) break;
      out.push({ kind: 'attr', at: aAt }, { kind: 'form', at: fAt });
      if (f.value === 0x21) {
        const c = readUleb(b, pos, b.length);
        if (!c) return out;
        pos = c.next;
      }
    }
  }
  return out;
}

/** Offsets of the header fields of the line programs in a .debug_line (32-bit DWARF only). */
function lineHeaders(b: Buffer): { start: number; version: number; fields: number; end: number }[] {
  const out: { start: number; version: number; fields: number; end: number }[] = [];
  let pos = 0;
  while (pos + 10 <= b.length && out.length < 64) {
    const len = b.readUInt32LE(pos);
    if (len >= 0xfffffff0) break;
    const version = b.readUInt16LE(pos + 4);
    // After header_length: min_inst, [max_ops], default_is_stmt, line_base, line_range, opcode_base.
    const fields = pos + 6 + (version >= 5 ? 2 : 0) + 4;
    const end = Math.min(b.length, pos + 4 + len);
    out.push({ start: pos, version, fields, end });
    pos = pos + 4 + len;
  }
  return out;
}

/** A random but plausible stretch of line-number program opcodes. */
function lineOpcodes(p: Pick): Buffer {
  const out: number[] = [];
  const n = p.range(1, 24);
  const leb = () => {
    const v = p.chance(0.8) ? p.int(200) : p.int(2 ** 31);
    let x = v;
    do {
      let byte = x & 0x7f;
      x = Math.floor(x / 128);
      if (x) byte |= 0x80;
      out.push(byte);
    } while (x);
  };
  for (let i = 0; i < n; i++) {
    const kind = p.int(4);
    if (kind === 0) {
      // extended: 0, length, sub-opcode, operands
      const sub = p.one([1, 2, 3, 4, 0x80, 0xff, 0]);
      out.push(0);
      if (sub === 2) {
        out.push(9, 2, ...Array.from({ length: 8 }, () => (p.chance(0.7) ? 0 : p.int(256))));
      } else if (sub === 4) {
        out.push(2, 4);
        leb();
      } else {
        const len = p.chance(0.8) ? 1 : p.int(300);
        if (len < 128) out.push(len);
        else out.push((len & 0x7f) | 0x80, len >> 7);
        out.push(sub);
      }
    } else if (kind === 1) {
      const op = p.range(1, 12);
      out.push(op);
      if (op === 2 || op === 3 || op === 4 || op === 5 || op === 12) leb();
      if (op === 9) out.push(p.int(256), p.int(256));
    } else out.push(p.range(13, 255));
  }
  return Buffer.from(out);
}

function compressChdr(content: Buffer, p: Pick): Buffer {
  const z = deflateSync(content, { level: p.chance(0.8) ? 1 : 6 });
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(p.chance(0.97) ? 1 : p.one([0, 2, 3, 0xffffffff]), 0);
  let size = BigInt(content.length);
  if (p.chance(0.1)) size = p.chance(0.5) ? size + BigInt(p.range(-8, 8)) : p.one(INTERESTING_64);
  hdr.writeBigUInt64LE(BigInt.asUintN(64, size), 8);
  hdr.writeBigUInt64LE(1n, 16);
  return Buffer.concat([hdr, z]);
}

/** The uncompressed contents of a compressed (SHF_COMPRESSED or .zdebug) section, or undefined. */
function inflated(w: Work, s: SeedSection): Buffer | undefined {
  const raw = w.bytesOf(s);
  if (!raw) return undefined;
  try {
    if (s.flags & 0x800) return inflateSync(raw.subarray(24));
    if (s.name.startsWith('.zdebug')) return inflateSync(raw.subarray(12));
  } catch {
    return undefined;
  }
  return undefined;
}

const bombs = new Map<number, Buffer>();
/** zlib stream of `size` zero bytes (cached: deflating megabytes per input would dominate the run). */
function bomb(size: number): Buffer {
  let z = bombs.get(size);
  if (!z) bombs.set(size, (z = deflateSync(Buffer.alloc(size), { level: 9 })));
  return z;
}

const isCompressed = (s: SeedSection) => (s.flags & 0x800) !== 0 || s.name.startsWith('.zdebug');
const isDebug = (s: SeedSection) => s.name.startsWith('.debug_') || s.name.startsWith('.zdebug_');

type Mutator = (w: Work, other: Seed) => void;

const MUTATORS: Array<[number, string, Mutator]> = [
  [10, 'bytes-anywhere', (w) => byteMutate(w.buf, 0, w.buf.length, w.p)],
  [14, 'bytes-in-section', (w) => {
    const s = w.section((x) => x.size > 0 && x.type !== 8);
    const h = s && w.hdr(s);
    if (h) byteMutate(w.buf, h.offset, h.offset + h.size, w.p);
  }],
  [10, 'bytes-in-debug', (w) => {
    const s = w.section((x) => isDebug(x) && x.size > 0);
    const h = s && w.hdr(s);
    if (h) byteMutate(w.buf, h.offset, h.offset + h.size, w.p);
  }],
  [6, 'elf-header', (w) => {
    const at = w.p.one([16, 18, 20, 24, 32, 40, 48, 52, 54, 56, 58, 60, 62, 4, 5, 6, 7]);
    writeInteresting(w.buf, at, w.p);
  }],
  [10, 'section-header', (w) => {
    const s = w.section(() => true);
    if (!s) return;
    const field = w.p.one([0, 4, 8, 16, 24, 32, 40, 44, 48, 56]);
    if (s.hdr + field + 8 > w.buf.length) return;
    if (field === 0 || field === 4 || field === 40 || field === 44) {
      const v = w.p.chance(0.5) ? w.p.one(INTERESTING_32) : (w.buf.readUInt32LE(s.hdr + field) + w.p.range(-3, 3)) >>> 0;
      w.buf.writeUInt32LE(v, s.hdr + field);
    } else if (field === 8 && w.p.chance(0.6)) {
      // flip one meaningful flag (SHF_ALLOC, SHF_EXECINSTR, SHF_COMPRESSED ...)
      const f = w.buf.readBigUInt64LE(s.hdr + 8);
      w.buf.writeBigUInt64LE(f ^ BigInt(w.p.one([1, 2, 4, 0x800, 0x40, 0x200])), s.hdr + 8);
    } else {
      const cur = w.buf.readBigUInt64LE(s.hdr + field);
      const v = w.p.chance(0.5) ? w.p.one(INTERESTING_64) : BigInt.asUintN(64, cur + BigInt(w.p.range(-64, 64)));
      w.buf.writeBigUInt64LE(v, s.hdr + field);
    }
  }],
  [4, 'truncate-file', (w) => {
    const cut = w.p.chance(0.5) ? w.p.int(w.buf.length) : (() => {
      const s = w.p.one(w.seed.sections);
      return Math.min(w.buf.length, s.offset + w.p.int(Math.max(1, s.size)));
    })();
    w.buf = w.buf.subarray(0, cut);
  }],
  [8, 'reshape-section', (w, other) => {
    const s = w.section((x) => x.type !== 8 && x.size > 0 && x.index > 0);
    if (!s) return;
    const b = w.bytesOf(s);
    if (!b) return;
    const os = other.sections.find((x) => x.name === s.name);
    w.replace(s, reshape(b, w.p, os ? other.data.subarray(os.offset, os.offset + os.size) : undefined));
  }],
  [5, 'splice-section', (w, other) => {
    const s = w.section((x) => x.index > 0 && x.type !== 8);
    if (!s) return;
    const os = other.sections.find((x) => x.name === s.name) ?? w.p.one(other.sections);
    if (!os || os.type === 8) return;
    w.replace(s, other.data.subarray(os.offset, os.offset + os.size));
  }],
  [8, 'abbrev', (w) => {
    const s = w.section((x) => x.name === '.debug_abbrev');
    const h = s && w.hdr(s);
    if (!s || !h) return;
    const fields = abbrevFields(w.buf.subarray(h.offset, h.offset + h.size));
    if (!fields.length) return;
    const n = w.p.range(1, 3);
    for (let i = 0; i < n; i++) {
      const f = w.p.one(fields);
      const at = h.offset + f.at;
      if (f.kind === 'form') w.buf[at] = w.p.one(FORMS);
      else if (f.kind === 'children') w.buf[at] = w.p.chance(0.5) ? w.buf[at]! ^ 1 : w.p.int(256);
      else if (f.kind === 'code') w.buf[at] = w.p.chance(0.5) ? w.p.range(0, 8) : w.p.int(0x80);
      else w.buf[at] = w.p.int(0x80);
    }
    if (w.p.chance(0.2)) w.replace(s, reshape(w.bytesOf(s)!, w.p));
  }],
  [9, 'line-program', (w) => {
    const s = w.section((x) => x.name === '.debug_line');
    const h = s && w.hdr(s);
    if (!s || !h) return;
    const sec = w.buf.subarray(h.offset, h.offset + h.size);
    const progs = lineHeaders(sec);
    if (!progs.length) return;
    const lp = w.p.one(progs);
    const choice = w.p.int(4);
    if (choice === 0) {
      // a header field: unit_length, version, header_length, min_inst .. opcode_base
      const at = w.p.one([lp.start, lp.start + 4, lp.fields - 4, lp.fields, lp.fields + 1, lp.fields + 2, lp.fields + 3, lp.fields + 4, lp.fields + 5]);
      if (at === lp.start + 4 && w.p.chance(0.5) && at + 2 <= sec.length) sec.writeUInt16LE(w.p.one([2, 3, 4, 5, 6, 1, 0xffff]), at);
      else writeInteresting(sec, at, w.p);
    } else if (choice === 1) {
      // file / directory tables and the program: random bytes
      byteMutate(sec, lp.fields, lp.end, w.p);
    } else {
      // splice random opcodes into the program (length changes: move the section)
      const b = w.bytesOf(s)!;
      const at = lp.fields + w.p.int(Math.max(1, lp.end - lp.fields));
      const ops = lineOpcodes(w.p);
      const rest = w.p.chance(0.5) ? at + Math.min(ops.length, b.length - at) : at;
      const nb = Buffer.concat([b.subarray(0, at), ops, b.subarray(Math.min(b.length, rest))]);
      // Keep unit_length consistent half of the time, so the program is decoded rather than rejected.
      if (w.p.chance(0.5) && lp.start + 4 <= nb.length) nb.writeUInt32LE((nb.readUInt32LE(lp.start) + nb.length - b.length) >>> 0, lp.start);
      w.replace(s, nb);
    }
  }],
  [6, 'debug-info-header', (w) => {
    const s = w.section((x) => x.name === '.debug_info');
    const h = s && w.hdr(s);
    if (!h) return;
    const at = h.offset + w.p.one([0, 4, 6, 7, 8, 9, 10, 11, 12]);
    if (at < h.offset + h.size) writeInteresting(w.buf, at, w.p);
  }],
  [8, 'relocation', (w) => {
    const s = w.section((x) => x.type === 4 && x.size >= 24);
    const h = s && w.hdr(s);
    if (!h) return;
    const n = Math.floor(h.size / 24);
    const e = h.offset + w.p.int(n) * 24;
    const field = w.p.int(4);
    if (field === 0) w.buf.writeBigUInt64LE(w.p.chance(0.5) ? w.p.one(INTERESTING_64) : BigInt.asUintN(64, w.buf.readBigUInt64LE(e) + BigInt(w.p.range(-8, 8))), e);
    else if (field === 1) w.buf.writeUInt32LE(w.p.chance(0.7) ? w.p.one([0, 1, 2, 4, 9, 10, 11, 17, 21, 24, 37, 42]) : w.p.int(64), e + 8);
    else if (field === 2) w.buf.writeUInt32LE(w.p.chance(0.5) ? w.p.one(INTERESTING_32) : w.p.int(64), e + 12);
    else w.buf.writeBigUInt64LE(w.p.one(INTERESTING_64), e + 16);
  }],
  [7, 'symbol', (w) => {
    const s = w.section((x) => x.type === 2 && x.size >= 24);
    const h = s && w.hdr(s);
    if (!h) return;
    const n = Math.floor(h.size / 24);
    const e = h.offset + w.p.int(n) * 24;
    switch (w.p.int(5)) {
      case 0: w.buf.writeUInt32LE(w.p.one(INTERESTING_32), e); break;
      case 1: w.buf[e + 4] = w.p.chance(0.5) ? 0x12 : w.p.int(256); break; // info: GLOBAL FUNC
      case 2: w.buf.writeUInt16LE(w.p.one([...INTERESTING_16, 1, 2, 3, 4, 5]), e + 6); break;
      case 3: w.buf.writeBigUInt64LE(w.p.chance(0.5) ? w.p.one(INTERESTING_64) : BigInt.asUintN(64, w.buf.readBigUInt64LE(e + 8) + BigInt(w.p.range(-32, 32))), e + 8); break;
      default: w.buf.writeBigUInt64LE(w.p.chance(0.5) ? w.p.one(INTERESTING_64) : BigInt.asUintN(64, w.buf.readBigUInt64LE(e + 16) + BigInt(w.p.range(-32, 256))), e + 16);
    }
  }],
  [8, 'compressed-contents', (w) => {
    // Mutate what a compressed section inflates to, and compress it again.
    const s = w.section(isCompressed);
    if (!s) return;
    const c = inflated(w, s);
    if (!c) return;
    const m = w.p.chance(0.3) ? reshape(c, w.p) : (byteMutate(c, 0, c.length, w.p), c);
    if (s.name.startsWith('.zdebug')) {
      const hdr = Buffer.alloc(12);
      hdr.write('ZLIB', 0, 'latin1');
      hdr.writeBigUInt64BE(BigInt(w.p.chance(0.9) ? m.length : w.p.int(2 ** 31)), 4);
      w.replace(s, Buffer.concat([hdr, deflateSync(m)]));
    } else w.replace(s, compressChdr(m, w.p));
  }],
  [5, 'compress-section', (w) => {
    // Compress a plain debug section ourselves (SHF_COMPRESSED), possibly after mutating it.
    const s = w.section((x) => isDebug(x) && !isCompressed(x) && x.size > 0);
    if (!s) return;
    const b = w.bytesOf(s);
    if (!b) return;
    if (w.p.chance(0.5)) byteMutate(b, 0, b.length, w.p);
    w.replace(s, compressChdr(b, w.p), s.flags | 0x800);
  }],
  [4, 'compressed-raw', (w) => {
    // The compressed stream or its Elf64_Chdr, as stored.
    const s = w.section(isCompressed);
    const h = s && w.hdr(s);
    if (!h || h.size === 0) return;
    if (w.p.chance(0.4)) writeInteresting(w.buf, h.offset + w.p.one([0, 4, 8, 16]), w.p);
    else byteMutate(w.buf, h.offset, h.offset + h.size, w.p);
  }],
  [1, 'zlib-bomb', (w) => {
    // A tiny stream that inflates to a lot: the size limit must hold.
    const s = w.section(isDebug);
    if (!s) return;
    const size = w.p.one([1 << 20, 8 << 20, 32 << 20]);
    const real = w.p.chance(0.5) ? size : 4096;
    const z = bomb(real);
    const hdr = Buffer.alloc(24);
    hdr.writeUInt32LE(1, 0);
    hdr.writeBigUInt64LE(BigInt(w.p.chance(0.5) ? size : size * 4), 8);
    w.replace(s, Buffer.concat([hdr, z]), s.flags | 0x800);
  }],
  [4, 'text', (w) => {
    // Function bytes: what the decoder glue sees.
    const s = w.section((x) => (x.flags & 4) !== 0 && x.size > 0);
    const h = s && w.hdr(s);
    if (!h) return;
    if (w.p.chance(0.7)) byteMutate(w.buf, h.offset, h.offset + h.size, w.p);
    else {
      const b = Buffer.alloc(h.size);
      for (let i = 0; i < b.length; i++) b[i] = w.p.int(256);
      b.copy(w.buf, h.offset);
    }
  }],
];
const WEIGHTS = MUTATORS.map((m) => m[0]);

export interface Mutated {
  data: Buffer;
  seed: Seed;
  ops: string[];
}

/** Seed choice: small seeds much more often than big ones. */
export function seedWeights(seeds: readonly Seed[]): number[] {
  return seeds.map((s) => (s.own ? 4 : 1) / Math.sqrt(Math.max(1024, s.data.length) / 1024));
}

export function mutateObject(seeds: readonly Seed[], weights: readonly number[], r: Rand): Mutated {
  const p = new Pick(r);
  const seed = seeds[p.weighted(weights)]!;
  const other = seeds[p.weighted(weights)]!;
  const w = new Work(seed, p);
  const ops: string[] = [];
  const n = p.chance(0.6) ? 1 : p.range(2, 5);
  for (let i = 0; i < n; i++) {
    const m = MUTATORS[p.weighted(WEIGHTS)]!;
    ops.push(m[1]);
    try {
      m[2](w, other);
    } catch {
      // A mutator tripping over an already-mutated header just does less.
    }
  }
  return { data: w.buf, seed, ops };
}

// ------------------------------------------------------------- pipeline

export const isTyped = (e: unknown): boolean => e instanceof ElfError || e instanceof DwarfError;

export interface ExerciseStats {
  typedErrors: number;
  units: number;
  functionsDecoded: number;
  instructions: number;
}

/**
 * Everything a user's request does with an object. Typed errors (ElfError,
 * DwarfError) are caught per stage, so a broken unit does not hide the
 * rest; anything else propagates: that is a crash.
 */
export function exerciseObject(data: Uint8Array): ExerciseStats {
  const st: ExerciseStats = { typedErrors: 0, units: 0, functionsDecoded: 0, instructions: 0 };
  const stage = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (!isTyped(e)) throw e;
      st.typedErrors++;
    }
  };
  let b: ReturnType<typeof openBinary>;
  try {
    b = openBinary(data);
  } catch (e) {
    if (!isTyped(e)) throw e;
    st.typedErrors++;
    return st;
  }
  const { elf, dwarf } = b;
  // Decode function bodies as the compiled-form join does.
  stage(() => {
    const fns = elf.functionSymbols();
    let classified = 0;
    for (const sym of fns.slice(0, 6)) {
      stage(() => {
        const { bytes, address } = elf.symbolBytes(sym);
        const insns = decodeFunction(bytes.subarray(0, 768), address);
        st.functionsDecoded++;
        st.instructions += insns.length;
        for (const ins of insns) {
          if (classified >= 4) break;
          if (deviceMemoryAccesses(ins).length === 0) continue;
          classified++;
          classifyMmio(bytes.subarray(ins.offset, ins.offset + 15));
        }
      });
    }
  });
  stage(() => {
    const units = dwarf.units();
    for (const u of units.slice(0, 8)) {
      st.units++;
      stage(() => {
        dwarf.summary(u);
        u.lineTableFiles();
      });
      let rows: ReturnType<typeof dwarf.lineRows> = [];
      stage(() => {
        rows = dwarf.lineRows(u);
      });
      stage(() => void dwarf.subprograms(u));
      let inl: ReturnType<typeof dwarf.inlinedInstances> = [];
      stage(() => {
        inl = dwarf.inlinedInstances(u);
      });
      const addrs: bigint[] = [];
      const step = Math.max(1, Math.floor(rows.length / 6));
      for (let i = 0; i < rows.length; i += step) addrs.push(rows[i]!.address);
      for (const i of inl.slice(0, 3)) if (i.ranges[0]) addrs.push(i.ranges[0].lo);
      for (const a of addrs) {
        stage(() => {
          dwarf.inlineChain(a);
          b.locate(a);
        });
      }
    }
    stage(() => void dwarf.unitsForSource('mmio_dev.c', { lineTableFiles: true }));
    // The MMIO dataflow's DWARF: location lists, struct members, and the dataflow itself.
    for (const u of units.slice(0, 4)) {
      stage(() => {
        const t = new UnitTypes(u);
        let n = 0;
        for (const d of u.dies()) {
          if (n > 40) break;
          if (getAttr(d, DW_AT.location)) {
            n++;
            stage(() => void u.locations(d));
          }
          if (d.tag === DW_TAG.structure_type) stage(() => void t.members(d.offset));
        }
      });
    }
    stage(() => {
      const code = new ObjectCode(b);
      objectFlow(code, code.functions.slice(0, 6), new ObjectFacts(units.slice(0, 4), code, new Map()));
    });
  });
  return st;
}
