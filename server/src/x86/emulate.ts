// The embedded emulator: runs one MMIO instruction twice, once the way
// handle_mmio() (arch/x86/coco/tdx/tdx.c) emulates it and once the way the CPU
// would execute it natively against a device, and reports every difference.
// A 'misemulated' verdict is only claimed where this comparison shows one.
import { analyse, GPR_NAMES, type MmioVerdict } from './classify';
import { kernelRegSlot } from './kernelDecoder';
import type { CpuView } from './iced';
import { DEFAULT_PROFILE, type Profile } from './profiles';

export interface EmulateInput {
  /** 16 GPRs in encoding order rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15. */
  regs: readonly bigint[];
  /** What the device returns for a read (the host's R11). Only the low `size` bytes reach the CPU natively. */
  deviceValue?: bigint;
  /** Guest-physical address from the #VE info (goes to R14). */
  gpa?: bigint;
  /** Linear address of the access (ve->gla). Defaults to the effective address computed from `regs`. */
  gla?: bigint;
  /** RIP of the instruction, for RIP-relative operands. */
  rip?: bigint;
  profile?: Profile;
}

export interface Tdvmcall {
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  /** Writes: the value. For a WRITE of fewer than 8 bytes only the low `size` bytes are defined (see r15UpperUndefined). */
  r15: bigint | 'uninitialised';
  /** handle_mmio's `val` is an uninitialised local; memcpy(&val, reg, size) fills only `size` bytes of it. */
  r15UpperUndefined: boolean;
}

export interface RegChange {
  reg: string;
  before: bigint;
  after: bigint;
}

export interface KernelOutcome {
  status: 'ok' | 'fault' | 'not-modelled';
  /** handle_mmio()'s return, or vc_handle_mmio()'s enum es_result under SEV. */
  errno?: '-EINVAL' | '-EFAULT' | '-EIO' | 'ES_UNSUPPORTED';
  warn: boolean;
  reason?: string;
  regs: bigint[];
  changed: RegChange[];
  ripAdvance: number;
  tdvmcall: Tdvmcall | null;
  /** The device access the kernel performs. */
  access: { direction: 'read' | 'write'; size: number; value?: bigint } | null;
}

export interface NativeOutcome {
  status: 'ok' | 'ud' | 'not-modelled';
  reason?: string;
  regs: bigint[];
  changed: RegChange[];
  ripAdvance: number;
  /** The device access the CPU performs natively (vector register contents are not modelled, so `value` may be absent). */
  access: { direction: 'read' | 'write' | 'read-write'; size: number; value?: bigint } | null;
}

export interface EmulationResult {
  verdict: MmioVerdict;
  kernel: KernelOutcome;
  native: NativeOutcome;
  /** Human-readable differences; empty when the emulation is faithful. */
  differences: string[];
  /** Kernel and CPU agree on registers, RIP and the device access. */
  equal: boolean;
}

const MASK64 = (1n << 64n) - 1n;
const mask = (bytes: number): bigint => (bytes >= 8 ? MASK64 : (1n << BigInt(bytes * 8)) - 1n);
const KERNEL_HALF = 1n << 63n;

/** memcpy(reg, &val, n) on a little-endian u64. */
function storeLow(reg: bigint, val: bigint, n: number): bigint {
  const m = mask(n);
  return ((reg & ~m) | (val & m)) & MASK64;
}

/** memset(reg, byte, n) on a little-endian u64. */
function fill(reg: bigint, byte: number, n: number): bigint {
  let v = 0n;
  for (let i = 0; i < n; i++) v |= BigInt(byte) << BigInt(8 * i);
  return storeLow(reg, v, n);
}

function diffRegs(before: readonly bigint[], after: readonly bigint[]): RegChange[] {
  const out: RegChange[] = [];
  for (let i = 0; i < 16; i++) if (before[i] !== after[i]) out.push({ reg: GPR_NAMES[i], before: before[i], after: after[i] });
  return out;
}

const REG_INDEX: Record<string, number> = Object.fromEntries(GPR_NAMES.map((n, i) => [n, i]));
const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

function regValueByName(name: string | null, regs: readonly bigint[], rip: bigint): bigint {
  if (!name) return 0n;
  if (name === 'rip') return rip;
  if (name in REG_INDEX) return regs[REG_INDEX[name]];
  const i32 = REG32.indexOf(name);
  if (i32 >= 0) return regs[i32] & 0xffffffffn;
  const m = /^r(\d+)d$/.exec(name);
  if (m) return regs[Number(m[1])] & 0xffffffffn;
  return 0n;
}

/** Effective address of the (first explicit) memory operand, as the CPU computes it. */
export function effectiveAddress(cpu: CpuView, regs: readonly bigint[], rip: bigint): bigint | null {
  const m = cpu.memory[0];
  if (!m) return null;
  const next = rip + BigInt(cpu.length);
  const base = m.ripRelative ? next : regValueByName(m.base, regs, rip);
  const index = regValueByName(m.index, regs, rip);
  // iced (decoding at IP 0) reports a RIP-relative operand's target as next-IP + disp: add the RIP.
  // Under 0x67 the base is EIP and the address wraps at 32 bits.
  if (m.ripRelative) return m.base === 'eip' ? (rip + m.displacement) & 0xffffffffn : BigInt.asUintN(64, rip + m.displacement);
  return BigInt.asUintN(64, base + index * BigInt(m.scale) + m.displacement);
}

