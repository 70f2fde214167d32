// The static verdict: what handle_mmio() (arch/x86/coco/tdx/tdx.c) or
// vc_handle_mmio() (arch/x86/kernel/sev.c) does with an instruction, before
// any register values are known. Runtime-only checks (user-half address,
// page split) are listed as `runtimeChecks`; emulate.ts applies them.
import { kernelDecode, kernelRegSlot, type KernelInsn } from './kernelDecoder';
import { matchMmioRule, kernelEnumName, type MmioClass } from './rules';
import { cpuDecode, hexBytes, type CpuView } from './iced';
import { profileData, DEFAULT_PROFILE, type Profile, type ProfileData } from './profiles';

export type Verdict = 'emulated' | 'misemulated' | 'rejected-movs' | 'decode-failed';
export type Misemulation =
  | 'high-byte'
  | 'movzx32-upper'
  | 'vex-alias'
  /** SEV vc_handle_mmio(): WRITE_IMM copies `bytes` of immediate1.bytes; an 8-byte store of an imm32 sends 4 bytes of struct insn after it. */
  | 'write-imm-upper-garbage'
  /** SEV vc_handle_mmio_movs(): the source is DS base + RSI whatever FS/GS override the CPU honours. */
  | 'movs-segment-override'
  /** SEV vc_handle_mmio_movs(): under 0x67 the CPU uses ESI/EDI/ECX, the kernel the 64-bit RSI/RDI/RCX. */
  | 'movs-addr32';

/**
 * A handler check whose result the instruction bytes alone decide: the access
 * fails whatever the address. (`verdict` keeps its value for compatibility;
 * x86/handlers.ts turns this into the record's 'rejected' verdict.)
 */
export interface DecidedFailure {
  /** Which check fails. */
  check: 'user-half' | 'page-split' | 'addr-ref';
  /** handle_mmio()'s return value, or vc_do_mmio()'s enum es_result. */
  code: '-EINVAL' | '-EFAULT' | 'ES_UNSUPPORTED';
  warn: boolean;
  why: string;
}

/** The segment-override prefixes (ES, CS, SS, DS, FS, GS). */
const SEGMENT_PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];
export type Flag =
  /** C6/C7 with ModRM.reg != 0: the CPU raises #UD, no MMIO access happens. */
  | 'ud-c6c7-reg'
  /** LOCK on MOV/MOVZX/MOVSX: #UD on the CPU. */
  | 'ud-lock'
  /** Any other bytes the CPU will not execute (iced: invalid). */
  | 'ud-invalid'
  /** The kernel skipped a ud2+"xen"/"kvm" emulate prefix; the CPU stops at the ud2. */
  | 'emulate-prefix'
  /** ModRM.mod == 3: register operand, this instruction cannot take an EPT-violation #VE. */
  | 'no-memory-operand'
  /** Kernel and CPU disagree on the instruction's length (RIP would be advanced wrongly). */
  | 'length-mismatch'
  /** The kernel's decoder sees a different instruction from the CPU's (e.g. REX before a legacy prefix). */
  | 'kernel-misdecode';

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;

export interface MmioVerdict {
  profile: Profile;
  bytes: string;
  /** Bytes the instruction occupies per the CPU (iced). */
  length: number;
  /** Intel syntax per iced, "(bad)" when the CPU would not decode it. */
  text: string;
  class: MmioClass;
  /** The kernel's enum spelling under this profile (MMIO_* or INSN_MMIO_*). */
  kernelEnum: string;
  /** Access size the kernel computes; 0 when decoding failed. */
  size: number;
  direction: 'read' | 'write' | null;
  verdict: Verdict;
  misemulation: Misemulation[];
  flags: Flag[];
  /** WARN_ON_ONCE fires (only when insn_decode() succeeded but insn_decode_mmio() did not). */
  warn: boolean;
  /** The pt_regs slot the kernel reads or writes (ModRM.reg + REX.R), when it uses one. */
  regSlot: string | null;
  /** What the failure does to the guest under this profile, or null on success. */
  consequence: string | null;
  /** Runtime checks that still apply (depend on the address, not the bytes). */
  runtimeChecks: ('user-half' | 'page-split')[];
  /** A check that fails for every address (0x67 under the user-half check; two different segment overrides), else null. */
  decidedFailure: DecidedFailure | null;
  /** The TDVMCALL<EPT_VIOLATION> the kernel issues (R14 = GPA from the #VE info, R15 = the value for writes). */
  tdvmcall: { r10: number; r11: number; r12: number; r13: number; r14: 'gpa'; r15: 'value' | 'uninitialised' | 0 } | null;
  kernel: {
    decoded: boolean;
    error: string | null;
    length: number;
    opcode: number[];
    opndBytes: number;
    rex: number;
    vex: 'vex2' | 'vex3' | 'evex' | null;
  };
  notes: string[];
}


