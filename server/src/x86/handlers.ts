// The one model of what the guest kernel's #VE (TDX) or #VC (SEV-ES/SNP) handler
// does with an instruction, for every exit it handles: MMIO (EPT violation / NPF),
// port I/O, CPUID, RDMSR/WRMSR and HLT. Written like rules.ts: HANDLER_ROWS is the
// kernel's code row for row, each citing its file and function, and handle()
// returns one HandlerRecord naming the rows it applied. Downstream code
// (CompiledInstruction, findings, hover, the disassembly view, reports) carries
// handlerView() of this record and words it with the renderers at the end of this
// file; it does not recompute registers or verdicts.
//
// MMIO is classify.ts (insn_decode_mmio + handle_mmio/vc_handle_mmio) wrapped;
// the rest is here. Sources: Linux 6.1.192 and 6.12.118 as Debian ships them
// (arch/x86/coco/tdx/tdx.c, arch/x86/coco/sev/{core,shared}.c; in 6.1
// arch/x86/kernel/sev.c and sev-shared.c), behaviour per version from profiles.ts.
import { analyse, type Flag, type MmioVerdict, type Misemulation } from './classify';
import { kernelDecode, type KernelInsn } from './kernelDecoder';
import { cpuDecode, hexBytes, type CpuView } from './iced';
import type { MmioClass } from './rules';
import { DEFAULT_PROFILE, formatVersion, profileData, type Platform, type Profile, type ProfileData } from './profiles';

export type ExitKind = 'mmio' | 'port-io' | 'cpuid' | 'msr-read' | 'msr-write' | 'hlt';

/** The same strings as CompiledInstruction's InstructionClass (audit/compiled.ts). */
export type HandlerClass = MmioClass | 'PORT_IN' | 'PORT_OUT' | 'PORT_STRING' | 'RDMSR' | 'WRMSR' | 'CPUID' | 'HLT';

/**
 * 'rejected': a check the bytes alone decide fails (0x67 under the user-half
 * check, two segment overrides); 'not-intercepted': the platform raises no
 * #VE/#VC for it (HLT is an automatic exit under SEV-ES).
 */
export type HandlerVerdict =
  | 'emulated' | 'misemulated' | 'rejected' | 'rejected-movs' | 'decode-failed' | 'rejected-string-io' | 'not-intercepted';

export type HandlerMisemulation =
  | Misemulation
  /** TDX handle_in()/handle_out() before the 2026 fix: GENMASK(8*size, 0) takes one bit too many. */
  | 'port-mask-extra-bit'
  /** TDX handle_in() before the 2026 fix: INL leaves RAX[63:32]. */
  | 'port-inl-upper-kept'
  /** SEV vc_handle_ioio(): INB/INW clear the RAX bits above the access. */
  | 'port-in-upper-cleared'
  /** SEV vc_handle_ioio() (REP) INS/OUTS: ES base + RSI for the OUTS source, 64-bit RSI/RDI/RCX under 0x67. */
  | 'string-io-segment-or-addr32'
  /** SEV vc_handle_ioio(): INS/OUTS without REP return ES_RETRY while RCX != 0: executed again and again. */
  | 'string-io-retry-without-rep';

/** A TDG.VP.VMCALL: numbers where the kernel passes constants, a description where it passes a value. */
export interface TdvmcallRegs {
  kind: 'tdvmcall';
  r10: number;
  r11: number;
  r12: number | string;
  r13: number | string | null;
  r14: number | string | null;
  r15: number | string | null;
  /** What comes back and where. */
  returns: string | null;
}

/** A GHCB-protocol VMGEXIT: the exit code and the GHCB fields the kernel sets. */
export interface GhcbCall {
  kind: 'ghcb';
  exitCode: number;
  exitName: string;
  exitInfo1: number | string;
  exitInfo2: number | string;
  /** GHCB save-area / shared-buffer fields written before the call. */
  fields: Record<string, string>;
  returns: string | null;
}

export interface RegisterEffect {
  /** Register as the CPU names it (the kernel slot may differ: see `kernel`). */
  reg: string;
  kernel: string;
  cpu: string;
}

export interface HandlerOutcome {
  /** 'handled': the handler emulates it and returns; 'fails': the handler returns an error for these bytes; 'retried': ES_RETRY until RCX is 0. */
  result: 'handled' | 'fails' | 'retried' | 'not-intercepted';
  /** The failing return: -EINVAL/-EFAULT/-EIO (TDX) or an enum es_result (SEV); null when handled. */
  code: string | null;
  /** A WARN/WARN_ONCE fires first. */
  warn: boolean;
  /** What the failure does to the guest; null when handled. */
  consequence: string | null;
  /** Checks that depend on the address or the host, still to pass at run time. */
  runtimeChecks: string[];
}

export interface HandlerRow {
  id: string;
  platform: Platform;
  exit: ExitKind;
  /** Kernel file and function. */
  source: string;
  what: string;
}

export interface HandlerRecord {
  profile: Profile;
  platform: Platform;
  /** The kernel version the profile models. */
  kernel: string;
  bytes: string;
  text: string;
  /** Length per the CPU. */
  length: number;
  exit: {
    kind: ExitKind;
    /** TDX exit reason (EXIT_REASON_*), null under SEV. */
    tdxReason: { code: number; name: string } | null;
    /** SEV #VC exit code (SVM_EXIT_*), null under TDX. */
    svmExit: { code: number; name: string } | null;
    /** The handler function that runs. */
    handler: string;
  };
  class: HandlerClass;
  /** The kernel's enum spelling for MMIO (MMIO_* / INSN_MMIO_*), else null. */
  kernelEnum: string | null;
  /** Access size in bytes (port, MMIO); 0 where none. */
  size: number;
  direction: 'read' | 'write' | 'read-write' | null;
  hypercall: TdvmcallRegs | GhcbCall | null;
  registers: RegisterEffect[];
  rip: { advance: 'insn.length' | 've->instr_len' | 'retry' | 'none'; bytes: number | null };
  verdict: HandlerVerdict;
  misemulation: HandlerMisemulation[];
  outcome: HandlerOutcome;
  /** Values the host controls that reach guest registers unchecked (trusted-host assumptions). */
  caveats: string[];
  /** The rows of HANDLER_ROWS applied, in order. */
  rows: HandlerRow[];
  /** For MMIO: classify's full record (decoder view, flags, register slot). */
  mmio: MmioVerdict | null;
  notes: string[];
}

// ---------------------------------------------------------------------------
// The table

const TDX = 'arch/x86/coco/tdx/tdx.c';
const SEV_CORE = 'arch/x86/coco/sev/core.c (6.1: arch/x86/kernel/sev.c)';
const SEV_SHARED = 'arch/x86/coco/sev/shared.c (6.1: arch/x86/kernel/sev-shared.c)';

