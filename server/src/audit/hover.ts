// Hover text for a site: what the accessor is, which #VE it raises, the TDVMCALL it
// becomes (tdx-ve-rules.md §2 and arch/x86/coco/tdx/tdx.c), and what is known of
// its compiled form.

import { CATALOGUE, EXIT_REASON, exitReasonOf } from '../c/catalogue';
import type { Position, Range, Site } from '../c/types';
import type { FileAudit, Finding } from './engine';
import { headline, RULE_TITLES } from './findings';
import type { CompiledInstruction, ObjectInfo } from './compiled';
import { formatAge } from './compiled/freshness';

const cell = (v: string): string => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const VERDICT_TEXT: Record<string, string> = {
  emulated: '✅ emulated',
  misemulated: '⚠️ emulated wrongly',
  'rejected-movs': '❌ rejected (MOVS): oops',
  'decode-failed': '❌ not decodable: oops',
  'rejected-string-io': '❌ string I/O refused: oops',
  'out-of-line': '↪ out of line',
};

/** How the join tied the instruction to the site (compiled.ts MatchKind), in words. */
const MATCH_TEXT: Record<string, string> = {
  dataflow: 'by MMIO dataflow: its address derives from an MMIO pointer, on the site\'s line',
  'inlined-accessor': 'inside the accessor\'s inlined instance at this call',
  call: 'the call on this line (the #VE lands in the callee)',
  'line-fallback': '⚠️ by line, width and direction only: the dataflow knew nothing of this function, so this is a guess',
  inventory: 'binary inventory (no source)',
};

/** RIP advance, TDVMCALL and register effect of one instruction, as handle_mmio() does it. */
function effect(i: CompiledInstruction): { tdvmcall: string; registers: string; rip: string } {
  const len = i.bytes.split(' ').length;
  const ok = i.verdict === 'emulated' || i.verdict === 'misemulated';
  const rip = ok ? `+${len} (the handler advances RIP by the decoded length)` : 'not advanced: the #VE is not handled';
  switch (i.class) {
    case 'WRITE':
    case 'WRITE_IMM':
      return { tdvmcall: `R10=0, R11=48 (EPT_VIOLATION), R12=${i.size}, R13=1 (write), R14=GPA, R15=${i.class === 'WRITE_IMM' ? 'the immediate' : 'the source register'}`, registers: 'none', rip };
    case 'READ':
      return { tdvmcall: `R10=0, R11=48, R12=${i.size}, R13=0 (read), R14=GPA; value returns in R11`, registers: i.size >= 4 ? `destination := value${i.size === 4 ? ' (upper 32 bits zeroed)' : ''}` : `low ${i.size} byte${i.size === 1 ? '' : 's'} of the destination := value, the rest kept`, rip };
    case 'READ_ZERO_EXTEND':
    case 'READ_SIGN_EXTEND':
      return { tdvmcall: `R10=0, R11=48, R12=${i.size}, R13=0 (read), R14=GPA; value returns in R11`, registers: `destination := ${i.class === 'READ_ZERO_EXTEND' ? 'zero' : 'sign'}-extended value${i.misemulation.includes('movzx32-upper') ? '; the kernel extends only to the operand size, so bits 63:32 keep their old value (natively they are cleared)' : ''}`, rip };
    case 'PORT_IN':
    case 'PORT_OUT':
      return { tdvmcall: `R10=0, R11=30 (IO_INSTRUCTION), R12=${i.size}, R13=${i.class === 'PORT_IN' ? '0 (in)' : '1 (out)'}, R14=DX (port)${i.class === 'PORT_OUT' ? ', R15=AL/AX/EAX' : ''}`, registers: i.class === 'PORT_IN' ? `AL/AX/EAX := value` : 'none', rip: `+${len}` };
    default:
      return { tdvmcall: '-', registers: '-', rip: ok ? `+${len}` : '-' };
  }
}

function objectLine(obj: ObjectInfo): string {
  const age = obj.mtimeMs !== undefined ? `built ${formatAge(Math.max(0, Date.now() - obj.mtimeMs))} ago` : '';
  const state = obj.state === 'fresh' ? '' : ` · ⚠️ ${obj.message}`;
  return `\`${obj.path}\`${age ? ` (${age})` : ''}${state}`;
}

