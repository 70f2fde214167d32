// Turns a source site into a finding: rule, severity, and a message that says what
// happens in the guest and why. Plain io.h accessor sites are informational (they
// work, they only cost a #VE); the sites whose instruction the #VE handler rejects,
// or that the compiler chooses, are the ones worth a squiggle.

import type { RuleCode, Site } from '../c/types';
import { CATALOGUE, EXIT_REASON, MAPPING_APIS } from '../c/catalogue';

const MAPPING_SOURCE_NAMES: ReadonlySet<string> = new Set(MAPPING_APIS.keys());
import type { AuditConfig, Finding, RelatedInfo, Severity } from './engine';

export const DEFAULT_SEVERITY: Record<RuleCode, Severity> = {
  'tdx-ve-mmio': 'information',
  'tdx-ve-mmio-string': 'information',
  'tdx-ve-port-io': 'information',
  'tdx-ve-port-string': 'information',
  'tdx-ve-msr': 'hint',
  'tdx-ve-cpuid': 'hint',
  'tdx-ve-hlt': 'hint',
  'tdx-iomem-deref': 'warning',
  'tdx-iomem-libc': 'error',
  // Warning until the compiled instruction is known: the join upgrades it to Error when
  // the #VE handler rejects what gcc emitted (RMW, TEST, rep movs).
  'tdx-mmio-untyped-deref': 'warning',
  'tdx-movs-copy': 'error',
  'tdx-movdir64b': 'error',
};

export const RULE_TITLES: Record<RuleCode, string> = {
  'tdx-ve-mmio': 'MMIO access takes a #VE (EPT violation), emulated by a TDVMCALL',
  'tdx-ve-mmio-string': 'MMIO copy or string access: one #VE per element',
  'tdx-ve-port-io': 'Port I/O takes a #VE (I/O instruction), emulated by a TDVMCALL',
  'tdx-ve-port-string': 'String port I/O: unrolled under TDX, one #VE per element',
  'tdx-ve-msr': 'MSR access may take a #VE when the TDX module does not virtualise the MSR',
  'tdx-ve-cpuid': 'CPUID may take a #VE (hypervisor leaves go to the host)',
  'tdx-ve-hlt': 'HLT takes a #VE (unless the TDX idle hypercall is used)',
  'tdx-iomem-deref': 'Direct dereference of an __iomem pointer: the compiler chooses the instruction',
  'tdx-iomem-libc': 'Plain memcpy/memset/string call on an __iomem pointer',
  'tdx-mmio-untyped-deref': 'Dereference of an MMIO pointer not declared __iomem (annotation cast away or never written)',
  'tdx-movs-copy': 'Copy with rep movs on MMIO: the #VE handler rejects MOVS',
  'tdx-movdir64b': 'MOVDIR64B on MMIO: the #VE handler cannot decode it',
};

const KIND_TEXT: Record<Site['accessorKind'], string> = {
  'mmio-read': 'an MMIO read',
  'mmio-write': 'an MMIO write',
  'mmio-string': 'an MMIO copy',
  'port-in': 'a port I/O read',
  'port-out': 'a port I/O write',
  'port-string': 'string port I/O',
  'msr-read': 'an MSR read',
  'msr-write': 'an MSR write',
  cpuid: 'CPUID',
  hlt: 'HLT',
};

export function severityOf(rule: RuleCode, cfg: Pick<AuditConfig, 'severity'>): Severity | 'off' {
  return cfg.severity[rule] ?? DEFAULT_SEVERITY[rule];
}

export function findingFor(site: Site, cfg: AuditConfig): Finding | null {
  const severity = severityOf(site.rule, cfg);
  if (severity === 'off') return null;
  return { rule: site.rule, severity, message: messageFor(site, cfg), site, related: relatedFor(site) };
}

function width(site: Site): string {
  return site.width > 0 ? ` (${site.width} byte${site.width === 1 ? '' : 's'})` : '';
}

