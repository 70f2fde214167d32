import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { openBinary, BinaryObject, LineRow, DwarfUnit, SHF_ALLOC, SHF_EXECINSTR } from '../../../server/src/binary/index';
import {
  addr2line, buildFixtures, extraObjects, Fixture, FIXTURE_DIR, hasTool, llvmDebugLineRows, readelfDecodedLines,
} from './helpers';

const fixtures = buildFixtures();
const skipNoGcc = fixtures ? false : 'gcc not found: fixtures cannot be compiled';
const skipNoReadelf = hasTool('readelf') ? false : 'readelf (binutils) not found';
const skipNoAddr2line = hasTool('addr2line') ? false : 'addr2line (binutils) not found';
const dwarfdump = ['llvm-dwarfdump', 'llvm-dwarfdump-16', 'llvm-dwarfdump-15', 'llvm-dwarfdump-14'].find(hasTool);
const MASK32 = 0xffffffffn;
/** Above this size (a vmlinux) only a sample of units is compared, and decodedline is not. */
const LARGE_OBJECT = 64 * 1024 * 1024;

function open(path: string): BinaryObject {
  return openBinary(readFileSync(path));
}

/** Units in .debug_line order, which is the order readelf dumps line programs in. */
function unitsByLineOffset(b: BinaryObject): DwarfUnit[] {
  return b.dwarf
    .compileUnits()
    .filter((u) => u.lineHeader())
    .sort((x, y) => x.lineHeader()!.offset - y.lineHeader()!.offset);
}

/** readelf shows relocated .o addresses section-relative: drop our synthetic section bits. */
function shown(b: BinaryObject, a: bigint): bigint {
  return b.elf.isRelocatable ? a & MASK32 : a;
}

function compareDecodedLines(path: string): number {
  const b = open(path);
  const ours: LineRow[] = unitsByLineOffset(b).flatMap((u) => b.dwarf.lineRows(u));
  const ref = readelfDecodedLines(path);
  assert.equal(ours.length, ref.length, `${path}: row count`);
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const o = ours[i]!;
    const where = `${path} row ${i}`;
    assert.equal(shown(b, o.address), r.address, `${where} address`);
    assert.equal(o.endSequence, r.line === undefined, `${where} end_sequence`);
    if (r.line !== undefined) {
      assert.equal(o.line, r.line, `${where} line`);
      assert.equal(o.isStmt, r.isStmt, `${where} is_stmt`);
      assert.ok(o.file === r.file || o.file.endsWith('/' + r.file), `${where} file ${o.file} vs ${r.file}`);
    }
  }
  return ref.length;
}

for (const label of ['dwarf5', 'dwarf4', 'dwarf5-zlib', 'dwarf4-zlib', 'dwarf5-zdebug', 'exe-dwarf5', 'exe-dwarf4', 'exe-dwarf5-zlib']) {
  test(`line rows match readelf --debug-dump=decodedline: ${label}`, { skip: skipNoGcc || skipNoReadelf }, () => {
    const f = fixtures!.find((x) => x.label === label)!;
    assert.ok(compareDecodedLines(f.path) > 50);
  });
}

test(`line rows (with columns, discriminators) match llvm-dwarfdump --debug-line`, { skip: skipNoGcc || (dwarfdump ? false : 'llvm-dwarfdump not found') }, () => {
  for (const f of fixtures!) {
    const b = open(f.path);
    const ours = unitsByLineOffset(b).flatMap((u) => b.dwarf.lineRows(u));
    const ref = llvmDebugLineRows(dwarfdump!, f.path);
    assert.equal(ours.length, ref.length, `${f.label}: row count`);
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!;
      const o = ours[i]!;
      const where = `${f.label} row ${i}`;
      assert.deepEqual(
        [shown(b, o.address), o.line, o.column, o.fileIndex, o.discriminator, o.isStmt, o.endSequence],
        [r.address, r.line, r.column, r.file, r.discriminator, r.isStmt, r.endSequence],
        where,
      );
    }
  }
});

test('extra objects: line rows match readelf decodedline', { skip: extraObjects().length === 0 ? 'TDX_AUDIT_EXTRA_OBJECTS not set' : skipNoReadelf }, (t) => {
  for (const p of extraObjects()) {
    if (statSync(p).size > LARGE_OBJECT) t.diagnostic(`${p}: too large for a full decodedline dump, skipped`);
    else compareDecodedLines(p);
  }
});