export const HANDLER_ROWS: readonly HandlerRow[] = [
  // TDX: virt_exception_kernel() dispatches on ve->exit_reason.
  { id: 'tdx-mmio', platform: 'tdx', exit: 'mmio', source: `${TDX} virt_exception_kernel() / handle_mmio()`, what: 'EPT_VIOLATION (48) on shared memory: decode with insn_decode(), classify with insn_decode_mmio()' },
  { id: 'tdx-mmio-decode-failed', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio()`, what: 'insn_decode() fails: -EINVAL; DECODE_FAILED: WARN_ON_ONCE, -EINVAL' },
  { id: 'tdx-mmio-movs', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio()`, what: 'MOVS: -EINVAL, no WARN' },
  { id: 'tdx-mmio-user-half', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio()`, what: '!fault_in_kernel_space(ve->gla): WARN_ONCE, -EINVAL' },
  { id: 'tdx-mmio-page-split', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio()`, what: 'vaddr = insn_get_addr_ref(); an access crossing a page: -EFAULT' },
  { id: 'tdx-mmio-write', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio() / mmio_write()`, what: 'WRITE: memcpy(&val, reg, size); TDVMCALL R11=48 R12=size R13=1 R14=ve->gpa R15=val; RIP += insn.length' },
  { id: 'tdx-mmio-write-imm', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio() / mmio_write()`, what: 'WRITE_IMM: val = insn.immediate.value (sign-extended)' },
  { id: 'tdx-mmio-read', platform: 'tdx', exit: 'mmio', source: `${TDX} handle_mmio() / mmio_read()`, what: 'READ*: TDVMCALL R11=48 R12=size R13=0 R14=ve->gpa, value in R11; extend by class, memcpy size bytes' },
  { id: 'tdx-io', platform: 'tdx', exit: 'port-io', source: `${TDX} handle_io()`, what: 'IO_INSTRUCTION (30): size, direction and port from ve->exit_qual; string I/O: -EIO' },
  { id: 'tdx-io-in', platform: 'tdx', exit: 'port-io', source: `${TDX} handle_in()`, what: 'TDVMCALL R11=30 R12=size R13=0 R14=port; R11 into RAX (GENMASK(8*size,0) before the 2026 fix, insn_assign_reg() after)' },
  { id: 'tdx-io-out', platform: 'tdx', exit: 'port-io', source: `${TDX} handle_out()`, what: 'TDVMCALL R11=30 R12=size R13=1 R14=port R15=RAX & mask' },
  { id: 'tdx-cpuid', platform: 'tdx', exit: 'cpuid', source: `${TDX} handle_cpuid()`, what: 'CPUID (10): leaves outside 0x40000000-0x4FFFFFFF read as 0; else TDVMCALL R12=RAX R13=RCX, R12-R15 into RAX-RDX' },
  { id: 'tdx-msr-read', platform: 'tdx', exit: 'msr-read', source: `${TDX} read_msr()`, what: 'MSR_READ (31): TDVMCALL R12=RCX; RAX = lower_32_bits(R11), RDX = upper_32_bits(R11)' },
  { id: 'tdx-msr-write', platform: 'tdx', exit: 'msr-write', source: `${TDX} write_msr()`, what: 'MSR_WRITE (32): TDVMCALL R12=RCX R13=(u64)RDX << 32 | RAX' },
  { id: 'tdx-hlt', platform: 'tdx', exit: 'hlt', source: `${TDX} handle_halt() / __halt()`, what: 'HLT (12): TDVMCALL R12=irqs_disabled()' },
  // SEV-ES/SNP: vc_handle_exitcode() dispatches on the #VC error code; vc_raw_handle_exception() finishes.
  { id: 'sev-decode', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_init_em_ctxt() / __vc_decode_kern_insn()`, what: 'every non-exception #VC decodes the instruction (insn_decode); failure: ES_DECODE_FAILED; ES_OK: RIP += insn.length (vc_finish_insn)' },
  { id: 'sev-mmio', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_handle_mmio()`, what: 'SVM_EXIT_NPF (0x400): insn_decode_mmio(); DECODE_FAILED or no register: ES_DECODE_FAILED (no WARN); user mode: ES_UNSUPPORTED' },
  { id: 'sev-mmio-do', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_do_mmio()`, what: 'insn_get_addr_ref() (-1L: ES_UNSUPPORTED), vc_slow_virt_to_phys(); VMGEXIT MMIO_READ/WRITE exit_info_1 = GPA, exit_info_2 = bytes, data in the shared buffer' },
  { id: 'sev-mmio-write', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_handle_mmio()`, what: 'WRITE: memcpy(shared_buffer, reg, bytes)' },
  { id: 'sev-mmio-write-imm', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_handle_mmio()`, what: 'WRITE_IMM: memcpy(shared_buffer, insn->immediate1.bytes, bytes)' },
  { id: 'sev-mmio-read', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_handle_mmio()`, what: 'READ*: extend by class (READ of 4 zeroes the register), memcpy bytes from the shared buffer' },
  { id: 'sev-mmio-movs', platform: 'sev-es', exit: 'mmio', source: `${SEV_CORE} vc_handle_mmio_movs()`, what: 'MOVS: vc_read_mem(DS base + RSI), vc_write_mem(ES base + RDI) (nested #VC on the MMIO side), RSI/RDI += size; REP: RCX -= 1, ES_RETRY until 0' },
  { id: 'sev-ioio', platform: 'sev-es', exit: 'port-io', source: `${SEV_SHARED} vc_ioio_exitinfo() / vc_handle_ioio()`, what: 'SVM_EXIT_IOIO (0x7b): exit_info_1 = port << 16 | type | size | address size | REP; IN/OUT through GHCB RAX = lower_bits(RAX, bits)' },
  { id: 'sev-ioio-string', platform: 'sev-es', exit: 'port-io', source: `${SEV_SHARED} vc_handle_ioio()`, what: '(REP) INS/OUTS: up to a shared buffer of elements per #VC from ES base + RSI / to ES base + RDI; RCX -= count, ES_RETRY until 0' },
  { id: 'sev-cpuid', platform: 'sev-es', exit: 'cpuid', source: `${SEV_SHARED} vc_handle_cpuid()`, what: 'SVM_EXIT_CPUID (0x72): SNP CPUID table first; else GHCB RAX, RCX, XCR0; RAX-RDX from the GHCB (64 bits)' },
  { id: 'sev-msr', platform: 'sev-es', exit: 'msr-read', source: `${SEV_CORE} vc_handle_msr()`, what: 'SVM_EXIT_MSR (0x7c): exit_info_1 = 1 for WRMSR (0F 30); GHCB RCX (+RAX, RDX); RDMSR: RAX, RDX from the GHCB (64 bits)' },
  { id: 'sev-hlt', platform: 'sev-es', exit: 'hlt', source: `${SEV_CORE} vc_handle_exitcode()`, what: 'no case for SVM_EXIT_HLT: HLT is an automatic exit under SEV-ES, no #VC' },
];

