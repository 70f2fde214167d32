/**
 * The DWARF reader: a lazy compile-unit index and the queries the audit
 * needs (line rows, addr2line-style inline chains, inlined instances,
 * concrete functions).
 *
 * Scaling to a vmlinux: constructing the reader reads nothing; `units()`
 * walks only unit headers; a unit's root DIE, full DIE tree and line table
 * are each decoded on first use and cached on the unit (`DwarfUnit.release`
 * drops the heavy parts). Address lookup goes through .debug_aranges when
 * present, else through the units' own ranges.
 *
 * Addresses are bigints. For a relocatable object they are the synthetic
 * addresses of relocate.ts: (sectionIndex << 32) + offset.
 */
import { DwarfError } from '../errors';
import { ElfFile, ET_REL, SHF_COMPRESSED, SHT_NOBITS, type ElfSection } from '../elf';
import { AbbrevTable, parseAbbrevTable } from './abbrev';
import { DW_AT, DW_TAG, DW_UT } from './constants';
import { constValue } from './forms';
import { Die, getAttr, listUnitHeaders } from './info';
import { LineRow, isAbsolutePath } from './line';
import { AddressRange, ArangeEntry, rangesContain, readAranges } from './ranges';
import { cstringAt } from '../reader';
import { DwarfSections, ElfDwarfSections, faultIn, infoSourceOf, type InfoSource } from './sections';
import { DwarfUnit, UnitHost } from './unit';
import { lastAtOrBefore, spanAt } from '../../sorted';

export interface FunctionInfo {
  /** DW_AT_name, following abstract_origin/specification when the DIE has none. */
  name: string | undefined;
  /** DW_AT_linkage_name (or MIPS_linkage_name), followed the same way. */
  linkageName: string | undefined;
  dieOffset: number;
  /** Half-open address ranges, possibly several (hot/cold split). */
  ranges: AddressRange[];
}

export interface SubprogramInfo extends FunctionInfo {
  /** Has code: low_pc/high_pc or DW_AT_ranges. */
  concrete: boolean;
  declaration: boolean;
  external: boolean;
  /** DW_AT_inline value (DW_INL_*), when present. */
  inline: number | undefined;
  /** DW_AT_abstract_origin target (.debug_info offset) of an out-of-line instance. */
  abstractOrigin: number | undefined;
}

export interface InlinedInstance {
  /** Name of the abstract origin (the inlined function). */
  name: string | undefined;
  linkageName: string | undefined;
  dieOffset: number;
  originOffset: number | undefined;
  ranges: AddressRange[];
  entryPc: bigint | undefined;
  callFile: string | undefined;
  callLine: number | undefined;
  callColumn: number | undefined;
  /** 1 when inlined directly into the concrete function, 2 for inline-in-inline, ... */
  depth: number;
  /** Name of the concrete (out-of-line) subprogram it sits in. */
  enclosingFunction: string | undefined;
  enclosingFunctionOffset: number;
}

/** One frame of an inline chain, innermost first (like `addr2line -f -i`). */
export interface InlineFrame {
  function: string | undefined;
  linkageName: string | undefined;
  file: string | undefined;
  line: number;
  column: number;
  /** From the line row (innermost frame) or DW_AT_GNU_discriminator (outer frames). */
  discriminator: number;
  dieOffset: number | undefined;
}

export interface UnitSummary {
  offset: number;
  version: number;
  unitType: number;
  name: string | undefined;
  compDir: string | undefined;
  producer: string | undefined;
}

export interface SourceMatchOptions {
  /** Also match files of the units' line tables (headers whose inline code landed in the unit). */
  lineTableFiles?: boolean;
}

/** How many abstract_origin/specification hops name resolution follows. */
const MAX_NAME_HOPS = 16;

interface Sequence {
  lo: bigint;
  hi: bigint;
  rows: LineRow[];
}

/** Abbreviation tables kept parsed (a unit's is re-parsed when it was dropped: cheap). */
const MAX_ABBREV_TABLES = 64;

