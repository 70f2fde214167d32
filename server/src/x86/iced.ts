// The CPU's view of an instruction, from iced-x86 (WASM). Every WASM object
// made here is either a long-lived singleton (Formatter, Instruction,
// InstructionInfoFactory) or freed before the function returns: the audit
// walks whole object files, and a leaked Decoder per instruction would grow
// the WASM heap without bound.
import type * as Iced from 'iced-x86';

// iced-x86 is required on first use, not when this module loads: its 0.9 MB of
// JavaScript and 0.8 MB of WASM cost ~0.08 s of CPU per thread, and the CLI's
// main thread and a worker whose files have no site never decode anything.
type Register = Iced.Register;
type OpAccess = Iced.OpAccess;
type Decoder = Iced.Decoder;
type Formatter = Iced.Formatter;
type Instruction = Iced.Instruction;
type InstructionInfoFactory = Iced.InstructionInfoFactory;
let Code: typeof Iced.Code;
let Decoder: typeof Iced.Decoder;
let DecoderOptions: typeof Iced.DecoderOptions;
let Formatter: typeof Iced.Formatter;
let FormatterSyntax: typeof Iced.FormatterSyntax;
let Instruction: typeof Iced.Instruction;
let InstructionInfoFactory: typeof Iced.InstructionInfoFactory;
let MemorySizeExt: typeof Iced.MemorySizeExt;
let OpAccess: typeof Iced.OpAccess;
let OpKind: typeof Iced.OpKind;
let Register: typeof Iced.Register;
let STACK_REGS: Set<Register>;
let loaded = false;

function loadIced(): void {
  if (loaded) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require('iced-x86') as typeof Iced;
  ({ Code, Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction, InstructionInfoFactory, MemorySizeExt, OpAccess, OpKind, Register } = m);
  STACK_REGS = new Set<Register>([Register.RSP, Register.ESP, Register.SP, Register.RBP, Register.EBP, Register.BP]);
  loaded = true;
}

export type Access = 'R' | 'W' | 'RW';

export interface MemoryAccess {
  /** Bytes the CPU reads or writes through this operand. */
  width: number;
  access: Access;
  base: string | null;
  index: string | null;
  scale: number;
  displacement: bigint;
  segment: string | null;
  /** Base or index is RSP/RBP (or their narrower names): a stack slot, not device memory. */
  stack: boolean;
  /** RIP-relative: a global, not an ioremap()ed pointer. */
  ripRelative: boolean;
  /** Implicit string operand ([rsi]/[rdi] of MOVS etc.). */
  string: boolean;
}

export interface CpuOperand {
  kind: 'register' | 'memory' | 'immediate' | 'other';
  register?: string;
  /** GPR number 0-15 and the byte offset inside it (1 for AH/CH/DH/BH). */
  gpr?: { index: number; width: number; highByte: boolean };
  immediate?: bigint;
}

export interface CpuView {
  /** iced decoded a valid instruction. false means the CPU raises #UD (or the bytes are truncated). */
  valid: boolean;
  length: number;
  text: string;
  mnemonic: string;
  operands: CpuOperand[];
  memory: MemoryAccess[];
  hasLock: boolean;
  hasRep: boolean;
  encoding: 'legacy' | 'vex' | 'evex' | 'xop' | '3dnow' | 'mvex';
  /** LEA's address operand, which touches no memory and so is not in `memory`. */
  address?: { base: string | null; index: string | null; displacement: bigint };
  /** A direct near JMP/Jcc/CALL/LOOP's target address (the MMIO dataflow's control flow). */
  branchTarget?: bigint;
}

let formatter: Formatter | null = null;
let scratch: Instruction | null = null;
let infoFactory: InstructionInfoFactory | null = null;

function singletons(): { fmt: Formatter; ins: Instruction; fac: InstructionInfoFactory } {
  if (!formatter) {
    loadIced();
    formatter = new Formatter(FormatterSyntax.Intel);
    scratch = new Instruction();
    infoFactory = new InstructionInfoFactory();
  }
  return { fmt: formatter, ins: scratch!, fac: infoFactory! };
}


