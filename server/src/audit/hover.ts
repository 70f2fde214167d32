// Hover text for a site: what the accessor is, what the profile's #VE/#VC handler
// does with its instruction (the handler record of x86/handlers.ts, carried by the
// finding and by each compiled instruction: exit, TDVMCALL registers or GHCB
// fields, register effect, RIP, verdict), and what is known of its compiled form.

import { accessorFor } from '../c/catalogue';
import { profileData } from '../x86/profiles';
import type { AccessorKind, Position, Range } from '../c/types';
import { exitText, hypercallText, registerText, ripText, summaryText, type HandlerFacts } from '../x86/handlers';
import type { FileAudit, Finding } from './engine';
import { headline, RULE_TITLES, severityOfVerdict } from './findings';
import type { CompiledInstruction, InstructionVerdict, ObjectInfo } from './compiled';
import { formatAge } from './compiled/freshness';

const cell = (v: string): string => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The verdict's words; a failing verdict adds what the failure does (hover's compiledMarkdown). */
const VERDICT_TEXT: Record<InstructionVerdict, string> = {
  emulated: '✅ emulated',
  misemulated: '⚠️ emulated wrongly',
  rejected: '❌ a handler check fails',
  'rejected-movs': '❌ rejected (MOVS)',
  'decode-failed': '❌ not decodable',
  'rejected-string-io': '❌ string I/O refused',
  'not-intercepted': '➖ not intercepted',
  'out-of-line': '↪ out of line',
};

function verdictText(i: CompiledInstruction): string {
  const words = VERDICT_TEXT[i.verdict] ?? i.verdict;
  const fails = i.verdict !== 'out-of-line' && severityOfVerdict(i.verdict) === 'error';
  return fails ? `${words}: ${i.handler?.platform === 'sev-es' ? 'the guest is terminated' : 'oops'}` : words;
}

/** How the join tied the instruction to the site (compiled.ts MatchKind), in words. */
const MATCH_TEXT: Record<string, string> = {
  dataflow: 'by MMIO dataflow: its address derives from an MMIO pointer, on the site\'s line',
  'inlined-accessor': 'inside the accessor\'s inlined instance at this call',
  call: 'the call on this line (the #VE lands in the callee)',
  'line-fallback': '⚠️ by line, width and direction only: the dataflow knew nothing of this function, so this is a guess',
  inventory: 'binary inventory (no source)',
};

/** The label of the hypercall row: what the platform calls it. */
const callLabel = (h: HandlerFacts): string => (h.hypercall?.kind === 'ghcb' || h.platform === 'sev-es' ? 'GHCB' : 'TDVMCALL');

/** "exit reason 48 (EPT_VIOLATION)" (TDX), "exit code 0x400 (SVM_EXIT_NPF)" (SEV). */
function exitRow(h: HandlerFacts): string {
  if (h.outcome.result === 'not-intercepted') return 'none, not intercepted';
  if (h.exit.tdxReason) return `exit reason ${h.exit.tdxReason.code} (${h.exit.tdxReason.name.replace(/^EXIT_REASON_/, '')})`;
  if (h.exit.svmExit) return `exit code 0x${h.exit.svmExit.code.toString(16)} (${h.exit.svmExit.name})`;
  return exitText(h);
}

/**
 * The rows that word a handler record (x86/handlers.ts): the exit and handler, the
 * hypercall's registers or GHCB fields, the register effect, RIP, and when it fails
 * what the failure does; mis-emulation and the host-controlled values last.
 */
export function handlerRows(h: HandlerFacts): [string, string][] {
  const rows: [string, string][] = [
    [h.platform === 'tdx' ? '#VE' : '#VC', `${exitRow(h)} → ${h.exit.handler} (Linux ${h.kernel}, profile ${h.profile})`],
    [callLabel(h), hypercallText(h)],
  ];
  const regs = registerText(h);
  rows.push(['registers', regs.length ? regs.join('; ') : 'none'], ['RIP', ripText(h)]);
  if (h.outcome.result === 'fails') rows.push(['fails', `${h.outcome.code ?? 'error'}${h.outcome.warn ? ' after a WARN' : ''}: ${h.outcome.consequence ?? ''}`]);
  if (h.misemulation.length) rows.push(['mis-emulation', `${h.misemulation.join(', ')}${h.notes.length ? `: ${h.notes.join(' ')}` : ''}`]);
  if (h.outcome.runtimeChecks.length) rows.push(['at run time', h.outcome.runtimeChecks.join('; ')]);
  if (h.caveats.length) rows.push(['host controls', h.caveats.join('; ')]);
  return rows;
}