export class DwarfReader implements UnitHost {
  readonly sections: DwarfSections;
  private unitList: DwarfUnit[] | undefined;
  private readonly abbrevs = new Map<number, AbbrevTable>();
  private aranges: ArangeEntry[] | undefined;
  private unitRanges: ArangeEntry[] | undefined;

  constructor(sections: DwarfSections) {
    this.sections = sections;
  }

  /**
   * DWARF of an ELF file; for a .o, debug sections are relocated (synthetic addresses).
   * `infoFrom`, for a linked image whose .debug_info is stored plain, gives a source
   * that reads it from the file range by range instead of from `elf`'s bytes.
   */
  static fromElf(elf: ElfFile, infoFrom?: (sec: ElfSection) => InfoSource | undefined): DwarfReader {
    const sec = infoFrom ? elf.sectionByName('.debug_info') : undefined;
    const plain = sec && elf.type !== ET_REL && (sec.flags & SHF_COMPRESSED) === 0 && sec.type !== SHT_NOBITS;
    return new DwarfReader(new ElfDwarfSections(elf, plain ? infoFrom!(sec) : undefined));
  }

  private infoSrc: InfoSource | null | undefined;

  /** .debug_info as an InfoSource (UnitHost); a DwarfError when there is none. */
  info(): InfoSource {
    if (this.infoSrc === undefined) this.infoSrc = infoSourceOf(this.sections) ?? null;
    if (!this.infoSrc) throw new DwarfError('.debug_info', 0, 'section missing');
    return this.infoSrc;
  }

  get hasDebugInfo(): boolean {
    if (this.infoSrc === undefined) this.infoSrc = infoSourceOf(this.sections) ?? null;
    return this.infoSrc !== null;
  }

  private readonly strings = { '.debug_str': new Map<number, string>(), '.debug_line_str': new Map<number, string>() };

  /**
   * A string of .debug_str / .debug_line_str, decoded once: every unit of a vmlinux
   * names the same few thousand headers and types, by the same offsets.
   */
  stringAt(section: '.debug_str' | '.debug_line_str', offset: number): string {
    const cache = this.strings[section];
    let s = cache.get(offset);
    if (s === undefined) {
      const data = this.sections.get(section);
      if (!data) throw new DwarfError(section, offset, 'section missing');
      s = cstringAt(data, offset, data.length, faultIn(section)).value;
      cache.set(offset, s);
    }
    return s;
  }

  abbrevTable(offset: number): AbbrevTable {
    let t = this.abbrevs.get(offset);
    if (t) {
      // Most recently used last, so the oldest is dropped first.
      this.abbrevs.delete(offset);
      this.abbrevs.set(offset, t);
      return t;
    }
    const data = this.sections.get('.debug_abbrev');
    if (!data) throw new DwarfError('.debug_abbrev', offset, 'section missing');
    t = parseAbbrevTable(data, offset);
    this.abbrevs.set(offset, t);
    // A vmlinux has a table per unit (thousands); the units of a .o share one.
    if (this.abbrevs.size > MAX_ABBREV_TABLES) this.abbrevs.delete(this.abbrevs.keys().next().value!);
    return t;
  }

  /** All units of .debug_info (headers only; nothing else is decoded). */
  units(): DwarfUnit[] {
    if (!this.unitList) {
      this.unitList = this.hasDebugInfo ? listUnitHeaders(this.info()).map((h) => new DwarfUnit(this, h)) : [];
    }
    return this.unitList;
  }

  /** Compile (and partial) units: the ones that hold code. */
  compileUnits(): DwarfUnit[] {
    return this.units().filter((u) => u.header.unitType === DW_UT.compile || u.header.unitType === DW_UT.partial);
  }

  summary(u: DwarfUnit): UnitSummary {
    return { offset: u.offset, version: u.version, unitType: u.header.unitType, name: u.name, compDir: u.compDir, producer: u.producer };
  }

  /** The unit containing a .debug_info offset. */
  unitAt(offset: number): DwarfUnit | undefined {
    return spanAt(this.units(), offset, (u) => u.header.offset, (u) => u.header.end);
  }

