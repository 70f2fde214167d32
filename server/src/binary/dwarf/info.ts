/**
 * .debug_info: unit headers and DIE trees.
 *
 * Headers are read without touching DIEs so a vmlinux (thousands of units,
 * hundreds of MB) can be indexed cheaply; a unit's DIEs are decoded only on
 * request, into a flat pre-order array with parent/child/sibling links.
 */
import { DwarfError } from '../errors';
import { ByteReader, type FaultFn } from '../reader';
import { AbbrevTable } from './abbrev';
import { DW_AT, DW_UT } from './constants';
import { AttrValue, FormContext, readAttrValue, skipAttrValue } from './forms';
import { faultIn, MemoryInfoSource, type InfoBytes, type InfoSource } from './sections';

export interface UnitHeader {
  /** Offset of the unit header in .debug_info. */
  offset: number;
  /** Exclusive end of the unit. */
  end: number;
  version: number;
  /** DW_UT_* (DW_UT_compile for DWARF 2-4 .debug_info units). */
  unitType: number;
  addressSize: number;
  /** 4 (32-bit DWARF) or 8 (64-bit DWARF). */
  offsetSize: number;
  abbrevOffset: number;
  /** Offset of the first (root) DIE. */
  dieOffset: number;
  typeSignature?: bigint;
  dwoId?: bigint;
}

export interface Attr {
  name: number;
  form: number;
  value: AttrValue;
}

export interface Die {
  /** Position in the unit's DIE array. */
  index: number;
  /** Offset in .debug_info. */
  offset: number;
  tag: number;
  attrs: Attr[];
  /** Index of the parent DIE, -1 for the root. */
  parent: number;
  firstChild: number;
  nextSibling: number;
  /** 0 for the unit DIE. */
  depth: number;
}

/** DIE nesting deeper than this is taken as corrupt (real C code stays far below). */
export const MAX_DIE_DEPTH = 256;

/** Faults at a position of `data` reported at its .debug_info offset (`base` + position). */
function infoFault(base: number): FaultFn {
  return base === 0 ? faultIn('.debug_info') : (off, what) => new DwarfError('.debug_info', off + base, what);
}

/**
 * The header of the unit at section offset `offset`, from bytes that start at or
 * before it (`base`: the section offset of `info[0]`) and hold at least the header.
 * `sectionSize` bounds the unit (the bytes may be a window of the section).
 */
export function readUnitHeader(info: Uint8Array, offset: number, base = 0, sectionSize = base + info.length): UnitHeader {
  const fault = infoFault(base);
  const r = new ByteReader(info, fault, offset - base);
  let length = r.u32();
  let offsetSize = 4;
  if (length === 0xffffffff) {
    offsetSize = 8;
    length = r.u64n('unit_length');
  } else if (length >= 0xfffffff0) {
    throw new DwarfError('.debug_info', offset, `reserved unit_length 0x${length.toString(16)}`);
  }
  const end = r.pos + base + length;
  if (end > sectionSize) throw new DwarfError('.debug_info', offset, `unit length 0x${length.toString(16)} runs past section end`);
  const ur = new ByteReader(info, fault, r.pos, Math.min(end - base, info.length));
  const version = ur.u16();
  if (version < 2 || version > 5) throw new DwarfError('.debug_info', offset, `unsupported DWARF version ${version}`);
  let unitType: number = DW_UT.compile;
  let addressSize: number;
  let abbrevOffset: number;
  let typeSignature: bigint | undefined;
  let dwoId: bigint | undefined;
  if (version >= 5) {
    unitType = ur.u8();
    addressSize = ur.u8();
    abbrevOffset = ur.offset(offsetSize, 'debug_abbrev_offset');
    if (unitType === DW_UT.skeleton || unitType === DW_UT.split_compile) dwoId = ur.u64();
    else if (unitType === DW_UT.type || unitType === DW_UT.split_type) {
      typeSignature = ur.u64();
      ur.offset(offsetSize, 'type_offset');
    } else if (unitType !== DW_UT.compile && unitType !== DW_UT.partial) {
      throw new DwarfError('.debug_info', offset, `unknown unit type 0x${unitType.toString(16)}`);
    }
  } else {
    abbrevOffset = ur.offset(offsetSize, 'debug_abbrev_offset');
    addressSize = ur.u8();
  }
  if (addressSize !== 4 && addressSize !== 8) throw new DwarfError('.debug_info', offset, `bad address size ${addressSize}`);
  const h: UnitHeader = { offset, end, version, unitType, addressSize, offsetSize, abbrevOffset, dieOffset: ur.pos + base };
  if (typeSignature !== undefined) h.typeSignature = typeSignature;
  if (dwoId !== undefined) h.dwoId = dwoId;
  return h;
}

