// Range and location lists through their one entry walk (binary/dwarf/lists.ts),
// from bytes written here: the forms gcc's fixtures seldom or never emit (DWARF 2-4
// base-address selection entries, empty entries followed by an expression,
// DWARF 5 base_address and start_end, location views, default locations, an
// unknown kind, the entry cap), each with the answer the DWARF standard gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapDwarfSections } from '../../../server/src/binary/dwarf/sections';
import { readRangeList, readRnglist } from '../../../server/src/binary/dwarf/ranges';
import { readLocList, readLoclist } from '../../../server/src/binary/dwarf/loclists';
import { DW_LLE, DW_RLE } from '../../../server/src/binary/dwarf/constants';

/** Little-endian bytes of `v` in `n` bytes. */
const le = (v: bigint, n: number): number[] => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
const u64 = (v: bigint) => le(v, 8);
const MAX64 = (1n << 64n) - 1n;
const noAddrx = (): bigint => {
  throw new Error('no .debug_addr here');
};
const spans = (xs: readonly { lo: bigint; hi: bigint }[]) => xs.map((x) => [x.lo, x.hi]);

test('a DWARF 2-4 range list: pairs from the unit base, a selection entry moves the base, empty pairs dropped', () => {
  const bytes = [
    ...u64(0x10n), ...u64(0x20n), // [base+0x10, base+0x20)
    ...u64(MAX64), ...u64(0x5000n), // base := 0x5000
    ...u64(0x0n), ...u64(0x8n), // [0x5000, 0x5008)
    ...u64(0x30n), ...u64(0x30n), // empty
    ...u64(0n), ...u64(0n), // end
  ];
  const got = readRangeList(new MapDwarfSections({ '.debug_ranges': Uint8Array.from(bytes) }), 0, 8, 0x1000n);
  assert.deepEqual(spans(got), [[0x1010n, 0x1020n], [0x5000n, 0x5008n]]);
});

test('a DWARF 2-4 location list: each pair\'s expression is read, an empty pair\'s too, and the base selection applies', () => {
  const bytes = [
    ...u64(0x0n), ...u64(0x4n), 1, 0, 0x50, // [base, base+4): DW_OP_reg0
    ...u64(0x4n), ...u64(0x4n), 2, 0, 0x51, 0x52, // empty: its two bytes are skipped
    ...u64(MAX64), ...u64(0x9000n),
    ...u64(0x2n), ...u64(0x6n), 1, 0, 0x53, // [0x9002, 0x9006): DW_OP_reg3
    ...u64(0n), ...u64(0n),
  ];
  const got = readLocList(new MapDwarfSections({ '.debug_loc': Uint8Array.from(bytes) }), 0, 8, 0x100n);
  assert.deepEqual(spans(got), [[0x100n, 0x104n], [0x9002n, 0x9006n]]);
  assert.deepEqual(got.map((e) => [...e.expr]), [[0x50], [0x53]]);
});

test('a DWARF 5 range list: offset pairs from the base, base_address, start_end, start_length', () => {
  const bytes = [
    DW_RLE.offset_pair, 0x10, 0x20, // [base+0x10, base+0x20)
    DW_RLE.base_address, ...u64(0x7000n),
    DW_RLE.offset_pair, 0x00, 0x04,
    DW_RLE.start_end, ...u64(0x8000n), ...u64(0x8010n),
    DW_RLE.start_length, ...u64(0x8100n), 0x08,
    DW_RLE.end_of_list,
  ];
  const got = readRnglist(new MapDwarfSections({ '.debug_rnglists': Uint8Array.from(bytes) }), 0, 8, 0x1000n, noAddrx);
  assert.deepEqual(spans(got), [[0x1010n, 0x1020n], [0x7000n, 0x7004n], [0x8000n, 0x8010n], [0x8100n, 0x8108n]]);
});

test('a DWARF 5 location list: view pairs and the default location are read past, base_address is kind 6 here, not 5', () => {
  const bytes = [
    DW_LLE.GNU_view_pair, 0x01, 0x02,
    DW_LLE.offset_pair, 0x00, 0x04, 1, 0x50,
    DW_LLE.default_location, 1, 0x9c, // kind 5: a default location, not base_address (RLE's 5)
    DW_LLE.base_address, ...u64(0x4000n),
    DW_LLE.offset_pair, 0x10, 0x18, 1, 0x51,
    DW_LLE.end_of_list,
  ];
  const got = readLoclist(new MapDwarfSections({ '.debug_loclists': Uint8Array.from(bytes) }), 0, 8, 0x200n, noAddrx);
  assert.deepEqual(spans(got), [[0x200n, 0x204n], [0x4010n, 0x4018n]]);
  assert.deepEqual(got.map((e) => [...e.expr]), [[0x50], [0x51]]);
});

test('an unknown entry kind is a DwarfError naming the list and the offset', () => {
  const rng = new MapDwarfSections({ '.debug_rnglists': Uint8Array.from([DW_RLE.offset_pair, 0, 1, 0x2a]) });
  assert.throws(() => readRnglist(rng, 0, 8, 0n, noAddrx), /unknown range list entry kind 42/);
  const loc = new MapDwarfSections({ '.debug_loclists': Uint8Array.from([DW_LLE.offset_pair, 0, 1, 0, 0x2a]) });
  assert.throws(() => readLoclist(loc, 0, 8, 0n, noAddrx), /unknown location list entry kind 42/);
});

test('a location list is cut at 4,096 entries; the entries before the cut are kept', () => {
  const bytes: number[] = [];
  for (let i = 0; i < 5000; i++) bytes.push(DW_LLE.offset_pair, 0, 1, 1, 0x50);
  // No end_of_list: without the cap the walk would run off the section and throw.
  const got = readLoclist(new MapDwarfSections({ '.debug_loclists': Uint8Array.from(bytes) }), 0, 8, 0n, noAddrx);
  assert.equal(got.length, 4096);
});
