// A unit whose full DIE tree is decoded already (the join reads both) builds its
// scope subset (DwarfUnit.codeTree) from that tree instead of decoding the unit's
// bytes a second time. Proves the subset is the one parseDiesOfTags decodes (DIEs,
// indices, links, opaque marks) on every fixture, and that a DW_AT_sibling which
// points anywhere but just past its DIE's children makes the unit decode the bytes
// again: parseDiesOfTags follows that pointer, a walk of the tree cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBinary, type DwarfUnit } from '../../../server/src/binary/index';
import { DW_AT, DW_FORM, DW_TAG } from '../../../server/src/binary/dwarf/constants';
import { diesOfTagsFrom, formContext, type DieSubset } from '../../../server/src/binary/dwarf/info';
import { readAttrValue } from '../../../server/src/binary/dwarf/forms';
import { ByteReader } from '../../../server/src/binary/reader';
import { buildFixtures } from './helpers';
import { gcc } from '../../support/gcc';

// File-scope types with children (an enumeration, a function pointer's parameters)
// before the functions: DIEs parseDiesOfTags steps over by their DW_AT_sibling.
const TYPES_FIRST_C = `enum mode { MODE_A, MODE_B, MODE_C };
typedef int (*cb_t)(int, int);
extern cb_t hook;
extern enum mode current;
int first(int x) { return x + (int)current; }
int second(int x) { return hook(x, 2); }
int third(enum mode m) { return m * 3 + first(m); }
int fourth(int x) { return second(x) + third(MODE_B); }
`;

const fixtures = buildFixtures();
const skip = fixtures ? false : 'gcc not found: fixtures cannot be compiled';
const CODE = new Set<number>([DW_TAG.subprogram, DW_TAG.inlined_subroutine, DW_TAG.lexical_block, DW_TAG.entry_point, DW_TAG.namespace]);
const TRANSPARENT = new Set<number>([DW_TAG.class_type, DW_TAG.structure_type, DW_TAG.union_type]);

const plain = (t: DieSubset & { byOffset?: unknown }) => ({ dies: t.dies, opaque: [...t.opaque] });

test('the scope subset built from the decoded tree is the one decoded from the bytes', { skip }, () => {
  let units = 0;
  for (const f of fixtures ?? []) {
    const decoded = openBinary(readFileSync(f.path)).dwarf.compileUnits();
    const derived = openBinary(readFileSync(f.path)).dwarf.compileUnits();
    decoded.forEach((cu, i) => {
      const fromBytes = cu.codeTree();
      const other: DwarfUnit = derived[i]!;
      other.dies();
      assert.deepEqual(plain(other.codeTree()), plain(fromBytes), `${f.label} ${cu.name}`);
      units++;
    });
  }
  assert.ok(units > 5);
});

test('a DW_AT_sibling that points past other DIEs: the subset is decoded from the bytes again', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-sibling-'));
  let data: Buffer;
  try {
    writeFileSync(join(dir, 'types.c'), TYPES_FIRST_C);
    gcc(['-O2', '-g', '-c', 'types.c', '-o', 'types.o'], dir);
    data = Buffer.from(readFileSync(join(dir, 'types.o')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const b = openBinary(new Uint8Array(data));
  const sec = b.elf.sections.find((s) => s.name === '.debug_info')!;
  const info = b.dwarf.sections.get('.debug_info')!;
  const cu = b.dwarf.compileUnits()[0]!;
  const all = cu.dies();
  // A DIE with children that is neither a scope nor transparent, with a ref4 sibling,
  // and a subprogram after its real sibling: pointing there skips the scopes between.
  let patched = false;
  for (const d of all) {
    if (d.firstChild < 0 || CODE.has(d.tag) || TRANSPARENT.has(d.tag) || d.depth !== 1) continue;
    const subs = all.filter((x) => x.index > d.index && x.tag === DW_TAG.subprogram && x.depth === 1);
    if (subs.length < 2) continue;
    const r = new ByteReader(info, (o, w) => new Error(`${o}: ${w}`), d.offset, cu.header.end);
    r.uleb();
    for (const a of d.attrs) {
      const at = r.pos;
      readAttrValue(r, a.form, formContext(cu.header));
      if (a.name === DW_AT.sibling && a.form === DW_FORM.ref4) {
        data.writeUInt32LE(subs[1]!.offset - cu.header.offset, sec.offset + at);
        patched = true;
        break;
      }
    }
    if (patched) break;
  }
  assert.ok(patched, 'the fixture has a DIE with children and a ref4 DW_AT_sibling before two subprograms');
  const fromBytes = openBinary(new Uint8Array(data)).dwarf.compileUnits()[0]!.codeTree();
  const unit = openBinary(new Uint8Array(data)).dwarf.compileUnits()[0]!;
  const tree = unit.dies();
  // A walk of the tree would keep the subprogram the pointer jumps over...
  assert.notDeepEqual(plain(diesOfTagsFrom(tree, CODE, TRANSPARENT)), plain(fromBytes));
  // ...so the unit reads the bytes again, as a unit that never decoded its tree does.
  assert.deepEqual(plain(unit.codeTree()), plain(fromBytes));
});