const ROW = new Map(HANDLER_ROWS.map((r) => [r.id, r]));
const row = (id: string): HandlerRow => {
  const r = ROW.get(id);
  if (!r) throw new Error(`handlers: no row ${id}`);
  return r;
};

const TDX_REASON: Record<ExitKind, { code: number; name: string }> = {
  mmio: { code: 48, name: 'EXIT_REASON_EPT_VIOLATION' },
  'port-io': { code: 30, name: 'EXIT_REASON_IO_INSTRUCTION' },
  cpuid: { code: 10, name: 'EXIT_REASON_CPUID' },
  'msr-read': { code: 31, name: 'EXIT_REASON_MSR_READ' },
  'msr-write': { code: 32, name: 'EXIT_REASON_MSR_WRITE' },
  hlt: { code: 12, name: 'EXIT_REASON_HLT' },
};
const SVM_EXIT: Record<ExitKind, { code: number; name: string }> = {
  mmio: { code: 0x400, name: 'SVM_EXIT_NPF' },
  'port-io': { code: 0x7b, name: 'SVM_EXIT_IOIO' },
  cpuid: { code: 0x72, name: 'SVM_EXIT_CPUID' },
  'msr-read': { code: 0x7c, name: 'SVM_EXIT_MSR' },
  'msr-write': { code: 0x7c, name: 'SVM_EXIT_MSR' },
  hlt: { code: 0x78, name: 'SVM_EXIT_HLT' },
};

// ---------------------------------------------------------------------------
// Which exit an instruction raises

/** The exit an instruction raises, from its opcode; everything else that touches memory is MMIO. */
export function exitKindOf(k: KernelInsn): ExitKind {
  const op = k.opcode;
  if (!k.vex && op.length === 1) {
    const b = op[0];
    if ((b >= 0xe4 && b <= 0xe7) || (b >= 0xec && b <= 0xef) || (b >= 0x6c && b <= 0x6f)) return 'port-io';
    if (b === 0xf4) return 'hlt';
  }
  if (!k.vex && op.length === 2 && op[0] === 0x0f) {
    if (op[1] === 0xa2) return 'cpuid';
    if (op[1] === 0x32) return 'msr-read';
    if (op[1] === 0x30) return 'msr-write';
  }
  return 'mmio';
}


function failureConsequence(prof: ProfileData): string {
  return prof.failure === 'oops'
    ? '"VE fault": exception fixup if the site has one, else oops (panic with oops=panic or in interrupt context)'
    : 'vc_raw_handle_exception() fails: sev_es_terminate(), the guest is terminated';
}

// ---------------------------------------------------------------------------
// MMIO: classify.ts, rendered as a record

const SEV_MMIO_READ = 0x80000001;
const SEV_MMIO_WRITE = 0x80000002;