  /** A DIE by .debug_info offset, in whichever unit holds it. */
  dieAt(offset: number): { unit: DwarfUnit; die: Die } | undefined {
    const unit = this.unitAt(offset);
    const die = unit?.dieAt(offset);
    return unit && die ? { unit, die } : undefined;
  }

  /**
   * Units whose source matches `path`: the unit name (raw and under
   * comp_dir), and optionally the line-table files. A relative side matches
   * when it is a '/'-aligned suffix of the other, so "drivers/x/y.c" finds
   * "/home/me/linux/drivers/x/y.c" and vice versa.
   */
  unitsForSource(path: string, opts: SourceMatchOptions = {}): DwarfUnit[] {
    const q = normalizePath(path);
    const out: DwarfUnit[] = [];
    for (const u of this.compileUnits()) {
      const name = u.name;
      const compDir = u.compDir;
      const cands: string[] = [];
      if (name) {
        cands.push(name);
        if (!isAbsolutePath(name) && compDir) cands.push(`${compDir}/${name}`);
      }
      if (opts.lineTableFiles) {
        for (const f of u.lineTableFiles()) {
          cands.push(f);
          if (compDir && f.startsWith(compDir + '/')) cands.push(f.slice(compDir.length + 1));
        }
      }
      if (cands.some((c) => pathsMatch(normalizePath(c), q))) out.push(u);
    }
    return out;
  }

  /** The compile unit whose code covers `addr` (via .debug_aranges, else unit ranges). */
  unitForAddress(addr: bigint): DwarfUnit | undefined {
    if (this.aranges === undefined) this.aranges = readAranges(this.sections);
    const hit = findRange(this.aranges, addr);
    if (hit) {
      const u = this.unitAt(hit.unitOffset);
      if (u) return u;
    }
    if (this.unitRanges === undefined) {
      const all: ArangeEntry[] = [];
      for (const u of this.compileUnits()) {
        for (const r of u.dieRanges(u.root())) all.push({ ...r, unitOffset: u.offset });
      }
      all.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
      this.unitRanges = all;
    }
    const r = findRange(this.unitRanges, addr);
    return r ? this.unitAt(r.unitOffset) : undefined;
  }

  /** Decoded line rows of a unit, in program order (as readelf's decodedline). */
  lineRows(cu: DwarfUnit): LineRow[] {
    return cu.lineRows();
  }

  /**
   * The line row describing `addr`, as binutils picks it: inside a sequence,
   * the last row whose address is <= addr (later rows at one address win).
   */
  lineForAddress(cu: DwarfUnit, addr: bigint): LineRow | undefined {
    for (const s of this.sequencesOf(cu)) {
      if (addr < s.lo || addr >= s.hi) continue;
      // The last row at or before addr (the end_sequence row's address is past it).
      return s.rows[Math.max(0, lastAtOrBefore(s.rows, addr, (r) => r.address))];
    }
    return undefined;
  }

  private sequencesOf(cu: DwarfUnit): Sequence[] {
    let seqs = cu.sequenceCache as Sequence[] | undefined;
    if (seqs) return seqs;
    seqs = [];
    let cur: LineRow[] = [];
    for (const row of cu.lineRows()) {
      cur.push(row);
      if (row.endSequence) {
        const lo = cur[0]!.address;
        if (row.address > lo) seqs.push({ lo, hi: row.address, rows: cur });
        cur = [];
      }
    }
    // On the unit, so that releasing the unit's rows releases these too.
    cu.sequenceCache = seqs;
    return seqs;
  }

  /** Name and linkage name of a DIE, following abstract_origin/specification (also across units). */
  dieName(cu: DwarfUnit, die: Die): { name: string | undefined; linkageName: string | undefined } {
    let name: string | undefined;
    let linkageName: string | undefined;
    let u = cu;
    let d = die;
    for (let hop = 0; hop <= MAX_NAME_HOPS; hop++) {
      name ??= u.string(getAttr(d, DW_AT.name));
      linkageName ??= u.string(getAttr(d, DW_AT.linkage_name) ?? getAttr(d, DW_AT.MIPS_linkage_name));
      if (name !== undefined && linkageName !== undefined) break;
      const ref = getAttr(d, DW_AT.abstract_origin) ?? getAttr(d, DW_AT.specification);
      if (!ref || ref.kind !== 'ref') break;
      const nu = this.unitAt(ref.offset);
      const nd = nu?.attrDieAt(ref.offset);
      if (!nu || !nd) throw new DwarfError('.debug_info', d.offset, `reference to 0x${ref.offset.toString(16)} is not a DIE`);
      u = nu;
      d = nd;
    }
    return { name, linkageName };
  }

