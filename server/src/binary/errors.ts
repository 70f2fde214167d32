/**
 * Typed errors of the binary readers. Every malformed input must surface as
 * one of these (never a RangeError/TypeError from a stray index), so callers
 * can tell "this object is broken" from "our code is broken".
 */

export interface ElfErrorInfo {
  /** Section name when the fault is inside a known section. */
  section?: string;
  /** Section header index when known. */
  sectionIndex?: number;
  /** Byte offset of the fault: file offset, or offset inside `section` when that is set. */
  offset: number;
  /** What was wrong. */
  what: string;
}

export class ElfError extends Error {
  readonly section: string | undefined;
  readonly sectionIndex: number | undefined;
  readonly offset: number;
  readonly what: string;

  constructor(info: ElfErrorInfo) {
    const where =
      info.section !== undefined || info.sectionIndex !== undefined
        ? ` in section ${info.section ?? '?'}${info.sectionIndex !== undefined ? ` [${info.sectionIndex}]` : ''}`
        : '';
    super(`ELF: ${info.what}${where} at offset 0x${info.offset.toString(16)}`);
    this.name = 'ElfError';
    this.section = info.section;
    this.sectionIndex = info.sectionIndex;
    this.offset = info.offset;
    this.what = info.what;
  }
}

export class DwarfError extends Error {
  /** The DWARF section the fault is in, e.g. ".debug_info". */
  readonly section: string;
  /** Offset inside that section. */
  readonly offset: number;
  readonly what: string;

  constructor(section: string, offset: number, what: string) {
    super(`DWARF: ${what} in ${section} at offset 0x${offset.toString(16)}`);
    this.name = 'DwarfError';
    this.section = section;
    this.offset = offset;
    this.what = what;
  }
}
