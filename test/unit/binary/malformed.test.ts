import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DwarfError, DwarfReader, ElfError, ElfFile, MapDwarfSections, openBinary, relocatedSectionData,
} from '../../../server/src/binary/index';
import { buildFixtures, readFixture } from './helpers';
import { mulberry32 } from '../../fuzz/prng';

const fixtures = buildFixtures();
const skipNoGcc = fixtures ? false : 'gcc not found: fixtures cannot be compiled';

/** Runs every reader entry point over an image; returns what it threw, if anything. */
function exercise(data: Uint8Array): unknown {
  try {
    const b = openBinary(data);
    b.elf.symbols();
    b.elf.functionSymbols();
    for (const s of b.elf.sections) {
      b.elf.sectionData(s);
      if (s.name.startsWith('.debug') || s.name.startsWith('.zdebug')) relocatedSectionData(b.elf, s);
    }
    const d = b.dwarf;
    for (const u of d.units()) {
      d.summary(u);
      u.lineTableFiles();
      const rows = d.lineRows(u);
      d.functions(u);
      d.subprograms(u);
      const inl = d.inlinedInstances(u);
      for (const r of rows.slice(0, 40)) d.inlineChain(r.address);
      for (const i of inl.slice(0, 10)) if (i.ranges[0]) d.inlineChain(i.ranges[0].lo);
    }
    d.unitsForSource('mmio_dev.c', { lineTableFiles: true });
    d.unitForAddress(0x100000010n);
    return undefined;
  } catch (e) {
    return e;
  }
}

function assertTyped(e: unknown, what: string): void {
  if (e === undefined) return;
  if (e instanceof ElfError || e instanceof DwarfError) return;
  assert.fail(`${what}: untyped error escaped: ${(e as Error)?.stack ?? String(e)}`);
}

function mustThrowTyped(data: Uint8Array, what: string, kind?: typeof ElfError | typeof DwarfError): Error {
  const e = exercise(data);
  assert.ok(e !== undefined, `${what}: expected an error`);
  assertTyped(e, what);
  if (kind) assert.ok(e instanceof kind, `${what}: expected ${kind.name}, got ${(e as Error).name}: ${(e as Error).message}`);
  return e as Error;
}

function sectionHeaderOffset(buf: Buffer, index: number): number {
  return Number(buf.readBigUInt64LE(40)) + index * 64;
}

function sectionIndex(buf: Buffer, name: string): number {
  const elf = ElfFile.parse(buf);
  const s = elf.sectionByName(name);
  assert.ok(s, `fixture has ${name}`);
  return s.index;
}

test('pristine fixtures read without error', { skip: skipNoGcc }, () => {
  for (const f of fixtures!) assert.equal(exercise(readFixture(f.label)), undefined, f.label);
});

test('ELF header: every truncation and bad field throws ElfError', { skip: skipNoGcc }, () => {
  const good = readFixture('dwarf5');
  for (let n = 0; n < 64; n++) mustThrowTyped(good.subarray(0, n), `truncated to ${n}`, ElfError);
  const patch = (what: string, f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    return mustThrowTyped(b, what, ElfError);
  };
  patch('bad magic', (b) => (b[1] = 0x46));
  patch('ELFCLASS32', (b) => (b[4] = 1));
  patch('big-endian', (b) => (b[5] = 2));
  patch('bad version', (b) => (b[6] = 9));
  patch('core file', (b) => b.writeUInt16LE(4, 16));
  patch('not x86-64', (b) => b.writeUInt16LE(183, 18));
  patch('e_shoff past EOF', (b) => b.writeBigUInt64LE(BigInt(good.length + 10), 40));
  patch('e_shoff huge', (b) => b.writeBigUInt64LE(0xffffffffffffff00n, 40));
  patch('e_ehsize', (b) => b.writeUInt16LE(52, 52));
  patch('e_shentsize', (b) => b.writeUInt16LE(40, 58));
  patch('e_shnum huge', (b) => b.writeUInt16LE(0xfeff, 60));
  patch('e_shstrndx out of range', (b) => b.writeUInt16LE(0xfe00, 62));
  patch('e_shstrndx not a string table', (b) => b.writeUInt16LE(1, 62));
});

