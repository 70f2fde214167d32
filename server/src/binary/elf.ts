/**
 * Strict reader for ELF64 little-endian x86-64 files: relocatable objects
 * (.o, .ko), executables and shared objects (vmlinux, PIE test binaries).
 *
 * The file is read once into a Uint8Array; section contents are returned as
 * subarray views (never copies) so a 630 MB vmlinux costs no extra memory.
 * SHF_COMPRESSED (Elf64_Chdr, zlib) and legacy ".zdebug" sections are
 * inflated lazily, once per section, with a bounded output size.
 * Everything read from the file is bounds-checked; faults throw ElfError.
 */
import { inflateSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import { ElfError } from './errors';
import { ByteReader, cstringAt } from './reader';

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_SYMTAB_SHNDX = 18;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_COMPRESSED = 0x800;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const ELFCOMPRESS_ZLIB = 1;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const RELA_SIZE = 24;
const CHDR_SIZE = 24;
/** Deflate cannot expand by more than ~1032:1; a larger claim is a lie. */
const MAX_INFLATE_RATIO = 1040;
/**
 * Cap on what all compressed sections of one file may inflate to together:
 * 64 MiB plus 32 bytes per byte of file. Real debug info compresses 3-10x, so
 * only a hostile file (many small zlib bombs, each within the per-stream
 * ratio) reaches it.
 */
const INFLATE_BUDGET_BASE = 64 * 1024 * 1024;
const INFLATE_BUDGET_PER_BYTE = 32;
/** Hard cap on one inflated section (and below Buffer's own limit). */
const MAX_INFLATED = Math.min(bufferConstants.MAX_LENGTH, 2 ** 31 - 1);

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  /** sh_addr: 0 for every section of a relocatable object. */
  addr: bigint;
  /** File offset of the (possibly compressed) bytes. */
  offset: number;
  /** Size in the file (compressed size when compressed). */
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSymbol {
  index: number;
  /** Name from the string table; an unnamed STT_SECTION symbol takes its section's name (as readelf shows it). */
  name: string;
  /** st_value: section-relative in a relocatable object, a virtual address otherwise. */
  value: bigint;
  size: number;
  type: number;
  bind: number;
  visibility: number;
  /** Section index (after SHN_XINDEX resolution); SHN_UNDEF/SHN_ABS/SHN_COMMON kept as is. */
  shndx: number;
}

export interface ElfRela {
  /** r_offset: offset inside the target section for ET_REL, an address otherwise. */
  offset: bigint;
  type: number;
  sym: number;
  addend: bigint;
}

export class ElfFile {
  readonly data: Uint8Array;
  readonly type: number;
  readonly machine: number;
  readonly entry: bigint;
  readonly sections: readonly ElfSection[];
  private readonly inflated = new Map<number, Uint8Array>();
  /** Bytes inflated so far (see INFLATE_BUDGET_*). */
  private inflatedBytes = 0;
  private readonly symtabCache = new Map<number, ElfSymbol[]>();

  private constructor(data: Uint8Array, type: number, machine: number, entry: bigint, sections: ElfSection[]) {
    this.data = data;
    this.type = type;
    this.machine = machine;
    this.entry = entry;
    this.sections = sections;
  }

  get isRelocatable(): boolean {
    return this.type === ET_REL;
  }

  static parse(data: Uint8Array): ElfFile {
    const fault = (offset: number, what: string) => new ElfError({ offset, what });
    const r = new ByteReader(data, fault);
    if (data.length < EHDR_SIZE) throw new ElfError({ offset: 0, what: `file too small for an ELF header (${data.length} bytes)` });
    if (data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c || data[3] !== 0x46) {
      throw new ElfError({ offset: 0, what: 'bad ELF magic' });
    }
    if (data[4] !== 2) throw new ElfError({ offset: 4, what: `not ELF64 (EI_CLASS ${data[4]})` });
    if (data[5] !== 1) throw new ElfError({ offset: 5, what: `not little-endian (EI_DATA ${data[5]})` });
    if (data[6] !== 1) throw new ElfError({ offset: 6, what: `bad EI_VERSION ${data[6]}` });
    r.seek(16);
    const type = r.u16();
    if (type !== ET_REL && type !== ET_EXEC && type !== ET_DYN) {
      throw new ElfError({ offset: 16, what: `unsupported e_type ${type}` });
    }
    const machine = r.u16();
    if (machine !== EM_X86_64) throw new ElfError({ offset: 18, what: `not x86-64 (e_machine ${machine})` });
    r.u32(); // e_version
    const entry = r.u64();
    r.u64(); // e_phoff: program headers are not needed
    const shoff = r.u64n('e_shoff');
    r.u32(); // e_flags
    const ehsize = r.u16();
    if (ehsize !== EHDR_SIZE) throw new ElfError({ offset: 52, what: `bad e_ehsize ${ehsize}` });
    r.u16(); // e_phentsize
    r.u16(); // e_phnum
    const shentsize = r.u16();
    let shnum = r.u16();
    let shstrndx = r.u16();

    const sections: ElfSection[] = [];
    if (shoff === 0) return new ElfFile(data, type, machine, entry, sections);
    if (shentsize !== SHDR_SIZE) throw new ElfError({ offset: 58, what: `bad e_shentsize ${shentsize}` });
    if (shoff > data.length - SHDR_SIZE) {
      throw new ElfError({ offset: 40, what: `section header table offset 0x${shoff.toString(16)} past end of file` });
    }
    // Extended numbering: the real counts live in section header 0.
    if (shnum === 0 || shstrndx === SHN_XINDEX) {
      r.seek(shoff + 32);
      const size0 = r.u64n('sh_size of section 0');
      r.seek(shoff + 40);
      const link0 = r.u32();
      if (shnum === 0) shnum = size0;
      if (shstrndx === SHN_XINDEX) shstrndx = link0;
    }
    if (shnum > (data.length - shoff) / SHDR_SIZE) {
      throw new ElfError({ offset: shoff, what: `${shnum} section headers do not fit in the file` });
    }
    const raw: Array<ElfSection & { nameOff: number }> = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * SHDR_SIZE;
      r.seek(at);
      const nameOff = r.u32();
      const stype = r.u32();
      const flagsBig = r.u64();
      const addr = r.u64();
      const offset = r.u64n('sh_offset');
      const size = r.u64n('sh_size');
      const link = r.u32();
      const info = r.u32();
      const addralign = r.u64n('sh_addralign');
      const entsize = r.u64n('sh_entsize');
      if (flagsBig > 0xffffffffn) throw new ElfError({ sectionIndex: i, offset: at + 8, what: `bad sh_flags 0x${flagsBig.toString(16)}` });
      const sec = { index: i, name: '', nameOff, type: stype, flags: Number(flagsBig), addr, offset, size, link, info, addralign, entsize };
      if (i !== 0 && stype !== SHT_NOBITS && stype !== SHT_NULL && (offset > data.length || size > data.length - offset)) {
        throw new ElfError({ sectionIndex: i, offset: at + 24, what: `section data [0x${offset.toString(16)}, +0x${size.toString(16)}) past end of file` });
      }
      raw.push(sec);
    }
    if (shstrndx !== 0) {
      if (shstrndx >= raw.length) throw new ElfError({ offset: 62, what: `e_shstrndx ${shstrndx} out of range` });
      const strtab = raw[shstrndx]!;
      if (strtab.type !== SHT_STRTAB) {
        throw new ElfError({ sectionIndex: shstrndx, offset: shoff + shstrndx * SHDR_SIZE, what: 'section name table is not SHT_STRTAB' });
      }
      const strFault = (offset: number, what: string) =>
        new ElfError({ section: '.shstrtab', sectionIndex: shstrndx, offset, what });
      for (const s of raw) {
        if (s.index === 0 && s.nameOff === 0) continue;
        if (s.nameOff >= strtab.size) throw strFault(s.nameOff, `name offset of section ${s.index} out of range`);
        s.name = cstringAt(data, strtab.offset + s.nameOff, strtab.offset + strtab.size, (o, w) => strFault(o - strtab.offset, w)).value;
      }
    }
    for (const s of raw) {
      const { nameOff: _n, ...sec } = s;
      sections.push(sec);
    }
    return new ElfFile(data, type, machine, entry, sections);
  }

  section(index: number): ElfSection {
    const s = this.sections[index];
    if (!s) throw new ElfError({ sectionIndex: index, offset: 0, what: `no section with index ${index}` });
    return s;
  }

  /** First section with that exact name. */
  sectionByName(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /**
   * A DWARF section by its canonical name (".debug_info"), also found under
   * the legacy compressed name (".zdebug_info").
   */
  debugSection(name: string): ElfSection | undefined {
    return this.sectionByName(name) ?? (name.startsWith('.debug_') ? this.sectionByName('.z' + name.slice(1)) : undefined);
  }

  /** The bytes of a section as stored in the file (a view; empty for NOBITS). */
  rawData(sec: ElfSection): Uint8Array {
    if (sec.type === SHT_NOBITS || sec.type === SHT_NULL) return new Uint8Array(0);
    return this.data.subarray(sec.offset, sec.offset + sec.size);
  }

  /**
   * The bytes of a section, inflated when it is compressed (cached), else a
   * view into the file. Relocations are NOT applied here (see relocate.ts).
   */
  sectionData(sec: ElfSection): Uint8Array {
    const raw = this.rawData(sec);
    const isZdebug = sec.name.startsWith('.zdebug');
    if ((sec.flags & SHF_COMPRESSED) === 0 && !isZdebug) return raw;
    const cached = this.inflated.get(sec.index);
    if (cached) return cached;
    const out = (sec.flags & SHF_COMPRESSED) !== 0 ? this.inflateChdr(sec, raw) : this.inflateZdebug(sec, raw);
    this.inflatedBytes += out.length;
    this.inflated.set(sec.index, out);
    return out;
  }

  private inflateChdr(sec: ElfSection, raw: Uint8Array): Uint8Array {
    const fault = (offset: number, what: string) => new ElfError({ section: sec.name, sectionIndex: sec.index, offset, what });
    if (sec.type === SHT_NOBITS) throw fault(0, 'SHF_COMPRESSED on a NOBITS section');
    const r = new ByteReader(raw, fault);
    if (raw.length < CHDR_SIZE) throw fault(0, 'compressed section smaller than Elf64_Chdr');
    const chType = r.u32();
    r.u32(); // ch_reserved
    const chSize = r.u64n('ch_size');
    r.u64(); // ch_addralign
    if (chType !== ELFCOMPRESS_ZLIB) throw fault(0, `unsupported compression type ${chType}`);
    this.checkBudget(chSize, (what) => fault(8, what));
    return inflateBounded(raw.subarray(CHDR_SIZE), chSize, (what) => fault(CHDR_SIZE, what));
  }

  private inflateZdebug(sec: ElfSection, raw: Uint8Array): Uint8Array {
    const fault = (offset: number, what: string) => new ElfError({ section: sec.name, sectionIndex: sec.index, offset, what });
    // Legacy GNU format: "ZLIB" then the uncompressed size as 8 big-endian bytes.
    if (raw.length < 12 || raw[0] !== 0x5a || raw[1] !== 0x4c || raw[2] !== 0x49 || raw[3] !== 0x42) {
      throw fault(0, 'bad .zdebug header');
    }
    const size = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getBigUint64(4, false);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw fault(4, 'uncompressed size too large');
    this.checkBudget(Number(size), (what) => fault(4, what));
    return inflateBounded(raw.subarray(12), Number(size), (what) => fault(12, what));
  }

  /** Refuses an inflation that would take the file's compressed sections past their joint budget. */
  private checkBudget(size: number, fail: (what: string) => ElfError): void {
    const budget = INFLATE_BUDGET_BASE + INFLATE_BUDGET_PER_BYTE * this.data.length;
    if (this.inflatedBytes + size > budget) {
      throw fail(`compressed sections would inflate to more than ${budget} bytes in all (${this.inflatedBytes} already, ${size} more) for a file of ${this.data.length} bytes`);
    }
  }

  /**
   * Symbols of a symbol table section (default: .symtab, else .dynsym).
   * Parsed once per table and cached.
   */
  symbols(symtabIndex?: number): ElfSymbol[] {
    const idx = symtabIndex ?? this.sections.find((s) => s.type === SHT_SYMTAB)?.index ?? this.sections.find((s) => s.type === SHT_DYNSYM)?.index;
    if (idx === undefined) return [];
    const cached = this.symtabCache.get(idx);
    if (cached) return cached;
    const sec = this.section(idx);
    const fault = (offset: number, what: string) => new ElfError({ section: sec.name, sectionIndex: sec.index, offset, what });
    if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) throw fault(0, 'not a symbol table');
    if (sec.entsize !== SYM_SIZE) throw fault(0, `bad symbol entry size ${sec.entsize}`);
    if (sec.size % SYM_SIZE !== 0) throw fault(0, `symbol table size ${sec.size} not a multiple of ${SYM_SIZE}`);
    if (sec.link === 0 || sec.link >= this.sections.length || this.sections[sec.link]!.type !== SHT_STRTAB) {
      throw fault(0, `bad string table link ${sec.link}`);
    }
    const strtab = this.sections[sec.link]!;
    const strData = this.rawData(strtab);
    const strFault = (offset: number, what: string) => new ElfError({ section: strtab.name, sectionIndex: strtab.index, offset, what });
    const shndxSec = this.sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === idx);
    const shndxData = shndxSec ? this.rawData(shndxSec) : undefined;
    const data = this.rawData(sec);
    const r = new ByteReader(data, fault);
    const count = sec.size / SYM_SIZE;
    const out: ElfSymbol[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const nameOff = r.u32();
      const info = r.u8();
      const other = r.u8();
      let shndx = r.u16();
      const value = r.u64();
      const size = r.u64n('st_size');
      if (shndx === SHN_XINDEX) {
        if (!shndxData || (i + 1) * 4 > shndxData.length) throw fault(i * SYM_SIZE, 'SHN_XINDEX without SHT_SYMTAB_SHNDX entry');
        shndx = new DataView(shndxData.buffer, shndxData.byteOffset, shndxData.byteLength).getUint32(i * 4, true);
      }
      if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= this.sections.length) {
        throw fault(i * SYM_SIZE + 6, `symbol ${i} section index ${shndx} out of range`);
      }
      let name = nameOff === 0 ? '' : cstringAt(strData, nameOff, strData.length, strFault).value;
      // Like readelf, an unnamed section symbol is called after its section.
      if (name === '' && (info & 0xf) === STT_SECTION && shndx > 0 && shndx < this.sections.length) name = this.sections[shndx]!.name;
      out[i] = { index: i, name, value, size, type: info & 0xf, bind: info >> 4, visibility: other & 3, shndx };
    }
    this.symtabCache.set(idx, out);
    return out;
  }

  /** Defined STT_FUNC symbols. */
  functionSymbols(): ElfSymbol[] {
    return this.symbols().filter((s) => s.type === STT_FUNC && s.shndx !== SHN_UNDEF);
  }

  /**
   * The bytes a symbol covers (a view; the section inflated if compressed, not
   * relocated) and the address of its first byte as DWARF gives it (synthetic
   * `sectionIndex << 32` + offset for a .o, the virtual address otherwise).
   * Throws ElfError when the symbol has no section or runs past its section.
   */
  symbolBytes(sym: ElfSymbol): { bytes: Uint8Array; address: bigint; section: ElfSection; offset: number } {
    const fault = (what: string) => new ElfError({ section: '.symtab', offset: sym.index * SYM_SIZE, what: `symbol ${sym.index} (${sym.name}): ${what}` });
    if (sym.shndx === SHN_UNDEF || sym.shndx >= SHN_LORESERVE) throw fault(`no section (st_shndx 0x${sym.shndx.toString(16)})`);
    const sec = this.sections[sym.shndx];
    if (!sec) throw fault(`section index ${sym.shndx} out of range`);
    if (sec.type === SHT_NOBITS || sec.type === SHT_NULL) throw fault(`section ${sec.name} has no contents`);
    const start = this.type === ET_REL ? sym.value : sym.value - sec.addr;
    const data = this.sectionData(sec);
    if (start < 0n || start > BigInt(data.length) || BigInt(sym.size) > BigInt(data.length) - start) {
      throw fault(`[0x${sym.value.toString(16)}, +0x${sym.size.toString(16)}) outside section ${sec.name}`);
    }
    const offset = Number(start);
    const address = this.type === ET_REL
      ? ((sec.flags & SHF_ALLOC) !== 0 ? BigInt(sec.index) << 32n : 0n) + start
      : sym.value;
    return { bytes: data.subarray(offset, offset + sym.size), address, section: sec, offset };
  }

  /** SHT_RELA sections whose sh_info names `targetIndex`. */
  relaSectionsFor(targetIndex: number): ElfSection[] {
    return this.sections.filter((s) => s.type === SHT_RELA && s.info === targetIndex && s.index !== 0);
  }

  /** Entries of one SHT_RELA section. */
  relocations(rela: ElfSection): ElfRela[] {
    const fault = (offset: number, what: string) => new ElfError({ section: rela.name, sectionIndex: rela.index, offset, what });
    if (rela.type !== SHT_RELA) throw fault(0, 'not a SHT_RELA section');
    if (rela.entsize !== RELA_SIZE) throw fault(0, `bad relocation entry size ${rela.entsize}`);
    if (rela.size % RELA_SIZE !== 0) throw fault(0, `relocation section size ${rela.size} not a multiple of ${RELA_SIZE}`);
    const r = new ByteReader(this.rawData(rela), fault);
    const count = rela.size / RELA_SIZE;
    const out: ElfRela[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const offset = r.u64();
      const info = r.u64();
      const addend = r.i64();
      out[i] = { offset, type: Number(info & 0xffffffffn), sym: Number(info >> 32n), addend };
    }
    return out;
  }

  /** The section (SHF_ALLOC, with contents in memory) holding a virtual address of an executable. */
  sectionForAddress(addr: bigint): ElfSection | undefined {
    for (const s of this.sections) {
      if ((s.flags & SHF_ALLOC) !== 0 && s.size > 0 && addr >= s.addr && addr < s.addr + BigInt(s.size)) return s;
    }
    return undefined;
  }
}

/** Inflates a zlib stream that must yield exactly `expected` bytes. */
function inflateBounded(input: Uint8Array, expected: number, fail: (what: string) => ElfError): Uint8Array {
  if (expected > MAX_INFLATED) throw fail(`uncompressed size ${expected} above limit ${MAX_INFLATED}`);
  if (expected > (input.length + 64) * MAX_INFLATE_RATIO) {
    throw fail(`uncompressed size ${expected} impossible for ${input.length} compressed bytes`);
  }
  if (expected === 0) return new Uint8Array(0);
  let out: Buffer;
  try {
    out = inflateSync(input, { maxOutputLength: expected });
  } catch (e) {
    throw fail(`zlib: ${(e as Error).message}`);
  }
  if (out.length !== expected) throw fail(`inflated to ${out.length} bytes, header says ${expected}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function parseElf(data: Uint8Array): ElfFile {
  return ElfFile.parse(data);
}
