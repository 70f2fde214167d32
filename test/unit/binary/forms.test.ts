/**
 * DWARF 5 as Clang emits it (strx/addrx/rnglistx with *_base attributes,
 * line_strp and MD5 in the line table, implicit_const), built by hand here
 * because the machine's gcc does not emit these forms for a plain .o.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DwarfReader, MapDwarfSections } from '../../../server/src/binary/index';

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
function u16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}
function u64(n: number): number[] {
  return [...u32(n), 0, 0, 0, 0];
}
function cstr(s: string): number[] {
  return [...Buffer.from(s, 'utf8'), 0];
}
/** Prefixes a 32-bit DWARF unit_length. */
function unit(body: number[]): number[] {
  return [...u32(body.length), ...body];
}

function build(): DwarfReader {
  const str = [0, ...cstr('cu.c'), ...cstr('/dir'), ...cstr('outer'), ...cstr('inl')]; // offsets 1, 6, 11, 17
  const strOffsets = unit([...u16(5), 0, 0, ...u32(1), ...u32(6), ...u32(11), ...u32(17)]); // base 8
  const addr = unit([...u16(5), 8, 0, ...u64(0x1000), ...u64(0x1100)]); // base 8
  // rnglists: header (12 bytes) + 2 offsets; base = 12, offsets relative to it.
  const list0 = [3, 0, 0x20, 1, 1, 4, 0x00, 0x10, 0]; // startx_length; base_addressx; offset_pair; end
  const list1 = [5, ...u64(0x1000), 4, 0x08, 0x0c, 0]; // base_address; offset_pair; end
  const rnglists = unit([...u16(5), 8, 0, ...u32(2), ...u32(8), ...u32(8 + list0.length), ...list0, ...list1]);
  const lineStr = [0, ...cstr('/dir')];
  const md5 = new Array(16).fill(0xab);
  const hdrRest = [
    1, 1, 1, 0xfb, 14, 13, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1,
    1, 1, 0x1f, 1, ...u32(1), // directories: path as line_strp
    3, 1, 0x08, 2, 0x0b, 5, 0x1e, 3, // files: path string, dir data1, MD5 data16; 3 files (0 and 1 both the CU, as GCC does)
    ...cstr('cu.c'), 0, ...md5,
    ...cstr('cu.c'), 0, ...md5,
    ...cstr('inl.h'), 0, ...md5,
  ];
  const program = [
    0, 9, 2, ...u64(0x1000), // DW_LNE_set_address
    5, 3, // set_column 3
    1, // copy
    3, 9, 4, 2, 0, 2, 4, 7, 2, 8, 1, // advance_line 9, set_file 2, discriminator 7, advance_pc 8, copy
    75, // special: address +4, line +1
    4, 1, 3, 4, 8, 1, // set_file 1, advance_line 4, const_add_pc, copy
    2, 3, 0, 1, 1, // advance_pc 3, end_sequence
  ];
  const line = unit([...u16(5), 8, 0, ...u32(hdrRest.length), ...hdrRest, ...program]);
  const abbrev = [
    1, 0x11, 1, 0x03, 0x25, 0x1b, 0x25, 0x11, 0x01, 0x55, 0x23, 0x10, 0x17, 0x72, 0x17, 0x73, 0x17, 0x74, 0x17, 0x13, 0x21, 0x1d, 0, 0,
    2, 0x2e, 1, 0x03, 0x25, 0x11, 0x29, 0x12, 0x06, 0x3f, 0x19, 0, 0,
    3, 0x1d, 0, 0x31, 0x13, 0x55, 0x23, 0x58, 0x0b, 0x59, 0x0b, 0x57, 0x0b, 0, 0,
    4, 0x2e, 0, 0x03, 0x25, 0x20, 0x21, 3, 0, 0,
    0,
  ];
  const root = [1, 0, 1, ...u64(0), 0, ...u32(0), ...u32(8), ...u32(8), ...u32(12)];
  const sub = [2, 2, 0, ...u32(0x20)];
  const inlinedLen = 1 + 4 + 1 + 3;
  const abstractOffset = 12 + root.length + sub.length + inlinedLen + 1; // CU-relative
  const inlined = [3, ...u32(abstractOffset), 1, 1, 5, 7];
  const abstract = [4, 3];
  const info = unit([...u16(5), 1, 8, ...u32(0), ...root, ...sub, ...inlined, 0, ...abstract, 0]);
  return new DwarfReader(
    new MapDwarfSections({
      '.debug_info': Uint8Array.from(info),
      '.debug_abbrev': Uint8Array.from(abbrev),
      '.debug_str': Uint8Array.from(str),
      '.debug_str_offsets': Uint8Array.from(strOffsets),
      '.debug_addr': Uint8Array.from(addr),
      '.debug_rnglists': Uint8Array.from(rnglists),
      '.debug_line': Uint8Array.from(line),
      '.debug_line_str': Uint8Array.from(lineStr),
    }),
  );
}