/** Register -> (GPR number, width in bytes, high-byte?) for the 64-bit GPR file. */
export function gprOf(r: Register): { index: number; width: number; highByte: boolean } | null {
  loadIced();
  if (r >= Register.AL && r <= Register.BL) return { index: r - Register.AL, width: 1, highByte: false };
  if (r >= Register.AH && r <= Register.BH) return { index: r - Register.AH, width: 1, highByte: true };
  if (r >= Register.SPL && r <= Register.R15L) return { index: r - Register.SPL + 4, width: 1, highByte: false };
  if (r >= Register.AX && r <= Register.R15W) return { index: r - Register.AX, width: 2, highByte: false };
  if (r >= Register.EAX && r <= Register.R15D) return { index: r - Register.EAX, width: 4, highByte: false };
  if (r >= Register.RAX && r <= Register.R15) return { index: r - Register.RAX, width: 8, highByte: false };
  return null;
}

const regName = (r: Register): string | null => (r === Register.None ? null : String(Register[r]).toLowerCase());

function accessOf(a: OpAccess): Access | null {
  switch (a) {
    case OpAccess.Read:
    case OpAccess.CondRead:
      return 'R';
    case OpAccess.Write:
    case OpAccess.CondWrite:
      return 'W';
    case OpAccess.ReadWrite:
    case OpAccess.ReadCondWrite:
      return 'RW';
    default:
      return null;
  }
}

const ENCODINGS: CpuView['encoding'][] = ['legacy', 'vex', 'evex', 'xop', '3dnow', 'mvex'];

/** Fill a CpuView from the decoded scratch instruction. */
function view(ins: Instruction, fmt: Formatter, fac: InstructionInfoFactory): CpuView {
  const valid = ins.code !== Code.INVALID;
  const out: CpuView = {
    valid,
    length: ins.length,
    text: valid ? fmt.format(ins) : '(bad)',
    mnemonic: valid ? fmt.formatMnemonic(ins) : '(bad)',
    operands: [],
    memory: [],
    hasLock: ins.hasLockPrefix,
    hasRep: ins.hasRepPrefix || ins.hasRepnePrefix,
    encoding: ENCODINGS[ins.encoding] ?? 'legacy',
  };
  if (!valid) return out;
  const info = fac.info(ins);
  try {
    const n = ins.opCount;
    for (let i = 0; i < n; i++) {
      const k = ins.opKind(i);
      if (k === OpKind.Register) {
        const r = ins.opRegister(i);
        out.operands.push({ kind: 'register', register: regName(r) ?? undefined, gpr: gprOf(r) ?? undefined });
      } else if (k === OpKind.Memory) {
        out.operands.push({ kind: 'memory' });
        const acc = accessOf(info.opAccess(i));
        if (!acc) out.address = { base: regName(ins.memoryBase), index: regName(ins.memoryIndex), displacement: ins.memoryDisplacement };
        if (acc) {
          const base = ins.memoryBase, index = ins.memoryIndex;
          out.memory.push({
            width: MemorySizeExt.size(ins.memorySize),
            access: acc,
            base: regName(base),
            index: regName(index),
            scale: ins.memoryIndexScale,
            displacement: ins.memoryDisplacement,
            segment: ins.hasSegmentPrefix ? regName(ins.segmentPrefix) : null,
            stack: STACK_REGS.has(base) || STACK_REGS.has(index),
            ripRelative: base === Register.RIP || base === Register.EIP,
            string: false,
          });
        }
      } else if (
        k === OpKind.Immediate8 || k === OpKind.Immediate16 || k === OpKind.Immediate32 || k === OpKind.Immediate64 ||
        k === OpKind.Immediate8to16 || k === OpKind.Immediate8to32 || k === OpKind.Immediate8to64 || k === OpKind.Immediate32to64
      ) {
        out.operands.push({ kind: 'immediate', immediate: ins.immediate(i) });
      } else if (k === OpKind.NearBranch64 || k === OpKind.NearBranch32 || k === OpKind.NearBranch16) {
        out.operands.push({ kind: 'other' });
        out.branchTarget = k === OpKind.NearBranch64 ? ins.nearBranch64 : BigInt(k === OpKind.NearBranch32 ? ins.nearBranch32 : ins.nearBranch16);
      } else {
        out.operands.push({ kind: 'other' });
        if (k === OpKind.MemorySegRSI || k === OpKind.MemorySegESI || k === OpKind.MemoryESRDI || k === OpKind.MemoryESEDI ||
            k === OpKind.MemorySegDI || k === OpKind.MemorySegEDI || k === OpKind.MemorySegRDI || k === OpKind.MemorySegSI || k === OpKind.MemoryESDI) {
          const acc = accessOf(info.opAccess(i));
          if (acc) {
            const isDst = k === OpKind.MemoryESRDI || k === OpKind.MemoryESEDI || k === OpKind.MemoryESDI ||
              k === OpKind.MemorySegDI || k === OpKind.MemorySegEDI || k === OpKind.MemorySegRDI;
            out.memory.push({
              width: MemorySizeExt.size(ins.memorySize),
              access: acc,
              // 0x67: the string instruction addresses through EDI/ESI.
              base: isDst ? (k === OpKind.MemoryESEDI || k === OpKind.MemorySegEDI ? 'edi' : 'rdi') : (k === OpKind.MemorySegESI ? 'esi' : 'rsi'),
              index: null, scale: 1, displacement: 0n, segment: null,
              stack: false, ripRelative: false, string: true,
            });
          }
        }
      }
    }
  } finally {
    info.free();
  }
  return out;
}

