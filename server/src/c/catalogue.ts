// The accessor catalogue: every x86-64 Linux accessor the audit knows, as data.
// Sources: arch/x86/include/asm/io.h (build_mmio_read/write, inX/outX, insX/outsX),
// include/asm-generic/io.h, lib/iomap.c (GENERIC_IOMAP on x86), arch/x86/lib/iomem.c,
// include/linux/io-64-nonatomic-{lo-hi,hi-lo}.h, lib/iomem_copy.c / arch/x86/lib,
// arch/x86/include/asm/pci_x86.h, asm/msr.h, asm/processor.h, asm/irqflags.h.
// See ../shared/docs/tdx-ve-rules.md §4 for what each compiles to.

import type { AccessorKind, RuleCode } from './types';

/** The #VE exit reason an accessor raises (tdx-ve-rules.md §1). */
export const EXIT_REASON = {
  cpuid: 10,
  hlt: 12,
  io: 30,
  msrRead: 31,
  msrWrite: 32,
  eptViolation: 48,
} as const;

export interface Accessor {
  name: string;
  kind: AccessorKind;
  /** Bytes per access; for string/copy forms the element width the #VE sees. */
  width: number;
  /** true: inlined into the caller (the #VE lands there); false: an out-of-line function. */
  inline: boolean;
  exitReason: number;
  /** Zero-based index of the address / port / MSR / leaf argument. */
  addrArg: number;
  rule: RuleCode;
  /** What it compiles to on x86-64, and what the #VE handler does with that. */
  compiles: string;
  /**
   * The kernel file(s) that define it, for a row that depends on the kernel version
   * (accessorFor); absent in the version-neutral CATALOGUE rows.
   */
  source?: string;
  /**
   * The symbols a call of this name really calls when a header renames it: x86-64 has no
   * out-of-line ioread64/iowrite64 (lib/iomap.c defines only the _lo_hi/_hi_lo forms), so
   * io-64-nonatomic-lo-hi.h / -hi-lo.h `#define ioread64 ioread64_lo_hi` (or _hi_lo).
   */
  callees?: readonly string[];
}

type Row = Omit<Accessor, 'name' | 'rule' | 'exitReason'> & { rule?: RuleCode };

const W: Record<string, number> = { b: 1, w: 2, l: 4, q: 8 };
const MOV_READ: Record<number, string> = { 1: '8A', 2: '66 8B', 4: '8B', 8: 'REX.W 8B' };
const MOV_WRITE: Record<number, string> = { 1: '88', 2: '66 89', 4: '89', 8: 'REX.W 89' };

const rows = new Map<string, Row>();
const add = (names: string[], row: Row) => {
  for (const n of names) rows.set(n, row);
};

// --- MMIO: io.h MOV accessors (build_mmio_read / build_mmio_write) ---------------
for (const [s, w] of Object.entries(W)) {
  add([`read${s}`, `read${s}_relaxed`, `__raw_read${s}`, `__read${s}`], {
    kind: 'mmio-read', width: w, inline: true, addrArg: 0,
    compiles: `one MOV load (${MOV_READ[w]}) through a register: decoded as READ, size ${w}, emulated`,
  });
  add([`write${s}`, `write${s}_relaxed`, `__raw_write${s}`, `__write${s}`], {
    kind: 'mmio-write', width: w, inline: true, addrArg: 1,
    compiles: `one MOV store (${MOV_WRITE[w]}) from a register: decoded as WRITE, size ${w}, emulated`,
  });
}