export function messageFor(site: Site, cfg: Pick<AuditConfig, 'profile'>): string {
  const name = `\`${site.accessor}\``;
  const via = site.via.length ? ` through ${site.via.map((v) => `${v.name} → ${v.callee}`).join(', ')}` : '';
  const does = site.via.length ? `${name} performs \`${site.base}\`${via}: ` : `${name} is `;
  const sev = cfg.profile === 'sev-es';
  switch (site.rule) {
    case 'tdx-ve-mmio': {
      const a = CATALOGUE.get(site.base);
      const where = a && !a.inline ? ' in the out-of-line callee' : '';
      return `${does}${KIND_TEXT[site.accessorKind]}${width(site)}: in a TDX guest it takes a #VE${where} (EPT violation, exit ${EXIT_REASON.eptViolation}); the handler decodes the MOV and performs it with a TDVMCALL, one host round trip per access.`;
    }
    case 'tdx-ve-mmio-string':
      return `${does}${KIND_TEXT[site.accessorKind]}: one #VE per ${site.width > 0 ? `${site.width}-byte ` : ''}element; ${CATALOGUE.get(site.base)?.compiles ?? ''}.`;
    case 'tdx-ve-port-io':
      return `${does}${KIND_TEXT[site.accessorKind]}${width(site)}: #VE exit ${EXIT_REASON.io} (I/O instruction), emulated by handle_io with a TDVMCALL.`;
    case 'tdx-ve-port-string':
      return `${does}${KIND_TEXT[site.accessorKind]}: under TDX unrolled into single IN/OUT, one #VE each (rep INS/OUTS would be rejected by handle_io).`;
    case 'tdx-ve-msr':
      return `${does}${KIND_TEXT[site.accessorKind]}: unless the TDX module virtualises this MSR it takes a #VE (exit ${site.accessorKind === 'msr-read' ? EXIT_REASON.msrRead : EXIT_REASON.msrWrite}) and goes to the host by TDVMCALL; an MSR the host refuses fails the access.`;
    case 'tdx-ve-cpuid':
      return `${does}CPUID: leaves 0x40000000-0x4FFFFFFF take a #VE (exit ${EXIT_REASON.cpuid}) and go to the host; other #VE leaves read as 0.`;
    case 'tdx-ve-hlt':
      return `${does}HLT: #VE exit ${EXIT_REASON.hlt}, handle_halt issues the TDVMCALL (the TDX idle path calls the hypercall directly).`;
    case 'tdx-movs-copy':
      return sev
        ? `${does}a \`rep movsl\` copy to MMIO: SEV-ES's #VC handler emulates MOVS, one exit per element.`
        : `${does}a \`rep movsl\` copy to MMIO with no confidential-computing check: handle_mmio recognises MOVS and rejects it (-EINVAL), so the TDX guest oopses (panics with oops=panic). Use a loop of writel() or __iowrite64_copy().`;
    case 'tdx-movdir64b':
      return `${does}MOVDIR64B: insn_decode_mmio cannot decode it (DECODE_FAILED): WARN_ON_ONCE, then the guest ${sev ? 'terminates' : 'oopses'}.`;
    case 'tdx-iomem-libc':
      return `\`${site.accessor}\` on __iomem pointer \`${site.declaredAt?.name ?? site.address}\`: the compiler or the string routine picks the instructions (rep movs/stos, SSE), which the #VE handler rejects: the guest ${sev ? 'terminates' : 'oopses'}. Use memcpy_toio()/memcpy_fromio()/memset_io().`;
    case 'tdx-mmio-untyped-deref':
      return untypedDerefMessage(site, sev);
    case 'tdx-iomem-deref': {
      const ptr = site.declaredAt?.name ?? 'pointer';
      const what =
        site.accessor === 'read-modify-write'
          ? 'This read-modify-write usually compiles to `or`/`and`/`add` on memory, which insn_decode_mmio cannot decode: the guest oopses.'
          : site.accessor === 'store'
            ? 'A store may compile to a MOV (emulated) or another form (immediate, merged, vector) the handler may reject or mis-emulate.'
            : 'A load may compile to a MOV (emulated), a widening MOVZX/MOVSX (32-bit forms mis-emulated), or a memory operand of another instruction (`test`, `cmp`: rejected).';
      return `Direct dereference of __iomem \`${ptr}\` (\`${site.address}\`): the compiler, not io.h, chooses the instruction. ${what} Use readX()/writeX().`;
    }
  }
}

/** tdx-mmio-untyped-deref: where the MMIO value came from and what gcc is likely to emit. */
function untypedDerefMessage(site: Site, sev: boolean): string {
  const from = site.declaredAt;
  const line = from ? from.range.start.line + 1 : 0;
  const origin = !from
    ? 'an MMIO mapping'
    : MAPPING_SOURCE_NAMES.has(from.name)
      ? `${from.name}() (line ${line})`
      : `__iomem \`${from.name}\` (line ${line})`;
  const oops = `the guest ${sev ? 'terminates' : 'oopses'}`;
  const addr = site.address.replace(/\s+/g, ' ');
  if (site.shape === 'copy') {
    return `\`${site.accessor}\` on \`${addr}\`, which points at MMIO from ${origin} but is not declared __iomem here: the compiler or the string routine picks the instructions (rep movs/stos, SSE), which the #VE handler rejects: ${oops}. Use memcpy_toio()/memcpy_fromio()/memset_io().`;
  }
  const w = site.width > 0 ? `${site.width}-byte ` : '';
  const what =
    site.shape === 'rmw'
      ? `This ${w}read-modify-write (RMW) usually compiles to \`or\`/\`and\`/\`add\` on memory, which insn_decode_mmio cannot decode: ${oops}.`
      : site.shape === 'test'
        ? `This ${w}bit test is usually compiled to \`test\` on memory, which insn_decode_mmio cannot decode: ${oops}.`
        : site.shape === 'widening'
          ? `This ${w}load is usually a widening MOVZX/MOVSX: decoded, but the 32-bit-destination forms are mis-emulated (upper register bits left stale); gcc may also fold it into \`cmp\`/\`test\` on memory (rejected).`
          : site.accessor === 'store'
            ? `This ${w}store may compile to a MOV (emulated) or a merged or vector store, which the handler rejects.`
            : `This ${w}load may compile to a MOV (emulated) or to a memory operand of \`test\`/\`cmp\`/ALU instructions (rejected), and gcc may merge or drop repeated reads.`;
  return `MMIO ${site.accessor === 'read-modify-write' ? 'read-modify-write' : site.accessor} through \`${addr}\`: the pointer comes from ${origin} but is not declared __iomem here, so the compiler, not io.h, chooses the instruction. ${what} Keep the __iomem annotation and use readX()/writeX().`;
}

function relatedFor(site: Site): RelatedInfo[] {
  const out: RelatedInfo[] = site.via.map((v) => ({
    file: v.file,
    range: v.range,
    message: `${v.callee}() called inside ${v.name}`,
  }));
  if (site.rule === 'tdx-mmio-untyped-deref' && site.declaredAt) {
    const d = site.declaredAt;
    out.push({ file: d.file, range: d.range, message: MAPPING_SOURCE_NAMES.has(d.name) ? `MMIO mapped by ${d.name}() here` : `${d.name} declared __iomem here` });
    for (const p of site.path ?? []) out.push({ file: p.file, range: p.range, message: p.message });
    return out;
  }
  if (site.declaredAt) {
    out.push({ file: site.declaredAt.file, range: site.declaredAt.range, message: `${site.declaredAt.name} declared __iomem here` });
  }
  return out;
}