function mmioRecord(bytes: Uint8Array, prof: ProfileData, decoded?: KernelInsn): HandlerRecord {
  const { verdict: v, kinsn } = analyse(bytes, prof.id, decoded);
  const tdx = prof.hypercall === 'tdvmcall';
  const rows: HandlerRow[] = tdx ? [row('tdx-mmio')] : [row('sev-decode'), row('sev-mmio')];
  const notes = v.notes.slice();
  const caveats: string[] = [];
  const registers: RegisterEffect[] = [];
  let verdict: HandlerVerdict = v.verdict;
  let outcome: HandlerOutcome = { result: 'handled', code: null, warn: false, consequence: null, runtimeChecks: [] };
  let hypercall: HandlerRecord['hypercall'] = null;
  let rip: HandlerRecord['rip'] = { advance: 'insn.length', bytes: kinsn.ok ? kinsn.length : null };
  const fail = (code: string, warn: boolean): HandlerOutcome => ({ result: 'fails', code, warn, consequence: failureConsequence(prof), runtimeChecks: [] });

  if (v.verdict === 'decode-failed') {
    if (tdx) rows.push(row('tdx-mmio-decode-failed'));
    outcome = fail(tdx ? '-EINVAL' : 'ES_DECODE_FAILED', v.warn);
    rip = { advance: 'none', bytes: null };
  } else if (v.class === 'MOVS') {
    if (prof.movs === 'rejected') {
      // handle_mmio() runs the user-half and page-split checks before its switch rejects MOVS.
      const d = v.decidedFailure;
      if (d) rows.push(row(d.check === 'user-half' ? 'tdx-mmio-user-half' : 'tdx-mmio-page-split'));
      rows.push(row('tdx-mmio-movs'));
      outcome = d ? fail(d.code, d.warn) : fail('-EINVAL', false);
      if (!d) outcome.runtimeChecks = ['insn_get_addr_ref() takes MOVS (no ModRM) as [RAX]: when RAX + size - 1 crosses a page the page-split check answers -EFAULT first'];
      rip = { advance: 'none', bytes: null };
    } else {
      rows.push(row('sev-mmio-movs'));
      const rep = kinsn.legacyPrefixes.includes(0xf3) || kinsn.legacyPrefixes.includes(0xf2);
      outcome = { result: rep ? 'retried' : 'handled', code: rep ? 'ES_RETRY' : null, warn: false, consequence: null, runtimeChecks: ['vc_read_mem()/vc_write_mem() take a nested #VC on the MMIO side'] };
      rip = rep ? { advance: 'retry', bytes: kinsn.length } : { advance: 'insn.length', bytes: kinsn.length };
      const w = v.size;
      registers.push(
        { reg: 'rsi', kernel: `+= ${w} (64-bit, DS base)`, cpu: `${kinsn.addrBytes === 4 ? 'esi' : 'rsi'} += ${w}` },
        { reg: 'rdi', kernel: `+= ${w} (64-bit)`, cpu: `${kinsn.addrBytes === 4 ? 'edi' : 'rdi'} += ${w}` },
      );
      if (rep) registers.push({ reg: 'rcx', kernel: '-= 1 per #VC (64-bit)', cpu: `${kinsn.addrBytes === 4 ? 'ecx' : 'rcx'} -= 1 per element` });
    }
  } else {
    const writes = v.direction === 'write';
    const slot = v.regSlot;
    if (tdx) {
      rows.push(row(v.class === 'WRITE' ? 'tdx-mmio-write' : v.class === 'WRITE_IMM' ? 'tdx-mmio-write-imm' : 'tdx-mmio-read'));
      hypercall = {
        kind: 'tdvmcall', r10: 0, r11: 48, r12: v.size, r13: writes ? 1 : 0, r14: 've->gpa (from the #VE info)',
        r15: writes ? (v.class === 'WRITE_IMM' ? `immediate ${kinsn.immediate === null ? '?' : '0x' + BigInt.asUintN(64, kinsn.immediate).toString(16)} (sign-extended)` : `${slot} (low ${v.size} byte${v.size === 1 ? '' : 's'}${v.size < 8 ? '; the rest of the local is uninitialised' : ''})`) : prof.r15LeakOnRead ? 'uninitialised (leaked to the host)' : 0,
        returns: writes ? null : 'R11: the value read',
      };
    } else {
      rows.push(row(v.class === 'WRITE' ? 'sev-mmio-write' : v.class === 'WRITE_IMM' ? 'sev-mmio-write-imm' : 'sev-mmio-read'), row('sev-mmio-do'));
      const data = v.class === 'WRITE_IMM'
        ? (v.misemulation.includes('write-imm-upper-garbage') ? `immediate1.bytes[0..${v.size}): ${kinsn.immBytes} immediate bytes, then got/nbytes/padding of struct insn_field` : `immediate1.bytes[0..${v.size})`)
        : writes ? `${slot} (low ${v.size} byte${v.size === 1 ? '' : 's'})` : 'filled by the host';
      hypercall = {
        kind: 'ghcb', exitCode: writes ? SEV_MMIO_WRITE : SEV_MMIO_READ, exitName: writes ? 'SVM_VMGEXIT_MMIO_WRITE' : 'SVM_VMGEXIT_MMIO_READ',
        exitInfo1: 'GPA of insn_get_addr_ref() (vc_slow_virt_to_phys)', exitInfo2: v.size,
        fields: { sw_scratch: 'GPA of ghcb->shared_buffer', shared_buffer: data },
        returns: writes ? null : 'shared_buffer: the value read',
      };
    }
    if (!writes && slot) registers.push(readEffect(v, kinsn, slot));
    if (v.decidedFailure) {
      const d = v.decidedFailure;
      const r = row(d.check === 'user-half' ? 'tdx-mmio-user-half' : d.check === 'page-split' ? 'tdx-mmio-page-split' : 'sev-mmio-do');
      if (!rows.includes(r)) rows.push(r);
      verdict = 'rejected';
      outcome = fail(d.code, d.warn);
      hypercall = null;
      registers.length = 0;
      rip = { advance: 'none', bytes: null };
    } else {
      outcome.runtimeChecks = v.runtimeChecks.map((c) => c === 'user-half'
        ? 'user-half: fault_in_kernel_space(ve->gla) must hold, else WARN_ONCE and -EINVAL'
        : 'page-split: the access must not cross a 4 KiB page, else -EFAULT');
      if (!tdx) outcome.runtimeChecks.push('vc_slow_virt_to_phys() must find the page, else the #PF is forwarded');
    }
  }
  return {
    profile: prof.id, platform: prof.platform, kernel: formatVersion(prof.kernel),
    bytes: v.bytes, text: v.text, length: v.length,
    exit: exitInfo('mmio', prof, tdx ? `${TDX} handle_mmio()` : `${SEV_CORE} vc_handle_mmio()`),
    class: v.class, kernelEnum: v.kernelEnum, size: v.size,
    direction: v.class === 'MOVS' ? 'read-write' : v.direction,
    hypercall, registers, rip, verdict,
    misemulation: v.misemulation.slice(), outcome, caveats, rows, mmio: v, notes,
  };
}

function readEffect(v: MmioVerdict, k: KernelInsn, slot: string): RegisterEffect {
  const cpuReg = v.text.split(/[ ,]+/)[1] ?? slot;
  let kernel: string;
  let cpu: string;
  if (v.class === 'READ') {
    kernel = v.size === 4 ? `${slot} := value, zero-extended (extend_size = 8)` : `low ${v.size} bytes of ${slot} := value, the rest kept`;
    cpu = v.size === 4 ? `${cpuReg} := value, bits 63:32 cleared` : `${cpuReg} := value${v.size < 4 ? ', the rest kept' : ''}`;
  } else {
    const ext = v.class === 'READ_ZERO_EXTEND' ? 'zero' : 'sign';
    kernel = `memset(${slot}, ${ext === 'zero' ? '0' : 'sign'}, ${k.opndBytes}), then the low ${v.size} bytes := value`;
    cpu = `${cpuReg} := ${ext}-extended value${k.opndBytes === 4 ? ', bits 63:32 cleared' : ''}`;
  }
  return { reg: cpuReg, kernel, cpu };
}

function exitInfo(kind: ExitKind, prof: ProfileData, handler: string): HandlerRecord['exit'] {
  const tdx = prof.hypercall === 'tdvmcall';
  return { kind, tdxReason: tdx ? TDX_REASON[kind] : null, svmExit: tdx ? null : SVM_EXIT[kind], handler };
}

// ---------------------------------------------------------------------------
// Port I/O, CPUID, MSR, HLT