// --- MMIO: lib/iomap.c, out of line; the MOV sits in the callee -------------------
for (const w of [1, 2, 4, 8]) {
  const bits = w * 8;
  const variants = w === 1 ? [''] : w === 8 ? ['', 'be', '_lo_hi', '_hi_lo', 'be_lo_hi', 'be_hi_lo'] : ['', 'be'];
  for (const v of variants) {
    // x86-64 defines readq/writeq, so asm-generic/iomap.h declares ioread64_lo_hi & co
    // and lib/iomap.c defines them (IO_COND: two 32-bit port accesses on a port cookie,
    // one readq/writeq on MMIO); io-64-nonatomic-*.h's inline two-halves versions are
    // behind `#ifndef ioread64_lo_hi` and never built on x86-64 (6.1.192 and 6.12.118).
    const split = v.includes('lo_hi') || v.includes('hi_lo');
    const half = split ? `; on a port cookie two 32-bit IN/OUT in ${v.includes('lo_hi') ? 'low-high' : 'high-low'} order` : '';
    add([`ioread${bits}${v}`], {
      kind: 'mmio-read', width: w, inline: false, addrArg: 0,
      compiles: `call to lib/iomap.c ioread${bits}${v}: port I/O or one ${w}-byte MOV load by cookie${half}; the #VE lands in the callee, emulated`,
    });
    add([`iowrite${bits}${v}`], {
      kind: 'mmio-write', width: w, inline: false, addrArg: 1,
      compiles: `call to lib/iomap.c iowrite${bits}${v}: port I/O or one ${w}-byte MOV store by cookie${half}; the #VE lands in the callee, emulated`,
    });
  }
  if (w === 8) {
    // ioread64 & co: the name a driver writes is a macro for one of two lib/iomap.c functions.
    for (const v of ['', 'be']) {
      for (const dir of ['read', 'write'] as const) {
        const name = `io${dir}64${v}`;
        const r = rows.get(name)!;
        rows.set(name, {
          ...r,
          callees: [`${name}_lo_hi`, `${name}_hi_lo`],
          compiles: `a macro of include/linux/io-64-nonatomic-lo-hi.h (or -hi-lo.h) for lib/iomap.c io${dir}64${v}_lo_hi (_hi_lo): port I/O as two 32-bit halves, or one 8-byte MOV ${dir === 'read' ? 'load' : 'store'} on MMIO; the #VE lands in the callee, emulated (x86-64 has no io${dir}64${v} of its own, 6.1.192 and 6.12.118)`,
        });
      }
    }
  }
  if (w !== 8) {
    add([`ioread${bits}_rep`], {
      kind: 'mmio-string', width: w, inline: false, addrArg: 0,
      compiles: 'lib/iomap.c: on MMIO a loop of single MOV loads (one #VE each); on ports string I/O, unrolled under TDX',
    });
    add([`iowrite${bits}_rep`], {
      kind: 'mmio-string', width: w, inline: false, addrArg: 0,
      compiles: 'lib/iomap.c: on MMIO a loop of single MOV stores (one #VE each); on ports string I/O, unrolled under TDX',
    });
  }
}
for (const [s, w] of Object.entries(W)) {
  add([`reads${s}`, `writes${s}`], {
    kind: 'mmio-string', width: w, inline: true, addrArg: 0,
    compiles: `asm-generic io.h loop of single ${w}-byte MOVs: one #VE per element, each emulated`,
  });
}
add(['lo_hi_readq', 'hi_lo_readq', 'lo_hi_readq_relaxed', 'hi_lo_readq_relaxed'], {
  kind: 'mmio-read', width: 4, inline: true, addrArg: 0,
  compiles: 'two 32-bit MOV loads (io-64-nonatomic): two #VEs, both emulated',
});
add(['lo_hi_writeq', 'hi_lo_writeq', 'lo_hi_writeq_relaxed', 'hi_lo_writeq_relaxed'], {
  kind: 'mmio-write', width: 4, inline: true, addrArg: 1,
  compiles: 'two 32-bit MOV stores (io-64-nonatomic): two #VEs, both emulated',
});

// --- MMIO copies (arch/x86/lib/iomem.c and friends) ------------------------------
const unrolled = 'arch/x86/lib/iomem.c: under TDX (CC_ATTR_GUEST_UNROLL_STRING_IO, since v5.18) a byte-wise readb/writeb loop, one #VE per byte, all emulated; without it `rep movs`';
add(['memcpy_fromio'], { kind: 'mmio-string', width: 1, inline: false, addrArg: 1, compiles: unrolled });
add(['memcpy_toio'], { kind: 'mmio-string', width: 1, inline: false, addrArg: 0, compiles: unrolled });
add(['memset_io'], { kind: 'mmio-string', width: 1, inline: false, addrArg: 0, compiles: unrolled.replace('readb/writeb', 'writeb').replace('rep movs', 'rep stos') });
// Version-neutral row; accessorFor() gives the form of a given kernel (out of line up
// to 6.9, inline in the caller from 6.10).
add(['__iowrite32_copy'], {
  kind: 'mmio-string', width: 4, inline: false, addrArg: 0, rule: 'tdx-movs-copy',
  compiles: '`rep movsl` with no confidential-computing check (out of line up to 6.9, inline in the caller from 6.10): MOVS on MMIO is recognised and rejected by handle_mmio (-EINVAL): oops',
});
add(['__ioread32_copy'], {
  kind: 'mmio-string', width: 4, inline: false, addrArg: 1,
  compiles: 'a loop of single 32-bit MOV loads (raw_readl): one #VE each, emulated',
});
add(['__iowrite64_copy'], {
  kind: 'mmio-string', width: 8, inline: false, addrArg: 0,
  compiles: 'a loop of single 64-bit MOV stores (raw_writeq): one #VE each, emulated',
});
add(['iosubmit_cmds512'], {
  kind: 'mmio-string', width: 64, inline: true, addrArg: 0, rule: 'tdx-movdir64b',
  compiles: 'MOVDIR64B (66 0F 38 F8): not in insn_decode_mmio\'s table, DECODE_FAILED: WARN_ON_ONCE then oops',
});

