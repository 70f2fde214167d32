// Markdown report, for a pull request or a mailing-list reply: a compact summary,
// the instructions the #VE handler will not emulate correctly, and the findings per
// file. Informational sites (plain io.h accessors that work) are counted, not listed,
// unless `full` is asked for: on a whole tree they are thousands.

import type { ReportFinding, ReportModel, ReportVerdict } from './model';
import { FAILING_VERDICTS, SEVERITIES, VERDICT_ORDER } from './model';

/**
 * Escapes text so no Markdown or HTML in it is interpreted (GitHub renders inline
 * HTML). Brackets are escaped, so parentheses cannot form a link; the text never
 * starts a line, so # + - need nothing.
 */
export function mdText(s: string): string {
  return s.replace(/[\\`*_[\]<>|~&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`)).replace(/\r?\n/g, ' ');
}

/** An inline code span that survives backticks and pipes inside it (in a table cell too). */
export function mdCode(s: string, inTable = false): string {
  const flat = s.replace(/\r?\n/g, ' ');
  if (!flat) return '';
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  // A pipe ends a table cell even inside a code span; GFM takes \| there as a literal |.
  return `${fence}${pad}${inTable ? flat.replace(/\|/g, '\\|') : flat}${pad}${fence}`;
}

/** Engine messages mark code with backticks: kept as code spans, the rest escaped. */
export function mdMessage(s: string): string {
  return s
    .split(/(`[^`]+`)/)
    .map((part) => (part.length > 2 && part.startsWith('`') && part.endsWith('`') ? mdCode(part.slice(1, -1)) : mdText(part)))
    .join('');
}

const cell = (s: string) => mdCode(s, true);
const where = (f: ReportFinding) => `${f.file}:${f.range.start.line + 1}:${f.range.start.character + 1}`;
const triageMark = (f: ReportFinding) => (f.triage ? ` _[${f.triage.status}${f.triage.comment ? `: ${mdText(f.triage.comment)}` : ''}]_` : '');
const isEmulatedLike = (v: ReportVerdict) => v === 'emulated' || v === 'out-of-line';

export interface MarkdownOptions {
  /** List informational findings too. */
  full?: boolean;
}

export function markdownText(model: ReportModel, opts: MarkdownOptions = {}): string {
  const p = model.provenance;
  const c = model.counts;
  const out: string[] = [];
  out.push('## tdx-audit report', '');
  const kernel = p.kernel ? `Linux ${mdText(p.kernel.version)}` : 'sources outside a kernel tree';
  out.push(`${kernel}, profile ${mdCode(p.profile)}, tdx-audit ${mdText(p.tool.version)}, ${mdText(p.generatedAt)}.`);
  if (p.config) {
    const opts2 = Object.entries(p.config.options).map(([k, v]) => `${mdCode(k)}=${mdText(v)}`);
    out.push(`Config: ${opts2.length ? opts2.join(', ') : 'no TDX options set'}.`);
  }
  if (p.objects.length) {
    const states = Object.entries(p.objectStates).map(([s, n]) => `${n} ${mdText(s)}`).join(', ');
    out.push(`Objects: ${states}${p.compilers.length ? `; compiler ${mdCode(p.compilers[0])}${p.compilers.length > 1 ? ` and ${p.compilers.length - 1} more` : ''}` : ''}.`);
  } else out.push(`Compiled forms: ${p.compiledNote ? mdText(p.compiledNote) : 'not read (source audit only)'}.`);
  out.push('');
  out.push(`**${c.findings} finding${c.findings === 1 ? '' : 's'}** in ${model.files.filter((f) => f.findings > 0).length} file(s): ` + SEVERITIES.map((s) => `${c.bySeverity[s]} ${s}`).join(', ') + '.');
  const verdicts = VERDICT_ORDER.filter((v) => c.byVerdict[v]).map((v) => `${c.byVerdict[v]} ${v}`);
  if (verdicts.length) out.push(`By verdict: ${verdicts.join(', ')}.`);
  const triaged = Object.entries(c.byTriage).filter(([k]) => k !== 'untriaged');
  if (triaged.length) out.push(`Triaged: ${triaged.map(([k, n]) => `${n} ${k}`).join(', ')}.`);
  if (model.baseline) {
    const b = model.baseline;
    out.push(`Against baseline ${mdCode(b.source)}: **${b.new} new**, ${b.fixed.length} fixed, ${b.unchanged} unchanged.`);
  }
  out.push('');

  // Instructions the handler rejects or mis-emulates, and sites whose instruction the compiler picks.
  const rows: string[] = [];
  for (const f of model.findings) {
    const bad = f.compiled?.instructions.filter((i) => !isEmulatedLike(i.verdict)) ?? [];
    for (const i of bad) {
      rows.push(`| ${mdText(where(f))} | ${cell(i.function)}+0x${i.offset.toString(16)} | ${cell(i.bytes)} | ${cell(i.text)} | ${mdText(i.class)} | **${mdText(i.verdict)}**${triageMark(f)} |`);
    }
    if (!bad.length && !isEmulatedLike(f.verdict)) {
      rows.push(`| ${mdText(where(f))} | ${cell(f.function ?? '(file scope)')} | | ${cell(f.expression)} | ${mdText(f.rule)} | **${mdText(f.verdict)}**${triageMark(f)} |`);
    }
  }
  out.push('### Not emulated, or compiler-dependent', '');
  if (rows.length) out.push('| site | where the #VE lands | bytes | instruction | class | verdict |', '|---|---|---|---|---|---|', ...rows);
  else out.push('Every site is an access the #VE handler emulates.');
  out.push('');

  if (model.baseline?.fixed.length) {
    out.push('### Fixed since the baseline', '');
    for (const f of model.baseline.fixed) out.push(`- ${mdText(`${f.file}:${f.line}`)} ${mdCode(f.rule)} in ${mdCode(f.function ?? '(file scope)')}`);
    out.push('');
  }

  out.push('### Findings by file', '');
  const byFile = new Map<string, ReportFinding[]>();
  for (const f of model.findings) (byFile.get(f.file) ?? byFile.set(f.file, []).get(f.file)!).push(f);
  for (const [file, fs] of byFile) {
    const listed = opts.full ? fs : fs.filter((f) => f.severity === 'error' || f.severity === 'warning' || FAILING_VERDICTS.has(f.verdict) || f.triage?.status === 'concern' || f.baseline === 'new');
    const rest = fs.length - listed.length;
    out.push(`**${mdText(file)}**${rest ? ` (${rest} informational site${rest === 1 ? '' : 's'} not listed)` : ''}`, '');
    for (const f of listed) {
      const dim = f.deemphasised ? '~~' : '';
      const isNew = f.baseline === 'new' ? ' **new**' : '';
      out.push(`- ${dim}L${f.range.start.line + 1}: ${f.severity} ${mdCode(f.rule)} in ${mdCode(f.function ?? '(file scope)')}: ${mdMessage(f.message)}${dim} (${mdText(f.verdict)})${isNew}${triageMark(f)}`);
    }
    if (listed.length) out.push('');
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}