/** The most a unit header takes (64-bit DWARF 5 with a type signature and offset). */
const MAX_UNIT_HEADER = 4 + 8 + 2 + 1 + 1 + 8 + 8 + 8;

/**
 * All unit headers of .debug_info, in order. Each step advances by the unit length
 * (> 0). Only the headers are read: from a file-backed section, a few dozen bytes per unit.
 */
export function listUnitHeaders(info: Uint8Array | InfoSource): UnitHeader[] {
  const src = info instanceof Uint8Array ? new MemoryInfoSource(info) : info;
  const out: UnitHeader[] = [];
  let off = 0;
  while (off < src.size) {
    const b = src.read(off, Math.min(off + MAX_UNIT_HEADER, src.size));
    const h = readUnitHeader(b.data, off, b.base, src.size);
    out.push(h);
    off = h.end;
  }
  return out;
}

/**
 * A reader over a unit's DIEs in `info` (the section, or bytes of it starting at
 * `base`). With `whole`, the bytes must hold the unit to its end; else they may be a
 * prefix (the root DIE alone: a read past it is a fault the caller answers by
 * reading the unit whole).
 */
function unitReader(info: Uint8Array | InfoBytes, h: UnitHeader, whole: boolean): { r: ByteReader; base: number } {
  const { data, base } = info instanceof Uint8Array ? { data: info, base: 0 } : info;
  if (h.dieOffset < base) throw new DwarfError('.debug_info', h.dieOffset, 'unit bytes start after its first DIE');
  if (whole && h.end - base > data.length) throw new DwarfError('.debug_info', base + data.length, 'unit bytes end before the unit');
  return { r: new ByteReader(data, infoFault(base), h.dieOffset - base, Math.min(h.end - base, data.length)), base };
}

export function formContext(h: UnitHeader): FormContext {
  return { version: h.version, addressSize: h.addressSize, offsetSize: h.offsetSize, unitOffset: h.offset };
}

/**
 * Decodes the DIEs of a unit. With `firstOnly`, only the root DIE (enough
 * for name/comp_dir/bases). Every iteration consumes at least one byte of the
 * unit, and nesting is capped at MAX_DIE_DEPTH.
 */
export function parseDies(info: Uint8Array | InfoBytes, h: UnitHeader, abbrevs: AbbrevTable, firstOnly = false, check?: SiblingCheck): Die[] {
  const { r, base } = unitReader(info, h, !firstOnly);
  const ctx = formContext(h);
  const dies: Die[] = [];
  // Stack of indices of open parents; lastChild[d] = last DIE seen at depth d+1 under stack[d].
  const stack: number[] = [];
  const lastChild: number[] = [];
  while (r.pos < r.end) {
    const offset = r.pos + base;
    const code = r.uleb();
    if (code === 0) {
      // End of a sibling chain (or padding after the root's children).
      if (stack.length > 0) {
        const closed = stack.pop()!;
        lastChild.pop();
        // Its children end here: a DW_AT_sibling of it must say so (diesOfTagsFrom).
        if (check?.siblingsExact) {
          for (const a of dies[closed]!.attrs) if (a.name === DW_AT.sibling && a.value.kind === 'ref' && a.value.offset !== r.pos + base) check.siblingsExact = false;
        }
      }
      continue;
    }
    const ab = abbrevs.get(code);
    if (!ab) throw new DwarfError('.debug_info', offset, `unknown abbreviation code ${code}`);
    const attrs: Attr[] = new Array(ab.specs.length);
    for (let i = 0; i < ab.specs.length; i++) {
      const s = ab.specs[i]!;
      attrs[i] = { name: s.name, form: s.form, value: readAttrValue(r, s.form, ctx, s.implicitConst) };
    }
    const index = dies.length;
    const depth = stack.length;
    if (depth === 0 && index > 0) {
      throw new DwarfError('.debug_info', offset, 'more than one top-level DIE in unit');
    }
    const parent = depth > 0 ? stack[depth - 1]! : -1;
    const die: Die = { index, offset, tag: ab.tag, attrs, parent, firstChild: -1, nextSibling: -1, depth };
    dies.push(die);
    if (parent >= 0) {
      const prev = lastChild[depth - 1]!;
      if (prev < 0) dies[parent]!.firstChild = index;
      else dies[prev]!.nextSibling = index;
      lastChild[depth - 1] = index;
    }
    if (firstOnly) break;
    if (ab.hasChildren) {
      if (stack.length >= MAX_DIE_DEPTH) throw new DwarfError('.debug_info', offset, `DIE nesting deeper than ${MAX_DIE_DEPTH}`);
      stack.push(index);
      lastChild.push(-1);
    } else if (depth === 0) {
      break; // a childless root: nothing else belongs to the unit
    }
  }
  if (dies.length === 0) throw new DwarfError('.debug_info', h.dieOffset, 'unit has no DIE');
  // A DIE whose children never ended: where its DW_AT_sibling points is not known.
  if (check && stack.length > 0) check.siblingsExact = false;
  return dies;
}