// --- PCI MMCONFIG (arch/x86/include/asm/pci_x86.h) -------------------------------
for (const [s, w] of Object.entries(W)) {
  if (w === 8) continue;
  add([`mmio_config_read${s}`], {
    kind: 'mmio-read', width: w, inline: true, addrArg: 0,
    compiles: `inline asm MOV load into ${w === 1 ? 'AL' : w === 2 ? 'AX' : 'EAX'}: READ, size ${w}, emulated`,
  });
  add([`mmio_config_write${s}`], {
    kind: 'mmio-write', width: w, inline: true, addrArg: 0,
    compiles: `inline asm MOV store from ${w === 1 ? 'AL' : w === 2 ? 'AX' : 'EAX'}: WRITE, size ${w}, emulated`,
  });
}

// --- Port I/O (arch/x86/include/asm/io.h BUILDIO) --------------------------------
for (const [s, w] of Object.entries(W)) {
  if (w === 8) continue;
  add([`in${s}`, `in${s}_p`], {
    kind: 'port-in', width: w, inline: true, addrArg: 0,
    compiles: `IN into ${w === 1 ? 'AL' : w === 2 ? 'AX' : 'EAX'}: #VE exit 30, handle_io emulates it with a TDVMCALL`,
  });
  add([`out${s}`, `out${s}_p`], {
    kind: 'port-out', width: w, inline: true, addrArg: 1,
    compiles: `OUT from ${w === 1 ? 'AL' : w === 2 ? 'AX' : 'EAX'}: #VE exit 30, handle_io emulates it with a TDVMCALL`,
  });
  add([`ins${s}`, `outs${s}`], {
    kind: 'port-string', width: w, inline: true, addrArg: 0,
    compiles: 'under TDX unrolled into single IN/OUT (one #VE each); `rep ins/outs` would be rejected by handle_io',
  });
}

// --- MSRs (arch/x86/include/asm/msr.h) -------------------------------------------
const msrNote = 'RDMSR/WRMSR: the TDX module handles most MSRs itself; the rest raise #VE and go to the host by TDVMCALL';
add(['rdmsr', 'rdmsrl', 'rdmsr_safe', 'rdmsrl_safe', 'native_read_msr', 'native_read_msr_safe', 'rdmsrq', 'rdmsrq_safe'], {
  kind: 'msr-read', width: 8, inline: true, addrArg: 0, compiles: msrNote,
});
add(['wrmsr', 'wrmsrl', 'wrmsr_safe', 'wrmsrl_safe', 'native_write_msr', 'native_write_msr_safe', 'wrmsrq', 'wrmsrq_safe'], {
  kind: 'msr-write', width: 8, inline: true, addrArg: 0, compiles: msrNote,
});

// --- CPUID (arch/x86/include/asm/processor.h) ------------------------------------
add(['cpuid', 'cpuid_count', 'cpuid_eax', 'cpuid_ebx', 'cpuid_ecx', 'cpuid_edx', 'native_cpuid', '__cpuid'], {
  kind: 'cpuid', width: 4, inline: true, addrArg: 0,
  compiles: 'CPUID: leaves 0x40000000-0x4FFFFFFF go to the host by TDVMCALL, other #VE leaves read as 0',
});

// --- HLT (arch/x86/include/asm/irqflags.h) ---------------------------------------
add(['native_halt', 'safe_halt', 'native_safe_halt'], {
  kind: 'hlt', width: 0, inline: true, addrArg: -1,
  compiles: 'HLT: #VE exit 12, handle_halt issues the TDVMCALL; the TDX idle path calls the hypercall directly',
});