function objectLine(obj: ObjectInfo): string {
  const age = obj.mtimeMs !== undefined ? `built ${formatAge(Math.max(0, Date.now() - obj.mtimeMs))} ago` : '';
  const state = obj.state === 'fresh' ? '' : ` · ⚠️ ${obj.message}`;
  return `\`${obj.path}\`${age ? ` (${age})` : ''}${state}`;
}

export function compiledMarkdown(instrs: readonly CompiledInstruction[], obj: ObjectInfo): string {
  const shown = instrs.slice(0, 6);
  const parts = shown.map((i) => {
    const rows: [string, string][] = [
      ['instruction', `\`${i.text}\` · bytes \`${i.bytes}\` · \`${i.function}+0x${i.offset.toString(16)}\` (${i.section})`],
      ['verdict', `${verdictText(i)}${i.unreached ? ` (not reached: ${i.unreached})` : ''}: ${i.summary}`],
    ];
    if (i.class !== 'CALL') {
      rows.push(['class, size', `${i.class}, ${i.size} byte${i.size === 1 ? '' : 's'}${i.misemulation.length ? ` · mis-emulation: ${i.misemulation.join(', ')}` : ''}`]);
      // What the handler does is the record's; an instruction without one (built by hand) shows none.
      if (i.handler) rows.push(...handlerRows(i.handler).filter(([k]) => k !== 'mis-emulation' || !i.misemulation.length));
    }
    if (i.inlineChain.length > 1) rows.push(['inlined', i.inlineChain.join(' ← ')]);
    rows.push(['matched', MATCH_TEXT[i.match] ?? i.match]);
    return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)].join('\n');
  });
  const more = instrs.length > shown.length ? `\n\n…and ${instrs.length - shown.length} more (TDX: Show Compiled Form lists all)` : '';
  return `**Compiled form** (${instrs.length} instruction${instrs.length === 1 ? '' : 's'}) from ${objectLine(obj)}\n\n${parts.join('\n\n')}${more}`;
}

/** The exception class of a kind of access, for a site no single instruction stands for. */
function exitOf(kind: AccessorKind): string {
  if (kind.startsWith('mmio')) return 'EPT violation (TDX) / NPF (SEV)';
  if (kind.startsWith('port')) return 'I/O instruction';
  return kind;
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
  // As the profile's kernel builds it (the record names the profile; __iowrite32_copy is inline since 6.10).
  const a = accessorFor(s.base, f.handler ? profileData(f.handler.profile).kernel : undefined);
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
  // The accessor's own instruction, judged by the profile's handler (findings.ts siteHandler);
  // a dereference or copy has none: the compiled form says what the compiler emitted.
  // Once the object was read, the compiled instructions' own records below supersede it
  // (a CALL has none: the #VE lands in the callee, on the accessor's instruction).
  const h = f.handler;
  if (h && !f.instructions?.some((i) => i.handler)) rows.push(['judged on', `\`${h.text}\` (what \`${s.base}\` compiles to): ${VERDICT_TEXT[h.verdict]}: ${summaryText(h)}`], ...handlerRows(h));
  else if (!h) rows.push(['exception', `${exitOf(s.accessorKind)}: what the handler does depends on the instruction the compiler emits (see the compiled form)`]);
  // The catalogue's words for what an accessor compiles to, where no single instruction (and so no record) stands for it.
  if (a && !h) rows.push(['compiles to', a.compiles]);
  else if (s.kind !== 'call') rows.push(['compiles to', 'whatever the compiler chooses for this expression']);
  const platform = h?.platform ?? f.instructions?.find((i) => i.handler)?.handler?.platform;
  rows.push(['cost', `exception entry, ${platform === 'tdx' ? 'TDG.VP.VEINFO.GET, ' : ''}instruction fetch and decode, ${platform === 'tdx' ? 'a TDVMCALL' : platform === 'sev-es' ? 'a VMGEXIT (GHCB)' : 'a hypercall'} round trip to the host (often to the user-space device model): more than a plain VM exit; keep it off hot paths`]);
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
