// .debug_info read from the file range by range (binary/fileSection.ts), as a
// vmlinux is read (issue 15, item 6): it answers every question the in-memory
// section answers, reads a root DIE longer than its prefix read from the whole
// unit, reads only what is asked, and refuses a file that changed or a section
// that does not fit, with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DwarfError, DwarfReader, FileSectionSource, MapDwarfSections, openBinary, type BinaryObject, type DwarfSections } from '../../../server/src/binary/index';
import { buildFixtures } from './helpers';

const fixtures = buildFixtures();
const skip = fixtures ? false : 'gcc not found: fixtures cannot be compiled';

function fileBacked(path: string): { bin: BinaryObject; src: () => FileSectionSource } {
  const st = statSync(path);
  let made: FileSectionSource | undefined;
  const bin = openBinary(new Uint8Array(readFileSync(path)), {
    infoFrom: (sec) => (made = new FileSectionSource(path, sec.offset, sec.size, { size: st.size, mtimeMs: st.mtimeMs })),
  });
  return { bin, src: () => made! };
}

/** Everything the audit reads of a unit: its summary, scope DIEs, full DIEs, line rows and inline chains. */
function digest(b: BinaryObject): unknown[] {
  const out: unknown[] = [];
  for (const cu of b.dwarf.compileUnits()) {
    out.push(b.dwarf.summary(cu), cu.lineTableFiles(), cu.codeDies().map((d) => [d.offset, d.tag, d.parent, d.attrs.length]));
    out.push(cu.dies().map((d) => [d.offset, d.tag, d.parent, d.firstChild, d.nextSibling]));
    out.push(b.dwarf.lineRows(cu).map((r) => `${r.address}:${r.file}:${r.line}:${r.column}`));
    for (const f of b.dwarf.functions(cu)) for (const r of f.ranges) out.push(b.dwarf.inlineChain(r.lo), b.dwarf.inlineChain(r.hi - 1n));
    cu.releaseAll();
  }
  return out;
}

test('a file-backed .debug_info gives the same units, DIEs, line rows and inline chains as the section in memory', { skip }, () => {
  for (const f of fixtures!.filter((x) => !x.relocatable)) {
    const mem = openBinary(new Uint8Array(readFileSync(f.path)));
    const file = fileBacked(f.path);
    assert.deepEqual(digest(file.bin), digest(mem), f.label);
    if (f.compressed === 'none') {
      assert.ok(file.src().bytesRead > 0, `${f.label}: read from the file`);
      // Its bytes in the ELF buffer are never looked at.
      assert.throws(() => file.bin.dwarf.sections.get('.debug_info'), DwarfError);
    } else {
      // A compressed section is inflated in memory as before.
      assert.equal(file.src(), undefined, `${f.label}: no file source for a compressed section`);
    }
  }
});

test('a released unit keeps no bytes, and its root is read again from a prefix', { skip }, () => {
  const f = fixtures!.find((x) => x.label === 'exe-dwarf5')!;
  const { bin, src } = fileBacked(f.path);
  const cu = bin.dwarf.compileUnits()[0]!;
  const name = cu.name;
  cu.codeDies();
  const whole = src().bytesRead;
  cu.releaseAll();
  assert.equal(cu.name, name);
  // Only the root DIE's prefix was read again, not the unit.
  assert.ok(src().bytesRead - whole <= 512 + 64, `read ${src().bytesRead - whole} bytes for a root`);
});

// A hand-made DWARF 5 unit: abbrev 1 = compile_unit with children and DW_AT_name as an
// inline string; abbrev 2 = subprogram, no children, DW_AT_name inline.
const ABBREV = Uint8Array.from([1, 0x11, 1, 0x03, 0x08, 0, 0, 2, 0x2e, 0, 0x03, 0x08, 0, 0, 0]);