const RULE_BY_KIND: Record<AccessorKind, RuleCode> = {
  'mmio-read': 'tdx-ve-mmio',
  'mmio-write': 'tdx-ve-mmio',
  'mmio-string': 'tdx-ve-mmio-string',
  'port-in': 'tdx-ve-port-io',
  'port-out': 'tdx-ve-port-io',
  'port-string': 'tdx-ve-port-string',
  'msr-read': 'tdx-ve-msr',
  'msr-write': 'tdx-ve-msr',
  cpuid: 'tdx-ve-cpuid',
  hlt: 'tdx-ve-hlt',
};

export function exitReasonOf(kind: AccessorKind): number {
  switch (kind) {
    case 'mmio-read':
    case 'mmio-write':
    case 'mmio-string':
      return EXIT_REASON.eptViolation;
    case 'port-in':
    case 'port-out':
    case 'port-string':
      return EXIT_REASON.io;
    case 'msr-read':
      return EXIT_REASON.msrRead;
    case 'msr-write':
      return EXIT_REASON.msrWrite;
    case 'cpuid':
      return EXIT_REASON.cpuid;
    case 'hlt':
      return EXIT_REASON.hlt;
  }
}

export const CATALOGUE: ReadonlyMap<string, Accessor> = new Map(
  [...rows].map(([name, r]) => [
    name,
    { name, ...r, rule: r.rule ?? RULE_BY_KIND[r.kind], exitReason: exitReasonOf(r.kind) },
  ]),
);

export function lookupAccessor(name: string): Accessor | undefined {
  return CATALOGUE.get(name);
}

// --- What an accessor compiles to, per kernel version (x86-64) ---------------------
// Checked by reading Debian's linux-source-6.1 (6.1.192) and linux-source-6.12
// (6.12.118); the boundaries come from the mainline commits named. Where the two
// trees agree the form has one row citing both. The TDX/SEV verdict on the
// instruction is the handler model's (x86/handlers.ts); the catalogue only says
// which instruction is emitted and where.

/** A kernel release as its Makefile names it (structurally x86/profiles' KernelVersion). */
export interface KernelRelease {
  version: number;
  patchlevel: number;
  sublevel: number;
  rc?: number;
}

/** One accessor's x86-64 form from a mainline release on, until the next row's `from`. */
export interface VersionedForm {
  /** First mainline release (VERSION.PATCHLEVEL; its -rcN count) with this form. */
  from: readonly [number, number];
  inline: boolean;
  compiles: string;
  /** The kernel file(s) that define it, as read in the version(s) named. */
  source: string;
}

const FORMS = new Map<string, readonly VersionedForm[]>();
const forms = (names: string[], rows: VersionedForm[]) => {
  for (const n of names) FORMS.set(n, rows);
};

