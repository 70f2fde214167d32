/**
 * Access to the DWARF sections of one file. Each section is handed out as its
 * own Uint8Array, so a position inside it is the section offset that
 * DwarfError reports.
 */
import { DwarfError } from '../errors';
import { ElfFile } from '../elf';
import { ByteReader } from '../reader';
import { relocatedSectionData } from '../relocate';

export type DwarfSectionName =
  | '.debug_info'
  | '.debug_abbrev'
  | '.debug_str'
  | '.debug_line_str'
  | '.debug_str_offsets'
  | '.debug_addr'
  | '.debug_ranges'
  | '.debug_rnglists'
  | '.debug_loc'
  | '.debug_loclists'
  | '.debug_line'
  | '.debug_aranges';

export interface DwarfSections {
  /** Contents (inflated and, for a .o, relocated), or undefined when absent. */
  get(name: DwarfSectionName): Uint8Array | undefined;
  /**
   * Where .debug_info is read from when it is not held in memory (a linked image's
   * 170 MB read unit by unit from the file); get('.debug_info') then refuses.
   */
  readonly infoSource?: InfoSource;
}

/**
 * Bytes of .debug_info: `data[i]` is the section's byte `base + i`. A reader over
 * them works in data coordinates and adds `base` to every offset it reports.
 */
export interface InfoBytes {
  data: Uint8Array;
  base: number;
}

/**
 * .debug_info as ranges: the whole section in memory, or positioned reads of the
 * file (FileSectionSource). `read` may return more than asked (memory hands out the
 * whole section), never less; a range outside the section is a DwarfError.
 */
export interface InfoSource {
  /** The section's size in bytes. */
  readonly size: number;
  /** Whether read() costs nothing (the section is in memory): nothing is worth keeping. */
  readonly inMemory: boolean;
  read(start: number, end: number): InfoBytes;
}

/** .debug_info already in memory: every read is the whole section. */
export class MemoryInfoSource implements InfoSource {
  readonly inMemory = true;
  private readonly whole: InfoBytes;
  constructor(data: Uint8Array) {
    this.whole = { data, base: 0 };
  }
  get size(): number {
    return this.whole.data.length;
  }
  read(start: number, end: number): InfoBytes {
    checkInfoRange(start, end, this.size);
    return this.whole;
  }
}

export function checkInfoRange(start: number, end: number, size: number): void {
  if (!(start >= 0 && start <= end && end <= size)) {
    throw new DwarfError('.debug_info', start, `range [0x${start.toString(16)}, 0x${end.toString(16)}) outside section of 0x${size.toString(16)} bytes`);
  }
}

/** The section's bytes as an InfoSource: the file-backed one when the sections have it. */
export function infoSourceOf(sections: DwarfSections): InfoSource | undefined {
  if (sections.infoSource) return sections.infoSource;
  const data = sections.get('.debug_info');
  return data ? new MemoryInfoSource(data) : undefined;
}

/** DWARF sections of an ELF file; inflated and relocated lazily, once each. */
export class ElfDwarfSections implements DwarfSections {
  private readonly cache = new Map<string, Uint8Array | undefined>();
  constructor(
    private readonly elf: ElfFile,
    readonly infoSource?: InfoSource,
  ) {}

  get(name: DwarfSectionName): Uint8Array | undefined {
    // The buffer holds no .debug_info bytes (zeros) when it is read from the file.
    if (name === '.debug_info' && this.infoSource) throw new DwarfError(name, 0, 'read unit by unit from the file, not whole');
    if (this.cache.has(name)) return this.cache.get(name);
    const sec = this.elf.debugSection(name);
    const data = sec ? relocatedSectionData(this.elf, sec) : undefined;
    this.cache.set(name, data);
    return data;
  }
}

/** Sections given directly, e.g. by tests. */
export class MapDwarfSections implements DwarfSections {
  constructor(private readonly map: Partial<Record<DwarfSectionName, Uint8Array>>) {}
  get(name: DwarfSectionName): Uint8Array | undefined {
    return this.map[name];
  }
}

export function faultIn(section: string): (offset: number, what: string) => DwarfError {
  return (offset, what) => new DwarfError(section, offset, what);
}

/** A bounded reader over a section; throws DwarfError when the section is missing. */
export function sectionReader(sections: DwarfSections, name: DwarfSectionName, start = 0, end?: number): ByteReader {
  const data = sections.get(name);
  if (!data) throw new DwarfError(name, start, 'section missing');
  const e = end ?? data.length;
  if (start < 0 || start > data.length || e > data.length || e < start) {
    throw new DwarfError(name, start, `range [0x${start.toString(16)}, 0x${e.toString(16)}) outside section of 0x${data.length.toString(16)} bytes`);
  }
  return new ByteReader(data, faultIn(name), start, e);
}
