/**
 * Addresses of a relocatable object, and relocation of its debug sections.
 *
 * In a .o every section starts at address 0 (.text, .text.unlikely,
 * .init.text, .exit.text ...), so a bare DWARF address would be ambiguous.
 * CHOSEN REPRESENTATION: every SHF_ALLOC section of an ET_REL file gets the
 * synthetic base address `sectionIndex << 32`, so
 *
 *     synthetic address = (BigInt(sectionIndex) << 32n) + offsetInSection
 *
 * All DWARF addresses read from a .o (line rows, low_pc/high_pc, ranges,
 * aranges, inline chains) are in this form; `addressOf` and `locate` convert
 * both ways. Sections are < 4 GiB, so the mapping is unique and reversible.
 * Non-allocated sections (the debug sections themselves) keep base 0, so
 * offsets between debug sections (DW_FORM_strp, stmt_list ...) stay plain
 * offsets. For ET_EXEC/ET_DYN (vmlinux) addresses are the link-time virtual
 * addresses and nothing is relocated.
 */
import { ElfError } from './errors';
import { ElfFile, ElfSection, ET_REL, SHF_ALLOC, SHN_ABS, SHN_COMMON, SHN_UNDEF, SHN_LORESERVE } from './elf';

export const SYNTHETIC_SECTION_SHIFT = 32n;
const OFFSET_MASK = (1n << SYNTHETIC_SECTION_SHIFT) - 1n;

export const R_X86_64_NONE = 0;
export const R_X86_64_64 = 1;
export const R_X86_64_PC32 = 2;
export const R_X86_64_PLT32 = 4;
export const R_X86_64_GOTPCREL = 9;
export const R_X86_64_32 = 10;
export const R_X86_64_32S = 11;
export const R_X86_64_DTPOFF64 = 17;
export const R_X86_64_DTPOFF32 = 21;
export const R_X86_64_PC64 = 24;
export const R_X86_64_GOTPCRELX = 41;
export const R_X86_64_REX_GOTPCRELX = 42;

/** Where a DWARF address lies: a section and an offset inside it. */
export interface SectionOffset {
  sectionIndex: number;
  sectionName: string;
  offset: bigint;
}

/** The synthetic base of a section of a .o (0 for non-alloc sections), or sh_addr otherwise. */
export function sectionBase(elf: ElfFile, sec: ElfSection): bigint {
  if (elf.type !== ET_REL) return sec.addr;
  return (sec.flags & SHF_ALLOC) !== 0 ? BigInt(sec.index) << SYNTHETIC_SECTION_SHIFT : 0n;
}

/** The address DWARF uses for `offset` inside a section (by index or name). */
export function addressOf(elf: ElfFile, section: number | string, offset: bigint | number): bigint {
  const sec = typeof section === 'number' ? elf.section(section) : elf.sectionByName(section);
  if (!sec) throw new ElfError({ section: String(section), offset: 0, what: 'no such section' });
  return sectionBase(elf, sec) + BigInt(offset);
}

/** The section and offset an address (as DWARF gives it) falls in; undefined when none. */
export function locate(elf: ElfFile, addr: bigint): SectionOffset | undefined {
  if (elf.type === ET_REL) {
    const idx = Number(addr >> SYNTHETIC_SECTION_SHIFT);
    const sec = elf.sections[idx];
    if (!sec || (sec.flags & SHF_ALLOC) === 0) return undefined;
    return { sectionIndex: idx, sectionName: sec.name, offset: addr & OFFSET_MASK };
  }
  const sec = elf.sectionForAddress(addr);
  return sec ? { sectionIndex: sec.index, sectionName: sec.name, offset: addr - sec.addr } : undefined;
}

/**
 * Contents of a section with its RELA relocations applied against the
 * synthetic layout above. Only for ET_REL; other files get the plain
 * (inflated) contents. The result is a fresh copy when anything was patched.
 */
export function relocatedSectionData(elf: ElfFile, sec: ElfSection): Uint8Array {
  const data = elf.sectionData(sec);
  if (elf.type !== ET_REL) return data;
  const relas = elf.relaSectionsFor(sec.index);
  if (relas.length === 0) return data;
  const out = new Uint8Array(data); // copy: never patch the caller's file buffer
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const placeBase = sectionBase(elf, sec);
  for (const rela of relas) {
    const syms = elf.symbols(rela.link);
    const entries = elf.relocations(rela);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const fault = (what: string) =>
        new ElfError({ section: rela.name, sectionIndex: rela.index, offset: i * 24, what: `relocation ${i}: ${what}` });
      if (e.type === R_X86_64_NONE) continue;
      const sym = syms[e.sym];
      if (!sym) throw fault(`symbol index ${e.sym} out of range`);
      let s: bigint;
      if (sym.shndx === SHN_UNDEF || sym.shndx === SHN_COMMON) s = 0n;
      else if (sym.shndx === SHN_ABS || sym.shndx >= SHN_LORESERVE) s = sym.value;
      else s = sectionBase(elf, elf.section(sym.shndx)) + sym.value;
      const width = e.type === R_X86_64_64 || e.type === R_X86_64_PC64 || e.type === R_X86_64_DTPOFF64 ? 8 : 4;
      if (e.offset > BigInt(out.length - width) || out.length < width) throw fault(`offset 0x${e.offset.toString(16)} outside ${sec.name}`);
      const off = Number(e.offset);
      const p = placeBase + e.offset;
      let v: bigint;
      switch (e.type) {
        case R_X86_64_64:
          view.setBigUint64(off, BigInt.asUintN(64, s + e.addend), true);
          continue;
        case R_X86_64_PC64:
          view.setBigUint64(off, BigInt.asUintN(64, s + e.addend - p), true);
          continue;
        case R_X86_64_DTPOFF64:
          // Offset inside the TLS block: the symbol's own section-relative value.
          view.setBigUint64(off, BigInt.asUintN(64, sym.value + e.addend), true);
          continue;
        case R_X86_64_32:
          v = s + e.addend;
          if (v < 0n || v > 0xffffffffn) throw fault(`R_X86_64_32 value 0x${v.toString(16)} does not fit (synthetic address?)`);
          break;
        case R_X86_64_32S:
          v = s + e.addend;
          if (v < -0x80000000n || v > 0x7fffffffn) throw fault(`R_X86_64_32S value does not fit`);
          break;
        case R_X86_64_PC32:
          v = s + e.addend - p;
          if (v < -0x80000000n || v > 0x7fffffffn) throw fault(`R_X86_64_PC32 value does not fit`);
          break;
        case R_X86_64_DTPOFF32:
          v = sym.value + e.addend;
          break;
        default:
          throw fault(`unsupported relocation type ${e.type} in ${sec.name}`);
      }
      view.setUint32(off, Number(BigInt.asUintN(32, v)), true);
    }
  }
  return out;
}