const MOVS_REJECTED = 'MOVS on MMIO: insn_decode_mmio() classifies it and handle_mmio() rejects it (-EINVAL): oops';
forms(['__iowrite32_copy'], [
  {
    from: [2, 6], inline: false,
    compiles: `out of line: \`movl %edx,%ecx; rep movsl; RET\` with no confidential-computing check; the call site holds a CALL and the #VE lands in __iowrite32_copy itself. ${MOVS_REJECTED}`,
    source: 'arch/x86/lib/iomap_copy_64.S (SYM_FUNC_START(__iowrite32_copy); overrides the weak loop in lib/iomap_copy.c), read in 6.1.192',
  },
  {
    // "x86: Stop using weak symbols for __iowrite32_copy()" (6.10-rc1); iomap_copy_64.S deleted.
    from: [6, 10], inline: true,
    compiles: `inline in the caller: \`asm volatile("rep ; movsl")\` with no confidential-computing check; the #VE lands in the driver's own function. ${MOVS_REJECTED}`,
    source: 'arch/x86/include/asm/io.h (static inline __iowrite32_copy under CONFIG_X86_64; lib/iomap_copy.c\'s loop is behind #ifndef __iowrite32_copy), read in 6.12.118',
  },
]);
forms(['__iowrite64_copy'], [
  {
    from: [2, 6], inline: false,
    compiles: 'out of line: a loop of single 64-bit MOV stores (__raw_writeq), one #VE each, emulated; x86 has no override of the weak generic function',
    source: 'lib/iomap_copy.c (__attribute__((weak)) __iowrite64_copy), read in 6.1.192',
  },
  {
    // Same series (6.10-rc1): the weak attribute became #ifndef __iowrite64_copy; x86 defines none.
    from: [6, 10], inline: false,
    compiles: 'out of line: a loop of single 64-bit MOV stores (__raw_writeq), one #VE each, emulated; x86 defines no __iowrite64_copy of its own (only arm64 and s390 do)',
    source: 'lib/iomap_copy.c (#ifndef __iowrite64_copy), include/linux/io.h, read in 6.12.118',
  },
]);
forms(['__ioread32_copy'], [{
  from: [2, 6], inline: false,
  compiles: 'out of line: a loop of single 32-bit MOV loads (__raw_readl), one #VE each, emulated',
  source: 'lib/iomap_copy.c __ioread32_copy, the same in 6.1.192 and 6.12.118',
}]);
const IOMEM_C = 'arch/x86/lib/iomem.c, identical in 6.1.192 and 6.12.118';
forms(['memcpy_fromio'], [{
  from: [5, 18], inline: false,
  compiles: 'out of line: cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO) ? a readb loop (one #VE per byte, emulated) : movsb/movsw then `rep movsl` (string_memcpy_fromio); a TDX guest takes the readb loop, a SEV-ES guest the MOVS, which its #VC handler emulates',
  source: IOMEM_C,
}]);
forms(['memcpy_toio'], [{
  from: [5, 18], inline: false,
  compiles: 'out of line: cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO) ? a writeb loop (one #VE per byte, emulated) : movsb/movsw then `rep movsl` (string_memcpy_toio); a TDX guest takes the writeb loop, a SEV-ES guest the MOVS, which its #VC handler emulates',
  source: IOMEM_C,
}]);
forms(['memset_io'], [{
  from: [5, 18], inline: false,
  compiles: 'out of line: cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO) ? a writeb loop (one #VE per byte, emulated) : plain memset() on the MMIO (`rep stos` or whatever memset is); a TDX guest takes the writeb loop',
  source: IOMEM_C,
}]);
const IOMAP_C = 'lib/iomap.c (CONFIG_GENERIC_IOMAP), identical in 6.1.192 and 6.12.118; declared in asm-generic/iomap.h (included by arch/x86/include/asm/io.h in 6.1, by asm-generic/io.h in 6.12)';
for (const [s, w] of [['8', 1], ['16', 2], ['32', 4]] as const) {
  const sfx = { 1: 'b', 2: 'w', 4: 'l' }[w];
  forms([`ioread${s}_rep`], [{
    from: [2, 6], inline: false,
    compiles: `out of line: on an MMIO cookie mmio_ins${sfx}, a loop of single ${w}-byte __raw_read${sfx} MOVs (one #VE each, emulated); on a port cookie ins${sfx}(), which TDX unrolls into single IN (one #VE each)`,
    source: IOMAP_C,
  }]);
  forms([`iowrite${s}_rep`], [{
    from: [2, 6], inline: false,
    compiles: `out of line: on an MMIO cookie mmio_outs${sfx}, a loop of single ${w}-byte __raw_write${sfx} MOVs (one #VE each, emulated); on a port cookie outs${sfx}(), which TDX unrolls into single OUT (one #VE each)`,
    source: IOMAP_C,
  }]);
}
forms(['iosubmit_cmds512'], [
  {
    from: [5, 10], inline: true,
    compiles: 'inline MOVDIR64B (66 0F 38 F8, movdir64b()): not in insn_decode_mmio\'s table, DECODE_FAILED: WARN_ON_ONCE then oops',
    source: 'arch/x86/include/asm/io.h iosubmit_cmds512 -> asm/special_insns.h movdir64b(), read in 6.1.192',
  },
  {
    from: [6, 2], inline: true,
    compiles: 'inline MOVDIR64B (66 0F 38 F8, movdir64b_io() -> movdir64b()): not in insn_decode_mmio\'s table, DECODE_FAILED: WARN_ON_ONCE then oops',
    source: 'arch/x86/include/asm/io.h iosubmit_cmds512 -> asm/special_insns.h movdir64b_io(), read in 6.12.118',
  },
]);

/** The versioned rows of an accessor, oldest first (empty when its form never changed by version). */
export function versionedForms(name: string): readonly VersionedForm[] {
  return FORMS.get(name) ?? [];
}