test('section headers: offsets, sizes and names out of range throw ElfError', { skip: skipNoGcc }, () => {
  const good = readFixture('dwarf5');
  const info = sectionIndex(good, '.debug_info');
  const at = sectionHeaderOffset(good, info);
  const patch = (what: string, f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    const e = mustThrowTyped(b, what, ElfError) as ElfError;
    return e;
  };
  const e = patch('sh_offset past EOF', (b) => b.writeBigUInt64LE(BigInt(good.length + 1), at + 24));
  assert.equal(e.sectionIndex, info);
  patch('sh_offset 2^63', (b) => b.writeBigUInt64LE(1n << 63n, at + 24));
  patch('sh_size huge', (b) => b.writeBigUInt64LE(0x7fffffffn, at + 32));
  patch('sh_name out of range', (b) => b.writeUInt32LE(0xffffff, at));
  mustThrowTyped(good.subarray(0, good.length - 10), 'cut file', ElfError);
  const symtab = sectionIndex(good, '.symtab');
  const st = sectionHeaderOffset(good, symtab);
  patch('symtab entsize', (b) => b.writeBigUInt64LE(16n, st + 56));
  patch('symtab link', (b) => b.writeUInt32LE(9999, st + 40));
  const rela = sectionIndex(good, '.rela.debug_info');
  const rt = sectionHeaderOffset(good, rela);
  patch('rela size not a multiple of 24', (b) => b.writeBigUInt64LE(BigInt(ElfFile.parse(good).sections[rela]!.size - 5), rt + 32));
  // A relocation pointing past its section.
  const relaSec = ElfFile.parse(good).sections[rela]!;
  patch('relocation offset past section', (b) => b.writeBigUInt64LE(0xffff_ffffn, relaSec.offset));
  patch('relocation type unsupported', (b) => b.writeUInt32LE(37, relaSec.offset + 8));
  patch('relocation symbol out of range', (b) => b.writeUInt32LE(99999, relaSec.offset + 12));
});

test('DWARF corruption throws DwarfError: bad abbrev code, bad version, truncated line program', { skip: skipNoGcc }, () => {
  const good = readFixture('dwarf5');
  const elf = ElfFile.parse(good);
  const info = elf.sectionByName('.debug_info')!;
  const line = elf.sectionByName('.debug_line')!;
  const abbrev = elf.sectionByName('.debug_abbrev')!;
  const patch = (what: string, f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    return mustThrowTyped(b, what, DwarfError) as DwarfError;
  };
  let e = patch('unknown abbreviation code', (b) => (b[info.offset + 12] = 0x7e));
  assert.equal(e.section, '.debug_info');
  assert.equal(e.offset, 12);
  patch('DWARF version 9', (b) => b.writeUInt16LE(9, info.offset + 4));
  patch('unit length past section', (b) => b.writeUInt32LE(info.size + 100, info.offset));
  patch('reserved unit length', (b) => b.writeUInt32LE(0xfffffff5, info.offset));
  patch('address size 3', (b) => (b[info.offset + 7] = 3));
  e = patch('line program length past section', (b) => b.writeUInt32LE(line.size + 4, line.offset));
  assert.equal(e.section, '.debug_line');
  patch('line_range 0', (b) => {
    // v5 header: length 4, version 2, addr 1, seg 1, header_length 4, min_inst 1, max_ops 1, default_is_stmt 1, line_base 1, line_range 1
    b[line.offset + 4 + 2 + 2 + 4 + 4] = 0;
  });
  patch('header_length past program', (b) => b.writeUInt32LE(0xffffff, line.offset + 8));
  patch('abbrev: bad children flag', (b) => {
    // first abbreviation: code (1 byte), tag (1 byte), children
    b[abbrev.offset + 2] = 7;
  });
  // In a .o a cut .debug_line leaves its relocations dangling: an ElfError.
  const lineHdr = sectionHeaderOffset(good, line.index);
  const cut = Buffer.from(good);
  cut.writeBigUInt64LE(BigInt(Math.floor(line.size / 2)), lineHdr + 32);
  mustThrowTyped(cut, 'relocated line section truncated', ElfError);
  // In an executable (nothing to relocate) the line program itself runs short: a DwarfError.
  const exe = readFixture('exe-dwarf5');
  const exeLine = ElfFile.parse(exe).sectionByName('.debug_line')!;
  for (const keep of [3, 20, 40, exeLine.size - 1]) {
    const b = Buffer.from(exe);
    b.writeBigUInt64LE(BigInt(keep), sectionHeaderOffset(exe, exeLine.index) + 32);
    const err = mustThrowTyped(b, `line program cut to ${keep} bytes`, DwarfError) as DwarfError;
    assert.equal(err.section, '.debug_line');
  }
});

test('compressed sections: zlib garbage, huge and lying sizes throw ElfError', { skip: skipNoGcc }, () => {
  const good = readFixture('dwarf5-zlib');
  const elf = ElfFile.parse(good);
  const info = elf.sectionByName('.debug_info')!;
  assert.ok(info.flags & 0x800, 'compressed');
  const patch = (what: string, f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    const e = mustThrowTyped(b, what, ElfError) as ElfError;
    assert.equal(e.section, '.debug_info', what);
  };
  patch('zlib garbage', (b) => b.fill(0xa5, info.offset + 24, info.offset + 40));
  patch('stream cut', (b) => b.fill(0, info.offset + info.size - 8, info.offset + info.size));
  patch('ch_size huge', (b) => b.writeBigUInt64LE(1n << 40n, info.offset + 8));
  patch('ch_size larger than the stream', (b) => b.writeBigUInt64LE(BigInt(info.size * 2000), info.offset + 8));
  patch('ch_size smaller than the stream', (b) => b.writeBigUInt64LE(10n, info.offset + 8));
  patch('ch_type zstd', (b) => b.writeUInt32LE(2, info.offset));
  const gz = readFixture('dwarf5-zdebug');
  const zinfo = ElfFile.parse(gz).sectionByName('.zdebug_info')!;
  const b = Buffer.from(gz);
  b.write('ZLIX', zinfo.offset, 'latin1');
  assert.ok(mustThrowTyped(b, '.zdebug magic', ElfError));
});

