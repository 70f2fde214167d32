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
}

/** DWARF sections of an ELF file; inflated and relocated lazily, once each. */
export class ElfDwarfSections implements DwarfSections {
  private readonly cache = new Map<string, Uint8Array | undefined>();
  constructor(private readonly elf: ElfFile) {}

  get(name: DwarfSectionName): Uint8Array | undefined {
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
