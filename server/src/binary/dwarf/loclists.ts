/**
 * Location lists: where a variable lives over which addresses. DWARF 4
 * .debug_loc (address pairs, a u16-counted expression), DWARF 5
 * .debug_loclists (DW_LLE_* entries, a ULEB-counted expression; DW_FORM_loclistx
 * through the unit's loclists_base). Addresses are half-open [lo, hi); the
 * expression bytes are a view into the section. A malformed list throws
 * DwarfError (the caller degrades); an over-long one is cut at MAX_ENTRIES.
 */
import { DW_LLE } from './constants';
import { DwarfSections, sectionReader } from './sections';
import { walkEntryList, walkPairList } from './lists';

export interface LocationEntry {
  lo: bigint;
  hi: bigint;
  expr: Uint8Array;
}

/** Real lists have a few dozen entries; more is corrupt input. */
const MAX_ENTRIES = 4096;

/** A DWARF 2-4 location list at `offset` in .debug_loc; `base` is the unit's low_pc. */
export function readLocList(sections: DwarfSections, offset: number, addressSize: number, base: bigint): LocationEntry[] {
  const r = sectionReader(sections, '.debug_loc', offset);
  const out: LocationEntry[] = [];
  // Each pair is followed by a u16-counted expression.
  walkPairList(r, addressSize, base, (lo, hi) => push(out, lo, hi, r.bytes(r.u16())), () => out.length >= MAX_ENTRIES);
  return out;
}

/** Resolves DW_FORM_loclistx `index` to a .debug_loclists offset. */
export function loclistxOffset(sections: DwarfSections, loclistsBase: number, offsetSize: number, index: number): number {
  const r = sectionReader(sections, '.debug_loclists', loclistsBase);
  r.skip(index * offsetSize);
  return loclistsBase + r.offset(offsetSize);
}

/** A DWARF 5 location list at `offset` in .debug_loclists. */
export function readLoclist(
  sections: DwarfSections,
  offset: number,
  addressSize: number,
  base: bigint,
  addrx: (index: number) => bigint,
): LocationEntry[] {
  const r = sectionReader(sections, '.debug_loclists', offset);
  const out: LocationEntry[] = [];
  const expr = () => r.bytes(r.uleb());
  const form = { section: '.debug_loclists', what: 'location', kinds: DW_LLE, addressSize, base, addrx } as const;
  walkEntryList(
    r,
    form,
    // Each bounded entry is followed by a ULEB-counted expression.
    (lo, hi) => push(out, lo, hi, expr()),
    (kind) => {
      if (kind === DW_LLE.GNU_view_pair) {
        // Location views (which of several entries at one address): not needed here.
        r.uleb();
        r.uleb();
        return true;
      }
      if (kind === DW_LLE.default_location) {
        // Applies where no other entry does: the dataflow only needs the ranged ones.
        expr();
        return true;
      }
      return false;
    },
    () => out.length >= MAX_ENTRIES,
  );
  return out;
}

function push(out: LocationEntry[], lo: bigint, hi: bigint, expr: Uint8Array): void {
  if (hi > lo) out.push({ lo, hi, expr });
}