test('strx/addrx/rnglistx forms resolve through the unit bases', () => {
  const d = build();
  const [u] = d.units();
  assert.ok(u);
  assert.deepEqual({ name: u.name, compDir: u.compDir, version: u.version }, { name: 'cu.c', compDir: '/dir', version: 5 });
  assert.deepEqual(u.dieRanges(u.root()), [
    { lo: 0x1000n, hi: 0x1020n },
    { lo: 0x1100n, hi: 0x1110n },
  ]);
  assert.equal(d.unitForAddress(0x1105n), u, 'found through unit ranges (no aranges)');
  assert.equal(d.unitForAddress(0x1050n), undefined);
  assert.deepEqual(d.functions(u).map((f) => [f.name, f.ranges]), [['outer', [{ lo: 0x1000n, hi: 0x1020n }]]]);
  const abs = d.subprograms(u).find((s) => s.name === 'inl')!;
  assert.equal(abs.inline, 3);
  assert.equal(abs.concrete, false);
});

test('v5 line table with line_strp directories, MD5 and discriminators', () => {
  const d = build();
  const u = d.units()[0]!;
  const rows = d.lineRows(u).map((r) => [r.address, r.file, r.line, r.column, r.discriminator, r.endSequence]);
  assert.deepEqual(rows, [
    [0x1000n, '/dir/cu.c', 1, 3, 0, false],
    [0x1008n, '/dir/inl.h', 10, 3, 7, false],
    [0x100cn, '/dir/inl.h', 11, 3, 0, false],
    [0x101dn, '/dir/cu.c', 15, 3, 0, false],
    [0x1020n, '/dir/cu.c', 15, 3, 0, true],
  ]);
  assert.equal(u.lineHeader()!.files[2]!.md5?.length, 16);
  assert.deepEqual(u.lineTableFiles(), ['/dir/cu.c', '/dir/inl.h']);
  assert.equal(d.unitsForSource('inl.h', { lineTableFiles: true }).length, 1);
  assert.equal(d.unitsForSource('inl.h').length, 0);
});

test('inlined instance and inline chain through rnglistx ranges', () => {
  const d = build();
  const u = d.units()[0]!;
  const [inl] = d.inlinedInstances(u);
  assert.ok(inl);
  assert.deepEqual(
    { name: inl.name, ranges: inl.ranges, callFile: inl.callFile, callLine: inl.callLine, callColumn: inl.callColumn, depth: inl.depth, encl: inl.enclosingFunction },
    { name: 'inl', ranges: [{ lo: 0x1008n, hi: 0x100cn }], callFile: '/dir/cu.c', callLine: 5, callColumn: 7, depth: 1, encl: 'outer' },
  );
  const chain = d.inlineChain(0x1009n).map((f) => [f.function, f.file, f.line, f.column, f.discriminator]);
  assert.deepEqual(chain, [
    ['inl', '/dir/inl.h', 10, 3, 7],
    ['outer', '/dir/cu.c', 5, 7, 0],
  ]);
  assert.deepEqual(d.inlineChain(0x1001n).map((f) => [f.function, f.line]), [['outer', 1]]);
});