  /** All DW_TAG_subprogram DIEs of a unit, abstract, declared and concrete. */
  subprograms(cu: DwarfUnit): SubprogramInfo[] {
    const out: SubprogramInfo[] = [];
    for (const d of cu.codeDies()) {
      if (d.tag !== DW_TAG.subprogram) continue;
      const ranges = cu.dieRanges(d);
      const origin = getAttr(d, DW_AT.abstract_origin);
      const decl = getAttr(d, DW_AT.declaration);
      const ext = getAttr(d, DW_AT.external);
      out.push({
        ...this.dieName(cu, d),
        dieOffset: d.offset,
        ranges,
        concrete: ranges.length > 0,
        declaration: decl?.kind === 'flag' ? decl.value : false,
        external: ext?.kind === 'flag' ? ext.value : false,
        inline: constValue(getAttr(d, DW_AT.inline)),
        abstractOrigin: origin?.kind === 'ref' ? origin.offset : undefined,
      });
    }
    return out;
  }

  /** Concrete subprograms (those with code) of a unit, with their ranges. */
  functions(cu: DwarfUnit): FunctionInfo[] {
    return this.subprograms(cu)
      .filter((s) => s.concrete)
      .map(({ name, linkageName, dieOffset, ranges }) => ({ name, linkageName, dieOffset, ranges }));
  }

  /**
   * Every DW_TAG_inlined_subroutine inside a concrete subprogram of the unit; with
   * `wanted`, only those whose name it accepts (the rest are not described: a
   * whole-image pass wants a few accessors among a unit's thousands of instances).
   */
  inlinedInstances(cu: DwarfUnit, wanted?: (name: string | undefined) => boolean): InlinedInstance[] {
    // The scope DIEs (cu.codeTree()): only subprograms and inlined subroutines change
    // the frame and depth below, so the DIEs left out would only have passed them on.
    const dies = cu.codeDies();
    // Per DIE: index of the enclosing concrete subprogram (-1: none) and inline depth.
    const encl = new Int32Array(dies.length).fill(-1);
    const depth = new Int32Array(dies.length);
    const concrete = new Map<number, boolean>();
    const out: InlinedInstance[] = [];
    for (const d of dies) {
      const p = d.parent;
      let e = p >= 0 ? encl[p]! : -1;
      let dep = p >= 0 ? depth[p]! : 0;
      if (d.tag === DW_TAG.subprogram) {
        let c = concrete.get(d.index);
        if (c === undefined) {
          c = cu.dieRanges(d).length > 0;
          concrete.set(d.index, c);
        }
        // A nested concrete function starts a new frame; an abstract one hides its contents.
        e = c ? d.index : -1;
        dep = 0;
      } else if (d.tag === DW_TAG.inlined_subroutine && e >= 0) {
        dep += 1;
        const names = this.dieName(cu, d);
        encl[d.index] = e;
        depth[d.index] = dep;
        if (wanted && !wanted(names.name)) continue;
        const origin = getAttr(d, DW_AT.abstract_origin);
        const cf = constValue(getAttr(d, DW_AT.call_file));
        const enclDie = dies[e]!;
        out.push({
          ...names,
          dieOffset: d.offset,
          originOffset: origin?.kind === 'ref' ? origin.offset : undefined,
          ranges: cu.dieRanges(d),
          entryPc: entryPc(cu, d),
          callFile: cf === undefined ? undefined : cu.filePath(cf),
          callLine: constValue(getAttr(d, DW_AT.call_line)),
          callColumn: constValue(getAttr(d, DW_AT.call_column)),
          depth: dep,
          enclosingFunction: this.dieName(cu, enclDie).name,
          enclosingFunctionOffset: enclDie.offset,
        });
      }
      encl[d.index] = e;
      depth[d.index] = dep;
    }
    return out;
  }

