/**
 * One compile unit, decoded lazily: the root DIE first (name, comp_dir, the
 * DWARF 5 *_base attributes), the full DIE tree and the line table only
 * when a query needs them. Resolves the unit-relative forms (strx, addrx,
 * rnglistx) and DW_AT_ranges / low_pc+high_pc into address ranges.
 */
import { DwarfError } from '../errors';
import { cstringAt } from '../reader';
import { AbbrevTable } from './abbrev';
import { DW_AT } from './constants';
import { AttrValue, constValue } from './forms';
import { Die, DieSubset, diesOfTagsFrom, getAttr, parseDies, parseDiesOfTags, UnitHeader, type SiblingCheck } from './info';
import { DW_TAG } from './constants';
import { LineProgramHeader, LineRow, lineFilePath, readLineProgramHeader, runLineProgram } from './line';
import { AddressRange, readRangeList, readRnglist, rnglistxOffset } from './ranges';
import { LocationEntry, loclistxOffset, readLocList, readLoclist } from './loclists';
import { DwarfSections, faultIn, sectionReader, type InfoBytes, type InfoSource } from './sections';
import { partitionPoint } from '../../sorted';

/**
 * Bytes read for a root DIE alone from a file-backed section: kernel root DIEs
 * (producer, name, comp_dir as string offsets, ranges, stmt_list) take under 64.
 * A longer one is read again with its whole unit.
 */
const ROOT_PREFIX = 512;

/** What codeTree() keeps besides the root. */
const CODE_TAGS: ReadonlySet<number> = new Set([DW_TAG.subprogram, DW_TAG.inlined_subroutine, DW_TAG.lexical_block, DW_TAG.entry_point, DW_TAG.namespace]);
/** Skipped, but a scope below one is still reached from its function (a C++ method in its class). */
const TRANSPARENT_TAGS: ReadonlySet<number> = new Set([DW_TAG.class_type, DW_TAG.structure_type, DW_TAG.union_type]);

export interface UnitHost {
  sections: DwarfSections;
  /** .debug_info, in memory or read from the file range by range. */
  info(): InfoSource;
  abbrevTable(offset: number): AbbrevTable;
  /** The string at an offset of .debug_str / .debug_line_str, decoded once per reader when the host keeps them. */
  stringAt?(section: '.debug_str' | '.debug_line_str', offset: number): string;
}

export class DwarfUnit {
  private rootDie: Die | undefined;
  private allDies: Die[] | undefined;
  /** parseDies found every DW_AT_sibling of allDies pointing just past its DIE's children. */
  private siblingsExact = false;
  private lineHdr: LineProgramHeader | null | undefined;
  private rows: LineRow[] | undefined;
  private code: (DieSubset & { byOffset: Map<number, Die> }) | undefined;
  /** The unit's bytes while its DIEs are decoded (a file-backed section); dropped with them. */
  private bytes: InfoBytes | undefined;
  /** Line rows split into sequences (DwarfReader.lineForAddress); dropped with the rows. */
  sequenceCache: unknown;
  /** The scope interval index over codeDies() (DwarfReader.inlineChain); dropped with them. */
  scopeCache: unknown;

  constructor(private readonly host: UnitHost, readonly header: UnitHeader) {}

  get offset(): number {
    return this.header.offset;
  }

  get version(): number {
    return this.header.version;
  }

  private get sections(): DwarfSections {
    return this.host.sections;
  }

  /** The whole unit's bytes (the section itself when it is in memory). */
  private unitBytes(): InfoBytes {
    return (this.bytes ??= this.host.info().read(this.header.offset, this.header.end));
  }