/** The row of `forms` in force in kernel `k`: the last whose `from` is not after k's VERSION.PATCHLEVEL. */
function formAt(rows: readonly VersionedForm[], k: KernelRelease): VersionedForm | undefined {
  let hit: VersionedForm | undefined;
  for (const r of rows) {
    if (k.version > r.from[0] || (k.version === r.from[0] && k.patchlevel >= r.from[1])) hit = r;
  }
  return hit;
}

/**
 * What `name` compiles to in kernel `k` on x86-64: the CATALOGUE row with the
 * version's inline/out-of-line form, description and source. Without `k` (or for an
 * accessor whose form does not depend on the version) the version-neutral row.
 */
export function accessorFor(name: string, k?: KernelRelease): Accessor | undefined {
  const a = CATALOGUE.get(name);
  if (!a || !k) return a;
  const f = formAt(versionedForms(name), k);
  return f ? { ...a, inline: f.inline, compiles: f.compiles, source: f.source } : a;
}

/**
 * The accessor an inlined instance named `name` is, when kernel `k` builds it inline
 * (x86 io.h's `__readl` family is the unordered twin of `readl`); undefined for an
 * out-of-line one (its instructions are behind a CALL, not in the instance).
 */
export function inlineAccessorFor(name: string | undefined, k?: KernelRelease): Accessor | undefined {
  if (!name) return undefined;
  const a = accessorFor(name, k) ?? (name.startsWith('__') ? accessorFor(name.slice(2), k) : undefined);
  return a?.inline ? a : undefined;
}

/**
 * Plain C library calls that become an MMIO access when handed an `__iomem`
 * pointer: the compiler (or an out-of-line string routine) picks the instructions.
 */
export const LIBC_MEMORY_CALLS: ReadonlySet<string> = new Set([
  'memcpy', 'memmove', 'memset', 'memcmp', 'strcpy', 'strncpy', 'strlcpy', 'strscpy',
  'strcmp', 'strncmp', 'strlen', 'strnlen', '__builtin_memcpy', '__builtin_memset',
]);

/** A regex that matches any catalogued name as a whole word: the pre-filter. */
export const CATALOGUE_NAMES_RE = new RegExp(`\\b(?:${[...CATALOGUE.keys()].join('|')})\\b`);

export function isDirection(kind: AccessorKind): 'read' | 'write' | 'none' {
  if (kind === 'mmio-read' || kind === 'port-in' || kind === 'msr-read') return 'read';
  if (kind === 'mmio-write' || kind === 'port-out' || kind === 'msr-write') return 'write';
  return 'none';
}

// --- Mapping APIs: where MMIO pointers come from (issue 7, provenance.ts) ----------
// A value returned by one of these is device memory whatever type it is later given:
// casting the `__iomem` away (with or without `__force`) does not change what the
// CPU does when the pointer is dereferenced. Sources: include/asm-generic/io.h,
// arch/x86/include/asm/io.h, include/linux/io.h, lib/devres.c, lib/pci_iomap.c,
// drivers/pci/pci.c, include/linux/of_address.h, drivers/acpi/osl.c, kernel/iomem.c.

/** What a mapping API returns, as the #VE handler sees accesses through it. */
export type MappingReturn =
  /** A pointer to device MMIO (mapped shared in a TDX guest: every access is a #VE). */
  | 'mmio'
  /** A pointer to a table of MMIO pointers (pcim_iomap_table: `void __iomem * const *`). */
  | 'mmio-table'
  /** Normal memory (RAM or firmware memory the guest maps private): no #VE. */
  | 'memory';

export interface MappingApi {
  name: string;
  returns: MappingReturn;
  /**
   * For APIs that map MMIO only for some callers: the functions (by name) whose calls
   * are known to map device regions. Elsewhere the result is taken as `returns`.
   */
  mmioIn?: readonly string[];
  /** Why it is classified so. */
  note: string;
}

const mappingRows: MappingApi[] = [];
const mapping = (names: string[], returns: MappingReturn, note: string, mmioIn?: string[]) => {
  for (const name of names) mappingRows.push({ name, returns, note, ...(mmioIn ? { mmioIn } : {}) });
};