  /**
   * Like `addr2line -f -i -a ADDR`: innermost frame first. The innermost
   * frame's position comes from the line table; each outer frame's from the
   * call_file/call_line/call_column of the inlined_subroutine nested in it.
   */
  inlineChain(addr: bigint): InlineFrame[] {
    const cu = this.unitForAddress(addr);
    if (!cu) return [];
    // Scopes only (cu.codeTree()): the chain, the ranges and the walk up never look at other DIEs.
    const dies = cu.codeDies();
    const row = this.lineForAddress(cu, addr);
    const best = this.innermostScope(cu, addr);
    const scopes: Die[] = []; // innermost first
    for (let i = best; i >= 0; i = dies[i]!.parent) {
      const d = dies[i]!;
      if (d.tag === DW_TAG.subprogram || d.tag === DW_TAG.inlined_subroutine || d.tag === DW_TAG.entry_point) scopes.push(d);
      if (d.tag === DW_TAG.subprogram) break;
    }
    if (scopes.length === 0) {
      if (!row) return [];
      return [{ function: undefined, linkageName: undefined, file: row.file || undefined, line: row.line, column: row.column, discriminator: row.discriminator, dieOffset: undefined }];
    }
    const frames: InlineFrame[] = [];
    for (let k = 0; k < scopes.length; k++) {
      const d = scopes[k]!;
      const names = this.dieName(cu, d);
      if (k === 0) {
        frames.push({
          function: names.name, linkageName: names.linkageName,
          file: row?.file || undefined, line: row?.line ?? 0, column: row?.column ?? 0,
          discriminator: row?.discriminator ?? 0, dieOffset: d.offset,
        });
      } else {
        const inner = scopes[k - 1]!;
        const cf = constValue(getAttr(inner, DW_AT.call_file));
        frames.push({
          function: names.name, linkageName: names.linkageName,
          file: cf === undefined ? undefined : cu.filePath(cf),
          line: constValue(getAttr(inner, DW_AT.call_line)) ?? 0,
          column: constValue(getAttr(inner, DW_AT.call_column)) ?? 0,
          discriminator: constValue(getAttr(inner, DW_AT.GNU_discriminator)) ?? 0,
          dieOffset: d.offset,
        });
      }
    }
    return frames;
  }

  /**
   * The innermost subprogram / inlined_subroutine / entry_point whose ranges hold
   * addr, found through a per-unit interval index (built once, sorted by start) so
   * that a query costs a binary search instead of a walk over every DIE. A scope
   * counts only when every enclosing scope DIE (lexical blocks included) holds addr
   * too, as a walk from the root would require.
   */
  private innermostScope(cu: DwarfUnit, addr: bigint): number {
    const idx = this.scopeIndexOf(cu);
    const dies = cu.codeDies();
    // Last interval starting at or before addr.
    const at = lastAtOrBefore(idx, addr, (e) => e.lo);
    let best = -1;
    for (let i = at; i >= 0; i--) {
      const e = idx[i]!;
      // No interval at or before i reaches addr: the rest belong to earlier code.
      if (e.maxHi <= addr) break;
      if (addr >= e.hi) continue;
      const d = dies[e.die]!;
      if (d.tag === DW_TAG.lexical_block) continue;
      if (best >= 0 && d.depth <= dies[best]!.depth) continue;
      if (!this.enclosedBy(cu, e.die, addr)) continue;
      best = e.die;
    }
    return best;
  }

