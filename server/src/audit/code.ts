// The code of one object, indexed once: its function symbols (by address for the
// join, by section for the disassembly view), its named symbols, its relocations,
// and each function decoded once (iced, one walker per function, freed at once)
// and kept as plain data. Call targets and data references are resolved through
// relocations in a .o (where every call reads `call 0x0` until the linker runs).
// The join (compiled/), the inventory and the disassembly view (disasm.ts) all
// read this one index through codeOf(): none of them keeps its own.

import type { BinaryObject, ElfRela, ElfSymbol } from '../binary/index';
import { ET_REL, STT_FUNC, STT_OBJECT, STT_SECTION, SHF_EXECINSTR } from '../binary/index';
import { SHN_LORESERVE, SHN_UNDEF, STT_NOTYPE } from '../binary/elf';
import { R_X86_64_PC32, R_X86_64_PLT32 } from '../binary/relocate';
import { CodeWalker, type WalkedInstruction } from '../x86/iced';
import { enclosingAt, lastAtOrBefore, partitionPoint } from '../sorted';

export interface FunctionCode {
  /**
   * Unique within the object: the name, or `name@0x<address>` when several
   * symbols (static functions of one name, or aliases) share it.
   */
  id: string;
  name: string;
  /** DWARF-view address of the first byte (synthetic section<<32|offset in a .o). */
  start: bigint;
  /** Bytes: st_size, clamped to the section, or up to the next symbol for a size-0 (assembly) entry. */
  size: number;
  sectionIndex: number;
  section: string;
  /** Offset of the first byte inside its section. */
  sectionOffset: number;
}

/** A symbol that names an address in a section (branch targets, relocation targets, data). */
export interface NamedSymbol {
  name: string;
  /** Offset in its section. */
  offset: number;
  size: number;
  /** A function or object names an address better than a NOTYPE label such as _edata. */
  typed: boolean;
}

/** A relocation of a code section, with the symbol table it indexes. */
export interface CodeReloc {
  rela: ElfRela;
  syms: ElfSymbol[];
}

/** A PC32/PLT32 relocation: at a call's rel32 it names the target in a .o. */
interface PcReloc {
  sym: ElfSymbol;
  addend: bigint;
  type: number;
}

/** Largest function we decode; anything bigger is not a function a driver author wrote. */
export const MAX_FUNCTION_BYTES = 4 << 20;

/** How far back to look for an enclosing symbol behind later-starting ones (aliases, nested labels). */
const ENCLOSING_LOOKBACK = 16;

/** How many of a function's first instructions hasFramePointer looks at. */
const FRAME_POINTER_WINDOW = 12;

/** A function sets up RBP as a frame pointer: `push rbp; mov rbp,rsp` among its first instructions. */
export function hasFramePointer(ins: readonly WalkedInstruction[]): boolean {
  for (let k = 0; k + 1 < Math.min(ins.length, FRAME_POINTER_WINDOW); k++) {
    if (ins[k]!.text === 'push rbp' && ins[k + 1]!.text === 'mov rbp,rsp') return true;
  }
  return false;
}


const byBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

const bySectionOffset = (a: FunctionCode, b: FunctionCode): number => a.sectionIndex - b.sectionIndex || a.sectionOffset - b.sectionOffset;

/**
 * The `sized` functions in address order, those at one address in symbol-table
 * order: each section's run (by offset, stably sorted) with the sections taken by
 * base address, checked, and sorted by address when sections overlap.
 */
function byStart(bySection: ReadonlyMap<number, readonly FunctionCode[]>, sized: ReadonlySet<FunctionCode>, bases: ReadonlyMap<number, bigint>): FunctionCode[] {
  const order = [...bySection.keys()].sort((a, b) => byBig(bases.get(a)!, bases.get(b)!) || a - b);
  const out: FunctionCode[] = [];
  for (const k of order) for (const f of bySection.get(k)!) if (sized.has(f)) out.push(f);
  for (let i = 1; i < out.length; i++) {
    const p = out[i - 1]!;
    const c = out[i]!;
    // Equal addresses in two sections: their symbol-table order decides, as below.
    if (p.start > c.start || (p.start === c.start && p.sectionIndex !== c.sectionIndex)) {
      return [...sized].sort((x, y) => byBig(x.start, y.start));
    }
  }
  return out;
}