/** Filled by parseDies: whether every DW_AT_sibling (a reference) of a DIE with children points just past them. */
export interface SiblingCheck {
  siblingsExact: boolean;
}

/** The kept DIEs of parseDiesOfTags, and which of them hang below a DIE that is neither kept nor transparent. */
export interface DieSubset {
  dies: Die[];
  /**
   * opaque[i] = 1 when a DIE between dies[i] and its parent (its nearest kept
   * ancestor) is neither kept nor transparent: a walk up the full tree would
   * have met a DIE of another kind there.
   */
  opaque: Uint8Array;
}

/**
 * The DIEs of a unit whose tag is in `keep` (and the root), with all their
 * attributes; every other DIE is stepped over without being built. `parent`,
 * `firstChild` and `nextSibling` link the kept DIEs: a kept DIE's parent is its
 * nearest kept ancestor. `index` is the position in the kept array; `depth` is
 * the real nesting depth. Skipped DIEs whose tag is in `transparent` (a struct
 * around a method) do not make the DIEs below them opaque. The same checks as
 * parseDies (depth cap, one root).
 */
export function parseDiesOfTags(info: Uint8Array | InfoBytes, h: UnitHeader, abbrevs: AbbrevTable, keep: ReadonlySet<number>, transparent: ReadonlySet<number> = new Set()): DieSubset {
  const { r, base } = unitReader(info, h, true);
  const ctx = formContext(h);
  const dies: Die[] = [];
  const opaque: number[] = [];
  // Per open DIE: the nearest kept DIE at or above it, and whether only kept or
  // transparent DIEs lie between (1) or not (0).
  const keptAt: number[] = [];
  const clean: number[] = [];
  const lastChild = new Map<number, number>();
  let depth = 0;
  let roots = 0;
  while (r.pos < r.end) {
    const offset = r.pos + base;
    const code = r.uleb();
    if (code === 0) {
      if (depth > 0) {
        depth--;
        keptAt.pop();
        clean.pop();
      }
      continue;
    }
    const ab = abbrevs.get(code);
    if (!ab) throw new DwarfError('.debug_info', offset, `unknown abbreviation code ${code}`);
    if (depth === 0 && roots++ > 0) throw new DwarfError('.debug_info', offset, 'more than one top-level DIE in unit');
    const parent = depth > 0 ? keptAt[depth - 1]! : -1;
    const parentClean = depth > 0 ? clean[depth - 1]! : 1;
    let self = parent;
    let selfClean: number;
    if (depth === 0 || keep.has(ab.tag)) {
      const attrs: Attr[] = new Array(ab.specs.length);
      for (let i = 0; i < ab.specs.length; i++) {
        const s = ab.specs[i]!;
        attrs[i] = { name: s.name, form: s.form, value: readAttrValue(r, s.form, ctx, s.implicitConst) };
      }
      self = appendKept(dies, opaque, lastChild, { offset, tag: ab.tag, attrs, depth }, parent, parentClean);
      selfClean = 1;
    } else {
      selfClean = parentClean && transparent.has(ab.tag) ? 1 : 0;
      // A DIE of another kind with children (a struct's members, a call site's
      // parameters, an enumeration): its DW_AT_sibling, when given, jumps past them.
      // What lies below such a DIE could only ever be opaque, so nothing is lost.
      let sibling = -1;
      for (let i = 0; i < ab.specs.length; i++) {
        const sp = ab.specs[i]!;
        if (sp.name === DW_AT.sibling && ab.hasChildren && !selfClean) {
          const v = readAttrValue(r, sp.form, ctx, sp.implicitConst);
          if (v.kind === 'ref') sibling = v.offset;
        } else skipAttrValue(r, sp.form, ctx);
      }
      if (sibling > r.pos + base && sibling <= h.end) {
        r.pos = sibling - base;
        continue;
      }
    }
    if (ab.hasChildren) {
      if (depth >= MAX_DIE_DEPTH) throw new DwarfError('.debug_info', offset, `DIE nesting deeper than ${MAX_DIE_DEPTH}`);
      keptAt.push(self);
      clean.push(selfClean);
      depth++;
    } else if (depth === 0) {
      break;
    }
  }
  if (dies.length === 0) throw new DwarfError('.debug_info', h.dieOffset, 'unit has no DIE');
  return { dies, opaque: Uint8Array.from(opaque) };
}

