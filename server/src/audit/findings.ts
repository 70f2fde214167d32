// Turns a source site into a finding: rule, severity, and a message that says what
// happens in the guest and why. Plain io.h accessor sites are informational (they
// work, they only cost a #VE); the sites whose instruction the #VE handler rejects,
// or that the compiler chooses, are the ones worth a squiggle.

import { profileData } from '../x86/profiles';
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

/**
 * Source text as a message quotes it: the parser reads a copy of the file in which
 * `__iomem`, `__force` and the like are blanked to spaces (positions stay put), and
 * an expression may span lines; either way the message shows one space, so
 * `*(u32 __force __iomem *)p` reads `*(u32 *)p`, never `*(u32         *)p`.
 */
export function codeText(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/\(\s+/g, '(').replace(/\s+\)/g, ')').trim();
}

const q = (s: string) => `\`${codeText(s)}\``;

/** The verdict ahead of every message ("oops: ", "emulated #VE: "), up to the first ": " before any code. */
const VERDICT_PREFIX = /^[^`:]{1,60}: /;

/**
 * A message without its leading verdict ("likely oops: read-modify-write of ..." ->
 * "Read-modify-write of ..."): the compiled-form join puts the instruction's verdict
 * in front instead.
 */
export function withoutVerdict(message: string): string {
  const rest = message.replace(VERDICT_PREFIX, '');
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

/**
 * The first sentence of a finding's message: what happens to the guest and where
 * (the rest is the detail a hover or a report shows below it).
 * Sentences end at ". " outside code spans (an address like `a.b` is not an end).
 */
export function headline(message: string): string {
  let code = false;
  for (let i = 0; i < message.length; i++) {
    const c = message[i];
    if (c === '`') code = !code;
    else if (!code && c === '.' && (message[i + 1] === ' ' || i === message.length - 1)) return message.slice(0, i + 1);
  }
  return message;
}

/** What the site touches: "`readl` on `base + 4`", "read-modify-write of `p->ctrl`". */
function subject(site: Site): string {
  const addr = site.address ? ` on ${q(site.address)}` : '';
  if (site.kind === 'call' || site.kind === 'iomem-libc' || site.shape === 'copy') {
    const via = site.via.length && site.base !== site.accessor ? ` (→ \`${site.base}\`)` : '';
    return `\`${site.accessor}\`${via}${addr}`;
  }
  const what = site.accessor === 'read-modify-write' ? 'read-modify-write of' : site.accessor === 'store' ? 'store to' : 'load of';
  return `${what} ${q(site.address)}`;
}

/** "(line 1010)" in the site's own file; a header names itself: "(iphase.h:1010)". */
function lineRef(file: string, line: number): string {
  const base = file.replace(/^.*[\\/]/, '');
  return /\.(?:h|hh|hpp)$/i.test(base) ? `(${base}:${line})` : `(line ${line})`;
}