/** Size-0 function symbols sized by one scan of the symbol table (more: through the named index). */
const FEW_UNSIZED = 16;

/** The offset in its section of a symbol that names an address there (see NamedSymbol), or undefined. */
function namedOffset(elf: BinaryObject['elf'], s: ElfSymbol): number | undefined {
  if (s.shndx === SHN_UNDEF || s.shndx >= SHN_LORESERVE || s.name === '' || s.name.startsWith('.L')) return undefined;
  if (s.type !== STT_FUNC && s.type !== STT_OBJECT && s.type !== STT_NOTYPE) return undefined;
  const sec = elf.sections[s.shndx];
  if (!sec) return undefined;
  const offset = Number(elf.type === ET_REL ? s.value : s.value - sec.addr);
  return offset < 0 || offset > sec.size ? undefined : offset;
}

const cache = new WeakMap<BinaryObject, ObjectCode>();

/** The one code index of an object (made on first use, kept as long as the object). */
export function codeOf(obj: BinaryObject): ObjectCode {
  let c = cache.get(obj);
  if (!c) cache.set(obj, (c = new ObjectCode(obj)));
  return c;
}

export class ObjectCode {
  /** Every function symbol with code, in section then offset order (aliases included). */
  readonly symbols: readonly FunctionCode[];
  /** The join's view: one symbol per address (sized, inside its section), by address. */
  private readonly fns: FunctionCode[];
  private readonly bySection = new Map<number, FunctionCode[]>();
  private byId: Map<string, FunctionCode> | undefined;
  private readonly decoded = new Map<FunctionCode, WalkedInstruction[]>();
  private readonly frames = new Map<FunctionCode, boolean>();
  private symbolIndex: { named: Map<number, NamedSymbol[]>; objects: Map<number, ElfSymbol[]> } | undefined;
  private codeRelocs: Map<number, CodeReloc[]> | undefined;
  private relocs: Map<number, Map<number, PcReloc>> | undefined;

