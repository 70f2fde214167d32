// Which instructions of a function touch MMIO: a forward dataflow over the
// decoded function, to a fixpoint across its branches, of what each register
// (and each stack slot the compiler spills to) holds:
//
//   MMIO       an address inside an ioremap()ed region (or derived from one by
//              mov/lea/add/sub/and/or/shift/inc/dec),
//   ptr(S)     a pointer to an ordinary struct S (DWARF type), so a load from
//              it at offset k reads S's member at k,
//   unknown    anything else.
//
// A memory operand whose base or index holds MMIO is an MMIO access; the load
// of an MMIO pointer from RAM (`mov rax,[rbx+30h]`) is not, nor is a RAM access
// with an MMIO-derived value. What the registers hold at entry, what a member,
// global or call yields, comes from `DataflowFacts` (DWARF and the source, in
// facts.ts); stores of MMIO into members, globals and return values are
// reported back so facts can learn them and the object be run again.
import type { WalkedInstruction, MemoryAccess } from '../../x86/iced';
import { STRING_INSN } from './strings';
import { partitionPoint } from '../../sorted';

/** -1: MMIO; 0: unknown; > 0: pointer to the struct whose DIE is at that .debug_info offset. */
export type Val = number;
export const MMIO: Val = -1;
export const UNKNOWN: Val = 0;

/** DWARF says: over [lo, hi) register `reg` holds a variable whose value is `value`. */
export interface RegisterHint {
  lo: bigint;
  hi: bigint;
  reg: number;
  value: Val;
}

export interface DataflowFacts {
  /** What the registers (GPR numbers 0-15) hold at the function's entry. */
  entry(fn: string): ReadonlyMap<number, Val>;
  /** Typed variables' register locations inside the function (location lists). */
  hints(fn: string): readonly RegisterHint[];
  /** The 8-byte value loaded from offset `offset` of a struct `struct`. */
  member(struct: number, offset: number): Val;
  /** `lea r,[p+offset]` for p a pointer to `struct`: a pointer to the embedded struct there, if one starts there. */
  memberAddress(struct: number, offset: number): Val;
  /** The value loaded from a global (`symbol+offset`, code.ts's dataRef). */
  global(ref: string): Val;
  /** `lea r,[rip+global]`: a pointer to the global's struct type, if it is one. */
  globalAddress(ref: string): Val;
  /** RAX after a call of `callee` (ioremap() and friends, functions learned to return MMIO). */
  returns(callee: string): Val;
  /** Learned: an MMIO value is stored into a member / a global / returned. True when that is news. */
  learnMember(struct: number, offset: number): boolean;
  learnGlobal(ref: string): boolean;
  learnReturn(fn: string): boolean;
}

export interface CodeView {
  instructions: readonly WalkedInstruction[];
  framePointer: boolean;
  callTarget(insn: WalkedInstruction): string | undefined;
  dataRef(insn: WalkedInstruction): string | undefined;
}

export interface MmioAccess {
  /** Index into the function's instructions. */
  index: number;
  /** The MMIO operand's direction and width. */
  access: MemoryAccess;
}

export interface FunctionFlow {
  accesses: MmioAccess[];
  /** Learned facts changed: run the object again. */
  learned: boolean;
  /** The fixpoint was cut short (a function too big or too branchy): treat as incomplete. */
  truncated: boolean;
}

const GPR: Record<string, number> = {};
{
  const q = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
  const d = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
  const w = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
  const b = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
  for (let i = 0; i < 8; i++) {
    GPR[q[i]!] = i;
    GPR[d[i]!] = i;
    GPR[w[i]!] = i;
    GPR[b[i]!] = i;
  }
  for (let i = 8; i < 16; i++) {
    GPR[`r${i}`] = i;
    GPR[`r${i}d`] = i;
    GPR[`r${i}w`] = i;
    GPR[`r${i}l`] = i;
  }
  for (const [n, i] of [['ah', 0], ['ch', 1], ['dh', 2], ['bh', 3]] as const) GPR[n] = i;
}
export const gprIndex = (name: string | null | undefined): number | undefined => (name ? GPR[name.toLowerCase()] : undefined);