export function messageFor(site: Site, cfg: Pick<AuditConfig, 'profile'>): string {
  const name = `\`${site.accessor}\``;
  const via = site.via.length ? `${name} performs \`${site.base}\` through ${site.via.map((v) => `${v.name} → ${v.callee}`).join(', ')}. ` : '';
  const sev = profileData(cfg.profile).platform === 'sev-es';
  const oops = sev ? 'terminates' : 'oops';
  const who = subject(site);
  // Each message: "<what happens to the guest>: <the site>. <why, and what to do>".
  switch (site.rule) {
    case 'tdx-ve-mmio': {
      const a = CATALOGUE.get(site.base);
      const where = a && !a.inline ? ' in the out-of-line callee' : '';
      return `emulated #VE: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}${width(site)}: in a TDX guest it takes a #VE${where} (EPT violation, exit ${EXIT_REASON.eptViolation}); the handler decodes the MOV and performs it with a TDVMCALL, one host round trip per access.`;
    }
    case 'tdx-ve-mmio-string':
      return `emulated, one #VE per ${site.width > 0 ? `${site.width}-byte ` : ''}element: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}; ${CATALOGUE.get(site.base)?.compiles ?? ''}.`;
    case 'tdx-ve-port-io':
      return `emulated #VE: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}${width(site)}: #VE exit ${EXIT_REASON.io} (I/O instruction), emulated by handle_io with a TDVMCALL.`;
    case 'tdx-ve-port-string':
      return `emulated, one #VE per element: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}: under TDX unrolled into single IN/OUT, one #VE each (rep INS/OUTS would be rejected by handle_io).`;
    case 'tdx-ve-msr':
      return `#VE unless the TDX module virtualises the MSR: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}: it takes a #VE (exit ${site.accessorKind === 'msr-read' ? EXIT_REASON.msrRead : EXIT_REASON.msrWrite}) and goes to the host by TDVMCALL; an MSR the host refuses fails the access.`;
    case 'tdx-ve-cpuid':
      return `#VE for hypervisor leaves: ${who}. ${via}CPUID leaves 0x40000000-0x4FFFFFFF take a #VE (exit ${EXIT_REASON.cpuid}) and go to the host; other #VE leaves read as 0.`;
    case 'tdx-ve-hlt':
      return `emulated #VE: ${who}. ${via}HLT: #VE exit ${EXIT_REASON.hlt}, handle_halt issues the TDVMCALL (the TDX idle path calls the hypercall directly).`;
    case 'tdx-movs-copy':
      return sev
        ? `emulated, one #VC exit per element: ${who} copies with \`rep movsl\`. ${via}SEV-ES's #VC handler emulates MOVS.`
        : `oops: ${who} copies with \`rep movsl\`, which handle_mmio rejects. ${via}A MOVS copy to MMIO with no confidential-computing check: handle_mmio recognises MOVS and rejects it (-EINVAL), so the TDX guest oopses (panics with oops=panic). Use a loop of writel() or __iowrite64_copy().`;
    case 'tdx-movdir64b':
      return `${oops}: ${who} is MOVDIR64B, which cannot be decoded. ${via}insn_decode_mmio cannot decode it (DECODE_FAILED): WARN_ON_ONCE, then the guest ${sev ? 'terminates' : 'oopses'}.`;
    case 'tdx-iomem-libc':
      return `${oops}: \`${site.accessor}\` on __iomem ${q(site.declaredAt?.name ?? site.address)} — rep movs/stos or SSE, which the #VE handler rejects. The compiler or the string routine picks the instructions; the guest ${sev ? 'terminates' : 'oopses'}. Use memcpy_toio()/memcpy_fromio()/memset_io().`;
    case 'tdx-mmio-untyped-deref':
      return untypedDerefMessage(site, sev, who);
    case 'tdx-iomem-deref': {
      const ptr = site.declaredAt?.name ?? 'pointer';
      const why = `The compiler, not io.h, chooses the instruction (\`${ptr}\` is declared __iomem).`;
      if (site.accessor === 'read-modify-write') {
        return `likely ${oops}: ${who} usually compiles to \`or\`/\`and\`/\`add\` on memory, which cannot be decoded. ${why} insn_decode_mmio has no MMIO class for ALU instructions: the guest ${sev ? 'terminates' : 'oopses'}. Use readX()/writeX(): \`writel(readl(p) | x, p)\`.`;
      }
      if (site.accessor === 'store') {
        return `compiler-dependent: ${who}. ${why} A store may compile to a MOV (emulated) or another form (immediate, merged, vector) the handler may reject or mis-emulate. Use writeX().`;
      }
      return `compiler-dependent: ${who}. ${why} A load may compile to a MOV (emulated), a widening MOVZX/MOVSX (32-bit forms mis-emulated), or a memory operand of another instruction (\`test\`, \`cmp\`: rejected). Use readX().`;
    }
  }
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** tdx-mmio-untyped-deref: where the MMIO value came from and what gcc is likely to emit. */
function untypedDerefMessage(site: Site, sev: boolean, who: string): string {
  const from = site.declaredAt;
  const line = from ? from.range.start.line + 1 : 0;
  const origin = !from
    ? 'an MMIO mapping'
    : MAPPING_SOURCE_NAMES.has(from.name)
      ? `${from.name}() ${lineRef(from.file, line)}`
      : `__iomem \`${from.name}\` ${lineRef(from.file, line)}`;
  const oops = sev ? 'terminates' : 'oops';
  const oopses = `the guest ${sev ? 'terminates' : 'oopses'}`;
  const untyped = '(MMIO not declared __iomem)';
  const why = `The pointer comes from ${origin} but is not declared __iomem here, so the compiler, not io.h, chooses the instruction.`;
  const fix = 'Keep the __iomem annotation and use readX()/writeX().';
  if (site.shape === 'copy') {
    return `${oops}: ${who} ${untyped} — rep movs/stos or SSE, which the #VE handler rejects. ${why} The string routine picks the instructions: ${oopses}. Use memcpy_toio()/memcpy_fromio()/memset_io().`;
  }
  const w = site.width > 0 ? `${site.width}-byte ` : '';
  switch (site.shape) {
    case 'rmw':
      return `likely ${oops}: ${who} ${untyped} usually compiles to \`or\`/\`and\`/\`add\` on memory, which cannot be decoded. ${why} This ${w}read-modify-write (RMW) is an ALU instruction on memory, which insn_decode_mmio cannot decode: ${oopses}. ${fix}`;
    case 'test':
      return `likely ${oops}: bit test of ${q(site.address)} ${untyped} is usually \`test\` on memory, which cannot be decoded. ${why} ${fix}`;
    case 'widening':
      return `likely mis-emulated: ${who} ${untyped} is usually a widening MOVZX/MOVSX. ${why} This ${w}load is decoded, but the 32-bit-destination forms are mis-emulated (upper register bits left stale); gcc may also fold it into \`cmp\`/\`test\` on memory (rejected). ${fix}`;
  }
  return site.accessor === 'store'
    ? `compiler-dependent: ${who} ${untyped}. ${why} This ${w}store may compile to a MOV (emulated) or a merged or vector store, which the handler rejects. ${fix}`
    : `compiler-dependent: ${who} ${untyped}. ${why} This ${w}load may compile to a MOV (emulated) or to a memory operand of \`test\`/\`cmp\`/ALU instructions (rejected), and gcc may merge or drop repeated reads. ${fix}`;
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