function directionOf(cls: MmioClass): 'read' | 'write' | null {
  if (cls === 'WRITE' || cls === 'WRITE_IMM') return 'write';
  if (cls === 'READ' || cls === 'READ_ZERO_EXTEND' || cls === 'READ_SIGN_EXTEND') return 'read';
  return null;
}

/** Instruction analysis shared by classifyMmio and the emulator. */
export interface Analysis {
  verdict: MmioVerdict;
  kinsn: KernelInsn;
  cpu: CpuView;
  prof: ProfileData;
}

/** `decoded`: the kernel decoder's reading of these bytes when the caller already has it (handle()). */
export function analyse(bytes: Uint8Array, profile: Profile = DEFAULT_PROFILE, decoded?: KernelInsn): Analysis {
  const prof = profileData(profile);
  const kinsn = decoded ?? kernelDecode(bytes);
  const cpu = cpuDecode(bytes);
  const m = matchMmioRule(kinsn);
  const flags: Flag[] = [];
  const misemulation: Misemulation[] = [];
  const notes: string[] = [];

  // iced decodes the ud2 as a (valid) instruction that raises #UD.
  if (kinsn.emulatePrefix) flags.push('emulate-prefix');
  else if (!cpu.valid) {
    if (cpu.hasLock || bytes.includes(0xf0)) flags.push('ud-lock');
    else flags.push('ud-invalid');
  }
  // iced reports C6/C7 /1-/6 and LOCK MOV as invalid; name the specific reason.
  if (!kinsn.vex && kinsn.modrm !== null && kinsn.opcode.length === 1 && (kinsn.opcode[0] === 0xc6 || kinsn.opcode[0] === 0xc7) &&
      ((kinsn.modrm >> 3) & 7) !== 0) {
    const i = flags.indexOf('ud-invalid');
    if (i >= 0) flags.splice(i, 1);
    if (!flags.includes('ud-c6c7-reg')) flags.push('ud-c6c7-reg');
  }
  if (kinsn.legacyPrefixes.includes(0xf0) && m.cls !== 'DECODE_FAILED' && !flags.includes('ud-lock')) {
    const i = flags.indexOf('ud-invalid');
    if (i >= 0) flags.splice(i, 1);
    flags.push('ud-lock');
  }
  if (kinsn.modrm !== null && kinsn.modrm >> 6 === 3 && m.cls !== 'DECODE_FAILED') flags.push('no-memory-operand');
  if (kinsn.ok && cpu.valid && !kinsn.emulatePrefix && m.cls !== 'DECODE_FAILED' && kinsn.length !== cpu.length) flags.push('length-mismatch');
  if (cpu.valid && m.cls === 'DECODE_FAILED' && cpu.memory.length > 0 && isPlainMov(cpu)) {
    // The CPU executes a MOV the kernel's decoder did not see as one.
    flags.push('kernel-misdecode');
    notes.push('The kernel decoder reads different opcode bytes from the CPU (a REX prefix counts only as the last prefix; more than four distinct legacy prefixes end the prefix scan).');
  }

  let verdict: Verdict;
  let warn = false;
  let consequence: string | null = null;
  let regSlot: string | null = null;
  const fail = prof.failure === 'oops'
    ? 'handle_mmio returns -EINVAL: "VE fault" oops (panic with oops=panic or in interrupt context)'
    : 'vc_handle_mmio returns ES_DECODE_FAILED/ES_UNSUPPORTED: the guest is terminated';

  if (m.cls === 'DECODE_FAILED') {
    verdict = 'decode-failed';
    // handle_mmio: `if (insn_decode(...)) return -EINVAL;` comes before the WARN_ON_ONCE.
    warn = prof.decodeFailedWarns && kinsn.ok;
    consequence = fail;
    if (!kinsn.ok) notes.push(`insn_decode() failed (${kinsn.error ?? 'error'}); no WARN, -EINVAL.`);
    else notes.push('insn_decode_mmio() returned DECODE_FAILED' + (prof.decodeFailedWarns ? ': WARN_ON_ONCE, then -EINVAL.' : '.'));
  } else if (m.cls === 'MOVS') {
    if (prof.movs === 'rejected') {
      verdict = 'rejected-movs';
      consequence = fail;
      notes.push('handle_mmio recognises MOVS and returns -EINVAL without a WARN.');
    } else {
      verdict = 'emulated';
      notes.push('vc_handle_mmio_movs() emulates MOVS one element per #VC.');
    }
  } else {
    verdict = 'emulated';
    if (m.cls !== 'WRITE_IMM') {
      const slot = kernelRegSlot(kinsn);
      regSlot = slot === null ? null : GPR_NAMES[slot];
    }
    if (kinsn.vex) {
      misemulation.push('vex-alias');
      notes.push(`The kernel keeps only the opcode byte after the ${kinsn.vex.kind.toUpperCase()} prefix and takes it as ${kernelEnumName(m.cls, prof.enumPrefix)}.`);
    } else {
      const op = kinsn.opcode;
      const reg = kinsn.modrm === null ? 0 : (kinsn.modrm >> 3) & 7;
      if (op.length === 1 && (op[0] === 0x88 || op[0] === 0x8a) && kinsn.rex === 0 && reg >= 4) {
        misemulation.push('high-byte');
        notes.push(`ModRM.reg=${reg} without REX names ${['ah', 'ch', 'dh', 'bh'][reg - 4]}; get_regno() resolves it to the ${GPR_NAMES[reg]} slot.`);
      }
      if ((m.cls === 'READ_ZERO_EXTEND' || m.cls === 'READ_SIGN_EXTEND') && kinsn.opndBytes === 4) {
        misemulation.push('movzx32-upper');
        notes.push('32-bit destination: the CPU clears bits 63:32, the kernel memsets only opnd_bytes (4) and leaves them.');
      }
    }
    if (m.cls === 'WRITE_IMM' && prof.writeImmValue === 'immediate1-bytes' && m.size > kinsn.immBytes) {
      misemulation.push('write-imm-upper-garbage');
      notes.push(`memcpy(ghcb->shared_buffer, insn->immediate1.bytes, ${m.size}) copies the ${kinsn.immBytes}-byte immediate and then the insn_field's got/nbytes bytes: the device gets 0x00000401 in the upper half where the CPU sign-extends.`);
    }
    if (misemulation.length) verdict = 'misemulated';
  }
  if (m.cls === 'MOVS' && prof.movs === 'emulated' && prof.movsIgnoresOverrides) {
    const segs = segmentOverrides(kinsn.legacyPrefixes);
    if (segs.some((p) => p === 0x64 || p === 0x65)) {
      misemulation.push('movs-segment-override');
      notes.push('vc_handle_mmio_movs() reads from DS base + RSI: the FS/GS override the CPU applies to the source is ignored.');
    }
    if (kinsn.addrBytes === 4) {
      misemulation.push('movs-addr32');
      notes.push('vc_handle_mmio_movs() uses the 64-bit RSI/RDI (and RCX for REP) where the 0x67 prefix makes the CPU use ESI/EDI/ECX.');
    }
    if (misemulation.length) verdict = 'misemulated';
  }

  const runtimeChecks: MmioVerdict['runtimeChecks'] = [];
  let decidedFailure: DecidedFailure | null = null;
  if (verdict === 'emulated' || verdict === 'misemulated' || verdict === 'rejected-movs') {
    decidedFailure = decidedFailureOf(kinsn, m.cls, m.size, prof);
    if (decidedFailure) {
      notes.push(decidedFailure.why);
      consequence = prof.failure === 'oops'
        ? `handle_mmio returns ${decidedFailure.code}: "VE fault" oops unless the site has an exception fixup`
        : `vc_do_mmio returns ${decidedFailure.code}: the guest is terminated`;
    }
    else if (verdict !== 'rejected-movs') {
      if (prof.userHalfRefused) runtimeChecks.push('user-half');
      if (prof.pageSplitCheck) runtimeChecks.push('page-split');
    }
  }

  const direction = directionOf(m.cls);
  let tdvmcall: MmioVerdict['tdvmcall'] = null;
  if (prof.hypercall === 'tdvmcall' && direction && !decidedFailure && (verdict === 'emulated' || verdict === 'misemulated')) {
    tdvmcall = {
      r10: 0, r11: 48, r12: m.size, r13: direction === 'write' ? 1 : 0, r14: 'gpa',
      r15: direction === 'write' ? 'value' : prof.r15LeakOnRead ? 'uninitialised' : 0,
    };
  }

  const v: MmioVerdict = {
    profile: prof.id,
    bytes: hexBytes(bytes.subarray(0, instructionSpan(bytes, kinsn, cpu))),
    length: cpu.length,
    text: cpu.text,
    class: m.cls,
    kernelEnum: kernelEnumName(m.cls, prof.enumPrefix),
    size: m.size,
    direction,
    verdict,
    misemulation,
    flags,
    warn,
    regSlot,
    consequence,
    runtimeChecks,
    decidedFailure,
    tdvmcall,
    kernel: {
      decoded: kinsn.ok,
      error: kinsn.error ?? null,
      length: kinsn.length,
      opcode: kinsn.opcode.slice(),
      opndBytes: kinsn.opndBytes,
      rex: kinsn.rex,
      vex: kinsn.vex?.kind ?? null,
    },
    notes,
  };
  return { verdict: v, kinsn, cpu, prof };
}

