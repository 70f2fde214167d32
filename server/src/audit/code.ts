// The code of one object as the join needs it: function symbols by address,
// each function decoded once (iced, one walker per function, freed at once)
// and kept as plain data, and call targets resolved through relocations in a
// .o (where every call reads `call 0x0` until the linker runs).

import type { BinaryObject, ElfSymbol } from '../binary/index';
import { ET_REL, STT_FUNC, STT_OBJECT, STT_SECTION, SHF_EXECINSTR } from '../binary/index';
import { CodeWalker, type WalkedInstruction } from '../x86/iced';

export interface FunctionCode {
  name: string;
  /** DWARF-view address of the first byte. */
  start: bigint;
  size: number;
  sectionIndex: number;
  section: string;
  /** Offset of the first byte inside its section. */
  sectionOffset: number;
}

/** R_X86_64_PC32 / PLT32 at a call's rel32 name its target in a .o. */
const R_X86_64_PC32 = 2;
const R_X86_64_PLT32 = 4;

interface PcReloc {
  sym: ElfSymbol;
  addend: bigint;
  type: number;
}

/** Largest function we decode; anything bigger is not a function a driver author wrote. */
const MAX_FUNCTION_BYTES = 4 << 20;

/** A function sets up RBP as a frame pointer: `push rbp; mov rbp,rsp` among its first instructions. */
export function hasFramePointer(ins: readonly WalkedInstruction[]): boolean {
  for (let k = 0; k + 1 < Math.min(ins.length, 12); k++) {
    if (ins[k]!.text === 'push rbp' && ins[k + 1]!.text === 'mov rbp,rsp') return true;
  }
  return false;
}

export class ObjectCode {
  private readonly fns: FunctionCode[];
  private readonly decoded = new Map<bigint, WalkedInstruction[]>();
  private relocs: Map<number, Map<number, PcReloc>> | undefined;

  constructor(readonly obj: BinaryObject) {
    const elf = obj.elf;
    const rel = elf.type === ET_REL;
    const fns: FunctionCode[] = [];
    const seen = new Set<bigint>();
    for (const s of elf.functionSymbols()) {
      if (s.size === 0 || s.shndx >= elf.sections.length) continue;
      const sec = elf.sections[s.shndx];
      if (!sec || (sec.flags & SHF_EXECINSTR) === 0) continue;
      const start = rel ? (BigInt(s.shndx) << 32n) + s.value : s.value;
      // Aliases (same address) keep the first, global-preferred, name.
      if (seen.has(start)) continue;
      seen.add(start);
      const sectionOffset = Number(rel ? s.value : s.value - sec.addr);
      if (sectionOffset < 0 || sectionOffset + s.size > sec.size) continue;
      fns.push({ name: s.name, start, size: s.size, sectionIndex: s.shndx, section: sec.name, sectionOffset });
    }
    fns.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.fns = fns;
  }

  get functions(): readonly FunctionCode[] {
    return this.fns;
  }

  /** The function symbol whose bytes hold `addr`. */
  functionAt(addr: bigint): FunctionCode | undefined {
    let lo = 0;
    let hi = this.fns.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = this.fns[mid]!;
      if (addr < f.start) hi = mid - 1;
      else if (addr >= f.start + BigInt(f.size)) lo = mid + 1;
      else return f;
    }
    return undefined;
  }

  byName(name: string): FunctionCode | undefined {
    return this.fns.find((f) => f.name === name);
  }

  /** Every instruction of the function, decoded once; `ip` is the DWARF-view address. */
  instructions(fn: FunctionCode): WalkedInstruction[] {
    let out = this.decoded.get(fn.start);
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
    this.decoded.set(fn.start, out);
    return out;
  }

  /** The function sets up RBP as a frame pointer (push rbp; mov rbp,rsp near its entry). */
  framePointer(fn: FunctionCode): boolean {
    return hasFramePointer(this.instructions(fn));
  }

  /** Instructions with ip in [lo, hi), across functions. */
  *instructionsIn(lo: bigint, hi: bigint): Generator<{ fn: FunctionCode; insn: WalkedInstruction }> {
    let addr = lo;
    while (addr < hi) {
      const fn = this.functionAt(addr);
      if (!fn) return;
      for (const insn of this.instructions(fn)) {
        if (insn.ip >= lo && insn.ip < hi) yield { fn, insn };
      }
      addr = fn.start + BigInt(fn.size);
    }
  }

  /**
   * Name of a direct call's target: the relocation at its rel32 in a .o, the
   * function symbol at the target address in a linked image.
   */
  callTarget(fn: FunctionCode, insn: WalkedInstruction): string | undefined {
    if (insn.mnemonic !== 'call' && insn.mnemonic !== 'jmp') return undefined;
    if (this.obj.elf.type === ET_REL) {
      const r = this.relocIn(fn, insn);
      if (!r || !r.sym.name) return undefined;
      // A call to a static function in the same .o goes through its section symbol + addend.
      if (r.sym.type !== STT_FUNC && r.sym.shndx !== 0) {
        return this.functionAt((BigInt(r.sym.shndx) << 32n) + r.sym.value + r.addend + 4n)?.name ?? r.sym.name;
      }
      return r.sym.name;
    }
    const m = /\b(?:0x)?([0-9a-f]{6,16})h?\b/i.exec(insn.text);
    if (!m) return undefined;
    const target = this.functionAt(BigInt('0x' + m[1]));
    return target?.name;
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

  /** PC32/PLT32 relocations of a code section by offset: what its calls, jumps and RIP-relative operands refer to. */
  private pcRelocs(sectionIndex: number): Map<number, PcReloc> {
    this.relocs ??= new Map();
    let m = this.relocs.get(sectionIndex);
    if (m) return m;
    m = new Map();
    const elf = this.obj.elf;
    for (const rs of elf.relaSectionsFor(sectionIndex)) {
      const syms = elf.symbols(rs.link);
      for (const r of elf.relocations(rs)) {
        const sym = syms[r.sym];
        if (sym && (r.type === R_X86_64_PC32 || r.type === R_X86_64_PLT32)) m.set(Number(r.offset), { sym, addend: r.addend, type: r.type });
      }
    }
    this.relocs.set(sectionIndex, m);
    return m;
  }

  private objectSymbols: Map<number, ElfSymbol[]> | undefined;

  /** The data symbol holding `value` (in section `shndx` of a .o; -1: any, for a linked image). */
  private objectSymbolAt(shndx: number, value: bigint): ElfSymbol | undefined {
    if (!this.objectSymbols) {
      this.objectSymbols = new Map();
      for (const x of this.obj.elf.symbols()) {
        if (x.type !== STT_OBJECT) continue;
        const k = this.obj.elf.type === ET_REL ? x.shndx : -1;
        const list = this.objectSymbols.get(k) ?? [];
        list.push(x);
        this.objectSymbols.set(k, list);
      }
      for (const l of this.objectSymbols.values()) l.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    }
    const list = this.objectSymbols.get(shndx);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    let best: ElfSymbol | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.value <= value) {
        best = list[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best && value < best.value + BigInt(Math.max(1, Number(best.size))) ? best : undefined;
  }

  /** Drops decoded functions (the object stays open). */
  release(): void {
    this.decoded.clear();
  }
}