function portRecord(k: KernelInsn, cpu: CpuView, prof: ProfileData, base: Base): HandlerRecord {
  const tdx = prof.hypercall === 'tdvmcall';
  const b = k.opcode[0];
  const string = b >= 0x6c && b <= 0x6f;
  const isIn = string ? b <= 0x6d : (b & 2) === 0; // E4/E5/EC/ED, 6C/6D
  const size = (b & 1) === 0 ? 1 : k.opndBytes === 2 ? 2 : 4;
  const viaDx = string || b >= 0xec;
  // The kernel decoder model stops at the opcode for these; the CPU's view has the imm8 port.
  const imm = cpu.operands.find((o) => o.kind === 'immediate')?.immediate;
  const port = viaDx ? 'DX' : imm === undefined ? 'imm8' : `0x${BigInt.asUintN(8, imm).toString(16)}`;
  const rep = k.legacyPrefixes.includes(0xf3) || k.legacyPrefixes.includes(0xf2);
  const cls: HandlerClass = string ? 'PORT_STRING' : isIn ? 'PORT_IN' : 'PORT_OUT';
  const acc = ['al', 'ax', '', 'eax'][size - 1];
  const rows: HandlerRow[] = [];
  const misemulation: HandlerMisemulation[] = [];
  const registers: RegisterEffect[] = [];
  const notes: string[] = [];
  let verdict: HandlerVerdict = 'emulated';
  let outcome: HandlerOutcome = { result: 'handled', code: null, warn: false, consequence: null, runtimeChecks: [] };
  let hypercall: HandlerRecord['hypercall'] = null;
  let rip: HandlerRecord['rip'] = { advance: tdx ? 've->instr_len' : 'insn.length', bytes: base.length };

  if (tdx) {
    rows.push(row('tdx-io'));
    if (string) {
      verdict = 'rejected-string-io';
      outcome = { result: 'fails', code: '-EIO', warn: false, consequence: failureConsequence(prof), runtimeChecks: [] };
      rip = { advance: 'none', bytes: null };
      notes.push('handle_io(): VE_IS_IO_STRING(exit_qual) -> -EIO. io.h unrolls ins*/outs* under TDX (CC_ATTR_GUEST_UNROLL_STRING_IO), so only a direct string instruction gets here.');
    } else if (isIn) {
      rows.push(row('tdx-io-in'));
      hypercall = { kind: 'tdvmcall', r10: 0, r11: 30, r12: size, r13: 0, r14: port, r15: null, returns: 'R11: the value read' };
      const bits = size * 8;
      const { maskExtraBit, inlUpper } = prof.portIn;
      if (maskExtraBit) {
        misemulation.push('port-mask-extra-bit');
        notes.push(`GENMASK(${bits}, 0) is ${bits + 1} bits: bit ${bits} of RAX is cleared and then taken from the host's R11 (fixed by "x86/tdx: Fix off-by-one in port I/O handling").`);
      }
      if (size === 4 && inlUpper === 'kept') {
        misemulation.push('port-inl-upper-kept');
        notes.push('A 4-byte IN leaves RAX[63:32]; the CPU zero-extends (fixed by "x86/tdx: Fix zero-extension for 32-bit port I/O").');
      }
      const kernel = maskExtraBit
        ? `RAX &= ~GENMASK(${bits}, 0); RAX |= R11 & GENMASK(${bits}, 0)${size === 4 && inlUpper === 'kept' ? '; bits 63:33 kept' : ''}`
        : `insn_assign_reg(&regs->ax, R11, ${size}): ${size === 4 ? 'RAX := zero-extended value' : `${acc} := value, the rest kept`}`;
      registers.push({ reg: acc, kernel, cpu: size === 4 ? 'RAX := zero-extended value' : `${acc} := value, the rest of RAX kept` });
      outcome.runtimeChecks.push('a failed TDVMCALL: RAX gets 0 in the accessed bits, handle_io() returns -EIO');
    } else {
      rows.push(row('tdx-io-out'));
      const mask = prof.portIn.maskExtraBit ? `GENMASK(${size * 8}, 0)` : `GENMASK(${size * 8 - 1}, 0)`;
      hypercall = { kind: 'tdvmcall', r10: 0, r11: 30, r12: size, r13: 1, r14: port, r15: `RAX & ${mask}`, returns: null };
      if (prof.portIn.maskExtraBit) {
        misemulation.push('port-mask-extra-bit');
        notes.push(`handle_out() sends RAX & GENMASK(${size * 8}, 0): bit ${size * 8} of RAX reaches the host with the value.`);
      }
    }
  } else {
    rows.push(row('sev-decode'), row(string ? 'sev-ioio-string' : 'sev-ioio'));
    const info = `port ${port} << 16 | ${string ? (isIn ? 'IOIO_TYPE_INS' : 'IOIO_TYPE_OUTS') : isIn ? 'IOIO_TYPE_IN' : 'IOIO_TYPE_OUT'} | IOIO_DATA_${size * 8} | IOIO_ADDR_${k.addrBytes * 8}${rep ? ' | IOIO_REP' : ''}`;
    if (string) {
      hypercall = {
        kind: 'ghcb', exitCode: 0x7b, exitName: 'SVM_EXIT_IOIO', exitInfo1: info, exitInfo2: `min(${rep ? 'RCX' : '1'}, shared buffer / ${size})`,
        fields: { sw_scratch: 'GPA of ghcb->shared_buffer', shared_buffer: isIn ? 'filled by the host, copied to ES base + RDI' : 'copied from ES base + RSI' }, returns: isIn ? 'shared_buffer' : null,
      };
      if (rep) {
        outcome = { result: 'retried', code: 'ES_RETRY', warn: false, consequence: null, runtimeChecks: [] };
        rip = { advance: 'retry', bytes: base.length };
      } else if (prof.stringIoRetryWithoutRep) {
        misemulation.push('string-io-retry-without-rep');
        outcome = { result: 'retried', code: 'ES_RETRY', warn: false, consequence: null, runtimeChecks: ['RCX == 0: handled once; any other RCX: ES_RETRY for ever (RCX is not decremented without REP)'] };
        rip = { advance: 'retry', bytes: base.length };
        notes.push('vc_handle_ioio() ends with `ret = regs->cx ? ES_RETRY : ES_OK` for every string form: without REP, RCX never changes, so with RCX != 0 the INS/OUTS is executed again and again (found by running the kernel code).');
      }
      const segs = k.legacyPrefixes.filter((p) => p === 0x64 || p === 0x65);
      if ((!isIn && segs.length) || k.addrBytes === 4) {
        misemulation.push('string-io-segment-or-addr32');
        notes.push(!isIn && segs.length ? 'OUTS reads from ES base + RSI: the FS/GS override the CPU applies to the source is ignored.' : 'Under 0x67 the kernel uses the 64-bit RSI/RDI/RCX where the CPU uses ESI/EDI/ECX.');
      }
      registers.push({ reg: isIn ? 'rdi' : 'rsi', kernel: `+= count * ${size}`, cpu: `+= ${size} per element` });
      if (rep) registers.push({ reg: 'rcx', kernel: '-= count per #VC', cpu: '-= 1 per element' });
    } else {
      hypercall = {
        kind: 'ghcb', exitCode: 0x7b, exitName: 'SVM_EXIT_IOIO', exitInfo1: info, exitInfo2: 0,
        fields: { rax: isIn ? '0' : `lower_bits(RAX, ${size * 8})` }, returns: isIn ? 'GHCB RAX (must be valid, else ES_VMM_ERROR)' : null,
      };
      if (isIn) {
        const clears = prof.portIn.narrowUpper === 'zeroed' && size < 4;
        if (clears) {
          misemulation.push('port-in-upper-cleared');
          notes.push(`regs->ax = lower_bits(ghcb->save.rax, ${size * 8}) clears RAX[63:${size * 8}]; the CPU changes only ${acc}.`);
        }
        registers.push({ reg: acc, kernel: `RAX := lower_bits(GHCB RAX, ${size * 8})`, cpu: size === 4 ? 'RAX := zero-extended value' : `${acc} := value, the rest of RAX kept` });
      }
    }
    outcome.runtimeChecks.push('vc_ioio_check(): user-mode port access must be allowed by the I/O bitmap');
  }
  if (misemulation.length && verdict === 'emulated') verdict = 'misemulated';
  return {
    ...base.common, exit: exitInfo('port-io', prof, tdx ? `${TDX} handle_io()` : `${SEV_SHARED} vc_handle_ioio()`),
    class: cls, kernelEnum: null, size, direction: isIn ? 'read' : 'write',
    hypercall, registers, rip, verdict, misemulation, outcome, caveats: [], rows, mmio: null, notes,
  };
}