  /** Every scope DIE above `die` that has ranges holds addr (and their parents are scopes). */
  private enclosedBy(cu: DwarfUnit, die: number, addr: bigint): boolean {
    const { dies, opaque } = cu.codeTree();
    const ranges = this.scopeRangesOf(cu);
    for (let c = die, p = dies[die]!.parent; p >= 0; c = p, p = dies[p]!.parent) {
      // Between c and p lies a DIE of a kind the switch below would refuse.
      if (opaque[c]) return false;
      const d = dies[p]!;
      switch (d.tag) {
        case DW_TAG.subprogram:
        case DW_TAG.inlined_subroutine:
        case DW_TAG.lexical_block:
        case DW_TAG.entry_point: {
          if (d.firstChild < 0 && d.tag === DW_TAG.lexical_block) return false;
          const r = ranges.get(p);
          if (!r || !rangesContain(r, addr)) return false;
          break;
        }
        case DW_TAG.compile_unit:
        case DW_TAG.partial_unit:
        case DW_TAG.namespace:
        case DW_TAG.class_type:
        case DW_TAG.structure_type:
        case DW_TAG.union_type:
          break;
        default:
          return false;
      }
    }
    return true;
  }

  /** Per unit, on the unit so that release() drops them with the DIEs they index. */
  private scopeCacheOf(cu: DwarfUnit): { ranges?: Map<number, AddressRange[]>; index?: { lo: bigint; hi: bigint; die: number; maxHi: bigint }[] } {
    return (cu.scopeCache ??= {}) as { ranges?: Map<number, AddressRange[]>; index?: { lo: bigint; hi: bigint; die: number; maxHi: bigint }[] };
  }

  private scopeRangesOf(cu: DwarfUnit): Map<number, AddressRange[]> {
    const c = this.scopeCacheOf(cu);
    let m = c.ranges;
    if (!m) {
      m = new Map();
      for (const d of cu.codeDies()) {
        if (d.tag === DW_TAG.subprogram || d.tag === DW_TAG.inlined_subroutine || d.tag === DW_TAG.lexical_block || d.tag === DW_TAG.entry_point) {
          const r = cu.dieRanges(d);
          if (r.length) m.set(d.index, r);
        }
      }
      c.ranges = m;
    }
    return m;
  }

  private scopeIndexOf(cu: DwarfUnit): { lo: bigint; hi: bigint; die: number; maxHi: bigint }[] {
    const c = this.scopeCacheOf(cu);
    let idx = c.index;
    if (!idx) {
      idx = [];
      for (const [die, rs] of this.scopeRangesOf(cu)) for (const r of rs) idx.push({ lo: r.lo, hi: r.hi, die, maxHi: 0n });
      idx.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
      let m = 0n;
      for (const e of idx) {
        if (e.hi > m) m = e.hi;
        e.maxHi = m;
      }
      c.index = idx;
    }
    return idx;
  }
}

function entryPc(cu: DwarfUnit, d: Die): bigint | undefined {
  const v = getAttr(d, DW_AT.entry_pc);
  if (!v) return undefined;
  const a = cu.address(v);
  if (a !== undefined) return a;
  // DWARF 5: a constant entry_pc is an offset from the DIE's low_pc / first range.
  const off = v.kind === 'udata' || v.kind === 'sdata' ? v.value : undefined;
  const first = cu.dieRanges(d)[0];
  return off !== undefined && first ? BigInt.asUintN(64, first.lo + off) : undefined;
}

/** Binary search for the entry containing addr in ranges sorted by lo. */
function findRange(sorted: readonly ArangeEntry[], addr: bigint): ArangeEntry | undefined {
  const cand = lastAtOrBefore(sorted, addr, (r) => r.lo);
  // Ranges may nest or overlap (e.g. unit ranges); look back a little for a container.
  for (let i = cand; i >= 0 && i > cand - 64; i--) {
    const r = sorted[i]!;
    if (addr >= r.lo && addr < r.hi) return r;
  }
  return undefined;
}

export function normalizePath(p: string): string {
  const abs = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..' && parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else parts.push(seg);
  }
  return (abs ? '/' : '') + parts.join('/');
}

function pathsMatch(a: string, b: string): boolean {
  if (a === b) return true;
  if (!isAbsolutePath(a) && b.endsWith('/' + a)) return true;
  if (!isAbsolutePath(b) && a.endsWith('/' + b)) return true;
  return false;
}

export { DwarfUnit };
