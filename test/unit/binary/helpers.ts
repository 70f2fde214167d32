/**
 * Test support for the binary readers: compiles the C fixtures with the
 * machine's gcc into a temp dir (once per process), runs binutils, and
 * parses binutils' text output for differential tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gcc } from '../../support/gcc';

export const FIXTURE_DIR = resolve(__dirname, '../../fixtures/binary');
const TOOL_TIMEOUT_MS = 60_000;

export function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore', timeout: TOOL_TIMEOUT_MS });
    return true;
  } catch {
    return false;
  }
}

export function run(tool: string, args: string[]): string {
  return execFileSync(tool, args, { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS, maxBuffer: 512 * 1024 * 1024 });
}

export interface Fixture {
  /** Short label for test names. */
  label: string;
  path: string;
  relocatable: boolean;
  dwarfVersion: 4 | 5;
  compressed: 'none' | 'zlib' | 'zlib-gnu';
}

let built: { dir: string; fixtures: Fixture[] } | undefined | null;

/** Compiles the fixtures once; undefined when gcc is missing. */
export function buildFixtures(): Fixture[] | undefined {
  if (built === null) return undefined;
  if (built) return built.fixtures;
  if (!hasTool('gcc')) {
    built = null;
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tdx-audit-binary-'));
  const src = join(FIXTURE_DIR, 'mmio_dev.c');
  const mainSrc = join(FIXTURE_DIR, 'main.c');
  const fixtures: Fixture[] = [];
  const cc = (args: string[]) => gcc(args, dir, TOOL_TIMEOUT_MS);
  const obj = (label: string, extra: string[], dwarfVersion: 4 | 5, compressed: Fixture['compressed']) => {
    const out = join(dir, `${label}.o`);
    cc(['-O2', '-g', ...extra, '-c', src, '-o', out]);
    fixtures.push({ label, path: out, relocatable: true, dwarfVersion, compressed });
    return out;
  };
  const o5 = obj('dwarf5', [], 5, 'none');
  const o4 = obj('dwarf4', ['-gdwarf-4'], 4, 'none');
  obj('dwarf5-zlib', ['-gz=zlib'], 5, 'zlib');
  obj('dwarf4-zlib', ['-gdwarf-4', '-gz=zlib'], 4, 'zlib');
  obj('dwarf5-zdebug', ['-gz=zlib-gnu'], 5, 'zlib-gnu');
  const exe = (label: string, objs: string[], mainExtra: string[], extra: string[], dwarfVersion: 4 | 5, compressed: Fixture['compressed']) => {
    const mainObj = join(dir, `${label}-main.o`);
    cc(['-O2', '-g', ...mainExtra, '-c', mainSrc, '-o', mainObj]);
    const out = join(dir, label);
    cc(['-O2', '-g', '-nostdlib', '-static', '-Wl,-e,main', ...extra, ...objs, mainObj, '-o', out]);
    fixtures.push({ label, path: out, relocatable: false, dwarfVersion, compressed });
  };
  exe('exe-dwarf5', [o5], [], [], 5, 'none');
  exe('exe-dwarf4', [o4], ['-gdwarf-4'], [], 4, 'none');
  exe('exe-dwarf5-zlib', [o5], [], ['-gz=zlib'], 5, 'zlib');
  built = { dir, fixtures };
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return fixtures;
}

export function fixture(label: string): Fixture {
  const f = buildFixtures()?.find((x) => x.label === label);
  if (!f) throw new Error(`no fixture ${label}`);
  return f;
}

export function readFixture(label: string): Buffer {
  return readFileSync(fixture(label).path);
}

/** Objects named by TDX_AUDIT_EXTRA_OBJECTS (colon-separated), e.g. kernel .o/.ko files or a vmlinux. */
export function extraObjects(): string[] {
  return (process.env.TDX_AUDIT_EXTRA_OBJECTS ?? '').split(':').filter((p) => p.length > 0);
}

// ---------------------------------------------------------------- readelf -S

export interface ReadelfSection {
  index: number;
  name: string;
  type: string;
  addr: bigint;
  offset: number;
  size: number;
  entsize: number;
  flags: string;
  link: number;
  info: number;
  align: number;
}

export function readelfSections(path: string): ReadelfSection[] {
  const out: ReadelfSection[] = [];
  for (const line of run('readelf', ['-S', '-W', path]).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s(.*)$/.exec(line);
    if (!m) continue;
    const index = Number(m[1]);
    const toks = m[2]!.trim().split(/\s+/);
    const name = index === 0 ? '' : toks.shift()!;
    // The type may be several words ("SYMTAB SECTION INDICES"): the address is the first 16-hex-digit token.
    const addrAt = toks.findIndex((t) => /^[0-9a-f]{16}$/.test(t));
    const type = toks.slice(0, addrAt).join(' ');
    const rest = toks.slice(addrAt);
    const [addr, off, size, es] = rest;
    const tail = rest.slice(4);
    const flags = tail.length === 4 ? tail[0]! : '';
    const [lk, inf, al] = tail.slice(-3);
    out.push({
      index, name, type, addr: BigInt('0x' + addr), offset: parseInt(off!, 16), size: parseInt(size!, 16),
      entsize: parseInt(es!, 16), flags, link: Number(lk), info: Number(inf), align: Number(al),
    });
  }
  return out;
}

const SECTION_TYPE_NAMES: Record<number, string> = {
  0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 4: 'RELA', 5: 'HASH', 6: 'DYNAMIC', 7: 'NOTE', 8: 'NOBITS',
  9: 'REL', 11: 'DYNSYM', 14: 'INIT_ARRAY', 15: 'FINI_ARRAY', 16: 'PREINIT_ARRAY', 17: 'GROUP',
  18: 'SYMTAB SECTION INDICES', 0x6ffffff6: 'GNU_HASH', 0x6ffffffd: 'VERDEF', 0x6ffffffe: 'VERNEED', 0x6fffffff: 'VERSYM',
  0x70000001: 'X86_64_UNWIND',
};

export function sectionTypeName(t: number): string | undefined {
  return SECTION_TYPE_NAMES[t];
}

/** readelf's flag letters, in its order, for the bits it names. */
export function flagLetters(flags: number): string {
  const bits: Array<[number, string]> = [
    [0x1, 'W'], [0x2, 'A'], [0x4, 'X'], [0x10, 'M'], [0x20, 'S'], [0x40, 'I'], [0x80, 'L'], [0x100, 'O'],
    [0x200, 'G'], [0x400, 'T'], [0x800, 'C'], [0x80000000, 'E'],
  ];
  return bits.filter(([b]) => (flags & b) !== 0).map(([, l]) => l).join('');
}

// ---------------------------------------------------------------- readelf -s

export interface ReadelfSymbol {
  num: number;
  value: bigint;
  size: number;
  type: string;
  bind: string;
  vis: string;
  ndx: string;
  name: string;
}

export function readelfSymbols(path: string): ReadelfSymbol[] {
  const out: ReadelfSymbol[] = [];
  let inSymtab = false;
  for (const line of run('readelf', ['-s', '-W', path]).split('\n')) {
    if (line.startsWith("Symbol table '")) {
      inSymtab = line.includes("'.symtab'");
      continue;
    }
    if (!inSymtab) continue;
    const m = /^\s*(\d+):\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s?(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      num: Number(m[1]), value: BigInt('0x' + m[2]), size: Number(m[3]), type: m[4]!, bind: m[5]!, vis: m[6]!, ndx: m[7]!,
      name: m[8]!.trim(),
    });
  }
  return out;
}

