// Help text per rule for reports (SARIF rule help, HTML and Markdown legends). Each
// cites the kernel source the rule is modelled on, so a reviewer can check the claim.

import type { RuleCode } from '../../c/types';
import { DEFAULT_SEVERITY, RULE_TITLES } from '../findings';

export interface RuleHelp {
  /** Paragraph: what happens in a TDX guest, and why. */
  text: string;
  /** What to do about it. */
  fix: string;
  /** Kernel sources the rule is modelled on. */
  kernel: string[];
}

const MMIO_PATH = 'arch/x86/coco/tdx/tdx.c (virt_exception_kernel → handle_mmio)';
const DECODER = 'arch/x86/lib/insn-eval.c (insn_decode_mmio)';

// Partial: a rule added to RuleCode later falls back to its title until described here.
const HELP: Partial<Record<RuleCode, RuleHelp>> = {
  'tdx-ve-mmio': {
    text: 'Device MMIO is not mapped in the TDX guest\'s secure EPT, so every access raises a #VE (exit reason 48, EPT violation). The guest decodes the faulting MOV with insn_decode_mmio() and performs the access with a TDVMCALL to the host. The io.h accessors compile to exactly one MOV through a register, which the handler understands: the access works, at the cost of a #VE and a host round trip.',
    fix: 'Nothing is wrong. Keep such accesses off hot paths where the round trip matters.',
    kernel: ['arch/x86/include/asm/io.h (build_mmio_read, build_mmio_write)', MMIO_PATH, DECODER],
  },
  'tdx-ve-mmio-string': {
    text: 'memcpy_toio/memcpy_fromio/memset_io and ioreadN_rep/iowriteN_rep access MMIO one element at a time under TDX; each element is a separate #VE and TDVMCALL.',
    fix: 'Prefer fewer, wider accesses for bulk transfers, or DMA.',
    kernel: ['arch/x86/lib/iomem.c', 'lib/iomap.c', MMIO_PATH],
  },
  'tdx-ve-port-io': {
    text: 'IN/OUT raise a #VE (exit reason 30, I/O instruction) in a TDX guest; handle_io() performs the access with a TDVMCALL.',
    fix: 'Nothing is wrong; each access costs a #VE round trip.',
    kernel: ['arch/x86/include/asm/io.h (BUILDIO)', 'arch/x86/coco/tdx/tdx.c (handle_io)'],
  },
  'tdx-ve-port-string': {
    text: 'String port I/O (INS/OUTS) is rejected by handle_io(); under CONFIG_INTEL_TDX_GUEST the insX/outsX helpers are unrolled into single IN/OUT instructions, one #VE each.',
    fix: 'Nothing is wrong when the io.h helpers are used; never issue rep ins/outs directly.',
    kernel: ['arch/x86/include/asm/io.h (BUILDIO, cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO))', 'arch/x86/coco/tdx/tdx.c (handle_io)'],
  },
  'tdx-ve-msr': {
    text: 'RDMSR/WRMSR of an MSR the TDX module does not virtualise raise a #VE (exit reasons 31/32) and go to the host by TDVMCALL; the host may refuse.',
    fix: 'Check that the MSR is meaningful in a TDX guest, and handle a failed access.',
    kernel: ['arch/x86/include/asm/msr.h', 'arch/x86/coco/tdx/tdx.c (read_msr, write_msr)'],
  },
  'tdx-ve-cpuid': {
    text: 'CPUID leaves in the hypervisor range (0x40000000-0x4FFFFFFF) raise a #VE (exit reason 10) and are answered by the host; other leaves the TDX module does not handle read as zero.',
    fix: 'Do not trust hypervisor CPUID leaves for security decisions.',
    kernel: ['arch/x86/include/asm/processor.h (native_cpuid)', 'arch/x86/coco/tdx/tdx.c (handle_cpuid)'],
  },
  'tdx-ve-hlt': {
    text: 'HLT raises a #VE (exit reason 12); handle_halt() issues the TDVMCALL. The TDX idle path calls the hypercall directly.',
    fix: 'Use the kernel\'s idle and halt helpers rather than a raw HLT.',
    kernel: ['arch/x86/include/asm/irqflags.h (native_halt)', 'arch/x86/coco/tdx/tdx.c (handle_halt, tdx_safe_halt)'],
  },
  'tdx-iomem-deref': {
    text: 'A plain C dereference of an __iomem pointer lets the compiler pick the instruction. A read-modify-write often becomes `or`/`and`/`add` on memory, which insn_decode_mmio() cannot decode (the guest oopses); a load may become a widening MOVZX/MOVSX (32-bit forms mis-emulated) or a memory operand of `test`/`cmp`.',
    fix: 'Use readX()/writeX() (or ioreadX()/iowriteX()).',
    kernel: [DECODER, MMIO_PATH, 'Documentation/driver-api/device-io.rst'],
  },
  'tdx-iomem-libc': {
    text: 'memcpy/memset/str* on an __iomem pointer use `rep movs`/`rep stos` or vector instructions; handle_mmio() rejects MOVS and cannot decode the others, so the guest oopses.',
    fix: 'Use memcpy_toio()/memcpy_fromio()/memset_io().',
    kernel: [DECODER, MMIO_PATH, 'arch/x86/lib/iomem.c'],
  },
  'tdx-mmio-untyped-deref': {
    text: 'A pointer whose value comes from an MMIO mapping (ioremap or an __iomem declaration) is dereferenced without the __iomem annotation: the compiler picks the instruction, as for a raw __iomem dereference, and sparse can no longer warn.',
    fix: 'Keep the __iomem annotation on the pointer and use readX()/writeX().',
    kernel: [DECODER, MMIO_PATH],
  },
  'tdx-movs-copy': {
    text: '__iowrite32_copy() is `rep movsl` with no confidential-computing check; insn_decode_mmio() classifies MOVS and handle_mmio() rejects it (-EINVAL), so the TDX guest oopses. (SEV-ES\'s #VC handler emulates MOVS.)',
    fix: 'Use a loop of writel() or __iowrite64_copy() where it is unrolled.',
    kernel: ['arch/x86/lib/iomap_copy_64.S (__iowrite32_copy, before 6.10)', 'arch/x86/include/asm/io.h (__iowrite32_copy, 6.10 and later)', MMIO_PATH, DECODER],
  },
  'tdx-movdir64b': {
    text: 'iosubmit_cmds512() issues MOVDIR64B, which insn_decode_mmio() cannot decode (INSN_MMIO_DECODE_FAILED): WARN_ON_ONCE, then the guest oopses.',
    fix: 'Do not submit work with MOVDIR64B to device memory in a TDX guest; use a path the device offers through MMIO writes.',
    kernel: ['arch/x86/include/asm/io.h (iosubmit_cmds512, movdir64b)', MMIO_PATH, DECODER],
  },
};

export function ruleHelp(rule: RuleCode): RuleHelp {
  return HELP[rule] ?? { text: RULE_TITLES[rule] ?? rule, fix: '', kernel: [] };
}

/** Every rule the engine knows, in the catalogue's order. */
export function allRules(): RuleCode[] {
  return Object.keys(DEFAULT_SEVERITY) as RuleCode[];
}

export function ruleTitle(rule: RuleCode): string {
  return RULE_TITLES[rule] ?? rule;
}