const RSP = 4;
const RBP = 5;
/** Caller-saved registers a call clobbers (System V): rax rcx rdx rsi rdi r8-r11. */
const CLOBBERED = [0, 1, 2, 6, 7, 8, 9, 10, 11];
/** Instructions that write no register operand. */
const NO_WRITE = /^(cmp|test|bt|push|nop|endbr64|ud2|int3|lfence|mfence|sfence|pause|clflush|prefetch\w*|j\w+|call|ret|leave)$/;
/** Instructions that keep an MMIO address an MMIO address (alignment, advancing, scaling an offset). */
const KEEPS = /^(add|sub|and|or|shl|shr|sar|inc|dec|adc|sbb)$/;
/** Implicit register writes, GPR numbers. */
const IMPLICIT: Record<string, number[]> = {
  cdq: [2], cqo: [2], cwd: [2], cdqe: [0], cwde: [0], cbw: [0],
  mul: [0, 2], div: [0, 2], idiv: [0, 2],
  cpuid: [0, 1, 2, 3], rdmsr: [0, 2], rdtsc: [0, 2], rdtscp: [0, 1, 2], xgetbv: [0, 2],
  cmpxchg: [0], in: [0], syscall: [1, 11], lodsb: [0], lodsw: [0], lodsd: [0], lodsq: [0],
};
/** Calls that clobber nothing (the ftrace entry the kernel builds with -mfentry / -pg). */
const PRESERVES_ALL: ReadonlySet<string> = new Set(['__fentry__', 'mcount', '__mcount', '__sanitizer_cov_trace_pc']);
/** What `ret` becomes in a kernel built with CONFIG_RETHUNK. */
const RETURN_THUNK = '__x86_return_thunk';
/** Joins the analysis gives up on: a function this big or this branchy is not driver code we can afford. */
const MAX_INSNS = 40_000;
const MAX_VISITS_PER_INSN = 64;

interface State {
  r: Val[];
  /** Stack slots by offset from the entry RSP (`s`) or from RBP in a frame-pointer function (`b`). */
  slots: Map<string, Val>;
  /** RSP minus RSP at entry; NaN once unknowable (alloca). */
  sp: number;
}

function clone(s: State): State {
  return { r: s.r.slice(), slots: new Map(s.slots), sp: s.sp };
}

/** May-analysis for MMIO (either path gives MMIO), must-analysis for struct pointers. */
function meet(a: Val, b: Val): Val {
  if (a === b) return a;
  if (a === MMIO || b === MMIO) return MMIO;
  return UNKNOWN;
}

/** Merges `from` into `into`; true when `into` changed. */
function merge(into: State, from: State): boolean {
  let changed = false;
  for (let i = 0; i < 16; i++) {
    const m = meet(into.r[i]!, from.r[i]!);
    if (m !== into.r[i]) {
      into.r[i] = m;
      changed = true;
    }
  }
  for (const [k, v] of into.slots) {
    const m = meet(v, from.slots.get(k) ?? UNKNOWN);
    if (m !== v) {
      if (m === UNKNOWN) into.slots.delete(k);
      else into.slots.set(k, m);
      changed = true;
    }
  }
  for (const [k, v] of from.slots) {
    if (v === MMIO && !into.slots.has(k)) {
      into.slots.set(k, MMIO);
      changed = true;
    }
  }
  if (into.sp !== from.sp && !Number.isNaN(into.sp)) {
    into.sp = NaN;
    changed = true;
  }
  return changed;
}

const regOf = (m: MemoryAccess): { base?: number; index?: number } => ({ base: gprIndex(m.base), index: gprIndex(m.index) });