// ---------------------------------------------------------------- decodedline

export interface ReadelfLineRow {
  file: string;
  /** undefined for an end-of-sequence row ("-"). */
  line: number | undefined;
  address: bigint;
  isStmt: boolean;
}

export function readelfDecodedLines(path: string): ReadelfLineRow[] {
  const out: ReadelfLineRow[] = [];
  for (const l of run('readelf', ['-W', '--debug-dump=decodedline', path]).split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+|0)(?:\s+(\d+))?(?:\s+(x))?\s*$/.exec(l);
    if (!m) continue;
    out.push({ file: m[1]!, line: m[2] === '-' ? undefined : Number(m[2]), address: BigInt(m[3]!), isStmt: m[5] === 'x' });
  }
  return out;
}

// ---------------------------------------------------------------- llvm-dwarfdump --debug-line

export interface DumpLineRow {
  address: bigint;
  line: number;
  column: number;
  file: number;
  discriminator: number;
  isStmt: boolean;
  endSequence: boolean;
}

export function llvmDebugLineRows(tool: string, path: string): DumpLineRow[] {
  const out: DumpLineRow[] = [];
  for (const l of run(tool, ['--debug-line', path]).split('\n')) {
    const m = /^0x([0-9a-f]{16})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)((?:\s+\d+)?)\s*(.*)$/.exec(l);
    if (!m) continue;
    const flags = m[8]!.split(/\s+/);
    out.push({
      address: BigInt('0x' + m[1]), line: Number(m[2]), column: Number(m[3]), file: Number(m[4]),
      discriminator: Number(m[6]), isStmt: flags.includes('is_stmt'), endSequence: flags.includes('end_sequence'),
    });
  }
  return out;
}

// ---------------------------------------------------------------- addr2line

export interface Addr2lineFrame {
  function: string;
  file: string;
  line: number;
  discriminator: number;
}

/** `addr2line -f -i -a` for many addresses in one run; `section` adds -j for relocatable objects. */
export function addr2line(path: string, addrs: bigint[], section?: string): Map<bigint, Addr2lineFrame[]> {
  const args = ['-f', '-i', '-e', path, ...(section ? ['-j', section] : []), '-a', ...addrs.map((a) => '0x' + a.toString(16))];
  const lines = run('addr2line', args).split('\n');
  const out = new Map<bigint, Addr2lineFrame[]>();
  let cur: Addr2lineFrame[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^0x[0-9a-f]+$/.test(l)) {
      cur = [];
      out.set(BigInt(l), cur);
      continue;
    }
    if (!cur || l === '') continue;
    const pos = lines[++i] ?? '';
    const m = /^(.*):(\d+|\?)(?: \(discriminator (\d+)\))?$/.exec(pos);
    cur.push({
      function: l,
      file: m ? m[1]! : pos,
      line: m && m[2] !== '?' ? Number(m[2]) : 0,
      discriminator: m && m[3] ? Number(m[3]) : 0,
    });
  }
  return out;
}