function segmentOverrides(prefixes: readonly number[]): number[] {
  return prefixes.filter((p) => SEGMENT_PREFIXES.includes(p));
}

/**
 * The checks after decoding that the bytes alone decide (handle_mmio() in
 * arch/x86/coco/tdx/tdx.c, vc_do_mmio() in arch/x86/coco/sev/core.c), in the
 * handler's order: the user-half check, then insn_get_addr_ref().
 */
function decidedFailureOf(k: KernelInsn, cls: MmioClass, size: number, prof: ProfileData): DecidedFailure | null {
  // SEV's MOVS path never calls vc_do_mmio(); TDX rejects MOVS only after these checks.
  if (cls === 'MOVS' && prof.movs === 'emulated') return null;
  // 0x67: the CPU forms a 32-bit address, zero-extended: always in the user half.
  // (A register operand, ModRM.mod == 3, never takes an EPT violation: nothing to decide.)
  if (prof.userHalfRefused && k.addrBytes === 4 && !(k.modrm !== null && k.modrm >> 6 === 3)) {
    return { check: 'user-half', code: '-EINVAL', warn: true, why: 'The 0x67 prefix makes the linear address 32-bit, so it is in the user half: fault_in_kernel_space(ve->gla) fails, WARN_ONCE "Access to userspace address is not supported", -EINVAL.' };
  }
  // get_seg_reg_override_idx(): "More than one segment override prefix" -> -EINVAL, so insn_get_addr_ref() returns -1L.
  if (new Set(segmentOverrides(k.legacyPrefixes)).size > 1) {
    if (prof.addrRefFailure === 'page-split-efault' && size >= 2) {
      return { check: 'page-split', code: '-EFAULT', warn: false, why: 'Two different segment overrides: insn_get_addr_ref() returns -1L, so (vaddr + size - 1) wraps onto another page and handle_mmio() returns -EFAULT.' };
    }
    if (prof.addrRefFailure === 'es-unsupported') {
      return { check: 'addr-ref', code: 'ES_UNSUPPORTED', warn: false, why: 'Two different segment overrides: insn_get_addr_ref() returns -1L and vc_do_mmio() returns ES_UNSUPPORTED: the guest is terminated.' };
    }
  }
  return null;
}

/** The bytes to show: what either decoder consumed, or the whole (capped) input when neither decoded it. */
function instructionSpan(bytes: Uint8Array, k: KernelInsn, cpu: CpuView): number {
  const n = Math.max(cpu.valid ? cpu.length : 0, k.ok ? k.length : 0);
  return n > 0 ? n : Math.min(bytes.length, 15);
}

function isPlainMov(cpu: CpuView): boolean {
  return cpu.mnemonic === 'mov' || cpu.mnemonic === 'movzx' || cpu.mnemonic === 'movsx';
}

/** Classify the instruction at the start of `bytes` as the profile's #VE/#VC handler would. */
export function classifyMmio(bytes: Uint8Array, profile: Profile = DEFAULT_PROFILE): MmioVerdict {
  return analyse(bytes, profile).verdict;
}
