/**
 * Location lists: where a variable lives over which addresses. DWARF 4
 * .debug_loc (address pairs, a u16-counted expression), DWARF 5
 * .debug_loclists (DW_LLE_* entries, a ULEB-counted expression; DW_FORM_loclistx
 * through the unit's loclists_base). Addresses are half-open [lo, hi); the
 * expression bytes are a view into the section. A malformed list throws
 * DwarfError (the caller degrades); an over-long one is cut at MAX_ENTRIES.
 */
import { DwarfError } from '../errors';
import { DW_LLE } from './constants';
import { DwarfSections, sectionReader } from './sections';

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
  const max = addressSize === 8 ? (1n << 64n) - 1n : 0xffffffffn;
  let b = base;
  while (out.length < MAX_ENTRIES) {
    const start = r.uintBig(addressSize);
    const end = r.uintBig(addressSize);
    if (start === 0n && end === 0n) return out;
    if (start === max) {
      b = end;
      continue;
    }
    const len = r.u16();
    const expr = r.bytes(len);
    const lo = BigInt.asUintN(64, b + start);
    const hi = BigInt.asUintN(64, b + end);
    if (hi > lo) out.push({ lo, hi, expr });
  }
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
  let b = base;
  const expr = () => r.bytes(r.uleb());
  const push = (lo: bigint, hi: bigint, e: Uint8Array) => {
    if (hi > lo) out.push({ lo, hi, expr: e });
  };
  while (out.length < MAX_ENTRIES) {
    const at = r.pos;
    const kind = r.u8();
    switch (kind) {
      case DW_LLE.end_of_list:
        return out;
      case DW_LLE.base_addressx:
        b = addrx(r.uleb());
        break;
      case DW_LLE.startx_endx: {
        const lo = addrx(r.uleb());
        const hi = addrx(r.uleb());
        push(lo, hi, expr());
        break;
      }
      case DW_LLE.startx_length: {
        const lo = addrx(r.uleb());
        const hi = BigInt.asUintN(64, lo + r.ulebBig());
        push(lo, hi, expr());
        break;
      }
      case DW_LLE.offset_pair: {
        const s = r.ulebBig();
        const e = r.ulebBig();
        push(BigInt.asUintN(64, b + s), BigInt.asUintN(64, b + e), expr());
        break;
      }
      case DW_LLE.GNU_view_pair:
        // Location views (which of several entries at one address): not needed here.
        r.uleb();
        r.uleb();
        break;
      case DW_LLE.default_location:
        // Applies where no other entry does: the dataflow only needs the ranged ones.
        expr();
        break;
      case DW_LLE.base_address:
        b = r.uintBig(addressSize);
        break;
      case DW_LLE.start_end: {
        const lo = r.uintBig(addressSize);
        const hi = r.uintBig(addressSize);
        push(lo, hi, expr());
        break;
      }
      case DW_LLE.start_length: {
        const lo = r.uintBig(addressSize);
        const hi = BigInt.asUintN(64, lo + r.ulebBig());
        push(lo, hi, expr());
        break;
      }
      default:
        throw new DwarfError('.debug_loclists', at, `unknown location list entry kind ${kind}`);
    }
  }
  return out;
}
