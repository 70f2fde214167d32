// The DWARF reads the vmlinux inventory relies on (issue 15, item 6): the scope
// subset of a unit (DwarfUnit.codeTree) holds exactly the DIEs of those kinds that
// the full tree holds, linked to their nearest such ancestor, though it steps over
// (and jumps past, by DW_AT_sibling) everything else; skipAttrValue moves exactly as
// far as readAttrValue; inlined instances filtered by name are the unfiltered ones
// with that name; and a released unit keeps nothing it decoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openBinary, type BinaryObject, type DwarfUnit } from '../../../server/src/binary/index';
import { DW_TAG } from '../../../server/src/binary/dwarf/constants';
import { readAttrValue, skipAttrValue } from '../../../server/src/binary/dwarf/forms';
import { formContext } from '../../../server/src/binary/dwarf/info';
import { ByteReader } from '../../../server/src/binary/reader';
import { buildFixtures } from './helpers';

const fixtures = buildFixtures();
const skip = fixtures ? false : 'gcc not found: fixtures cannot be compiled';
const SCOPES = new Set<number>([DW_TAG.subprogram, DW_TAG.inlined_subroutine, DW_TAG.lexical_block, DW_TAG.entry_point, DW_TAG.namespace]);

function each(fn: (b: BinaryObject, cu: DwarfUnit, label: string) => void): void {
  for (const f of fixtures ?? []) {
    const b = openBinary(readFileSync(f.path));
    for (const cu of b.dwarf.compileUnits()) fn(b, cu, f.label);
  }
}

test('the scope subset holds the full tree\'s scope DIEs, each under its nearest scope ancestor', { skip }, () => {
  let kept = 0;
  let skipped = 0;
  each((_b, cu, label) => {
    const full = cu.dies();
    const want = full.filter((d) => d.depth === 0 || SCOPES.has(d.tag));
    const nearest = (i: number): number => {
      for (let p = full[i]!.parent; p >= 0; p = full[p]!.parent) if (full[p]!.depth === 0 || SCOPES.has(full[p]!.tag)) return full[p]!.offset;
      return -1;
    };
    const sub = cu.codeDies();
    assert.deepEqual(sub.map((d) => d.offset), want.map((d) => d.offset), `${label} ${cu.name}`);
    sub.forEach((d, i) => {
      assert.equal(d.parent >= 0 ? sub[d.parent]!.offset : -1, nearest(want[i]!.index), `${label}: parent of 0x${d.offset.toString(16)}`);
      assert.deepEqual(d.attrs, want[i]!.attrs);
      assert.equal(d.depth, want[i]!.depth);
    });
    kept += sub.length;
    skipped += full.length - want.length;
  });
  assert.ok(kept > 10 && skipped > kept, `the fixtures have scopes (${kept}) and more DIEs of other kinds (${skipped})`);
});

test('skipAttrValue steps over every attribute exactly as far as readAttrValue reads', { skip }, () => {
  let n = 0;
  each((b, cu) => {
    const info = b.dwarf.sections.get('.debug_info')!;
    const ctx = formContext(cu.header);
    for (const d of cu.dies()) {
      for (let k = 0; k < d.attrs.length; k++) {
        // Re-read the DIE's attributes from its start, one step at a time, both ways.
        const a = new ByteReader(info, (o, w) => new Error(`${o}: ${w}`), d.offset, cu.header.end);
        const c = new ByteReader(info, (o, w) => new Error(`${o}: ${w}`), d.offset, cu.header.end);
        a.uleb();
        c.uleb();
        for (let j = 0; j <= k; j++) {
          readAttrValue(a, d.attrs[j]!.form, ctx);
          skipAttrValue(c, d.attrs[j]!.form, ctx);
          assert.equal(c.pos, a.pos, `form 0x${d.attrs[j]!.form.toString(16)}`);
          n++;
        }
      }
    }
  });
  assert.ok(n > 100);
});

test('inlined instances filtered by name are the unfiltered instances of that name', { skip }, () => {
  let seen = 0;
  each((b, cu) => {
    const all = b.dwarf.inlinedInstances(cu);
    const names = [...new Set(all.map((i) => i.name))];
    for (const name of names) {
      assert.deepEqual(b.dwarf.inlinedInstances(cu, (n) => n === name), all.filter((i) => i.name === name));
      seen++;
    }
  });
  assert.ok(seen > 0, 'the fixtures inline something');
});

test('releaseAll drops the unit\'s decoded DIEs, line rows and header; reading again gives the same', { skip }, () => {
  each((b, cu) => {
    const before = { insts: b.dwarf.inlinedInstances(cu), files: cu.lineTableFiles(), rows: b.dwarf.lineRows(cu).length };
    cu.releaseAll();
    const u = cu as unknown as Record<string, unknown>;
    for (const k of ['allDies', 'code', 'rows', 'lineHdr', 'rootDie', 'sequenceCache', 'scopeCache']) assert.equal(u[k], undefined, k);
    assert.deepEqual({ insts: b.dwarf.inlinedInstances(cu), files: cu.lineTableFiles(), rows: b.dwarf.lineRows(cu).length }, before);
  });
});