/** Addresses worth asking about: every row address and the byte after it, per code section. */
function probeAddresses(b: BinaryObject, units = b.dwarf.compileUnits()): Map<string, bigint[]> {
  const bySection = new Map<string, Set<bigint>>();
  for (const u of units) {
    for (const row of b.dwarf.lineRows(u)) {
      for (const a of [row.address, row.address + 1n]) {
        const loc = b.locate(a);
        if (!loc) continue;
        const sec = b.elf.sections[loc.sectionIndex]!;
        if ((sec.flags & SHF_EXECINSTR) === 0 || loc.offset >= BigInt(sec.size)) continue;
        const key = b.elf.isRelocatable ? loc.sectionName : '';
        if (!bySection.has(key)) bySection.set(key, new Set());
        bySection.get(key)!.add(b.elf.isRelocatable ? loc.offset : a);
      }
    }
  }
  return new Map([...bySection].map(([k, v]) => [k, [...v].sort((x, y) => (x < y ? -1 : 1))]));
}

function compareInlineChains(path: string, maxPerSection = 4000): number {
  const b = open(path);
  let units = b.dwarf.compileUnits();
  if (b.elf.data.length > LARGE_OBJECT) {
    // Root DIE ranges only: decoding every unit's DIEs would hold the whole vmlinux tree in memory.
    const withCode = units.filter((u) => u.dieRanges(u.root()).length > 0);
    units = [0.25, 0.5, 0.75].map((f) => withCode[Math.floor(f * (withCode.length - 1))]!).filter(Boolean);
  }
  let n = 0;
  for (const [section, addrs] of probeAddresses(b, units)) {
    const probe = addrs.slice(0, maxPerSection);
    const ref = addr2line(path, probe, section || undefined);
    for (const a of probe) {
      const addr = section ? b.addressOf(section, a) : a;
      const ours = b.dwarf.inlineChain(addr);
      const theirs = ref.get(a) ?? [];
      const where = `${path} ${section} 0x${a.toString(16)}`;
      // No DWARF line at all: bfd then falls back to ELF symbols (line 0); nothing to compare.
      if (ours.length === 0 && theirs.every((t) => t.line === 0)) continue;
      const fmt = (fr: { function: string | undefined; file: string | undefined; line: number }[]) =>
        fr.map((x) => `${x.function ?? '??'} ${x.file ?? '??'}:${x.line}`);
      const oursFmt = ours.length === 0 ? ['?? ??:0'] : fmt(ours.map((x) => ({ ...x, function: x.linkageName ?? x.function })));
      // Outside every DWARF function (alignment padding) bfd names the nearest ELF
      // symbol instead; DWARF has no function there, so compare only the position.
      const theirsFmt = fmt(ours.length === 1 && ours[0]!.function === undefined ? theirs.map((t) => ({ ...t, function: '??' })) : theirs);
      assert.deepEqual(oursFmt, theirsFmt, where);
      if (ours.length > 0) assert.equal(ours[0]!.discriminator, theirs[0]!.discriminator, `${where} discriminator`);
      n++;
    }
  }
  return n;
}

for (const label of ['dwarf5', 'dwarf4', 'dwarf5-zlib', 'dwarf4-zlib', 'exe-dwarf5', 'exe-dwarf4', 'exe-dwarf5-zlib']) {
  test(`inline chains match addr2line -f -i: ${label}`, { skip: skipNoGcc || skipNoAddr2line }, () => {
    const f = fixtures!.find((x) => x.label === label)!;
    assert.ok(compareInlineChains(f.path) > 50);
  });
}

test('extra objects: inline chains match addr2line', { skip: extraObjects().length === 0 ? 'TDX_AUDIT_EXTRA_OBJECTS not set' : skipNoAddr2line }, () => {
  for (const p of extraObjects()) compareInlineChains(p, 2000);
});

function fx(label: string): Fixture {
  return fixtures!.find((x) => x.label === label)!;
}

