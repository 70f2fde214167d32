// Turns a source site into a finding: rule, severity, and a message that says what
// happens in the guest and why. Plain io.h accessor sites are informational (they
// work, they only cost a #VE); the sites whose instruction the #VE handler rejects,
// or that the compiler chooses, are the ones worth a squiggle.

import { profileData, type Profile } from '../x86/profiles';
import { accessorInstruction, exitText, handleOnce, handlerName, hypercallName, type HandlerVerdict, type HandlerView } from '../x86/handlers';
import type { RuleCode, Site } from '../c/types';
import { CATALOGUE, MAPPING_APIS, accessorFor } from '../c/catalogue';
import type { AuditConfig, Finding, RelatedInfo, Severity } from './engine';

const MAPPING_SOURCE_NAMES: ReadonlySet<string> = new Set(MAPPING_APIS.keys());

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
  const configured = severityOf(site.rule, cfg);
  if (configured === 'off') return null;
  const handler = siteHandler(site, cfg.profile);
  // The accessor's own instruction fails or is mis-emulated under this profile: as
  // the compiled form's would (verdicts.ts), that is at least an Error or a Warning.
  // A rule whose default severity states what TDX does with that one instruction
  // (tdx-movs-copy's rep movsl) follows the profile's record when the user did not
  // set it: SEV-ES emulates the MOVS, so there it is information, not an error.
  const floor = handler ? severityOfVerdict(handler.verdict) : null;
  const base = handler && cfg.severity[site.rule] === undefined && floor === null && RANK[configured] > RANK.information ? 'information' : configured;
  const severity = atLeast(base, floor);
  const seen = site.objectOnly
    ? ` Seen in the object only: DWARF puts ${site.objectOnly.how === 'inlined' ? `an inlined \`${site.base}\`` : `a call to \`${site.base}\``} at this line, where the source analysis found no call (a macro or a parse error hid it).`
    : '';
  const unread = site.inParseError ? ' (in code the parser could not fully read)' : '';
  return { rule: site.rule, severity, message: messageFor(site, cfg, handler) + unread + seen, site, related: relatedFor(site), ...(handler ? { handler } : {}) };
}

const RANK: Record<Severity, number> = { hint: 0, information: 1, warning: 2, error: 3 };

/** The more severe of the two. */
export function atLeast(s: Severity, floor: Severity | null): Severity {
  return floor && RANK[floor] > RANK[s] ? floor : s;
}

/** The least severity a handler verdict calls for: a failing handler an Error, a wrong emulation a Warning. */
export function severityOfVerdict(v: HandlerVerdict): Severity | null {
  switch (v) {
    case 'decode-failed':
    case 'rejected':
    case 'rejected-movs':
    case 'rejected-string-io':
      return 'error';
    case 'misemulated':
      return 'warning';
    default:
      return null;
  }
}

/** iosubmit_cmds512(): `movdir64b rax, [rdi]` (arch/x86/include/asm/special_insns.h movdir64b()). */
const MOVDIR64B = [0x66, 0x0f, 0x38, 0xf8, 0x07];
/** __iowrite32_copy(): `rep movsl` (arch/x86/lib/iomap_copy_64.S up to 6.9, inline asm in the caller since 6.10). */
const REP_MOVSL = [0xf3, 0xa5];

/**
 * The instruction a site's accessor is, when it is one: io.h's MOV, IN and OUT
 * (x86/handlers.ts accessorInstruction), `in al, imm8` / `out imm8, al` for a
 * constant port below 0x100 (BUILDIO's "Nd" constraint), RDMSR, WRMSR, CPUID, HLT,
 * __iowrite32_copy's `rep movsl` and iosubmit_cmds512's MOVDIR64B. Null where the
 * compiler chooses (dereferences, libc calls) or the accessor is a loop.
 */
export function siteInstruction(site: Site): Uint8Array | null {
  if (site.rule === 'tdx-movs-copy') return Uint8Array.from(REP_MOVSL);
  if (site.rule === 'tdx-movdir64b') return Uint8Array.from(MOVDIR64B);
  if (site.kind !== 'call') return null;
  const a = CATALOGUE.get(site.base);
  if (!a) return null;
  const bytes = accessorInstruction(a.kind, a.width);
  const port = (a.kind === 'port-in' || a.kind === 'port-out') && /^\s*(0x[0-9a-f]+|\d+)[ul]*\s*$/i.exec(site.address)?.[1];
  if (bytes && port && Number(port) < 0x100) {
    // E4/E5/E6/E7 with the port as imm8: the DX forms' opcode minus 8, after any 0x66.
    const op = bytes[bytes.length - 1]! - 8;
    return Uint8Array.from([...bytes.subarray(0, bytes.length - 1), op, Number(port)]);
  }
  return bytes;
}

/** What the profile's handler does with the site's own instruction (siteInstruction), or undefined. */
export function siteHandler(site: Site, profile: Profile): HandlerView | undefined {
  // Every finding asks; the answer depends only on the key below (a file's thousands
  // of sites name a few accessors), so the bytes, their hex key and handleOnce's
  // lookup are made once per key, not per site. handleOnce answers the same object.
  const key = handlerKey(site, profile);
  let h = HANDLER_MEMO.get(key);
  if (h === undefined) {
    const bytes = siteInstruction(site);
    h = bytes ? handleOnce(bytes, profile).view : null;
    if (HANDLER_MEMO.size >= HANDLER_MEMO_MAX) HANDLER_MEMO.clear();
    HANDLER_MEMO.set(key, h);
  }
  return h ?? undefined;
}

const HANDLER_MEMO = new Map<string, HandlerView | null>();
const HANDLER_MEMO_MAX = 4096;

/** What siteInstruction reads of a site: its rule, kind and accessor, and a port accessor's constant port. */
function handlerKey(site: Site, profile: Profile): string {
  const kind = site.kind === 'call' ? CATALOGUE.get(site.base)?.kind : undefined;
  const port = kind === 'port-in' || kind === 'port-out' ? site.address : '';
  return `${profile}\0${site.rule}\0${site.kind}\0${site.base}\0${port}`;
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

export function messageFor(site: Site, cfg: Pick<AuditConfig, 'profile'>, handler: HandlerView | undefined = siteHandler(site, cfg.profile)): string {
  const name = `\`${site.accessor}\``;
  const via = site.via.length ? `${name} performs \`${site.base}\` through ${site.via.map((v) => `${v.name} → ${v.callee}`).join(', ')}. ` : '';
  const sev = profileData(cfg.profile).platform === 'sev-es';
  const oops = sev ? 'terminates' : 'oops';
  const who = subject(site);
  // An accessor that is one instruction: what the handler record says about it.
  if (handler) return handlerMessage(site, handler, who, via);
  // Each message: "<what happens to the guest>: <the site>. <why, and what to do>".
  switch (site.rule) {
    case 'tdx-ve-mmio-string':
      return `emulated, one #VE per ${site.width > 0 ? `${site.width}-byte ` : ''}element: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}; ${accessorFor(site.base, profileData(cfg.profile).kernel)?.compiles ?? ''}.`;
    case 'tdx-ve-port-string':
      return `emulated, one #VE per element: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}: under TDX unrolled into single IN/OUT, one #VE each (rep INS/OUTS would be rejected by handle_io).`;
    case 'tdx-ve-mmio':
    case 'tdx-ve-port-io':
    case 'tdx-ve-msr':
    case 'tdx-ve-cpuid':
    case 'tdx-ve-hlt':
    case 'tdx-movs-copy':
    case 'tdx-movdir64b':
      // Not reached for a catalogued accessor (siteInstruction has one for each of
      // these rules); kept so a rule given to a new accessor kind still reads.
      return `emulated ${sev ? '#VC' : '#VE'}: ${who}. ${via}${cap(KIND_TEXT[site.accessorKind])}${width(site)}: ${accessorFor(site.base, profileData(cfg.profile).kernel)?.compiles ?? 'handled by the guest kernel'}.`;
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

/** The verdict a message opens with, for the site's own instruction. */
function leadOf(rule: RuleCode, h: HandlerView): string {
  const tdx = h.platform === 'tdx';
  const exc = tdx ? '#VE' : '#VC';
  switch (h.verdict) {
    case 'emulated':
      if (rule === 'tdx-ve-msr') return tdx ? '#VE unless the TDX module virtualises the MSR' : '#VC when the hypervisor intercepts the MSR';
      if (rule === 'tdx-ve-cpuid' && tdx) return '#VE for hypervisor leaves';
      if (rule === 'tdx-movs-copy') return `emulated, one ${exc} exit per element`;
      return `emulated ${exc}`;
    case 'misemulated':
      return 'mis-emulated';
    case 'not-intercepted':
      return `no ${exc}`;
    default:
      return tdx ? 'oops' : 'terminates';
  }
}

/**
 * "<verdict>: <the site>. <the exit, and what the handler does with the instruction>":
 * every clause after the site is read off the handler record.
 */
function handlerMessage(site: Site, h: HandlerView, who: string, via: string): string {
  const lead = leadOf(site.rule, h);
  const fn = handlerName(h);
  const failing = severityOfVerdict(h.verdict) === 'error';
  let headline: string;
  if (site.rule === 'tdx-movs-copy') headline = `${who} copies with \`rep movsl\`${failing ? `, which ${fn} rejects` : ''}`;
  else if (site.rule === 'tdx-movdir64b') headline = `${who} is MOVDIR64B${h.verdict === 'decode-failed' ? ', which cannot be decoded' : ''}`;
  else headline = who;
  // What the accessor is in the record's kernel (__iowrite32_copy: a call up to 6.9, inline since 6.10).
  const a = accessorFor(site.base, profileData(h.profile).kernel);
  const where = a && !a.inline ? ' in the out-of-line callee' : '';
  const insn = `\`${h.text}\``;
  const call = hypercallName(h);
  let what: string;
  switch (h.verdict) {
    case 'emulated':
      what = `${fn}() emulates ${insn}${call ? ` with ${call}` : ''}${site.rule === 'tdx-ve-mmio' || site.rule === 'tdx-ve-port-io' ? ', one host round trip per access' : ''}${h.rip.advance === 'retry' ? ', one element per exception until RCX is 0 (ES_RETRY)' : ''}.`;
      break;
    case 'misemulated':
      what = `${fn}() emulates ${insn} wrongly (${h.misemulation.join(', ')})${h.notes[0] ? `: ${h.notes[0].replace(/\.$/, '')}` : ''}.`;
      break;
    case 'not-intercepted':
      return `${lead}: ${headline}. ${via}${cap(KIND_TEXT[site.accessorKind])}: ${(h.notes[0] ?? 'not intercepted').replace(/\.?$/, '.')}`;
    default: {
      const why = h.verdict === 'rejected-movs' ? `recognises ${insn} as MOVS and rejects it` : h.verdict === 'decode-failed' ? `cannot decode ${insn}` : `refuses ${insn}`;
      what = `${fn}() ${why} (${h.outcome.code ?? 'an error'}${h.outcome.warn ? ', after a WARN' : ''}): ${h.outcome.consequence ?? 'the exception is not handled'}.`;
    }
  }
  // Facts the handler record keeps beside the verdict: which CPUID leaves and halts trap, what the host controls.
  const extra = h.verdict === 'emulated' && (site.rule === 'tdx-ve-cpuid' || site.rule === 'tdx-ve-hlt' || site.rule === 'tdx-ve-msr') ? [...h.notes.slice(0, 1), ...h.outcome.runtimeChecks.slice(0, 1)] : [];
  const advice = site.rule === 'tdx-movs-copy' && failing ? ' Use a loop of writel() or __iowrite64_copy().' : '';
  const tail = extra.length ? ` ${extra.map((e) => cap(e).replace(/\.?$/, '.')).join(' ')}` : '';
  return `${lead}: ${headline}. ${via}${cap(KIND_TEXT[site.accessorKind])}${width(site)}${where} takes a ${exitText(h)}; ${what}${tail}${advice}`;
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