  /** The unit DIE (DW_TAG_compile_unit ...), decoded without its children. */
  root(): Die {
    if (this.allDies) return this.allDies[0]!;
    if (!this.rootDie) {
      const h = this.header;
      const abbrevs = this.host.abbrevTable(h.abbrevOffset);
      const src = this.host.info();
      // From a file, the root DIE's own bytes, not the unit's (a vmlinux pass reads
      // every unit's root and a tenth of the units whole).
      if (this.bytes || src.inMemory || h.end - h.dieOffset <= ROOT_PREFIX) {
        this.rootDie = parseDies(this.unitBytes(), h, abbrevs, true)[0]!;
        if (!src.inMemory && !this.allDies && !this.code) this.bytes = undefined;
      } else {
        try {
          this.rootDie = parseDies(src.read(h.offset, h.dieOffset + ROOT_PREFIX), h, abbrevs, true)[0]!;
        } catch (e) {
          if (!(e instanceof DwarfError)) throw e;
          // Longer than the prefix (or broken: the whole unit says where).
          this.rootDie = parseDies(src.read(h.offset, h.end), h, abbrevs, true)[0]!;
        }
      }
    }
    return this.rootDie;
  }

  /** All DIEs in pre-order (decoded on first call, then cached). */
  dies(): Die[] {
    if (!this.allDies) {
      const check: SiblingCheck = { siblingsExact: true };
      this.allDies = parseDies(this.unitBytes(), this.header, this.host.abbrevTable(this.header.abbrevOffset), false, check);
      this.siblingsExact = check.siblingsExact;
      this.rootDie = undefined;
    }
    return this.allDies;
  }

  /**
   * The DIEs that hold code, name it or scope it: the root, subprograms, inlined
   * subroutines, lexical blocks, entry points, namespaces (parseDiesOfTags: a
   * kept DIE's parent is its nearest kept ancestor; `opaque` marks those below a
   * DIE of another kind). Enough to list inlined instances, name them and find the
   * inline chain at an address; the rest (types, variables, parameters, call
   * sites: most of a kernel unit) is stepped over unbuilt. Cached until release().
   * Its indices are its own, not those of dies().
   */
  codeTree(): DieSubset & { byOffset: Map<number, Die> } {
    if (!this.code) {
      // From the full tree when it is decoded already (the join reads both): no second decode of the unit.
      const t = this.allDies && this.siblingsExact
        ? diesOfTagsFrom(this.allDies, CODE_TAGS, TRANSPARENT_TAGS)
        : parseDiesOfTags(this.unitBytes(), this.header, this.host.abbrevTable(this.header.abbrevOffset), CODE_TAGS, TRANSPARENT_TAGS);
      this.code = { ...t, byOffset: new Map(t.dies.map((d) => [d.offset, d])) };
    }
    return this.code;
  }

  codeDies(): Die[] {
    return this.codeTree().dies;
  }

  /**
   * A DIE by offset for reading its attributes only (names through abstract_origin
   * and specification): from codeDies() when they hold it, so naming an inlined
   * instance does not decode the whole unit. Its index and links may be the kept
   * tree's: use dieAt() to walk the tree.
   */
  attrDieAt(offset: number): Die | undefined {
    if (this.allDies) return this.dieAt(offset);
    return this.codeTree().byOffset.get(offset) ?? this.dieAt(offset);
  }

  /** Drops decoded DIEs and line rows (keeps the cheap root summary and line header). */
  release(): void {
    // From a file the root is read again when asked: kept, it would hold the unit's bytes.
    if (this.allDies && this.host.info().inMemory) this.rootDie = this.allDies[0];
    this.bytes = undefined;
    this.allDies = undefined;
    this.code = undefined;
    this.rows = undefined;
    this.sequenceCache = undefined;
    this.scopeCache = undefined;
  }

  /** release(), and the root DIE and line header too: the unit is done with (a whole-image pass). */
  releaseAll(): void {
    this.release();
    this.rootDie = undefined;
    this.lineHdr = undefined;
  }