/** Instruction bytes as the hover, reports and objdump show them: `8b 02`. */
export const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Decode one instruction at the start of `bytes` (64-bit mode). */
export function cpuDecode(bytes: Uint8Array, ip = 0n): CpuView {
  const { fmt, ins, fac } = singletons();
  const dec = new Decoder(64, bytes, DecoderOptions.None);
  try {
    dec.ip = ip;
    dec.decodeOut(ins);
    return view(ins, fmt, fac);
  } finally {
    dec.free();
  }
}

export interface WalkedInstruction extends CpuView {
  offset: number;
  ip: bigint;
  bytes: Uint8Array;
}

/**
 * Walks a code buffer with one Decoder. The audit decodes whole function
 * bodies; call free() when done (or use `using`-style try/finally).
 */
export class CodeWalker {
  private dec: Decoder | null;
  /** Where the decoder stands after the last valid decode (it advances by the length), or -1: no reposition needed there. */
  private next = -1;
  constructor(private readonly code: Uint8Array, private readonly baseIp: bigint = 0n) {
    loadIced();
    this.dec = new Decoder(64, code, DecoderOptions.None);
  }

  /** Decode the instruction at byte `offset` of the buffer. */
  at(offset: number): WalkedInstruction {
    if (!this.dec) throw new Error('CodeWalker used after free()');
    if (offset < 0 || offset >= this.code.length) throw new RangeError(`offset ${offset} outside code of ${this.code.length} bytes`);
    const { fmt, ins, fac } = singletons();
    const ip = this.baseIp + BigInt(offset);
    // A linear walk decodes where the last valid instruction ended: the decoder is
    // there already (two calls into WASM, one of them a BigInt, saved per instruction).
    if (offset !== this.next) {
      this.dec.position = offset;
      this.dec.ip = ip;
    }
    this.dec.decodeOut(ins);
    // The view gets the walk's fields itself (a spread copy of it cost a third of the walk).
    const v = view(ins, fmt, fac) as WalkedInstruction;
    const len = v.valid ? v.length : 1;
    this.next = v.valid ? offset + len : -1;
    v.offset = offset;
    v.ip = ip;
    v.bytes = this.code.slice(offset, offset + len);
    return v;
  }

  /** Decode [start, end) linearly; an undecodable byte advances by one. */
  *walk(start = 0, end = this.code.length): Generator<WalkedInstruction> {
    let off = start;
    while (off < end) {
      const w = this.at(off);
      yield w;
      // Resynchronise byte by byte after bytes the CPU would not decode.
      off += w.valid ? w.length : 1;
    }
  }

  free(): void {
    if (this.dec) {
      this.dec.free();
      this.dec = null;
    }
  }
}

/**
 * Convenience for one-off callers: decode the instruction at `offset` in
 * `code`, where `baseIp` is the address of code[0] (so the instruction's ip is
 * baseIp + offset, which RIP-relative operands and branch targets use).
 * For a loop over one buffer, keep a CodeWalker instead.
 */
export function decodeAt(code: Uint8Array, offset: number, baseIp: bigint = 0n): WalkedInstruction {
  const w = new CodeWalker(code, baseIp);
  try {
    return w.at(offset);
  } finally {
    w.free();
  }
}

/** Decode a whole function body: instruction boundaries, text and memory accesses. */
export function decodeFunction(code: Uint8Array, ip: bigint = 0n): WalkedInstruction[] {
  const w = new CodeWalker(code, ip);
  try {
    return Array.from(w.walk());
  } finally {
    w.free();
  }
}

/** The audit join's question: memory touched with this width and direction, not on the stack. */
export function deviceMemoryAccesses(v: CpuView): MemoryAccess[] {
  return v.memory.filter((m) => !m.stack && !m.ripRelative);
}