export function compiledMarkdown(instrs: readonly CompiledInstruction[], obj: ObjectInfo): string {
  const shown = instrs.slice(0, 6);
  const parts = shown.map((i) => {
    const e = effect(i);
    const rows: [string, string][] = [
      ['instruction', `\`${i.text}\` · bytes \`${i.bytes}\` · \`${i.function}+0x${i.offset.toString(16)}\` (${i.section})`],
      ['verdict', `${VERDICT_TEXT[i.verdict] ?? i.verdict}${i.unreached ? ` (not reached: ${i.unreached})` : ''}: ${i.summary}`],
    ];
    if (i.class !== 'CALL') {
      rows.push(['class, size', `${i.class}, ${i.size} byte${i.size === 1 ? '' : 's'}${i.misemulation.length ? ` · mis-emulation: ${i.misemulation.join(', ')}` : ''}`]);
      rows.push(['TDVMCALL', e.tdvmcall], ['registers', e.registers], ['RIP', e.rip]);
    }
    if (i.inlineChain.length > 1) rows.push(['inlined', i.inlineChain.join(' ← ')]);
    rows.push(['matched', MATCH_TEXT[i.match] ?? i.match]);
    return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)].join('\n');
  });
  const more = instrs.length > shown.length ? `\n\n…and ${instrs.length - shown.length} more (TDX: Show Compiled Form lists all)` : '';
  return `**Compiled form** (${instrs.length} instruction${instrs.length === 1 ? '' : 's'}) from ${objectLine(obj)}\n\n${parts.join('\n\n')}${more}`;
}

/** Exit reason -> the kernel's name for it and the tdx.c function that handles it. */
const EXITS: Record<number, { name: string; handler: string }> = {
  [EXIT_REASON.cpuid]: { name: 'CPUID', handler: 'handle_cpuid' },
  [EXIT_REASON.hlt]: { name: 'HLT', handler: 'handle_halt' },
  [EXIT_REASON.io]: { name: 'IO_INSTRUCTION', handler: 'handle_io' },
  [EXIT_REASON.msrRead]: { name: 'MSR_READ', handler: 'read_msr' },
  [EXIT_REASON.msrWrite]: { name: 'MSR_WRITE', handler: 'write_msr' },
  [EXIT_REASON.eptViolation]: { name: 'EPT_VIOLATION', handler: 'handle_mmio' },
};

/** The TDVMCALL registers the handler sets for this kind of access. */
export function tdvmcallFor(site: Site): string {
  const size = site.width > 0 ? String(Math.min(site.width, 8)) : 'element size';
  switch (site.accessorKind) {
    case 'mmio-read':
      return `R10=0 (standard), R11=48 (EPT_VIOLATION), R12=${size} (size), R13=0 (read), R14=GPA from the #VE info; the value returns in R11`;
    case 'mmio-write':
      return `R10=0, R11=48 (EPT_VIOLATION), R12=${size} (size), R13=1 (write), R14=GPA, R15=value`;
    case 'mmio-string':
      return `per element: R10=0, R11=48, R12=${size}, R13=direction, R14=GPA, R15=value for writes`;
    case 'port-in':
      return `R10=0, R11=30 (IO_INSTRUCTION), R12=${size} (size), R13=0 (in), R14=port; the value returns in R11`;
    case 'port-out':
      return `R10=0, R11=30 (IO_INSTRUCTION), R12=${size} (size), R13=1 (out), R14=port, R15=value`;
    case 'port-string':
      return `per element: R10=0, R11=30, R12=${size}, R13=direction, R14=port, R15=value for out`;
    case 'msr-read':
      return 'R10=0, R11=31 (MSR_READ), R12=MSR index (ECX); the value returns in R11';
    case 'msr-write':
      return 'R10=0, R11=32 (MSR_WRITE), R12=MSR index (ECX), R13=EDX:EAX';
    case 'cpuid':
      return 'R10=0, R11=10 (CPUID), R12=leaf (EAX), R13=subleaf (ECX); EAX..EDX return in R12..R15';
    case 'hlt':
      return 'R10=0, R11=12 (HLT), R12=interrupts-disabled flag';
  }
}