  dieAt(offset: number): Die | undefined {
    if (offset < this.header.dieOffset || offset >= this.header.end) return undefined;
    // The DIEs are in pre-order, which is their order in the section: a binary
    // search instead of a map of every DIE (a kernel unit has ~10^5 of them).
    const dies = this.dies();
    const d = dies[partitionPoint(dies.length, (i) => dies[i]!.offset < offset)];
    return d !== undefined && d.offset === offset ? d : undefined;
  }

  children(die: Die): Die[] {
    const dies = this.dies();
    const out: Die[] = [];
    // Sibling links only point forward, so this walk ends.
    for (let c = die.firstChild; c >= 0; c = dies[c]!.nextSibling) out.push(dies[c]!);
    return out;
  }

  private rootNumber(at: number): number | undefined {
    const v = getAttr(this.root(), at);
    if (!v) return undefined;
    if (v.kind === 'secOffset') return v.value;
    return constValue(v);
  }

  get strOffsetsBase(): number {
    return this.rootNumber(DW_AT.str_offsets_base) ?? (this.header.offsetSize === 8 ? 16 : 8);
  }

  get addrBase(): number {
    return this.rootNumber(DW_AT.addr_base) ?? (this.header.offsetSize === 8 ? 16 : 8);
  }

  get rnglistsBase(): number | undefined {
    return this.rootNumber(DW_AT.rnglists_base);
  }

  /** A string attribute's text, or undefined when the value is not a string form. */
  string(v: AttrValue | undefined): string | undefined {
    if (!v) return undefined;
    switch (v.kind) {
      case 'string':
        return v.value;
      case 'strp':
        return this.strAt(v.section, v.offset);
      case 'strx': {
        const os = this.header.offsetSize;
        const r = sectionReader(this.sections, '.debug_str_offsets', this.strOffsetsBase);
        r.skip(v.index * os);
        return this.strAt('.debug_str', r.offset(os));
      }
      default:
        return undefined;
    }
  }

  private strAt(section: '.debug_str' | '.debug_line_str', offset: number): string {
    if (this.host.stringAt) return this.host.stringAt(section, offset);
    const data = this.sections.get(section);
    if (!data) throw new DwarfError(section, offset, 'section missing');
    return cstringAt(data, offset, data.length, faultIn(section)).value;
  }

  /** Entry `index` of this unit's .debug_addr table. */
  addrx(index: number): bigint {
    const r = sectionReader(this.sections, '.debug_addr', this.addrBase);
    r.skip(index * this.header.addressSize);
    return r.uintBig(this.header.addressSize);
  }

  address(v: AttrValue | undefined): bigint | undefined {
    if (!v) return undefined;
    if (v.kind === 'addr') return v.value;
    if (v.kind === 'addrx') return this.addrx(v.index);
    return undefined;
  }

  get name(): string | undefined {
    return this.string(getAttr(this.root(), DW_AT.name));
  }

  get compDir(): string | undefined {
    return this.string(getAttr(this.root(), DW_AT.comp_dir));
  }

  get producer(): string | undefined {
    return this.string(getAttr(this.root(), DW_AT.producer));
  }

  /** The unit's base address for range lists (DW_AT_low_pc of the unit DIE, else 0). */
  get baseAddress(): bigint {
    return this.address(getAttr(this.root(), DW_AT.low_pc)) ?? 0n;
  }

