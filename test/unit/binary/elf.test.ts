import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ElfFile, SHF_COMPRESSED, ET_REL, addressOf, locate, relocatedSectionData, SYNTHETIC_SECTION_SHIFT,
} from '../../../server/src/binary/index';
import { buildFixtures, extraObjects, flagLetters, hasTool, readelfSections, readelfSymbols, run, sectionTypeName } from './helpers';

const fixtures = buildFixtures();
const skipNoGcc = fixtures ? false : 'gcc not found: fixtures cannot be compiled';
const skipNoReadelf = hasTool('readelf') ? false : 'readelf (binutils) not found';

function symTypeName(t: number): string {
  return ['NOTYPE', 'OBJECT', 'FUNC', 'SECTION', 'FILE', 'COMMON', 'TLS'][t] ?? String(t);
}
function bindName(b: number): string {
  return ['LOCAL', 'GLOBAL', 'WEAK'][b] ?? (b === 10 ? 'UNIQUE' : String(b));
}
function ndxName(n: number): string {
  if (n === 0) return 'UND';
  if (n === 0xfff1) return 'ABS';
  if (n === 0xfff2) return 'COM';
  return String(n);
}

function compareSections(path: string): void {
  const elf = ElfFile.parse(readFileSync(path));
  const ref = readelfSections(path);
  assert.equal(elf.sections.length, ref.length, 'section count');
  for (const r of ref) {
    const s = elf.sections[r.index]!;
    const where = `${path} [${r.index}] ${r.name}`;
    assert.equal(s.name, r.name, where);
    const tn = sectionTypeName(s.type);
    if (tn) assert.equal(tn, r.type, `${where} type`);
    assert.equal(s.addr, r.addr, `${where} addr`);
    assert.equal(s.offset, r.offset, `${where} offset`);
    assert.equal(s.size, r.size, `${where} size`);
    assert.equal(s.entsize, r.entsize, `${where} entsize`);
    assert.equal(s.link, r.link, `${where} link`);
    assert.equal(s.info, r.info, `${where} info`);
    assert.equal(s.addralign, r.align, `${where} align`);
    assert.equal(flagLetters(s.flags), r.flags.replace(/[^WAXMSILOGTCE]/g, ''), `${where} flags`);
  }
}

function compareSymbols(path: string): void {
  const elf = ElfFile.parse(readFileSync(path));
  const ref = readelfSymbols(path);
  const syms = elf.symbols();
  assert.equal(syms.length, ref.length, 'symbol count');
  for (const r of ref) {
    const s = syms[r.num]!;
    const where = `${path} symbol ${r.num} ${r.name}`;
    assert.equal(s.value, r.value, `${where} value`);
    assert.equal(s.size, r.size, `${where} size`);
    assert.equal(symTypeName(s.type), r.type, `${where} type`);
    assert.equal(bindName(s.bind), r.bind, `${where} bind`);
    assert.equal(ndxName(s.shndx), r.ndx, `${where} ndx`);
    assert.equal(s.name, r.name, `${where} name`);
  }
}

test('sections match readelf -S -W', { skip: skipNoGcc || skipNoReadelf }, () => {
  for (const f of fixtures!) compareSections(f.path);
});

test('symbols match readelf -s -W', { skip: skipNoGcc || skipNoReadelf }, () => {
  for (const f of fixtures!) compareSymbols(f.path);
});

test('extra objects: sections and symbols match readelf', { skip: extraObjects().length === 0 ? 'TDX_AUDIT_EXTRA_OBJECTS not set' : skipNoReadelf }, () => {
  for (const p of extraObjects()) {
    compareSections(p);
    compareSymbols(p);
  }
});

test('function symbols of a .o are section-relative in several code sections', { skip: skipNoGcc }, () => {
  const elf = ElfFile.parse(readFileSync(fixtures!.find((f) => f.label === 'dwarf5')!.path));
  assert.equal(elf.type, ET_REL);
  const fns = new Map(elf.functionSymbols().map((s) => [s.name, s]));
  const sec = (n: string) => elf.sections[fns.get(n)!.shndx]!.name;
  assert.equal(sec('my_dev_poll'), '.text');
  assert.equal(sec('my_dev_dump'), '.text.unlikely');
  assert.equal(sec('my_dev_init'), '.init.text');
  assert.equal(sec('my_dev_exit'), '.exit.text');
  assert.equal(fns.get('my_dev_dump')!.value, 0n);
  assert.ok(fns.get('my_dev_poll')!.size > 0);
});

test('synthetic .o addresses map back to (section, offset)', { skip: skipNoGcc }, () => {
  const elf = ElfFile.parse(readFileSync(fixtures!.find((f) => f.label === 'dwarf5')!.path));
  const init = elf.sectionByName('.init.text')!;
  const a = addressOf(elf, '.init.text', 5);
  assert.equal(a, (BigInt(init.index) << SYNTHETIC_SECTION_SHIFT) + 5n);
  assert.deepEqual(locate(elf, a), { sectionIndex: init.index, sectionName: '.init.text', offset: 5n });
  assert.equal(locate(elf, 0x5n), undefined, 'section 0 is not allocatable');
});

test('executable addresses are virtual addresses', { skip: skipNoGcc }, () => {
  const elf = ElfFile.parse(readFileSync(fixtures!.find((f) => f.label === 'exe-dwarf5')!.path));
  const text = elf.sectionByName('.text')!;
  assert.equal(addressOf(elf, '.text', 4), text.addr + 4n);
  assert.equal(locate(elf, text.addr + 4n)?.sectionName, '.text');
});

test('compressed debug sections inflate to what objcopy --decompress-debug-sections gives', { skip: skipNoGcc || (hasTool('objcopy') ? false : 'objcopy not found') }, () => {
  for (const f of fixtures!.filter((x) => x.compressed !== 'none')) {
    const plainPath = `${f.path}.plain`;
    run('objcopy', ['--decompress-debug-sections', f.path, plainPath]);
    const plain = ElfFile.parse(readFileSync(plainPath));
    const z = ElfFile.parse(readFileSync(f.path));
    let compressed = 0;
    for (const name of ['.debug_info', '.debug_abbrev', '.debug_line', '.debug_str', '.debug_line_str', '.debug_rnglists', '.debug_aranges', '.debug_ranges']) {
      const a = plain.debugSection(name);
      const b = z.debugSection(name);
      assert.equal(!!b, !!a, `${f.label}: ${name} presence`);
      if (!a || !b) continue;
      if ((b.flags & SHF_COMPRESSED) !== 0 || b.name.startsWith('.zdebug')) compressed++;
      assert.ok(Buffer.from(relocatedSectionData(z, b)).equals(Buffer.from(relocatedSectionData(plain, a))), `${f.label}: ${name}`);
    }
    assert.ok(compressed >= 3, `${f.label}: at least some sections were compressed (${compressed})`);
  }
});

test('sections are views into the file buffer, not copies', { skip: skipNoGcc }, () => {
  const buf = readFileSync(fixtures!.find((f) => f.label === 'exe-dwarf5')!.path);
  const elf = ElfFile.parse(buf);
  const info = elf.sectionByName('.debug_info')!;
  const data = elf.sectionData(info);
  assert.equal(data.buffer, buf.buffer);
  assert.equal(relocatedSectionData(elf, info).buffer, buf.buffer, 'executables are not relocated');
});