// ---------------------------------------------------------------- readelf --debug-dump=loc

export interface ReadelfLocEntry {
  begin: bigint;
  end: bigint;
  /** The expression as readelf prints it, e.g. `DW_OP_reg5 (rdi)`. */
  expr: string;
}

/**
 * Location lists as readelf prints them (.debug_loc and .debug_loclists), keyed
 * by the offset of each list's first entry (what DW_AT_location holds); view pairs
 * are skipped, as DW_AT_GNU_locviews points at those.
 */
export function readelfLocLists(path: string): Map<number, ReadelfLocEntry[]> {
  const out = new Map<number, ReadelfLocEntry[]>();
  let current: ReadelfLocEntry[] | undefined;
  let pendingOffset: number | undefined;
  for (const line of run('readelf', ['--debug-dump=loc', '-W', path]).split('\n')) {
    if (/^Contents of the/.test(line)) {
      current = undefined;
      continue;
    }
    const end = /^\s+([0-9a-f]{8}) <End of list>/.exec(line);
    if (end) {
      current = undefined;
      continue;
    }
    const viewsFor = /^\s+([0-9a-f]{8}) v[0-9a-f]+ v[0-9a-f]+ views at [0-9a-f]+ for:/.exec(line);
    if (viewsFor) {
      pendingOffset = parseInt(viewsFor[1]!, 16);
      continue;
    }
    if (/location view pair/.test(line)) continue;
    const base = /^\s+([0-9a-f]{8}) [0-9a-f]{16} \(base address\)/.exec(line);
    if (base) {
      // A base-address entry opens the list (DW_LLE_base_addressx / base_address).
      if (!current) out.set(parseInt(base[1]!, 16), (current = []));
      continue;
    }
    const entryWithOffset = /^\s+([0-9a-f]{8}) ([0-9a-f]{16}) ([0-9a-f]{16}) \((.*)\)\s*$/.exec(line);
    const entryAlone = /^\s+([0-9a-f]{16}) ([0-9a-f]{16}) \((.*)\)\s*$/.exec(line);
    let entry: ReadelfLocEntry | undefined;
    let at: number | undefined;
    if (entryWithOffset) {
      at = parseInt(entryWithOffset[1]!, 16);
      entry = { begin: BigInt('0x' + entryWithOffset[2]), end: BigInt('0x' + entryWithOffset[3]), expr: entryWithOffset[4]! };
    } else if (entryAlone) {
      at = pendingOffset;
      entry = { begin: BigInt('0x' + entryAlone[1]), end: BigInt('0x' + entryAlone[2]), expr: entryAlone[3]! };
    }
    pendingOffset = undefined;
    if (!entry) continue;
    if (!current) {
      current = [];
      if (at !== undefined) out.set(at, current);
    }
    current.push(entry);
  }
  return out;
}

// ---------------------------------------------------------------- readelf --debug-dump=info (members)

/** Per struct/union DIE offset: its direct members (name, data_member_location) as readelf prints them. */
export function readelfMembers(path: string): Map<number, { name: string; offset: number }[]> {
  const out = new Map<number, { name: string; offset: number }[]>();
  const parents: { depth: number; offset: number; aggregate: boolean }[] = [];
  let member: { name?: string; offset?: number; parent: number } | undefined;
  const flush = () => {
    if (member && member.name !== undefined) {
      const list = out.get(member.parent) ?? [];
      list.push({ name: member.name, offset: member.offset ?? 0 });
      out.set(member.parent, list);
    }
    member = undefined;
  };
  for (const line of run('readelf', ['--debug-dump=info', '-W', path]).split('\n')) {
    const die = /^\s*<(\d+)><([0-9a-f]+)>: Abbrev Number: \d+ \((DW_TAG_\w+)\)/.exec(line);
    if (die) {
      flush();
      const depth = Number(die[1]);
      const offset = parseInt(die[2]!, 16);
      while (parents.length && parents[parents.length - 1]!.depth >= depth) parents.pop();
      const parent = parents[parents.length - 1];
      if (die[3] === 'DW_TAG_member' && parent?.aggregate) member = { parent: parent.offset };
      parents.push({ depth, offset, aggregate: die[3] === 'DW_TAG_structure_type' || die[3] === 'DW_TAG_union_type' });
      continue;
    }
    if (/^\s*<\d+><[0-9a-f]+>: Abbrev Number: 0/.test(line)) {
      flush();
      continue;
    }
    if (!member) continue;
    const name = /DW_AT_name\s*:.*[\s)]([A-Za-z_]\w*)\s*$/.exec(line);
    if (name) member.name = name[1];
    const loc = /DW_AT_data_member_location\s*: \((?:data\d|udata|sdata|implicit_const)\) (\d+)/.exec(line);
    if (loc) member.offset = Number(loc[1]);
  }
  flush();
  return out;
}