  constructor(readonly obj: BinaryObject) {
    const elf = obj.elf;
    const rel = elf.type === ET_REL;
    const all: FunctionCode[] = [];
    /** Candidates for the join's view. */
    const sized = new Set<FunctionCode>();
    const bases = new Map<number, bigint>();
    let sized0 = false;
    for (const s of elf.functionSymbols()) {
      if (s.shndx >= SHN_LORESERVE) continue;
      const sec = elf.sections[s.shndx];
      if (!sec || (sec.flags & SHF_EXECINSTR) === 0) continue;
      const sectionOffset = Number(rel ? s.value : s.value - sec.addr);
      if (sectionOffset < 0 || sectionOffset > sec.size) continue;
      let base = bases.get(sec.index);
      if (base === undefined) bases.set(sec.index, (base = obj.addressOf(sec.index, 0)));
      const f: FunctionCode = {
        id: s.name, name: s.name, start: base + BigInt(sectionOffset),
        size: Math.min(s.size, sec.size - sectionOffset), sectionIndex: sec.index, section: sec.name, sectionOffset,
      };
      if (f.size === 0) sized0 = true;
      all.push(f);
      // The join's view: a sized symbol wholly inside its section.
      if (s.size !== 0 && sectionOffset + s.size <= sec.size) sized.add(f);
    }
    if (sized0) {
      // An assembly entry point without .size: like objdump, run to the next symbol.
      const unsized = all.filter((f) => f.size === 0);
      const next = new Map<FunctionCode, number>();
      if (unsized.length > FEW_UNSIZED) {
        const named = this.named();
        for (const f of unsized) {
          const list = named.get(f.sectionIndex) ?? [];
          const k = lastAtOrBefore(list, f.sectionOffset, (n) => n.offset) + 1;
          if (k < list.length) next.set(f, list[k]!.offset);
        }
      } else {
        // A vmlinux has one such entry among 130,000 symbols: one pass over them
        // instead of the whole named index (which only a disassembly view needs).
        const secs = new Set(unsized.map((f) => f.sectionIndex));
        for (const s of elf.symbols()) {
          if (!secs.has(s.shndx)) continue;
          const at = namedOffset(elf, s);
          if (at === undefined) continue;
          for (const f of unsized) {
            if (s.shndx === f.sectionIndex && at > f.sectionOffset && at < (next.get(f) ?? Infinity)) next.set(f, at);
          }
        }
      }
      for (const f of unsized) f.size = (next.get(f) ?? elf.sections[f.sectionIndex]!.size) - f.sectionOffset;
    }
    // A stable sort: symbols at one place stay in symbol-table order.
    all.sort(bySectionOffset);
    for (let i = 0; i < all.length; ) {
      let j = i + 1;
      while (j < all.length && all[j]!.sectionIndex === all[i]!.sectionIndex) j++;
      this.bySection.set(all[i]!.sectionIndex, all.slice(i, j));
      i = j;
    }
    // Aliases (same address) keep the first, global-preferred, name.
    const fns = byStart(this.bySection, sized, bases).filter((f, i, a) => i === 0 || a[i - 1]!.start !== f.start);
    const counts = new Map<string, number>();
    for (const f of all) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
    for (const f of all) if (counts.get(f.name)! > 1) f.id = `${f.name}@0x${f.start.toString(16)}`;
    this.symbols = all;
    this.fns = fns;
  }

  /** The join's functions: one per address, by address. */
  get functions(): readonly FunctionCode[] {
    return this.fns;
  }

  /**
   * The function whose bytes hold `addr`: the latest-starting one that does. Sized
   * symbols of hand-written assembly can nest, so the list is sorted by start but its
   * spans may overlap (outer [0,20) and inner [4,8): 12 is outer's).
   */
  functionAt(addr: bigint): FunctionCode | undefined {
    return enclosingAt(this.fns, addr, (f) => f.start, (f) => f.start + BigInt(f.size), ENCLOSING_LOOKBACK);
  }

  /**
   * The most specific symbol holding a DWARF address, aliases and nested entry
   * points included: the latest-starting one that contains it.
   */
  symbolHolding(addr: bigint): FunctionCode | undefined {
    const loc = this.obj.locate(addr);
    if (!loc) return undefined;
    const list = this.bySection.get(loc.sectionIndex);
    if (!list) return undefined;
    return enclosingAt(list, Number(loc.offset), (f) => f.sectionOffset, (f) => f.sectionOffset + f.size, ENCLOSING_LOOKBACK);
  }

  byName(name: string): FunctionCode | undefined {
    return this.fns.find((f) => f.name === name);
  }

  /** A symbol by id (see FunctionCode.id), or else the first of that name. */
  byIdOrName(id: string): FunctionCode | undefined {
    this.byId ??= new Map(this.symbols.map((f) => [f.id, f]));
    return this.byId.get(id) ?? this.symbols.find((f) => f.name === id);
  }

  /** Every instruction of the function, decoded once; `ip` is the DWARF-view address. */
  instructions(fn: FunctionCode): WalkedInstruction[] {
    let out = this.decoded.get(fn);
    if (out) return out;
    out = [];
    if (fn.size <= MAX_FUNCTION_BYTES) {
      const sec = this.obj.elf.sections[fn.sectionIndex]!;
      const code = this.obj.elf.sectionData(sec).subarray(fn.sectionOffset, fn.sectionOffset + fn.size);
      const w = new CodeWalker(code, fn.start);
      try {
        for (const i of w.walk()) out.push(i);
      } finally {
        w.free();
      }
    }
    this.decoded.set(fn, out);
    return out;
  }