function contains(r: Range, p: Position): boolean {
  const afterStart = p.line > r.start.line || (p.line === r.start.line && p.character >= r.start.character);
  const beforeEnd = p.line < r.end.line || (p.line === r.end.line && p.character <= r.end.character);
  return afterStart && beforeEnd;
}

export function findingAt(audit: FileAudit, pos: Position): Finding | undefined {
  let best: Finding | undefined;
  for (const f of audit.findings) {
    if (!contains(f.site.range, pos)) continue;
    const span = (f.site.range.end.line - f.site.range.start.line) * 1e6 + f.site.range.end.character - f.site.range.start.character;
    const bestSpan = best
      ? (best.site.range.end.line - best.site.range.start.line) * 1e6 + best.site.range.end.character - best.site.range.start.character
      : Infinity;
    if (span < bestSpan) best = f;
  }
  return best;
}

/**
 * @param links when the client runs `command:` links: the document's URI, so the hover
 * can open Show Compiled Form at this site.
 */
export function hoverMarkdown(audit: FileAudit, pos: Position, links?: { uri: string }): string | null {
  const f = findingAt(audit, pos);
  if (!f) return null;
  const s = f.site;
  const exit = exitReasonOf(s.accessorKind);
  const a = CATALOGUE.get(s.base);
  const title =
    s.kind === 'call' ? `\`${s.accessor}\``
    : s.kind === 'iomem-libc' ? `\`${s.accessor}\` on __iomem`
    : s.kind === 'untyped-deref' ? `MMIO ${s.accessor} through a pointer not typed __iomem`
    : `__iomem ${s.accessor}`;
  const rows: [string, string][] = [
    ['rule', `\`${f.rule}\` (${f.severity}): ${RULE_TITLES[f.rule]}`],
    ['kind', `${s.accessorKind}${s.width ? `, ${s.width} byte${s.width === 1 ? '' : 's'}` : ''}${a ? (a.inline ? ', inlined into the caller' : ', out of line (the #VE lands in the callee)') : ''}`],
  ];
  if (s.via.length) rows.push(['via', s.via.map((v) => `${v.name} → ${v.callee}`).join(' · ')]);
  if (s.address) rows.push([s.accessorKind.startsWith('port') ? 'port' : s.accessorKind.startsWith('msr') ? 'MSR' : 'address', `\`${s.address.replace(/\s+/g, ' ').slice(0, 120)}\``]);
  rows.push(['#VE', `exit reason ${exit} (${EXITS[exit].name}) → ${EXITS[exit].handler}`]);
  rows.push(['TDVMCALL', tdvmcallFor(s)]);
  if (a) rows.push(['compiles to', a.compiles]);
  else if (s.kind !== 'call') rows.push(['compiles to', 'whatever the compiler chooses for this expression']);
  rows.push(['cost', 'exception entry, TDG.VP.VEINFO.GET, instruction fetch and decode, a TDVMCALL round trip to the host (often to the user-space device model): more than a plain VM exit; keep it off hot paths']);
  const obj = audit.compiled?.object;
  if (!obj) rows.push(['compiled form', 'not known: no object file was read for this source, so the instruction the compiler emitted has not been checked']);
  else if (!f.instructions?.length) rows.push(['compiled form', obj.path && obj.state !== 'lines-differ' && obj.state !== 'unusable' ? (f.compiledNote ?? 'no instruction found for this site') : `not known: ${obj.message}`]);
  const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)].join('\n');
  const compiled = f.instructions?.length && obj ? '\n\n' + compiledMarkdown(f.instructions, obj) + (f.compiledNote ? `\n\n_${f.compiledNote}_` : '') : '';
  // Verdict and instruction first, then what the handler does with it, then why, then the rule.
  const verdict = headline(f.message);
  const why = f.message.slice(verdict.length).trim();
  const args = encodeURIComponent(JSON.stringify([{ uri: links?.uri, line: s.range.start.line, character: s.range.start.character }]));
  const link = links && f.instructions?.length ? `\n\n[Show Compiled Form at this instruction](command:tdxAudit.showCompiledForm?${args})` : '';
  return `**${title}** in \`${s.function ?? '(file scope)'}\`\n\n${verdict}${compiled}${link}${why ? `\n\n${why}` : ''}\n\n${table}`;
}