function cpuidRecord(prof: ProfileData, base: Base): HandlerRecord {
  const tdx = prof.hypercall === 'tdvmcall';
  const caveats: string[] = [];
  const notes: string[] = [];
  if (prof.cpuidNoZeroExtend) caveats.push('RAX-RDX take the host\'s full 64-bit values; the CPU writes 32-bit results, zero-extended (a zero-extension patch was posted in May 2026)');
  if (tdx) notes.push('Only leaves the TDX module does not handle itself reach the #VE; regs->ax is compared as a 64-bit value, so a leaf in EAX with stale RAX[63:32] reads as all zeros (derived).');
  return {
    ...base.common, exit: exitInfo('cpuid', prof, tdx ? `${TDX} handle_cpuid()` : `${SEV_SHARED} vc_handle_cpuid()`),
    class: 'CPUID', kernelEnum: null, size: 0, direction: null,
    hypercall: tdx
      ? { kind: 'tdvmcall', r10: 0, r11: 10, r12: 'RAX', r13: 'RCX', r14: null, r15: null, returns: 'R12-R15 into RAX, RBX, RCX, RDX (leaf 0x40000000-0x4FFFFFFF only; other leaves: all four := 0, no TDVMCALL)' }
      : { kind: 'ghcb', exitCode: 0x72, exitName: 'SVM_EXIT_CPUID', exitInfo1: 0, exitInfo2: 0, fields: { rax: 'RAX', rcx: 'RCX', xcr0: 'XCR0 (1 without CR4.OSXSAVE)' }, returns: 'GHCB RAX-RDX (all must be valid, else ES_VMM_ERROR); SNP: the CPUID table first' },
    registers: ['rax', 'rbx', 'rcx', 'rdx'].map((r) => ({ reg: r, kernel: `${r} := host value (64 bits)`, cpu: `e${r.slice(1)} := result, bits 63:32 cleared` })),
    rip: { advance: tdx ? 've->instr_len' : 'insn.length', bytes: base.length },
    verdict: 'emulated', misemulation: [],
    outcome: { result: 'handled', code: null, warn: false, consequence: null, runtimeChecks: [] },
    caveats, rows: tdx ? [row('tdx-cpuid')] : [row('sev-decode'), row('sev-cpuid')], mmio: null, notes,
  };
}

function msrRecord(kind: 'msr-read' | 'msr-write', prof: ProfileData, base: Base): HandlerRecord {
  const tdx = prof.hypercall === 'tdvmcall';
  const read = kind === 'msr-read';
  const caveats: string[] = [];
  const notes: string[] = [];
  if (read && !prof.msrReadZeroExtends) caveats.push('RAX and RDX take the host\'s full 64-bit GHCB values; RDMSR writes 32 bits each, zero-extended');
  if (!read && tdx) notes.push('R13 = (u64)RDX << 32 | RAX: a RAX with bits 63:32 set ORs them into the value\'s upper half; WRMSR ignores them (derived; io.h-style wrmsr passes a u32 in EAX).');
  return {
    ...base.common, exit: exitInfo(kind, prof, tdx ? `${TDX} ${read ? 'read_msr' : 'write_msr'}()` : `${SEV_CORE} vc_handle_msr()`),
    class: read ? 'RDMSR' : 'WRMSR', kernelEnum: null, size: 0, direction: read ? 'read' : 'write',
    hypercall: tdx
      ? { kind: 'tdvmcall', r10: 0, r11: read ? 31 : 32, r12: 'RCX', r13: read ? null : '(u64)RDX << 32 | RAX', r14: null, r15: null, returns: read ? 'R11: RAX = lower_32_bits, RDX = upper_32_bits' : null }
      : { kind: 'ghcb', exitCode: 0x7c, exitName: 'SVM_EXIT_MSR', exitInfo1: read ? 0 : 1, exitInfo2: 0, fields: read ? { rcx: 'RCX' } : { rcx: 'RCX', rax: 'RAX', rdx: 'RDX' }, returns: read ? 'GHCB RAX, RDX' : null },
    registers: read ? [
      { reg: 'rax', kernel: tdx ? 'lower_32_bits(R11)' : 'GHCB RAX (64 bits)', cpu: 'EAX := MSR[31:0], bits 63:32 cleared' },
      { reg: 'rdx', kernel: tdx ? 'upper_32_bits(R11)' : 'GHCB RDX (64 bits)', cpu: 'EDX := MSR[63:32], bits 63:32 cleared' },
    ] : [],
    rip: { advance: tdx ? 've->instr_len' : 'insn.length', bytes: base.length },
    verdict: 'emulated', misemulation: [],
    outcome: { result: 'handled', code: null, warn: false, consequence: null, runtimeChecks: [tdx ? 'a failed TDVMCALL: -EIO, a #GP-like fault (rdmsr_safe/wrmsr_safe fixups catch it)' : 'the hypervisor may inject #GP (ES_EXCEPTION)'] },
    caveats, rows: tdx ? [row(read ? 'tdx-msr-read' : 'tdx-msr-write')] : [row('sev-decode'), row('sev-msr')], mmio: null, notes,
  };
}

function hltRecord(prof: ProfileData, base: Base): HandlerRecord {
  const tdx = prof.hlt === 'tdvmcall';
  return {
    ...base.common, exit: exitInfo('hlt', prof, tdx ? `${TDX} handle_halt()` : `${SEV_CORE} vc_handle_exitcode() (no case)`),
    class: 'HLT', kernelEnum: null, size: 0, direction: null,
    hypercall: tdx ? { kind: 'tdvmcall', r10: 0, r11: 12, r12: 'irqs_disabled()', r13: null, r14: null, r15: null, returns: null } : null,
    registers: [],
    rip: tdx ? { advance: 've->instr_len', bytes: base.length } : { advance: 'none', bytes: null },
    verdict: tdx ? 'emulated' : 'not-intercepted', misemulation: [],
    outcome: tdx
      ? { result: 'handled', code: null, warn: false, consequence: null, runtimeChecks: ['a failed TDVMCALL: -EIO'] }
      : { result: 'not-intercepted', code: null, warn: false, consequence: null, runtimeChecks: [] },
    caveats: [], rows: [row(tdx ? 'tdx-hlt' : 'sev-hlt')], mmio: null,
    notes: tdx ? ['The idle path (tdx_safe_halt) issues the TDVMCALL directly; only a plain HLT takes the #VE.'] : ['HLT is an automatic exit under SEV-ES: the hypervisor sees it without a #VC.'],
  };
}