/**
 * Appends a kept DIE under `parent` (its index in `dies`, -1 for the unit's root),
 * linking it as the parent's first or next child, and marks it opaque when a DIE
 * not kept and not transparent lies between (parentClean 0); returns its index.
 * One rule for parseDiesOfTags and diesOfTagsFrom, whose results must be equal.
 */
function appendKept(dies: Die[], opaque: number[], lastChild: Map<number, number>, d: Pick<Die, 'offset' | 'tag' | 'attrs' | 'depth'>, parent: number, parentClean: number): number {
  const index = dies.length;
  dies.push({ index, offset: d.offset, tag: d.tag, attrs: d.attrs, parent, firstChild: -1, nextSibling: -1, depth: d.depth });
  opaque.push(parentClean ? 0 : 1);
  if (parent >= 0) {
    const prev = lastChild.get(parent);
    if (prev === undefined) dies[parent]!.firstChild = index;
    else dies[prev]!.nextSibling = index;
    lastChild.set(parent, index);
  }
  return index;
}

/**
 * parseDiesOfTags's result, from a unit's full DIE array instead of its bytes:
 * the same DIEs, links, indices and opaque marks (the attributes are shared).
 * Only for DIEs parseDies checked (SiblingCheck.siblingsExact): a jump by
 * DW_AT_sibling then skips exactly a DIE's subtree, so skipping it here is the
 * same walk; with a sibling that points elsewhere the bytes must be read again.
 */
export function diesOfTagsFrom(all: readonly Die[], keep: ReadonlySet<number>, transparent: ReadonlySet<number> = new Set()): DieSubset {
  const dies: Die[] = [];
  const opaque: number[] = [];
  // Per depth of the open DIEs: the nearest kept DIE at or above, and whether only kept or transparent DIEs lie between.
  const keptAt: number[] = [];
  const clean: number[] = [];
  const lastChild = new Map<number, number>();
  for (let i = 0; i < all.length; ) {
    const d = all[i]!;
    const depth = d.depth;
    const parent = depth > 0 ? keptAt[depth - 1]! : -1;
    const parentClean = depth > 0 ? clean[depth - 1]! : 1;
    if (depth === 0 || keep.has(d.tag)) {
      keptAt[depth] = appendKept(dies, opaque, lastChild, d, parent, parentClean);
      clean[depth] = 1;
    } else {
      const selfClean = parentClean && transparent.has(d.tag) ? 1 : 0;
      let jumps = false;
      if (d.firstChild >= 0 && !selfClean) {
        // parseDiesOfTags jumps by a DW_AT_sibling reference, which parseDies checked is the subtree's end.
        for (const a of d.attrs) if (a.name === DW_AT.sibling && a.value.kind === 'ref') jumps = true;
      }
      if (jumps) {
        let j = i + 1;
        while (j < all.length && all[j]!.depth > depth) j++;
        i = j;
        continue;
      }
      keptAt[depth] = parent;
      clean[depth] = selfClean;
    }
    i++;
  }
  return { dies, opaque: Uint8Array.from(opaque) };
}

export function getAttr(die: Die, name: number): AttrValue | undefined {
  for (const a of die.attrs) if (a.name === name) return a.value;
  return undefined;
}
