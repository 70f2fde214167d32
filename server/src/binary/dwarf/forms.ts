/**
 * Attribute values: decoding (and thereby skipping) every DWARF 2-5 form and
 * the GNU forms GCC emits. Values that need another section (strx, addrx,
 * rnglistx, strp ...) are kept as indices/offsets and resolved by the unit.
 */
import { ByteReader } from '../reader';
import { DW_FORM } from './constants';

export type AttrValue =
  | { kind: 'addr'; value: bigint }
  | { kind: 'addrx'; index: number }
  /** data1/2/4/8 and udata: unsigned constants. */
  | { kind: 'udata'; value: bigint }
  /** sdata and implicit_const: signed constants. */
  | { kind: 'sdata'; value: bigint }
  | { kind: 'string'; value: string }
  | { kind: 'strp'; section: '.debug_str' | '.debug_line_str'; offset: number }
  | { kind: 'strx'; index: number }
  /** Reference to a DIE, as an absolute .debug_info offset. */
  | { kind: 'ref'; offset: number }
  | { kind: 'refSig8'; value: bigint }
  /** A reference into a supplementary/alternate object file, which we do not read. */
  | { kind: 'refAlt'; offset: number }
  | { kind: 'strAlt'; offset: number }
  | { kind: 'secOffset'; value: number }
  /** block*, exprloc and data16 bytes (a view into the section). */
  | { kind: 'block'; value: Uint8Array }
  | { kind: 'flag'; value: boolean }
  | { kind: 'rnglistx'; index: number }
  | { kind: 'loclistx'; index: number };

export interface FormContext {
  version: number;
  addressSize: number;
  /** 4 for 32-bit DWARF, 8 for 64-bit DWARF. */
  offsetSize: number;
  /** Offset of the unit header in .debug_info (base of CU-relative refs). */
  unitOffset: number;
}

/** How many DW_FORM_indirect hops we follow before calling the data malformed. */
const MAX_INDIRECT = 4;

export function readAttrValue(r: ByteReader, form: number, ctx: FormContext, implicitConst?: bigint): AttrValue {
  let f = form;
  for (let hop = 0; f === DW_FORM.indirect; hop++) {
    if (hop >= MAX_INDIRECT) throw r.fault(r.pos, 'DW_FORM_indirect chain too long');
    f = r.uleb();
  }
  switch (f) {
    case DW_FORM.addr:
      return { kind: 'addr', value: r.uintBig(ctx.addressSize) };
    case DW_FORM.data1:
      return { kind: 'udata', value: BigInt(r.u8()) };
    case DW_FORM.data2:
      return { kind: 'udata', value: BigInt(r.u16()) };
    case DW_FORM.data4:
      return { kind: 'udata', value: BigInt(r.u32()) };
    case DW_FORM.data8:
      return { kind: 'udata', value: r.u64() };
    case DW_FORM.udata:
      return { kind: 'udata', value: r.ulebBig() };
    case DW_FORM.sdata:
      return { kind: 'sdata', value: r.slebBig() };
    case DW_FORM.implicit_const:
      // The value lives in the abbreviation; a DW_FORM_indirect to it has none.
      return { kind: 'sdata', value: implicitConst ?? 0n };
    case DW_FORM.data16:
      return { kind: 'block', value: r.bytes(16) };
    case DW_FORM.string:
      return { kind: 'string', value: r.cstring() };
    case DW_FORM.strp:
      return { kind: 'strp', section: '.debug_str', offset: r.offset(ctx.offsetSize) };
    case DW_FORM.line_strp:
      return { kind: 'strp', section: '.debug_line_str', offset: r.offset(ctx.offsetSize) };
    case DW_FORM.strx:
    case DW_FORM.GNU_str_index:
      return { kind: 'strx', index: r.uleb() };
    case DW_FORM.strx1:
      return { kind: 'strx', index: r.u8() };
    case DW_FORM.strx2:
      return { kind: 'strx', index: r.u16() };
    case DW_FORM.strx3:
      return { kind: 'strx', index: r.u24() };
    case DW_FORM.strx4:
      return { kind: 'strx', index: r.u32() };
    case DW_FORM.addrx:
    case DW_FORM.GNU_addr_index:
      return { kind: 'addrx', index: r.uleb() };
    case DW_FORM.addrx1:
      return { kind: 'addrx', index: r.u8() };
    case DW_FORM.addrx2:
      return { kind: 'addrx', index: r.u16() };
    case DW_FORM.addrx3:
      return { kind: 'addrx', index: r.u24() };
    case DW_FORM.addrx4:
      return { kind: 'addrx', index: r.u32() };
    case DW_FORM.ref1:
      return { kind: 'ref', offset: ctx.unitOffset + r.u8() };
    case DW_FORM.ref2:
      return { kind: 'ref', offset: ctx.unitOffset + r.u16() };
    case DW_FORM.ref4:
      return { kind: 'ref', offset: ctx.unitOffset + r.u32() };
    case DW_FORM.ref8:
      return { kind: 'ref', offset: ctx.unitOffset + r.u64n('ref8') };
    case DW_FORM.ref_udata:
      return { kind: 'ref', offset: ctx.unitOffset + r.uleb() };
    case DW_FORM.ref_addr:
      // DWARF 2 sized this like an address; later versions like an offset.
      return { kind: 'ref', offset: r.offset(ctx.version <= 2 ? ctx.addressSize : ctx.offsetSize) };
    case DW_FORM.ref_sig8:
      return { kind: 'refSig8', value: r.u64() };
    case DW_FORM.ref_sup4:
      return { kind: 'refAlt', offset: r.u32() };
    case DW_FORM.ref_sup8:
      return { kind: 'refAlt', offset: r.u64n('ref_sup8') };
    case DW_FORM.GNU_ref_alt:
      return { kind: 'refAlt', offset: r.offset(ctx.offsetSize) };
    case DW_FORM.strp_sup:
    case DW_FORM.GNU_strp_alt:
      return { kind: 'strAlt', offset: r.offset(ctx.offsetSize) };
    case DW_FORM.sec_offset:
      return { kind: 'secOffset', value: r.offset(ctx.offsetSize) };
    case DW_FORM.block1:
      return { kind: 'block', value: r.bytes(r.u8()) };
    case DW_FORM.block2:
      return { kind: 'block', value: r.bytes(r.u16()) };
    case DW_FORM.block4:
      return { kind: 'block', value: r.bytes(r.u32()) };
    case DW_FORM.block:
    case DW_FORM.exprloc:
      return { kind: 'block', value: r.bytes(r.uleb()) };
    case DW_FORM.flag:
      return { kind: 'flag', value: r.u8() !== 0 };
    case DW_FORM.flag_present:
      return { kind: 'flag', value: true };
    case DW_FORM.loclistx:
      return { kind: 'loclistx', index: r.uleb() };
    case DW_FORM.rnglistx:
      return { kind: 'rnglistx', index: r.uleb() };
    default:
      throw r.fault(r.pos, `unknown attribute form 0x${f.toString(16)}`);
  }
}