function unit(rootName: string, fnNames: string[]): Buffer {
  const body = Buffer.concat([
    Buffer.from([1]), Buffer.from(rootName + '\0', 'latin1'),
    ...fnNames.map((n) => Buffer.concat([Buffer.from([2]), Buffer.from(n + '\0', 'latin1')])),
    Buffer.from([0]),
  ]);
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32LE(8 + body.length, 0);
  hdr.writeUInt16LE(5, 4);
  hdr[6] = 1; // DW_UT_compile
  hdr[7] = 8;
  hdr.writeUInt32LE(0, 8);
  return Buffer.concat([hdr, body]);
}

/** The units written into a file after `pad` bytes of something else, read back through a FileSectionSource. */
function onFile(dir: string, info: Buffer, pad = 37): { path: string; reader: () => DwarfReader; src: FileSectionSource } {
  const path = join(dir, 'image');
  writeFileSync(path, Buffer.concat([Buffer.alloc(pad, 0xee), info, Buffer.alloc(11, 0xee)]));
  const st = statSync(path);
  const src = new FileSectionSource(path, pad, info.length, { size: st.size, mtimeMs: st.mtimeMs });
  const sections: DwarfSections = { get: (n) => (n === '.debug_abbrev' ? ABBREV : undefined), infoSource: src };
  return { path, reader: () => new DwarfReader(sections), src };
}

test('a root DIE longer than the prefix read, and units ending at the section end, read as from memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-filesec-'));
  try {
    const long = 'drivers/' + 'x'.repeat(3000) + '.c';
    const info = Buffer.concat([unit('a.c', ['f', 'g']), unit(long, ['h']), unit('last.c', ['z'])]);
    const { reader, src } = onFile(dir, info);
    const file = reader();
    const mem = new DwarfReader(new MapDwarfSections({ '.debug_info': info, '.debug_abbrev': ABBREV }));
    const names = (d: DwarfReader) => d.units().map((u) => [u.name, u.dies().map((x) => x.attrs.length), u.header.end]);
    assert.deepEqual(names(file), names(mem));
    assert.equal(file.units()[1]!.name, long);
    // Headers, each root (the long one's prefix first), then each unit for its DIEs.
    assert.ok(src.bytesRead <= 2 * info.length + 3 * 40 + 600, `read ${src.bytesRead} of ${info.length}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated section, a section outside the file and a changed file are typed errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-filesec-'));
  try {
    const good = unit('a.c', ['f']);
    // The unit says it is longer than the section: a DwarfError, not a read past it.
    const cut = good.subarray(0, good.length - 3);
    assert.throws(() => onFile(dir, Buffer.from(cut)).reader().units(), (e: unknown) => e instanceof DwarfError && /past section end/.test(e.what));
    // A section header pointing past the end of the file.
    const path = join(dir, 'small');
    writeFileSync(path, Buffer.alloc(100));
    assert.throws(() => new FileSectionSource(path, 64, 100, { size: 100, mtimeMs: statSync(path).mtimeMs }), DwarfError);
    // The file shrinks after it was opened: refused, never mixed with the old bytes.
    const f = onFile(dir, Buffer.concat([good, unit('b.c', ['g'])]));
    const d = f.reader();
    assert.equal(d.units().length, 2);
    f.src.close();
    truncateSync(f.path, 40);
    assert.throws(() => d.units()[1]!.dies(), (e: unknown) => e instanceof DwarfError && /changed since it was opened/.test(e.what));
    // Same size, another modification time: refused too.
    const g = onFile(dir, good);
    const dg = g.reader();
    dg.units();
    g.src.close();
    utimesSync(g.path, new Date(0), new Date(0));
    assert.throws(() => dg.units()[0]!.dies(), (e: unknown) => e instanceof DwarfError && /changed/.test(e.what));
    // A file that is gone: said, not read.
    const h = onFile(dir, good);
    const dh = h.reader();
    dh.units();
    h.src.close();
    rmSync(h.path);
    assert.throws(() => dh.units()[0]!.dies());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
