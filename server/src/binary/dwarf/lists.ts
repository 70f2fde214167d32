/**
 * The entry walk that range lists and location lists share: DWARF 2-4 address
 * pairs with base-address selection entries (.debug_ranges, .debug_loc), and
 * DWARF 5 DW_RLE_ and DW_LLE_ entries (.debug_rnglists, .debug_loclists), whose
 * kinds are the same but for their numbers. What follows each bounded entry (a
 * location's expression, nothing for a range) is the caller's `entry` to read.
 * Addresses wrap at 64 bits as the producer's arithmetic does.
 */
import { DwarfError } from '../errors';
import type { ByteReader } from '../reader';

/** The entry kinds both DWARF 5 list forms have, by their numbers in one of them. */
export interface ListKinds {
  end_of_list: number;
  base_addressx: number;
  startx_endx: number;
  startx_length: number;
  offset_pair: number;
  base_address: number;
  start_end: number;
  start_length: number;
}

/**
 * A DWARF 2-4 list from `r`: pairs of addresses relative to `base` until (0, 0); a
 * pair whose start is the largest address sets the base. `entry(lo, hi)` is called
 * for each other pair (empty ones too: it reads what follows the pair). Stops early
 * once `full()` says so (before each entry).
 */
export function walkPairList(r: ByteReader, addressSize: number, base: bigint, entry: (lo: bigint, hi: bigint) => void, full: () => boolean = () => false): void {
  const max = addressSize === 8 ? (1n << 64n) - 1n : 0xffffffffn;
  let b = base;
  while (!full()) {
    const start = r.uintBig(addressSize);
    const end = r.uintBig(addressSize);
    if (start === 0n && end === 0n) return;
    if (start === max) {
      b = end; // base address selection entry
      continue;
    }
    entry(BigInt.asUintN(64, b + start), BigInt.asUintN(64, b + end));
  }
}

/**
 * What a DWARF 5 list is read with: its section and what it lists (for errors),
 * its kinds' numbers, and the unit's address size, base and .debug_addr lookup.
 */
export interface EntryListForm {
  section: '.debug_rnglists' | '.debug_loclists';
  what: 'range' | 'location';
  kinds: ListKinds;
  addressSize: number;
  base: bigint;
  addrx: (index: number) => bigint;
}

/**
 * A DWARF 5 list from `r` until end_of_list. `entry(lo, hi)` is called for each
 * bounded entry, after its bounds; a kind not in `form.kinds` goes to `other`,
 * which reads it and returns true, or returns false for an unknown kind (a
 * DwarfError at its offset). Stops early once `full()` says so (before each entry).
 */
export function walkEntryList(
  r: ByteReader,
  form: EntryListForm,
  entry: (lo: bigint, hi: bigint) => void,
  other: (kind: number) => boolean = () => false,
  full: () => boolean = () => false,
): void {
  const { kinds, addressSize, addrx } = form;
  let b = form.base;
  while (!full()) {
    const at = r.pos;
    const kind = r.u8();
    let lo: bigint;
    let hi: bigint;
    switch (kind) {
      case kinds.end_of_list:
        return;
      case kinds.base_addressx:
        b = addrx(r.uleb());
        continue;
      case kinds.base_address:
        b = r.uintBig(addressSize);
        continue;
      case kinds.startx_endx:
        lo = addrx(r.uleb());
        hi = addrx(r.uleb());
        break;
      case kinds.startx_length:
        lo = addrx(r.uleb());
        hi = BigInt.asUintN(64, lo + r.ulebBig());
        break;
      case kinds.offset_pair: {
        const s = r.ulebBig();
        const e = r.ulebBig();
        lo = BigInt.asUintN(64, b + s);
        hi = BigInt.asUintN(64, b + e);
        break;
      }
      case kinds.start_end:
        lo = r.uintBig(addressSize);
        hi = r.uintBig(addressSize);
        break;
      case kinds.start_length:
        lo = r.uintBig(addressSize);
        hi = BigInt.asUintN(64, lo + r.ulebBig());
        break;
      default:
        if (!other(kind)) throw new DwarfError(form.section, at, `unknown ${form.what} list entry kind ${kind}`);
        continue;
    }
    entry(lo, hi);
  }
}