mapping(
  ['ioremap', 'ioremap_wc', 'ioremap_wt', 'ioremap_uc', 'ioremap_np', 'ioremap_nocache', 'ioremap_prot', 'ioremap_cache'],
  'mmio',
  'ioremap family: a TDX guest maps device ranges shared (pgprot_decrypted unless the resource is flagged encrypted), so accesses take the #VE path. ioremap_cache is used for device memory (NVDIMM, firmware MMIO) too and is taken as MMIO.',
);
mapping(['early_ioremap'], 'mmio', 'early boot ioremap of a device range (arch/x86/mm/ioremap.c): shared in a TDX guest');
mapping(
  ['devm_ioremap', 'devm_ioremap_uc', 'devm_ioremap_wc', 'devm_ioremap_np', 'devm_ioremap_resource', 'devm_ioremap_resource_wc',
    'devm_platform_ioremap_resource', 'devm_platform_ioremap_resource_byname', 'devm_platform_get_and_ioremap_resource',
    'devm_of_iomap'],
  'mmio',
  'device-managed ioremap (lib/devres.c, drivers/base/platform.c): an ioremap of a device resource',
);
mapping(
  ['pci_iomap', 'pci_iomap_wc', 'pci_iomap_range', 'pci_iomap_wc_range', 'pcim_iomap', 'pcim_iomap_range', 'pcim_iomap_region',
    'pci_ioremap_bar', 'pci_ioremap_wc_bar', 'devm_pci_remap_cfgspace', 'devm_pci_remap_cfg_resource', 'pci_remap_cfgspace'],
  'mmio',
  'PCI BAR / config-space mappings (lib/pci_iomap.c, drivers/pci/pci.c): ioremap of a memory BAR. pci_iomap of an I/O BAR returns a port cookie that only ioread/iowrite understand; a raw dereference of that is wrong on any machine.',
);
mapping(['pcim_iomap_table'], 'mmio-table', 'managed table of BAR mappings: an array of MMIO pointers, indexed by BAR');
mapping(['of_iomap', 'of_io_request_and_map'], 'mmio', 'device-tree register ranges (drivers/of/address.c): ioremap of the node\'s reg property');
mapping(
  ['acpi_os_map_iomem', 'acpi_os_ioremap'],
  'mmio',
  'ACPI mappings of hardware registers (drivers/acpi/osl.c): ioremap of a non-RAM region',
);
mapping(
  ['acpi_os_map_memory'],
  'memory',
  'drivers/acpi/osl.c: maps with kmap when the page is RAM, else ioremap_cache. Almost every caller maps ACPI tables or firmware data (FPDT, RSDP, XSDT), which a TDX guest maps private (IORES_DESC_ACPI_TABLES is flagged encrypted): no #VE. The exception is ACPICA\'s SystemMemory operation-region handler, which maps whatever address the AML names, device registers included: there it is MMIO.',
  ['acpi_ex_system_memory_space_handler'],
);
mapping(
  ['ioremap_encrypted'],
  'memory',
  'arch/x86/mm/ioremap.c: maps the range encrypted, i.e. private memory in a confidential guest (kdump\'s old memory, the SEV-SNP secrets page): no #VE, although the result is typed __iomem.',
);
mapping(
  ['memremap', 'devm_memremap', 'early_memremap', 'early_memremap_ro', 'memremap_pages', 'devm_memremap_pages',
    'phys_to_virt', '__va', 'kmap', 'kmap_local_page', 'page_address'],
  'memory',
  'memremap family (kernel/iomem.c) and the direct map: these return normal, cacheable memory (RAM, or reserved memory used as RAM). memremap refuses ranges that would need ioremap semantics unless MEMREMAP_WB of RAM; plain dereference is the intended use and takes no #VE.',
);

export const MAPPING_APIS: ReadonlyMap<string, MappingApi> = new Map(mappingRows.map((r) => [r.name, r]));

/** Pre-filter: a file that names no mapping API has no mapping-call provenance. */
export const MAPPING_NAMES_RE = new RegExp(
  `\\b(?:${mappingRows.filter((r) => r.returns !== 'memory' || r.mmioIn).map((r) => r.name).join('|')})\\b`,
);

/** The argument of each libc memory call that is written (the destination); others are read. */
export const LIBC_DEST_ARG: ReadonlyMap<string, number> = new Map([
  ['memcpy', 0], ['memmove', 0], ['memset', 0], ['strcpy', 0], ['strncpy', 0], ['strlcpy', 0], ['strscpy', 0],
  ['__builtin_memcpy', 0], ['__builtin_memset', 0],
]);