  /**
   * The function sets up RBP as a frame pointer (push rbp; mov rbp,rsp near its
   * entry): from its decoded instructions when they are kept, else from its first
   * few alone (a whole-image pass asks this of functions it never decodes whole).
   */
  framePointer(fn: FunctionCode): boolean {
    const whole = this.decoded.get(fn);
    if (whole) return hasFramePointer(whole);
    let fp = this.frames.get(fn);
    if (fp === undefined) {
      const head: WalkedInstruction[] = [];
      this.walkFunction(fn, 0, fn.size, (i) => head.push(i) < FRAME_POINTER_WINDOW);
      this.frames.set(fn, (fp = hasFramePointer(head)));
    }
    return fp;
  }

  /**
   * Instructions with ip in [lo, hi), across functions, as instructionsIn gives
   * them, but decoded from `lo` only and not kept: the range of an inlined
   * instance starts at an instruction, so decoding from it finds the same
   * instructions a decode of the whole function would. For a pass that visits
   * each range once (the whole-image inventory); a function already decoded is
   * read from its decode.
   */
  *instructionsInRange(lo: bigint, hi: bigint): Generator<{ fn: FunctionCode; insn: WalkedInstruction }> {
    let addr = lo;
    while (addr < hi) {
      const fn = this.functionAt(addr);
      if (!fn) return;
      const end = fn.start + BigInt(fn.size);
      const whole = this.decoded.get(fn);
      if (whole) {
        for (const insn of whole) if (insn.ip >= lo && insn.ip < hi) yield { fn, insn };
      } else {
        const out: WalkedInstruction[] = [];
        const stop = hi < end ? hi : end;
        this.walkFunction(fn, Number(addr - fn.start), Number(stop - fn.start), (i) => (out.push(i), true));
        for (const insn of out) yield { fn, insn };
      }
      addr = end;
    }
  }

  /** Decodes `fn` from byte `from` while instructions start before `to`, as long as `each` says go on. */
  private walkFunction(fn: FunctionCode, from: number, to: number, each: (i: WalkedInstruction) => boolean): void {
    if (fn.size > MAX_FUNCTION_BYTES || from >= to) return;
    const sec = this.obj.elf.sections[fn.sectionIndex]!;
    const code = this.obj.elf.sectionData(sec).subarray(fn.sectionOffset, fn.sectionOffset + fn.size);
    const w = new CodeWalker(code, fn.start);
    try {
      for (const i of w.walk(from, to)) if (!each(i)) break;
    } finally {
      w.free();
    }
  }

  /** Instructions with ip in [lo, hi), across functions. */
  *instructionsIn(lo: bigint, hi: bigint): Generator<{ fn: FunctionCode; insn: WalkedInstruction }> {
    let addr = lo;
    while (addr < hi) {
      const fn = this.functionAt(addr);
      if (!fn) return;
      // Decoded in address order: start at the first instruction at or after lo.
      const all = this.instructions(fn);
      const a = partitionPoint(all.length, (i) => all[i]!.ip < lo);
      for (let k = a; k < all.length && all[k]!.ip < hi; k++) yield { fn, insn: all[k]! };
      addr = fn.start + BigInt(fn.size);
    }
  }

  /**
   * Name of a direct call's target: the relocation at its rel32 in a .o, else
   * the function symbol at the decoder's branch target (never the text's: iced
   * prints a target whose low 32 bits are zero as 0).
   */
  callTarget(fn: FunctionCode, insn: WalkedInstruction): string | undefined {
    if (insn.mnemonic !== 'call' && insn.mnemonic !== 'jmp') return undefined;
    if (this.obj.elf.type === ET_REL) {
      const r = this.relocIn(fn, insn);
      // No relocation: gas resolved a call within the section itself (a static function).
      if (!r) return this.functionEntered(fn, insn);
      if (!r.sym.name) return undefined;
      // A call to a static function in the same .o goes through its section symbol + addend.
      if (r.sym.type !== STT_FUNC && r.sym.shndx !== 0) {
        return this.functionAt((BigInt(r.sym.shndx) << 32n) + r.sym.value + r.addend + 4n)?.name ?? r.sym.name;
      }
      return r.sym.name;
    }
    return this.functionEntered(fn, insn);
  }