/** The MMIO dataflow of one function. */
export function analyseFunction(name: string, code: CodeView, facts: DataflowFacts): FunctionFlow {
  const ins = code.instructions;
  const out: FunctionFlow = { accesses: [], learned: false, truncated: false };
  if (!ins.length) return out;
  if (ins.length > MAX_INSNS) {
    out.truncated = true;
    return out;
  }
  const byIp = new Map<bigint, number>();
  ins.forEach((x, i) => byIp.set(x.ip, i));
  const entry: State = { r: new Array<Val>(16).fill(UNKNOWN), slots: new Map(), sp: 0 };
  for (const [g, v] of facts.entry(name)) entry.r[g] = v;
  // Per instruction, the DWARF location hints that hold there (applied before it runs).
  const hintAt = new Map<number, RegisterHint[]>();
  for (const h of facts.hints(name)) {
    for (let k = partitionPoint(ins.length, (i) => ins[i]!.ip < h.lo); k < ins.length && ins[k]!.ip < h.hi; k++) {
      {
        const l = hintAt.get(k);
        if (l) l.push(h);
        else hintAt.set(k, [h]);
      }
    }
  }
  const states: (State | undefined)[] = new Array(ins.length);
  states[0] = entry;
  const visits = new Uint16Array(ins.length);
  const work: number[] = [0];
  const queued = new Uint8Array(ins.length);
  queued[0] = 1;
  const fp = code.framePointer;

  const slotKey = (m: MemoryAccess, s: State): string | undefined => {
    if (m.index) return undefined;
    const b = gprIndex(m.base);
    if (b === RSP) return Number.isNaN(s.sp) ? undefined : `s${s.sp + Number(m.displacement)}`;
    if (b === RBP && fp) return `b${Number(m.displacement)}`;
    return undefined;
  };
  /** The value a load through memory operand m gives (8-byte loads only carry pointers). */
  const loaded = (insn: WalkedInstruction, m: MemoryAccess, s: State, width: number): Val => {
    if (width !== 8) return UNKNOWN;
    if (m.ripRelative) {
      const ref = code.dataRef(insn);
      return ref ? facts.global(ref) : UNKNOWN;
    }
    const slot = slotKey(m, s);
    if (slot) return s.slots.get(slot) ?? UNKNOWN;
    const { base, index } = regOf(m);
    if (base === undefined || index !== undefined) return UNKNOWN;
    const bv = s.r[base]!;
    return bv > 0 ? facts.member(bv, Number(m.displacement)) : UNKNOWN;
  };
  const isMmioAddress = (m: MemoryAccess, s: State): boolean => {
    if (m.ripRelative || slotKey(m, s)) return false;
    const { base, index } = regOf(m);
    return (base !== undefined && base !== RSP && s.r[base] === MMIO) || (index !== undefined && s.r[index] === MMIO);
  };
  const storeLearns = (insn: WalkedInstruction, m: MemoryAccess, s: State, v: Val): void => {
    if (v !== MMIO) return;
    if (m.ripRelative) {
      const ref = code.dataRef(insn);
      if (ref && facts.learnGlobal(ref)) out.learned = true;
      return;
    }
    const { base, index } = regOf(m);
    if (base === undefined || index !== undefined) return;
    const bv = s.r[base]!;
    if (bv > 0 && facts.learnMember(bv, Number(m.displacement))) out.learned = true;
  };

  const accessAt = new Map<number, MemoryAccess>();
  while (work.length) {
    const i = work.pop()!;
    queued[i] = 0;
    if (++visits[i]! > MAX_VISITS_PER_INSN) {
      out.truncated = true;
      continue;
    }
    const insn = ins[i]!;
    const s = clone(states[i]!);
    for (const h of hintAt.get(i) ?? []) {
      // A typed variable is where DWARF says; MMIO that the flow already derived wins over a struct type.
      if (h.reg !== RSP && (s.r[h.reg] === UNKNOWN || h.value === MMIO)) s.r[h.reg] = h.value;
    }
    const mn = insn.mnemonic;
    // Accesses are judged on the state before the instruction.
    for (const m of insn.memory) {
      if (isMmioAddress(m, s)) accessAt.set(i, m);
    }
    step(insn, s);
    // Successors.
    const succ: number[] = [];
    const next = i + 1 < ins.length ? i + 1 : -1;
    const target = insn.branchTarget !== undefined ? byIp.get(insn.branchTarget) : undefined;
    const external = (mn === 'jmp' || mn === 'call') ? code.callTarget(insn) : undefined;
    if (mn === 'jmp') {
      // A jmp with a relocation is a tail call or the return thunk (`jmp __x86_return_thunk`
      // for `ret` under retbleed mitigations); in a .o its rel32 still points at the next byte.
      if (external === RETURN_THUNK && s.r[0] === MMIO && facts.learnReturn(name)) out.learned = true;
      if (external === undefined && target !== undefined) succ.push(target);
    } else if (mn.startsWith('j') || mn.startsWith('loop')) {
      if (next >= 0) succ.push(next);
      if (target !== undefined) succ.push(target);
    } else if (mn === 'ret' || mn === 'ud2' || mn === 'int3' || (mn === 'call' && /^(__stack_chk_fail|panic|BUG|__ubsan_handle\w*|do_exit|__fortify_panic)$/.test(code.callTarget(insn) ?? ''))) {
      // no successor
    } else if (next >= 0) succ.push(next);
    for (const t of succ) {
      const cur = states[t];
      if (!cur) states[t] = clone(s);
      else if (!merge(cur, s)) continue;
      if (!queued[t]) {
        queued[t] = 1;
        work.push(t);
      }
    }
  }
  out.accesses = [...accessAt].sort((a, b) => a[0] - b[0]).map(([index, access]) => ({ index, access }));
  return out;

  function step(insn: WalkedInstruction, s: State): void {
    const mn = insn.mnemonic;
    const op0 = insn.operands[0];
    const op1 = insn.operands[1];
    const dst = op0?.kind === 'register' ? gprIndex(op0.register) : undefined;
    const dstWidth = op0?.gpr?.width ?? 0;
    const srcReg = op1?.kind === 'register' ? gprIndex(op1.register) : undefined;
    const mem = insn.memory.find((m) => !m.string);
    const set = (g: number | undefined, v: Val) => {
      if (g === undefined) return;
      if (g === RSP) s.sp = NaN;
      else s.r[g] = v;
    };
    // Stack pointer bookkeeping.
    if (mn === 'push') {
      const v = op0?.kind === 'register' ? s.r[gprIndex(op0.register) ?? 16] ?? UNKNOWN : UNKNOWN;
      s.sp -= 8;
      if (!Number.isNaN(s.sp)) {
        if (v === UNKNOWN) s.slots.delete(`s${s.sp}`);
        else s.slots.set(`s${s.sp}`, v);
      }
      return;
    }
    if (mn === 'pop') {
      const v = Number.isNaN(s.sp) ? UNKNOWN : s.slots.get(`s${s.sp}`) ?? UNKNOWN;
      s.sp += 8;
      if (dst !== undefined && dst !== RSP) s.r[dst] = v;
      return;
    }
    if (dst === RSP) {
      const imm = op1?.kind === 'immediate' ? Number(BigInt.asIntN(64, op1.immediate!)) : undefined;
      if (mn === 'sub' && imm !== undefined) s.sp -= imm;
      else if (mn === 'add' && imm !== undefined) s.sp += imm;
      else if (mn === 'and') { /* alignment: offsets from entry no longer exact, slots addressed after it are still consistent */ }
      else s.sp = NaN;
      return;
    }
    if (mn === 'leave') {
      s.sp = NaN;
      return;
    }
    if (mn === 'call') {
      const callee = code.callTarget(insn);
      // ftrace's patched-in call saves and restores every register.
      if (callee && PRESERVES_ALL.has(callee)) return;
      for (const g of CLOBBERED) s.r[g] = UNKNOWN;
      s.r[0] = callee ? facts.returns(callee) : UNKNOWN;
      return;
    }
    if (mn === 'ret') {
      if (s.r[0] === MMIO && facts.learnReturn(name)) out.learned = true;
      return;
    }
    if (STRING_INSN.test(insn.text)) {
      // RSI/RDI advance and keep what they point into; RCX counts down.
      if (/movs|stos|ins|outs/.test(mn) && insn.hasRep) s.r[1] = UNKNOWN;
      if (/^lods/.test(mn)) s.r[0] = UNKNOWN;
      return;
    }
    // Stores: to a stack slot (a spill), or of MMIO to a member/global (learned).
    if (mem && op0?.kind === 'memory' && (mem.access === 'W' || mem.access === 'RW')) {
      const v = srcReg !== undefined && op1?.gpr?.width === 8 ? s.r[srcReg]! : UNKNOWN;
      const slot = slotKey(mem, s);
      if (slot) {
        if (v === UNKNOWN || mn !== 'mov') s.slots.delete(slot);
        else s.slots.set(slot, v);
      } else if (mn === 'mov') storeLearns(insn, mem, s, v);
      if (mn === 'xchg' && srcReg !== undefined) s.r[srcReg] = UNKNOWN;
      return;
    }
    for (const g of IMPLICIT[mn] ?? []) s.r[g] = UNKNOWN;
    if (dst === undefined || NO_WRITE.test(mn)) {
      if (mn === 'xchg' && op0?.kind === 'register' && srcReg !== undefined) {
        const a = gprIndex(op0.register)!;
        [s.r[a], s.r[srcReg]] = [s.r[srcReg]!, s.r[a]!];
      }
      return;
    }
    const cur = s.r[dst]!;
    if (mn === 'mov' || mn.startsWith('cmov')) {
      let v: Val = UNKNOWN;
      if (dstWidth === 8) {
        if (srcReg !== undefined) v = s.r[srcReg]!;
        else if (mem) v = loaded(insn, mem, s, 8);
      }
      set(dst, mn === 'mov' ? v : meet(cur, v));
      return;
    }
    if (mn === 'lea') {
      let v: Val = UNKNOWN;
      const a = insn.address;
      if (a && dstWidth === 8) {
        const base = gprIndex(a.base);
        const index = gprIndex(a.index);
        const bv = base === undefined ? UNKNOWN : s.r[base]!;
        const iv = index === undefined ? UNKNOWN : s.r[index]!;
        if (bv === MMIO || iv === MMIO) v = MMIO;
        else if (bv > 0 && index === undefined) v = a.displacement === 0n ? bv : facts.memberAddress(bv, Number(a.displacement));
        else if (a.base === 'rip') {
          const ref = code.dataRef(insn);
          v = ref ? facts.globalAddress(ref) : UNKNOWN;
        }
      }
      set(dst, v);
      return;
    }
    if (mn === 'xor' && srcReg === dst) {
      set(dst, UNKNOWN);
      return;
    }
    if (KEEPS.test(mn) && dstWidth === 8) {
      // MMIO + anything stays MMIO; unknown + MMIO register (add) becomes MMIO.
      if (cur === MMIO) return;
      if (mn === 'add' && srcReg !== undefined && s.r[srcReg] === MMIO) {
        set(dst, MMIO);
        return;
      }
      if (mn === 'add' && mem && cur === UNKNOWN && loaded(insn, mem, s, 8) === MMIO) {
        set(dst, MMIO);
        return;
      }
      set(dst, UNKNOWN);
      return;
    }
    set(dst, UNKNOWN);
  }
}
