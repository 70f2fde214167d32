/**
 * Address ranges: DWARF 4 .debug_ranges lists, DWARF 5 .debug_rnglists
 * lists (incl. DW_FORM_rnglistx through the unit's rnglists_base), and
 * .debug_aranges. All ranges are half-open [lo, hi); empty ones are dropped.
 */
import { DwarfError } from '../errors';
import { DW_RLE } from './constants';
import { DwarfSections, sectionReader } from './sections';
import { walkEntryList, walkPairList } from './lists';

export interface AddressRange {
  lo: bigint;
  hi: bigint;
}

/** A DWARF 2-4 range list at `offset` in .debug_ranges; `base` is the unit's low_pc. */
export function readRangeList(sections: DwarfSections, offset: number, addressSize: number, base: bigint): AddressRange[] {
  const out: AddressRange[] = [];
  // Each entry consumes 2 * addressSize bytes; running off the section throws.
  walkPairList(sectionReader(sections, '.debug_ranges', offset), addressSize, base, (lo, hi) => push(out, lo, hi));
  return out;
}

/** Resolves DW_FORM_rnglistx `index` to a .debug_rnglists offset. */
export function rnglistxOffset(sections: DwarfSections, rnglistsBase: number, offsetSize: number, index: number): number {
  const r = sectionReader(sections, '.debug_rnglists', rnglistsBase);
  r.skip(index * offsetSize);
  return rnglistsBase + r.offset(offsetSize);
}

/**
 * A DWARF 5 range list at `offset` in .debug_rnglists. `addrx` resolves
 * .debug_addr indices for the unit.
 */
export function readRnglist(
  sections: DwarfSections,
  offset: number,
  addressSize: number,
  base: bigint,
  addrx: (index: number) => bigint,
): AddressRange[] {
  const out: AddressRange[] = [];
  const form = { section: '.debug_rnglists', what: 'range', kinds: DW_RLE, addressSize, base, addrx } as const;
  walkEntryList(sectionReader(sections, '.debug_rnglists', offset), form, (lo, hi) => push(out, lo, hi));
  return out;
}

function push(out: AddressRange[], lo: bigint, hi: bigint): void {
  if (hi > lo) out.push({ lo, hi });
}

export interface ArangeEntry extends AddressRange {
  /** .debug_info offset of the unit this range belongs to. */
  unitOffset: number;
}

/** All (non-empty) ranges of .debug_aranges, sorted by lo. */
export function readAranges(sections: DwarfSections): ArangeEntry[] {
  const data = sections.get('.debug_aranges');
  const out: ArangeEntry[] = [];
  if (!data) return out;
  let off = 0;
  while (off < data.length) {
    const r = sectionReader(sections, '.debug_aranges', off);
    let length = r.u32();
    let offsetSize = 4;
    if (length === 0xffffffff) {
      offsetSize = 8;
      length = r.u64n('unit_length');
    }
    const end = r.pos + length;
    if (length === 0 || end > data.length) throw new DwarfError('.debug_aranges', off, `bad set length 0x${length.toString(16)}`);
    const s = sectionReader(sections, '.debug_aranges', r.pos, end);
    const version = s.u16();
    if (version !== 2) throw new DwarfError('.debug_aranges', off, `unsupported aranges version ${version}`);
    const unitOffset = s.offset(offsetSize);
    const addressSize = s.u8();
    const segSize = s.u8();
    if (addressSize !== 4 && addressSize !== 8) throw new DwarfError('.debug_aranges', off, `bad address size ${addressSize}`);
    if (segSize !== 0) throw new DwarfError('.debug_aranges', off, 'segmented addresses are not supported');
    // Tuples start at a multiple of the tuple size from the set start.
    const tuple = 2 * addressSize;
    const rel = s.pos - off;
    s.seek(off + Math.ceil(rel / tuple) * tuple);
    while (s.remaining >= tuple) {
      const lo = s.uintBig(addressSize);
      const len = s.uintBig(addressSize);
      if (lo === 0n && len === 0n) break;
      if (len > 0n) out.push({ lo, hi: BigInt.asUintN(64, lo + len), unitOffset });
    }
    off = end;
  }
  out.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  return out;
}

export function rangesContain(ranges: readonly AddressRange[], addr: bigint): boolean {
  for (const r of ranges) if (addr >= r.lo && addr < r.hi) return true;
  return false;
}