/** Read the GPR operand the way the CPU names it (AH..BH are bits 15:8). */
function readGpr(regs: readonly bigint[], g: { index: number; width: number; highByte: boolean }): bigint {
  if (g.highByte) return (regs[g.index] >> 8n) & 0xffn;
  return regs[g.index] & mask(g.width);
}

/** Write a GPR with x86-64 rules: 32-bit writes zero-extend, 8/16-bit writes merge. */
function writeGpr(regs: bigint[], g: { index: number; width: number; highByte: boolean }, v: bigint): void {
  if (g.highByte) {
    regs[g.index] = (regs[g.index] & ~0xff00n) | ((v & 0xffn) << 8n);
  } else if (g.width === 4) {
    regs[g.index] = v & 0xffffffffn;
  } else {
    regs[g.index] = storeLow(regs[g.index], v, g.width);
  }
}

function signExtend(v: bigint, fromBytes: number): bigint {
  return BigInt.asUintN(64, BigInt.asIntN(fromBytes * 8, v & mask(fromBytes)));
}

function runNative(cpu: CpuView, regs0: readonly bigint[], device: bigint): NativeOutcome {
  const regs = regs0.slice();
  const base: NativeOutcome = { status: 'ok', regs, changed: [], ripAdvance: cpu.length, access: null };
  if (!cpu.valid || cpu.mnemonic === 'ud2') return { ...base, status: 'ud', reason: 'the CPU raises #UD: no memory access happens', ripAdvance: 0 };
  const mem = cpu.memory[0];
  if (!mem) return { ...base, reason: 'no memory operand: no EPT violation' };
  const dir = mem.access === 'R' ? 'read' : mem.access === 'W' ? 'write' : 'read-write';
  const [op0, op1] = cpu.operands;
  const mn = cpu.mnemonic;
  if (mn === 'mov' && op0?.kind === 'memory' && op1?.kind === 'register' && op1.gpr) {
    base.access = { direction: 'write', size: mem.width, value: readGpr(regs, op1.gpr) };
  } else if (mn === 'mov' && op0?.kind === 'memory' && op1?.kind === 'immediate' && op1.immediate !== undefined) {
    base.access = { direction: 'write', size: mem.width, value: op1.immediate & mask(mem.width) };
  } else if (mn === 'mov' && op0?.kind === 'register' && op0.gpr && op1?.kind === 'memory') {
    const v = device & mask(mem.width);
    base.access = { direction: 'read', size: mem.width, value: v };
    writeGpr(regs, op0.gpr, v);
  } else if ((mn === 'movzx' || mn === 'movsx') && op0?.kind === 'register' && op0.gpr && op1?.kind === 'memory') {
    const raw = device & mask(mem.width);
    base.access = { direction: 'read', size: mem.width, value: raw };
    writeGpr(regs, op0.gpr, mn === 'movzx' ? raw : signExtend(raw, mem.width) & mask(op0.gpr.width));
  } else {
    // Vector and other forms: the GPR file is untouched by the memory
    // operand; only the access (direction, width) is known.
    base.access = { direction: dir, size: mem.width };
    base.reason = `${mn}: register results beyond the GPR file are not modelled`;
  }
  base.changed = diffRegs(regs0, regs);
  return base;
}