for (const label of ['dwarf5', 'dwarf4', 'exe-dwarf5']) {
  test(`functions and inlined instances: ${label}`, { skip: skipNoGcc }, () => {
    const b = open(fx(label).path);
    const cu = b.dwarf.unitsForSource(`${FIXTURE_DIR}/mmio_dev.c`)[0]!;
    assert.ok(cu, 'unit found by source path');
    const fns = new Map(b.dwarf.functions(cu).map((f) => [f.name, f]));
    for (const name of ['my_dev_poll', 'my_dev_reset', 'my_dev_port_status', 'my_dev_dump', 'my_dev_init', 'my_dev_exit']) {
      assert.ok(fns.get(name)?.ranges.length, `${name} has code`);
    }
    // Function ranges agree with the ELF symbols.
    for (const s of b.elf.functionSymbols()) {
      const f = fns.get(s.name);
      if (!f) continue;
      const start = b.elf.isRelocatable ? b.addressOf(s.shndx, s.value) : s.value;
      assert.ok(f.ranges.some((r) => r.lo === start && r.hi - r.lo === BigInt(s.size)), `${s.name} range matches symbol`);
    }
    const inl = b.dwarf.inlinedInstances(cu);
    const readl = inl.filter((i) => i.name === 'my_readl');
    assert.ok(readl.length >= 3, 'my_readl inlined several times');
    for (const i of inl) {
      assert.ok(i.callFile?.endsWith('mmio_dev.c'), 'call file resolved');
      assert.ok((i.callLine ?? 0) > 0);
      assert.ok(i.depth >= 1);
      assert.ok(i.enclosingFunction);
    }
    // dev_ready -> dev_status -> my_readl nests three deep inside my_dev_poll.
    const deep = readl.find((i) => i.depth === 3 && i.enclosingFunction === 'my_dev_poll');
    assert.ok(deep, 'nested inline depth 3');
    assert.equal(deep.callLine, 62);
    // Inlined ranges lie inside the enclosing function's ranges.
    for (const i of inl) {
      const encl = b.dwarf.functions(cu).find((f) => f.dieOffset === i.enclosingFunctionOffset)!;
      for (const r of i.ranges) assert.ok(encl.ranges.some((e) => r.lo >= e.lo && r.hi <= e.hi), `${i.name} inside ${encl.name}`);
    }
    // __init code sits in .init.text, and the chain there starts with the inlined rdmsr.
    const init = fns.get('my_dev_init')!;
    if (b.elf.isRelocatable) assert.equal(b.locate(init.ranges[0]!.lo)?.sectionName, '.init.text');
    const rdmsr = inl.find((i) => i.name === 'my_rdmsr')!;
    const chain = b.dwarf.inlineChain(rdmsr.ranges[0]!.lo);
    assert.deepEqual(chain.map((c) => c.function), ['my_rdmsr', 'my_dev_init']);
    assert.equal(chain[1]!.line, rdmsr.callLine);
    assert.equal(chain[1]!.column, rdmsr.callColumn);
  });
}

test('unit index: summaries, source lookup, address lookup', { skip: skipNoGcc }, () => {
  const b = open(fx('exe-dwarf5').path);
  const units = b.dwarf.compileUnits();
  assert.equal(units.length, 2);
  const names = units.map((u) => basename(b.dwarf.summary(u).name ?? ''));
  assert.deepEqual(names.sort(), ['main.c', 'mmio_dev.c']);
  assert.equal(b.dwarf.unitsForSource('binary/main.c').length, 1);
  assert.equal(b.dwarf.unitsForSource(`${FIXTURE_DIR}/./main.c`).length, 1);
  // Two different absolute paths never match (the fixture was compiled by absolute path).
  assert.equal(b.dwarf.unitsForSource('/elsewhere/test/fixtures/binary/main.c').length, 0);
  // Line-table files: mmio_dev.c's unit is also found through its own line table.
  assert.equal(b.dwarf.unitsForSource('fixtures/binary/mmio_dev.c', { lineTableFiles: true }).length, 1);
  assert.equal(b.dwarf.unitsForSource('other.c').length, 0);
  const main = b.elf.functionSymbols().find((s) => s.name === 'main')!;
  const u = b.dwarf.unitForAddress(main.value + 1n)!;
  assert.equal(basename(u.name!), 'main.c');
  assert.equal(b.dwarf.unitForAddress(0x10n), undefined);
  // A unit's DIEs can be dropped and decoded again.
  const before = b.dwarf.functions(u).length;
  u.release();
  assert.equal(b.dwarf.functions(u).length, before);
});

test('DWARF 4 and DWARF 5 objects give the same answers', { skip: skipNoGcc }, () => {
  const a = open(fx('dwarf4').path);
  const c = open(fx('dwarf5').path);
  const ua = a.dwarf.compileUnits()[0]!;
  const uc = c.dwarf.compileUnits()[0]!;
  assert.equal(ua.version, 4);
  assert.equal(uc.version, 5);
  const key = (b: BinaryObject, u: DwarfUnit) =>
    b.dwarf.lineRows(u).map((r) => `${r.address} ${r.file} ${r.line}:${r.column} ${r.isStmt} ${r.endSequence} ${r.discriminator}`);
  assert.deepEqual(key(a, ua), key(c, uc));
  const inl = (b: BinaryObject, u: DwarfUnit) =>
    b.dwarf.inlinedInstances(u).map((i) => `${i.name} ${i.depth} ${i.enclosingFunction} ${i.callLine}:${i.callColumn} ${i.ranges.map((r) => `${r.lo}-${r.hi}`).join(',')}`);
  assert.deepEqual(inl(a, ua), inl(c, uc));
});

test('non-debug sections: an object without DWARF has no units', { skip: skipNoGcc }, () => {
  const b = open(fx('dwarf5').path);
  assert.ok(b.dwarf.hasDebugInfo);
  assert.ok((b.elf.sectionByName('.text')!.flags & SHF_ALLOC) !== 0);
});