  /**
   * The function a branch enters at its first byte: a call, or a jmp that leaves
   * `fn` (a tail call). A jmp inside the function is control flow, not a call.
   */
  private functionEntered(fn: FunctionCode, insn: WalkedInstruction): string | undefined {
    const t = insn.branchTarget;
    if (t === undefined) return undefined;
    if (insn.mnemonic === 'jmp' && t >= fn.start && t < fn.start + BigInt(fn.size)) return undefined;
    const g = this.functionAt(t);
    return g && g.start === t ? g.name : undefined;
  }

  /**
   * The datum a RIP-relative operand names, as `symbol+offset`: in a .o through the
   * relocation at its disp32 (gas points a static variable's reference at its
   * section symbol, so that one is turned back into the variable's own symbol);
   * in a linked image through the object symbol holding the address.
   */
  dataRef(fn: FunctionCode, insn: WalkedInstruction): string | undefined {
    const m = insn.memory.find((x) => x.ripRelative) ?? (insn.address?.base === 'rip' ? insn.address : undefined);
    if (!m) return undefined;
    if (this.obj.elf.type !== ET_REL) {
      // iced gives a RIP-relative operand's displacement as the absolute target.
      const target = m.displacement;
      const s = this.objectSymbolAt(-1, target);
      return s ? `${s.name}+${target - s.value}` : `0x${target.toString(16)}`;
    }
    const r = this.relocIn(fn, insn);
    if (!r || r.type !== R_X86_64_PC32) return undefined;
    // The CPU adds disp32 to the next instruction's address: S + A + (length - k).
    const off = r.addend + BigInt(insn.length - r.at);
    if (r.sym.type === STT_SECTION) {
      const v = this.objectSymbolAt(r.sym.shndx, off);
      return v ? `${v.name}+${off - v.value}` : `${r.sym.name}+${off}`;
    }
    return `${r.sym.name}+${off}`;
  }

  /** The relocations of a code section whose place lies in [lo, hi) (section offsets), in offset order. */
  relocationsIn(sectionIndex: number, lo: number, hi: number): CodeReloc[] {
    const list = this.relocations().get(sectionIndex) ?? [];
    const l = BigInt(lo);
    const h = BigInt(hi);
    const a = partitionPoint(list.length, (i) => list[i]!.rela.offset < l);
    const out: CodeReloc[] = [];
    for (let i = a; i < list.length && list[i]!.rela.offset < h; i++) out.push(list[i]!);
    return out;
  }

  /**
   * "name", "name+0x10", or "section+0x10" for an offset in a section: the
   * symbol holding it, a function or object beating a bare label at one offset.
   */
  nameIn(sectionIndex: number, offset: number): string {
    const list = this.named().get(sectionIndex) ?? [];
    let hit: NamedSymbol | undefined;
    for (let i = lastAtOrBefore(list, offset, (x) => x.offset), n = 0; i >= 0 && n < ENCLOSING_LOOKBACK; i--, n++) {
      const c = list[i]!;
      if (offset === c.offset || offset < c.offset + c.size) {
        if (!hit || c.offset > hit.offset || (c.offset === hit.offset && c.typed && !hit.typed)) hit = c;
        if (c.offset < offset) break;
      }
    }
    const hex = (n: number): string => '0x' + n.toString(16);
    if (hit) return offset === hit.offset ? hit.name : `${hit.name}+${hex(offset - hit.offset)}`;
    const sec = this.obj.elf.sections[sectionIndex];
    return sec ? (offset === 0 ? sec.name : `${sec.name}+${hex(offset)}`) : hex(offset);
  }