function runKernel(a: ReturnType<typeof analyse>, input: EmulateInput, ea: bigint | null): KernelOutcome {
  const { verdict: v, kinsn, prof } = a;
  const regs = input.regs.slice();
  const out: KernelOutcome = { status: 'ok', warn: false, regs, changed: [], ripAdvance: 0, tdvmcall: null, access: null };
  const fault = (errno: KernelOutcome['errno'], reason: string, warn = false): KernelOutcome =>
    ({ ...out, status: 'fault', errno, reason, warn });

  if (v.verdict === 'decode-failed') return fault('-EINVAL', v.notes[0] ?? 'decode failed', v.warn);
  if (v.class === 'MOVS') {
    if (prof.movs === 'rejected') return fault('-EINVAL', 'MOVS is rejected by handle_mmio');
    return { ...out, status: 'not-modelled', reason: 'vc_handle_mmio_movs() string emulation is not modelled' };
  }
  const slot = v.class === 'WRITE_IMM' ? null : kernelRegSlot(kinsn);
  if (v.class !== 'WRITE_IMM' && slot === null) return fault('-EINVAL', 'insn_get_modrm_reg_ptr() returned NULL');
  // Checks the bytes alone decide (0x67 under the user-half check, two segment overrides).
  if (v.decidedFailure) return fault(v.decidedFailure.code, v.decidedFailure.why, v.decidedFailure.warn);
  const gla = input.gla ?? ea ?? 0n;
  if (prof.userHalfRefused && gla < KERNEL_HALF) {
    return fault('-EINVAL', 'fault_in_kernel_space(ve->gla) is false: "Access to userspace address is not supported"', true);
  }
  const size = v.size;
  if (prof.pageSplitCheck && ea !== null && ea / 4096n !== (ea + BigInt(size) - 1n) / 4096n) {
    return fault('-EFAULT', 'access splits a page');
  }
  const gpa = input.gpa ?? 0n;
  const call = (dir: 0 | 1, r15: Tdvmcall['r15'], upper: boolean): Tdvmcall | null =>
    prof.hypercall === 'tdvmcall'
      ? { r10: 0n, r11: 48n, r12: BigInt(size), r13: BigInt(dir), r14: gpa, r15, r15UpperUndefined: upper }
      : null;

  if (v.class === 'WRITE') {
    const val = regs[slot!] & mask(size);
    out.access = { direction: 'write', size, value: val };
    out.tdvmcall = call(1, val, size < 8);
  } else if (v.class === 'WRITE_IMM') {
    const imm = kinsn.immediate ?? 0n;
    let value = imm & mask(size);
    if (prof.writeImmValue === 'immediate1-bytes' && size > kinsn.immBytes) {
      // memcpy(shared_buffer, insn->immediate1.bytes, size): the immediate's bytes, then
      // struct insn_field's got (1) and nbytes, then padding left 0 by insn_init()'s memset.
      const field = (imm & mask(kinsn.immBytes)) | (1n << 32n) | (BigInt(kinsn.immBytes) << 40n);
      value = field & mask(size);
    }
    out.access = { direction: 'write', size, value };
    out.tdvmcall = call(1, imm, false);
  } else {
    const val = (input.deviceValue ?? 0n) & MASK64;
    out.access = { direction: 'read', size, value: val & mask(size) };
    out.tdvmcall = call(0, prof.r15LeakOnRead ? 'uninitialised' : 0n, false);
    let reg = regs[slot!];
    if (v.class === 'READ') {
      // "Zero-extend for 32-bit operation": extend_size = size == 4 ? sizeof(*reg) : 0
      if (size === 4) reg = fill(reg, 0, 8);
    } else if (v.class === 'READ_ZERO_EXTEND') {
      reg = fill(reg, 0, kinsn.opndBytes);
    } else {
      const neg = (size === 1 && (val & 0x80n) !== 0n) || (size > 1 && (val & 0x8000n) !== 0n);
      reg = fill(reg, neg ? 0xff : 0, kinsn.opndBytes);
    }
    regs[slot!] = storeLow(reg, val, size);
  }
  out.ripAdvance = kinsn.length;
  out.changed = diffRegs(input.regs, regs);
  return out;
}

/** Emulate `bytes` as handle_mmio() would and as the CPU would, and compare. */
export function emulate(bytes: Uint8Array, input: EmulateInput): EmulationResult {
  if (input.regs.length !== 16) throw new RangeError('emulate: regs must hold 16 GPRs');
  const a = analyse(bytes, input.profile ?? DEFAULT_PROFILE);
  const rip = input.rip ?? 0n;
  const ea = effectiveAddress(a.cpu, input.regs, rip);
  const kernel = runKernel(a, input, ea);
  const native = runNative(a.cpu, input.regs, (input.deviceValue ?? 0n) & MASK64);
  const differences: string[] = [];

  if (native.status === 'ud') {
    differences.push('the CPU raises #UD, so this instruction never reaches the #VE handler');
  } else if (kernel.status === 'fault') {
    differences.push(`the kernel fails the access (${kernel.errno}): ${kernel.reason}`);
  } else if (kernel.status === 'ok' && native.status === 'ok') {
    const k = kernel.access, n = native.access;
    if (k && n) {
      if (k.direction !== n.direction) differences.push(`direction: kernel ${k.direction}s the device, the CPU ${n.direction}s it`);
      if (k.size !== n.size) differences.push(`width: kernel ${k.size} bytes, CPU ${n.size} bytes`);
      if (k.direction === 'write' && n.direction === 'write' && n.value !== undefined && k.value !== n.value) {
        differences.push(`value written: kernel 0x${k.value!.toString(16)}, CPU 0x${n.value.toString(16)}`);
      }
    }
    for (let i = 0; i < 16; i++) {
      if (kernel.regs[i] !== native.regs[i]) {
        differences.push(`${GPR_NAMES[i]}: kernel leaves 0x${kernel.regs[i].toString(16)}, CPU 0x${native.regs[i].toString(16)}`);
      }
    }
    if (kernel.ripAdvance !== native.ripAdvance) differences.push(`RIP advance: kernel ${kernel.ripAdvance}, CPU ${native.ripAdvance}`);
  }
  const equal = kernel.status === 'ok' && native.status === 'ok' && differences.length === 0;
  return { verdict: a.verdict, kernel, native, differences, equal };
}

/** A register file with every GPR set to a distinct recognisable pattern. */
export function patternRegs(): bigint[] {
  return Array.from({ length: 16 }, (_, i) => BigInt.asUintN(64, 0x1111111111111111n * BigInt(i + 1) ^ 0xa5a5a5a500000000n));
}
