/**
 * Public surface of the ELF/DWARF readers.
 *
 * Address convention: for executables (vmlinux) addresses are link-time
 * virtual addresses; for relocatable objects (.o/.ko) they are synthetic:
 * (sectionIndex << 32) + offset (see relocate.ts). `addressOf` / `locate`
 * convert between the two views.
 */
import { ElfFile } from './elf';
import { DwarfReader } from './dwarf/index';
import { addressOf, locate } from './relocate';
import type { SectionOffset } from './relocate';
import type { ElfSection } from './elf';
import type { InfoSource } from './dwarf/sections';

export { ElfError, DwarfError } from './errors';
export type { ElfSection, ElfSymbol, ElfRela } from './elf';
export {
  ElfFile, parseElf,
  ET_REL, ET_EXEC, ET_DYN, SHF_ALLOC, SHF_EXECINSTR, SHF_COMPRESSED, STT_FUNC, STT_OBJECT, STT_SECTION,
} from './elf';
export { addressOf, locate, sectionBase, relocatedSectionData, SYNTHETIC_SECTION_SHIFT } from './relocate';
export type { SectionOffset } from './relocate';
export { DwarfReader, DwarfUnit, normalizePath } from './dwarf/index';
export type { FunctionInfo, SubprogramInfo, InlinedInstance, InlineFrame, UnitSummary, SourceMatchOptions } from './dwarf/index';
export type { LineRow, LineProgramHeader } from './dwarf/line';
export type { AddressRange } from './dwarf/ranges';
export { ElfDwarfSections, MapDwarfSections } from './dwarf/sections';
export type { DwarfSections, InfoSource, InfoBytes } from './dwarf/sections';
export { MemoryInfoSource } from './dwarf/sections';
export { FileSectionSource } from './fileSection';
export type { FileIdentity } from './fileSection';

/** An ELF file with its DWARF, and the address conversions for it. */
export interface BinaryObject {
  elf: ElfFile;
  dwarf: DwarfReader;
  /** DWARF address of `offset` in a section (by index or name). */
  addressOf(section: number | string, offset: bigint | number): bigint;
  /** Section and offset of a DWARF address. */
  locate(addr: bigint): SectionOffset | undefined;
}

export interface OpenBinaryOptions {
  /**
   * For a linked image read without its .debug_info (ObjectStore: a vmlinux read
   * sparsely): where that section is read from instead, given its header.
   */
  infoFrom?: (sec: ElfSection) => InfoSource | undefined;
}

/** Parses an ELF image already read into memory (the buffer is used in place, never copied). */
export function openBinary(data: Uint8Array, opts: OpenBinaryOptions = {}): BinaryObject {
  const elf = ElfFile.parse(data);
  const dwarf = DwarfReader.fromElf(elf, opts.infoFrom);
  return {
    elf,
    dwarf,
    addressOf: (section, offset) => addressOf(elf, section, offset),
    locate: (addr) => locate(elf, addr),
  };
}