/** A constant attribute as a number, when it is one and fits. */
export function constValue(v: AttrValue | undefined): number | undefined {
  if (!v || (v.kind !== 'udata' && v.kind !== 'sdata')) return undefined;
  if (v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
  return Number(v.value);
}

/** Steps over a LEB128 (signed or not) without decoding it. */
function skipLeb(r: ByteReader): void {
  const d = r.data;
  const start = r.pos;
  let p = start;
  while (p < r.end && (d[p]! & 0x80) !== 0) p++;
  if (p >= r.end) throw r.fault(start, 'truncated LEB128');
  r.pos = p + 1;
}

/**
 * Steps over an attribute value as readAttrValue would read it, allocating nothing:
 * a reader that wants few DIE kinds (the vmlinux inventory) skips the attributes of
 * every other DIE, which are most of .debug_info. Same bounds checks, same faults.
 */
export function skipAttrValue(r: ByteReader, form: number, ctx: FormContext): void {
  let f = form;
  for (let hop = 0; f === DW_FORM.indirect; hop++) {
    if (hop >= MAX_INDIRECT) throw r.fault(r.pos, 'DW_FORM_indirect chain too long');
    f = r.uleb();
  }
  switch (f) {
    case DW_FORM.implicit_const:
    case DW_FORM.flag_present:
      return;
    case DW_FORM.data1:
    case DW_FORM.ref1:
    case DW_FORM.flag:
    case DW_FORM.strx1:
    case DW_FORM.addrx1:
      return r.skip(1);
    case DW_FORM.data2:
    case DW_FORM.ref2:
    case DW_FORM.strx2:
    case DW_FORM.addrx2:
      return r.skip(2);
    case DW_FORM.strx3:
    case DW_FORM.addrx3:
      return r.skip(3);
    case DW_FORM.data4:
    case DW_FORM.ref4:
    case DW_FORM.strx4:
    case DW_FORM.addrx4:
    case DW_FORM.ref_sup4:
      return r.skip(4);
    case DW_FORM.data8:
    case DW_FORM.ref8:
    case DW_FORM.ref_sig8:
    case DW_FORM.ref_sup8:
      return r.skip(8);
    case DW_FORM.data16:
      return r.skip(16);
    case DW_FORM.addr:
      return r.skip(ctx.addressSize);
    case DW_FORM.strp:
    case DW_FORM.line_strp:
    case DW_FORM.sec_offset:
    case DW_FORM.GNU_ref_alt:
    case DW_FORM.strp_sup:
    case DW_FORM.GNU_strp_alt:
      return r.skip(ctx.offsetSize);
    case DW_FORM.ref_addr:
      return r.skip(ctx.version <= 2 ? ctx.addressSize : ctx.offsetSize);
    case DW_FORM.udata:
    case DW_FORM.sdata:
    case DW_FORM.strx:
    case DW_FORM.GNU_str_index:
    case DW_FORM.addrx:
    case DW_FORM.GNU_addr_index:
    case DW_FORM.ref_udata:
    case DW_FORM.loclistx:
    case DW_FORM.rnglistx:
      return skipLeb(r);
    case DW_FORM.string: {
      if (r.pos >= r.end) throw r.fault(r.pos, 'string offset outside section');
      const rel = r.data.subarray(r.pos, r.end).indexOf(0);
      if (rel < 0) throw r.fault(r.pos, 'unterminated string');
      r.pos += rel + 1;
      return;
    }
    case DW_FORM.block1:
      return r.skip(r.u8());
    case DW_FORM.block2:
      return r.skip(r.u16());
    case DW_FORM.block4:
      return r.skip(r.u32());
    case DW_FORM.block:
    case DW_FORM.exprloc:
      return r.skip(r.uleb());
    default:
      throw r.fault(r.pos, `unknown attribute form 0x${f.toString(16)}`);
  }
}