const MASK64 = (1n << 64n) - 1n;
const lowMask = (bits: number): bigint => (1n << BigInt(bits)) - 1n;

/**
 * RAX after an IN of `size` bytes that returned `value` (ok = false: the hypercall
 * failed, the kernel puts 0): handle_in() (TDX, per version) or vc_handle_ioio() (SEV).
 */
export function portInResult(prof: ProfileData, size: 1 | 2 | 4, rax: bigint, value: bigint, ok = true): bigint {
  const bits = size * 8;
  const v = ok ? value : 0n;
  if (prof.hypercall === 'ghcb') return v & lowMask(bits);
  const { maskExtraBit, inlUpper, narrowUpper } = prof.portIn;
  if (size === 4 && inlUpper === 'zeroed') return v & lowMask(32);
  const mask = lowMask(maskExtraBit ? bits + 1 : bits);
  const merged = (rax & ~mask & MASK64) | (v & mask);
  return narrowUpper === 'zeroed' ? merged & mask : merged;
}

/** The value an OUT of `size` bytes sends: R15 (TDX handle_out) or the GHCB RAX (SEV lower_bits). */
export function portOutValue(prof: ProfileData, size: 1 | 2 | 4, rax: bigint): bigint {
  const bits = size * 8;
  if (prof.hypercall === 'ghcb') return rax & lowMask(bits);
  return rax & lowMask(prof.portIn.maskExtraBit ? bits + 1 : bits);
}

interface Base {
  length: number;
  common: Pick<HandlerRecord, 'profile' | 'platform' | 'kernel' | 'bytes' | 'text' | 'length'>;
}

export interface HandleOptions {
  /** Force the exit (e.g. 'mmio' for an instruction the caller knows faulted on MMIO); default from the opcode. */
  exit?: ExitKind;
}

/**
 * What the profile's #VE/#VC handler does with the instruction at the start of
 * `bytes`: one record for every exit kind. Pure; never throws for any input.
 */
export function handle(bytes: Uint8Array, profile: Profile = DEFAULT_PROFILE, opts: HandleOptions = {}): HandlerRecord {
  const prof = profileData(profile);
  const k = kernelDecode(bytes);
  const kind = opts.exit ?? (k.ok ? exitKindOf(k) : 'mmio');
  if (kind === 'mmio') return mmioRecord(bytes, prof, k);
  const cpu = cpuDecode(bytes);
  const length = cpu.valid ? cpu.length : k.length;
  const base: Base = {
    length,
    common: { profile: prof.id, platform: prof.platform, kernel: formatVersion(prof.kernel), bytes: hexBytes(bytes.subarray(0, Math.max(1, length))), text: cpu.text, length },
  };
  switch (kind) {
    case 'port-io': return portRecord(k, cpu, prof, base);
    case 'cpuid': return cpuidRecord(prof, base);
    case 'msr-read':
    case 'msr-write': return msrRecord(kind, prof, base);
    case 'hlt': return hltRecord(prof, base);
  }
}


// ---------------------------------------------------------------------------
// What travels downstream

/** Everything the record decides, in the form renderers read (a HandlerRecord and a HandlerView both are one). */
export type HandlerFacts = Omit<HandlerRecord, 'mmio' | 'rows'>;

/**
 * The record as CompiledInstruction and Finding carry it: plain data that survives
 * JSON and structured cloning. classify's MMIO view is left out (its flags are on
 * the instruction already) and the rows are named by id (HANDLER_ROWS has the rest).
 */
export interface HandlerView extends HandlerFacts {
  rows: string[];
}

export function handlerView(r: HandlerRecord): HandlerView {
  const { mmio: _mmio, rows, ...rest } = r;
  return { ...rest, rows: rows.map((x) => x.id) };
}

/** handle() as downstream code keeps it: the view, classify's flags (MMIO) and the summary line. */
export interface Handled {
  view: HandlerView;
  flags: Flag[];
  summary: string;
}

const HANDLED = new Map<string, Handled>();
const HANDLED_MAX = 8192;

/**
 * handle() once per encoding and profile: an object repeats a few encodings many
 * times, and the instructions (and sites) that share one share its view, in memory
 * and through structured cloning. Callers must not modify what they get.
 */
export function handleOnce(bytes: Uint8Array, profile: Profile = DEFAULT_PROFILE): Handled {
  const key = `${profile} ${hexBytes(bytes)}`;
  let h = HANDLED.get(key);
  if (!h) {
    const r = handle(bytes, profile);
    h = { view: handlerView(r), flags: r.mmio?.flags ?? [], summary: summaryText(r) };
    if (HANDLED.size >= HANDLED_MAX) HANDLED.clear();
    HANDLED.set(key, h);
  }
  return h;
}

/**
 * What an io.h / msr.h / processor.h / irqflags.h accessor compiles to, address in
 * RDI: build_mmio_read()/build_mmio_write() are one MOV of the access width
 * (`movb (%1),%0` ... `movq`), BUILDIO's inX/outX are `in`/`out` through DX,
 * native_read_msr/native_write_msr RDMSR/WRMSR, native_cpuid CPUID, native_halt HLT
 * (arch/x86/include/asm/{io,msr,processor,irqflags}.h). A source site is judged on
 * this instruction until the object shows what the compiler really emitted.
 * `kind` spells the catalogue's AccessorKind; null where no single instruction is
 * the accessor (copies, string I/O, widths it does not have).
 */
export function accessorInstruction(kind: string, width: number): Uint8Array | null {
  const sized = (op8: number, op: number, tail: number[], quad: boolean): number[] | null =>
    width === 1 ? [op8, ...tail] : width === 2 ? [0x66, op, ...tail] : width === 4 ? [op, ...tail] : width === 8 && quad ? [0x48, op, ...tail] : null;
  let b: number[] | null = null;
  switch (kind) {
    case 'mmio-read': b = sized(0x8a, 0x8b, [0x07], true); break; // mov al/ax/eax/rax, [rdi]
    case 'mmio-write': b = sized(0x88, 0x89, [0x07], true); break; // mov [rdi], al/ax/eax/rax
    case 'port-in': b = sized(0xec, 0xed, [], false); break; // in al/ax/eax, dx
    case 'port-out': b = sized(0xee, 0xef, [], false); break; // out dx, al/ax/eax
    case 'msr-read': b = [0x0f, 0x32]; break;
    case 'msr-write': b = [0x0f, 0x30]; break;
    case 'cpuid': b = [0x0f, 0xa2]; break;
    case 'hlt': b = [0xf4]; break;
  }
  return b ? Uint8Array.from(b) : null;
}