  /**
   * Address ranges of a DIE: DW_AT_ranges, else [low_pc, high_pc) with
   * high_pc either an address or (constant forms) an offset from low_pc.
   */
  dieRanges(die: Die): AddressRange[] {
    const rv = getAttr(die, DW_AT.ranges);
    if (rv) {
      const h = this.header;
      if (rv.kind === 'rnglistx') {
        const base = this.rnglistsBase ?? (h.offsetSize === 8 ? 20 : 12);
        const off = rnglistxOffset(this.sections, base, h.offsetSize, rv.index);
        return readRnglist(this.sections, off, h.addressSize, this.baseAddress, (i) => this.addrx(i));
      }
      const off = rv.kind === 'secOffset' ? rv.value : constValue(rv);
      if (off === undefined) throw new DwarfError('.debug_info', die.offset, 'DW_AT_ranges of unexpected form');
      if (h.version >= 5) return readRnglist(this.sections, off, h.addressSize, this.baseAddress, (i) => this.addrx(i));
      return readRangeList(this.sections, off, h.addressSize, this.baseAddress);
    }
    const lo = this.address(getAttr(die, DW_AT.low_pc));
    if (lo === undefined) return [];
    const hv = getAttr(die, DW_AT.high_pc);
    if (!hv) return [];
    let hi: bigint | undefined;
    if (hv.kind === 'udata' || hv.kind === 'sdata') hi = BigInt.asUintN(64, lo + hv.value);
    else hi = this.address(hv);
    if (hi === undefined || hi <= lo) return [];
    return [{ lo, hi }];
  }

  /**
   * Where a variable or parameter lives: one entry covering every address for a
   * single location expression (DW_FORM_exprloc), the list's entries for a
   * location list (DWARF 4 .debug_loc, DWARF 5 .debug_loclists, loclistx).
   */
  locations(die: Die): LocationEntry[] {
    const v = getAttr(die, DW_AT.location);
    if (!v) return [];
    if (v.kind === 'block') return [{ lo: 0n, hi: (1n << 64n) - 1n, expr: v.value }];
    const h = this.header;
    if (v.kind === 'loclistx') {
      const base = this.rootNumber(DW_AT.loclists_base) ?? (h.offsetSize === 8 ? 20 : 12);
      const off = loclistxOffset(this.sections, base, h.offsetSize, v.index);
      return readLoclist(this.sections, off, h.addressSize, this.baseAddress, (i) => this.addrx(i));
    }
    const off = v.kind === 'secOffset' ? v.value : undefined;
    if (off === undefined) return [];
    if (h.version >= 5) return readLoclist(this.sections, off, h.addressSize, this.baseAddress, (i) => this.addrx(i));
    return readLocList(this.sections, off, h.addressSize, this.baseAddress);
  }

  /** The line program header of this unit (DW_AT_stmt_list), or undefined when it has none. */
  lineHeader(): LineProgramHeader | undefined {
    if (this.lineHdr === undefined) {
      const v = getAttr(this.root(), DW_AT.stmt_list);
      const off = v ? (v.kind === 'secOffset' ? v.value : constValue(v)) : undefined;
      this.lineHdr =
        off === undefined
          ? null
          : readLineProgramHeader(this.sections, off, this.header.addressSize, (val, section, at) => {
              const s = this.string(val);
              if (s === undefined) throw new DwarfError(section, at, 'line table path is not a string form');
              return s;
            });
    }
    return this.lineHdr ?? undefined;
  }

  /** Decoded line rows (cached). */
  lineRows(): LineRow[] {
    if (!this.rows) {
      const h = this.lineHeader();
      this.rows = h ? runLineProgram(this.sections, h, this.compDir) : [];
    }
    return this.rows;
  }

  /** Full path of a line-table file index (as DW_AT_call_file / DW_AT_decl_file use it). */
  filePath(index: number): string | undefined {
    const h = this.lineHeader();
    return h ? lineFilePath(h, index, this.compDir) : undefined;
  }

  /** Every distinct file path of the line table header (for source-path matching). */
  lineTableFiles(): string[] {
    const h = this.lineHeader();
    if (!h) return [];
    // A Set, not out.includes: a kernel unit's table names hundreds of headers.
    const out = new Set<string>();
    const first = h.version >= 5 ? 0 : 1;
    const compDir = this.compDir;
    for (let i = first; i < h.files.length + first; i++) {
      const p = lineFilePath(h, i, compDir);
      if (p) out.add(p);
    }
    return [...out];
  }
}