test('DIE nesting deeper than the cap throws DwarfError', () => {
  // Abbrev 1: DW_TAG_compile_unit with children, no attributes; abbrev 2: lexical_block with children.
  const abbrev = Uint8Array.from([1, 0x11, 1, 0, 0, 2, 0x0b, 1, 0, 0, 0]);
  const depth = 1000;
  const body = [1, ...new Array(depth).fill(2)];
  const len = 2 + 1 + 1 + 4 + body.length;
  const info = Buffer.alloc(4 + len);
  info.writeUInt32LE(len, 0);
  info.writeUInt16LE(5, 4);
  info[6] = 1; // DW_UT_compile
  info[7] = 8;
  info.writeUInt32LE(0, 8);
  Buffer.from(body).copy(info, 12);
  const d = new DwarfReader(new MapDwarfSections({ '.debug_info': info, '.debug_abbrev': abbrev }));
  const u = d.units()[0]!;
  assert.throws(() => d.functions(u), (e: unknown) => e instanceof DwarfError && /nesting/.test(e.what));
});

test('unknown form and indirect loops throw DwarfError', () => {
  const mk = (abbrevBytes: number[], dieBytes: number[]) => {
    const len = 2 + 1 + 1 + 4 + dieBytes.length;
    const info = Buffer.alloc(4 + len);
    info.writeUInt32LE(len, 0);
    info.writeUInt16LE(5, 4);
    info[6] = 1;
    info[7] = 8;
    Buffer.from(dieBytes).copy(info, 12);
    return new DwarfReader(new MapDwarfSections({ '.debug_info': info, '.debug_abbrev': Uint8Array.from(abbrevBytes) }));
  };
  // DW_AT_name with form 0x7f (undefined).
  let d = mk([1, 0x11, 0, 0x03, 0x7f, 0, 0, 0], [1, 0]);
  assert.throws(() => d.summary(d.units()[0]!), DwarfError);
  // DW_FORM_indirect naming DW_FORM_indirect again and again.
  d = mk([1, 0x11, 0, 0x03, 0x16, 0, 0, 0], [1, 0x16, 0x16, 0x16, 0x16, 0x16, 0x16, 0x08, 0]);
  assert.throws(() => d.summary(d.units()[0]!), DwarfError);
  // A strx name without .debug_str_offsets.
  d = mk([1, 0x11, 0, 0x03, 0x25, 0, 0, 0], [1, 0]);
  assert.throws(() => d.summary(d.units()[0]!), DwarfError);
});


test('2,000 random corruptions: each reads or throws a typed error, quickly', { skip: skipNoGcc, timeout: 300_000 }, () => {
  const bases = ['dwarf5', 'dwarf4', 'dwarf5-zlib', 'exe-dwarf5'].map((l) => readFixture(l));
  const debugRanges = bases.map((buf) =>
    ElfFile.parse(buf).sections.filter((s) => s.name.includes('debug') || s.name === '.symtab' || s.name.startsWith('.rela')).map((s) => [s.offset, s.size] as const),
  );
  const rand = mulberry32(0x7d8a);
  // A hang guard, not a speed figure: a corrupt count or offset that made a reader loop
  // or go quadratic shows as seconds of CPU on one input. CPU time of this process, not
  // wall time: on 2 shared cores a neighbour's build stretched one input's wall past the
  // bound (once, 2026-12-07) while it used a few ms of CPU.
  const PER_INPUT_MS = 2000;
  let typed = 0;
  let ok = 0;
  for (let i = 0; i < 2000; i++) {
    const which = i % bases.length;
    const base = bases[which]!;
    let buf: Buffer;
    const mode = rand();
    if (mode < 0.15) {
      buf = base.subarray(0, Math.floor(rand() * base.length));
    } else {
      buf = Buffer.from(base);
      const flips = 1 + Math.floor(rand() * 8);
      const ranges = debugRanges[which]!;
      for (let k = 0; k < flips; k++) {
        let pos: number;
        if (rand() < 0.75 && ranges.length > 0) {
          const [off, size] = ranges[Math.floor(rand() * ranges.length)]!;
          pos = off + Math.floor(rand() * Math.max(1, size));
        } else pos = Math.floor(rand() * buf.length);
        if (pos >= buf.length) continue;
        buf[pos] = rand() < 0.5 ? buf[pos]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      }
    }
    const t0 = process.cpuUsage();
    const e = exercise(buf);
    const spent = process.cpuUsage(t0);
    const ms = (spent.user + spent.system) / 1000;
    assertTyped(e, `input ${i} (mode ${mode.toFixed(2)})`);
    assert.ok(ms < PER_INPUT_MS, `input ${i} took ${ms.toFixed(0)} ms of CPU`);
    if (e === undefined) ok++;
    else typed++;
  }
  assert.ok(typed > 100, `corruptions were detected (${typed} typed errors, ${ok} clean reads)`);
});