// ---------------------------------------------------------------------------
// Renderers: one wording of the record for hover, findings, the disassembly view and reports.

const num = (v: number | string | null): string => (typeof v === 'number' ? String(v) : v ?? '-');

/** "TDVMCALL R10=0 R11=48 (EXIT_REASON_EPT_VIOLATION) R12=4 R13=1 R14=ve->gpa R15=...; returns ..." or the GHCB form. */
export function hypercallText(r: HandlerFacts): string {
  const h = r.hypercall;
  if (!h) {
    if (r.outcome.result === 'not-intercepted') return 'no #VE/#VC: not intercepted';
    if (r.outcome.result === 'fails') return 'none: the handler fails before calling the host';
    // SEV's MOVS: vc_read_mem()/vc_write_mem() touch the MMIO side, which takes a #VC of its own.
    return `none of its own${r.outcome.runtimeChecks[0] ? `: ${r.outcome.runtimeChecks[0]}` : ''}`;
  }
  if (h.kind === 'tdvmcall') {
    const reason = r.exit.tdxReason && r.exit.tdxReason.code === h.r11 ? ` (${r.exit.tdxReason.name})` : '';
    const regs = [`R10=${h.r10}`, `R11=${h.r11}${reason}`, `R12=${num(h.r12)}`];
    if (h.r13 !== null) regs.push(`R13=${num(h.r13)}`);
    if (h.r14 !== null) regs.push(`R14=${num(h.r14)}`);
    if (h.r15 !== null) regs.push(`R15=${num(h.r15)}`);
    return `TDVMCALL ${regs.join(' ')}${h.returns ? `; returns ${h.returns}` : ''}`;
  }
  const fields = Object.entries(h.fields).map(([k, v]) => `${k}=${v}`).join(' ');
  return `VMGEXIT ${h.exitName} (0x${h.exitCode.toString(16)}) exit_info_1=${num(h.exitInfo1)} exit_info_2=${num(h.exitInfo2)}${fields ? ` ${fields}` : ''}${h.returns ? `; returns ${h.returns}` : ''}`;
}

/** "rax: kernel ... / CPU ..." per register, marking where they differ. */
export function registerText(r: HandlerFacts): string[] {
  return r.registers.map((e) => (e.kernel === e.cpu ? `${e.reg}: ${e.kernel}` : `${e.reg}: kernel ${e.kernel}; CPU ${e.cpu}`));
}

/** How RIP moves after the handler. */
export function ripText(r: HandlerFacts): string {
  switch (r.rip.advance) {
    case 'insn.length': return `+${r.rip.bytes} (the decoded length)`;
    case 've->instr_len': return `+${r.rip.bytes} (ve->instr_len from the TDX module)`;
    case 'retry': return 'not advanced until RCX reaches 0 (ES_RETRY re-executes the instruction)';
    case 'none': return 'not advanced: the exception is not handled';
  }
}

/** The handler function that runs: "handle_mmio", "vc_handle_ioio". */
export function handlerName(r: HandlerFacts): string {
  return /(\w+)\(\)/.exec(r.exit.handler)?.[1] ?? r.exit.handler;
}

/** "TDVMCALL EPT_VIOLATION (48)", "VMGEXIT SVM_EXIT_IOIO (0x7b)"; null when the handler calls no host. */
export function hypercallName(r: HandlerFacts): string | null {
  const h = r.hypercall;
  if (!h) return null;
  if (h.kind === 'ghcb') return `VMGEXIT ${h.exitName} (0x${h.exitCode.toString(16)})`;
  const reason = r.exit.tdxReason && r.exit.tdxReason.code === h.r11 ? r.exit.tdxReason.name.replace(/^EXIT_REASON_/, '') : 'exit';
  return `TDVMCALL ${reason} (${h.r11})`;
}

/** "#VE EPT_VIOLATION (exit 48)" / "#VC SVM_EXIT_NPF (0x400)": the exception and its reason. */
export function exitText(r: HandlerFacts): string {
  if (r.exit.tdxReason) return `#VE ${r.exit.tdxReason.name.replace(/^EXIT_REASON_/, '')} (exit ${r.exit.tdxReason.code})`;
  if (r.exit.svmExit) return `#VC ${r.exit.svmExit.name} (0x${r.exit.svmExit.code.toString(16)})`;
  return r.platform === 'tdx' ? '#VE' : '#VC';
}

/** What is accessed: "INSN_MMIO_READ, 4 bytes", "IN of 1 byte", "RDMSR". */
export function accessText(r: HandlerFacts): string {
  const bytes = (n: number) => `${n} byte${n === 1 ? '' : 's'}`;
  switch (r.exit.kind) {
    case 'mmio': return `${r.kernelEnum ?? r.class}${r.size ? `, ${bytes(r.size)}` : ''}`;
    case 'port-io': {
      const op = r.class === 'PORT_STRING' ? (r.direction === 'read' ? 'INS' : 'OUTS') : r.direction === 'read' ? 'IN' : 'OUT';
      return `${op} of ${bytes(r.size)}`;
    }
    case 'cpuid': return 'CPUID';
    case 'msr-read': return 'RDMSR';
    case 'msr-write': return 'WRMSR';
    case 'hlt': return 'HLT';
  }
}

/**
 * One line for the record: what is accessed, what the handler does with it, and
 * why when it fails or goes wrong. CompiledInstruction.summary is this.
 */
export function summaryText(r: HandlerFacts): string {
  const what = accessText(r);
  const fn = handlerName(r);
  const note = r.notes[0] ? `: ${r.notes[0].replace(/\.$/, '')}` : '';
  switch (r.verdict) {
    case 'emulated': {
      const rip = r.rip.advance === 'retry' ? 'repeated (ES_RETRY) until RCX is 0' : r.rip.bytes !== null ? `RIP += ${r.rip.bytes}` : 'RIP not advanced';
      const call = hypercallName(r);
      return `${what}: emulated by ${fn}()${call ? ` with ${call}` : ''}, ${rip}`;
    }
    case 'misemulated':
      return `${what}: emulated wrongly by ${fn}() (${r.misemulation.join(', ')})${note}`;
    case 'not-intercepted':
      return `${what}: not intercepted${note}`;
    default: {
      const o = r.outcome;
      const why = r.verdict === 'rejected' && r.notes.length ? ` (${r.notes[r.notes.length - 1].replace(/\.$/, '')})` : '';
      return `${what}: ${fn}() returns ${o.code ?? 'an error'}${o.warn ? ' after a WARN' : ''}${why}: ${o.consequence ?? 'the exception is not handled'}`;
    }
  }
}