  /** The PC-relative relocation inside an instruction's bytes (its rel32 or disp32) in a .o, and the byte it starts at. */
  private relocIn(fn: FunctionCode, insn: WalkedInstruction): (PcReloc & { at: number }) | undefined {
    const map = this.pcRelocs(fn.sectionIndex);
    const start = fn.sectionOffset + insn.offset;
    for (let k = 1; k < insn.length; k++) {
      const r = map.get(start + k);
      if (r) return { ...r, at: k };
    }
    return undefined;
  }

  /** Relocations of each code section of a .o, sorted by offset. */
  private relocations(): Map<number, CodeReloc[]> {
    if (this.codeRelocs) return this.codeRelocs;
    const out = new Map<number, CodeReloc[]>();
    const elf = this.obj.elf;
    if (elf.type === ET_REL) {
      for (const sec of elf.sections) {
        if ((sec.flags & SHF_EXECINSTR) === 0) continue;
        const list: CodeReloc[] = [];
        for (const rs of elf.relaSectionsFor(sec.index)) {
          const syms = elf.symbols(rs.link);
          for (const r of elf.relocations(rs)) list.push({ rela: r, syms });
        }
        if (list.length) {
          list.sort((a, b) => byBig(a.rela.offset, b.rela.offset));
          out.set(sec.index, list);
        }
      }
    }
    return (this.codeRelocs = out);
  }

  /** PC32/PLT32 relocations of a code section by offset: what its calls, jumps and RIP-relative operands refer to. */
  private pcRelocs(sectionIndex: number): Map<number, PcReloc> {
    this.relocs ??= new Map();
    let m = this.relocs.get(sectionIndex);
    if (m) return m;
    m = new Map();
    for (const { rela, syms } of this.relocations().get(sectionIndex) ?? []) {
      const sym = syms[rela.sym];
      if (sym && (rela.type === R_X86_64_PC32 || rela.type === R_X86_64_PLT32)) m.set(Number(rela.offset), { sym, addend: rela.addend, type: rela.type });
    }
    this.relocs.set(sectionIndex, m);
    return m;
  }

  /** One pass over the symbol table: named symbols per section, and data objects (for dataRef). */
  private symbolTables(): { named: Map<number, NamedSymbol[]>; objects: Map<number, ElfSymbol[]> } {
    if (this.symbolIndex) return this.symbolIndex;
    const elf = this.obj.elf;
    const rel = elf.type === ET_REL;
    const named = new Map<number, NamedSymbol[]>();
    const objects = new Map<number, ElfSymbol[]>();
    for (const s of elf.symbols()) {
      if (s.type === STT_OBJECT) {
        // In a linked image a datum is found by its absolute address, across sections.
        const k = rel ? s.shndx : -1;
        const list = objects.get(k) ?? [];
        list.push(s);
        objects.set(k, list);
      }
      const offset = namedOffset(elf, s);
      if (offset === undefined) continue;
      let list = named.get(s.shndx);
      if (!list) named.set(s.shndx, (list = []));
      list.push({ name: s.name, offset, size: s.size, typed: s.type !== STT_NOTYPE });
    }
    for (const list of named.values()) list.sort((a, b) => a.offset - b.offset);
    for (const l of objects.values()) l.sort((a, b) => byBig(a.value, b.value));
    return (this.symbolIndex = { named, objects });
  }

  private named(): Map<number, NamedSymbol[]> {
    return this.symbolTables().named;
  }

  /** The data symbol holding `value` (in section `shndx` of a .o; -1: any, for a linked image). */
  private objectSymbolAt(shndx: number, value: bigint): ElfSymbol | undefined {
    const list = this.symbolTables().objects.get(shndx);
    if (!list) return undefined;
    const best = list[lastAtOrBefore(list, value, (s) => s.value)];
    return best && value < best.value + BigInt(Math.max(1, Number(best.size))) ? best : undefined;
  }

  /** Drops decoded functions (the object and its symbol index stay). */
  release(): void {
    this.decoded.clear();
  }
}
