/**
 * C types as DWARF records them, reduced to what the MMIO dataflow asks: is a
 * value a pointer, to which struct, and what does the struct hold at a byte
 * offset (members of embedded structs and anonymous unions flattened). Type
 * qualifiers and typedefs are looked through. Malformed references (a loop of
 * typedefs, a reference outside the unit) give `other`, never an exception.
 */
import { DW_AT, DW_TAG } from './constants';
import { constValue } from './forms';
import { getAttr, type Die } from './info';
import type { DwarfUnit } from './unit';

export type TypeShape =
  /** `to` is the pointee's DIE offset after qualifiers and typedefs; undefined for void *. */
  | { kind: 'pointer'; to: number | undefined }
  | { kind: 'struct'; offset: number }
  | { kind: 'other' };

export interface Member {
  name: string | undefined;
  /** Byte offset from the start of the outermost struct. */
  offset: number;
  /** DIE offset of the member's type (unstripped). */
  type: number | undefined;
}

const QUALIFIERS: ReadonlySet<number> = new Set([DW_TAG.typedef, DW_TAG.const_type, DW_TAG.volatile_type, DW_TAG.restrict_type, DW_TAG.atomic_type]);
/** Typedef chains in real code are a few deep; more is a loop. */
const MAX_STRIP = 32;
/** Embedded structs nest a few deep; more is malformed. */
const MAX_EMBED = 16;

export function typeRef(d: Die): number | undefined {
  const v = getAttr(d, DW_AT.type);
  return v && v.kind === 'ref' ? v.offset : undefined;
}

export class UnitTypes {
  private readonly memberCache = new Map<number, Member[]>();

  constructor(readonly cu: DwarfUnit) {}

  /** The DIE behind qualifiers and typedefs. */
  strip(offset: number | undefined): Die | undefined {
    let d = offset === undefined ? undefined : this.cu.dieAt(offset);
    for (let k = 0; d && QUALIFIERS.has(d.tag) && k < MAX_STRIP; k++) {
      const t = typeRef(d);
      d = t === undefined ? undefined : this.cu.dieAt(t);
    }
    return d && QUALIFIERS.has(d.tag) ? undefined : d;
  }

  shape(offset: number | undefined): TypeShape {
    const d = this.strip(offset);
    if (!d) return { kind: 'other' };
    if (d.tag === DW_TAG.pointer_type) return { kind: 'pointer', to: this.strip(typeRef(d))?.offset };
    if (d.tag === DW_TAG.structure_type || d.tag === DW_TAG.union_type) return { kind: 'struct', offset: d.offset };
    return { kind: 'other' };
  }

  /** Every member of a struct/union, embedded structs and unions flattened (their own entry kept too). */
  members(structOffset: number): Member[] {
    let out = this.memberCache.get(structOffset);
    if (out) return out;
    out = [];
    this.collect(structOffset, 0, out, 0);
    this.memberCache.set(structOffset, out);
    return out;
  }

  private collect(structOffset: number, base: number, out: Member[], depth: number): void {
    const s = this.cu.dieAt(structOffset);
    if (!s || depth > MAX_EMBED) return;
    for (const c of this.cu.children(s)) {
      if (c.tag !== DW_TAG.member) continue;
      const loc = getAttr(c, DW_AT.data_member_location);
      // Union members have none (offset 0); a location expression is not a C struct's.
      const off = loc === undefined ? 0 : loc.kind === 'block' ? undefined : constValue(loc);
      if (off === undefined) continue;
      const type = typeRef(c);
      out.push({ name: this.cu.string(getAttr(c, DW_AT.name)), offset: base + off, type });
      const inner = this.shape(type);
      if (inner.kind === 'struct') this.collect(inner.offset, base + off, out, depth + 1);
    }
  }

  /** Members that start at this byte offset (an embedded struct and its first member share one). */
  membersAt(structOffset: number, byteOffset: number): Member[] {
    return this.members(structOffset).filter((m) => m.offset === byteOffset);
  }

  /** The struct's name (or its typedef's, for `typedef struct { ... } IADEV`), for messages and keys. */
  name(offset: number): string | undefined {
    const d = this.cu.dieAt(offset);
    return d ? this.cu.string(getAttr(d, DW_AT.name)) : undefined;
  }
}
