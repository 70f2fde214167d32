// The location-list reader (binary/dwarf/loclists.ts, DwarfUnit.locations)
// against binutils: every list a DW_AT_location names, in DWARF 4 .debug_loc and
// DWARF 5 .debug_loclists, .o and linked, has readelf's ranges, and the entries
// the MMIO dataflow uses (one DW_OP_regN) name readelf's register.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBinary } from '../../../server/src/binary/index';

import { getAttr } from '../../../server/src/binary/dwarf/info';
import { registerOf } from '../../../server/src/audit/compiled/facts';
import { buildFixtures, hasTool, readelfLocLists, readelfMembers, readFixture } from './helpers';
import { UnitTypes } from '../../../server/src/binary/dwarf/types';
import { DW_AT, DW_TAG } from '../../../server/src/binary/dwarf/constants';

const skip = !hasTool('readelf') ? 'readelf (binutils) not found' : !buildFixtures() ? 'gcc not found' : false;
/** x86-64 GPR numbers as the dataflow counts them → readelf's names. */
const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const LOW32 = 0xffffffffn;

for (const label of ['dwarf5', 'dwarf4', 'exe-dwarf5', 'exe-dwarf4']) {
  test(`location lists of ${label} equal readelf's, and register locations name the same register`, { skip }, () => {
    const f = buildFixtures()!.find((x) => x.label === label)!;
    const bin = openBinary(readFixture(label));
    const ref = readelfLocLists(f.path);
    let lists = 0;
    let regs = 0;
    for (const cu of bin.dwarf.units()) {
      for (const d of cu.dies()) {
        const v = getAttr(d, DW_AT.location);
        if (!v || v.kind !== 'secOffset') continue;
        lists++;
        const want = ref.get(v.value);
        assert.ok(want, `readelf has a list at 0x${v.value.toString(16)}`);
        const got = cu.locations(d);
        // A .o's addresses carry our synthetic section bits; readelf prints them section-relative.
        const norm = (x: bigint) => (f.relocatable ? x & LOW32 : x);
        assert.deepEqual(got.map((e) => [norm(e.lo), norm(e.hi)]), want.filter((e) => e.end > e.begin).map((e) => [e.begin, e.end]), `list at 0x${v.value.toString(16)}`);
        for (const [k, e] of got.entries()) {
          const reg = registerOf(e.expr);
          const m = /^DW_OP_reg\d+ \((\w+)\)$/.exec(want.filter((x) => x.end > x.begin)[k]!.expr);
          assert.equal(reg === undefined ? undefined : GPR_NAMES[reg], m?.[1], `entry ${k} of 0x${v.value.toString(16)}: ${want[k]!.expr}`);
          if (reg !== undefined) regs++;
        }
      }
    }
    assert.ok(lists > 3, `the fixture has location lists (${lists})`);
    assert.ok(regs > 0, 'some entries are plain registers');
  });
}

test('struct members and their byte offsets equal readelf --debug-dump=info (binary/dwarf/types.ts)', { skip }, () => {
  const f = buildFixtures()!.find((x) => x.label === 'dwarf5')!;
  const bin = openBinary(readFixture('dwarf5'));
  const ref = readelfMembers(f.path);
  let structs = 0;
  for (const cu of bin.dwarf.units()) {
    const t = new UnitTypes(cu);
    for (const d of cu.dies()) {
      if (d.tag !== DW_TAG.structure_type && d.tag !== DW_TAG.union_type) continue;
      const want = ref.get(d.offset);
      if (!want) continue;
      structs++;
      // Our list flattens embedded structs; readelf's direct members are the ones at depth 1.
      const direct = cu.children(d).filter((c) => c.tag === DW_TAG.member).length;
      assert.equal(direct, want.length, `struct at 0x${d.offset.toString(16)}: member count`);
      for (const w of want) assert.ok(t.membersAt(d.offset, w.offset).some((m) => m.name === w.name), `${w.name} at ${w.offset}`);
    }
  }
  assert.ok(structs > 0, 'the fixture has structs');
});
