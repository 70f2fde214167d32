// Markdown report, for a pull request or a mailing-list reply. Errors first: it opens
// with what will crash the guest (decode-failed, rejected, mis-emulated), grouped by
// function with the instruction; then the warnings (the compiler decides); then one
// line counting the informational rest (plain io.h accessors that work), listed only
// when `full` is asked for: on a whole tree they are thousands. Provenance and the
// per-file counts come last, folded. Every table row has its header's cells: an empty
// cell is "—", and `|` and newlines in tree text are escaped.

import type { ReportFinding } from './model';
import { FAILING_VERDICTS, SEVERITIES } from './model';
import { asDoc, type ReportDoc, type ReportSource } from './doc';
import { objectStateText, scopeLabels } from './provenance';
import { buildNote, headline, insnWhere, instructionsWorthNaming, reportSections, tierCounts, type FunctionGroup } from './sections';

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
export function mdMessage(s: string, inTable = false): string {
  return s
    .split(/(`[^`]+`)/)
    .map((part) => (part.length > 2 && part.startsWith('`') && part.endsWith('`') ? mdCode(part.slice(1, -1), inTable) : mdText(part)))
    .join('');
}

const cell = (s: string) => (s ? mdCode(s, true) : '—');
const where = (f: ReportFinding) => `${f.file}:${f.range.start.line + 1}:${f.range.start.character + 1}`;
const triageMark = (f: ReportFinding) => {
  const note = buildNote(f);
  return (f.triage ? ` _[${f.triage.status}${f.triage.comment ? `: ${mdText(f.triage.comment)}` : ''}]_` : '') + (note ? ` _(${note})_` : '');
};
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export interface MarkdownOptions {
  /** List informational findings too. */
  full?: boolean;
}

/** A table row: every cell is given, so no row has fewer cells than the header. */
const tr = (cells: string[]) => `| ${cells.map((c) => c || '—').join(' | ')} |`;

function fnCell(g: FunctionGroup): string {
  return g.function ? mdCode(g.function, true) : '_(file scope)_';
}

/** One row per site; a function's rows are consecutive (grouped), worst group first. */
function failingRows(groups: FunctionGroup[]): string[] {
  const out: string[] = [];
  for (const g of groups) {
    g.rows.forEach((r) => {
      const f = r.finding;
      const dim = f.deemphasised ? '~~' : '';
      const instructions = instructionsWorthNaming(f);
      const insn = instructions.length
        ? instructions.map((i) => `${mdCode(i.text, true)} at ${mdCode(insnWhere(i), true)}${i.bytes ? ` (${mdCode(i.bytes, true)})` : ''}`).join('; ')
        : '_not compiled: from the source_';
      const isNew = f.baseline === 'new' ? ' **new**' : '';
      out.push(tr([fnCell(g), `${dim}${mdText(where(f))}${dim}`, insn, `**${mdText(f.verdict)}**${FAILING_VERDICTS.has(f.verdict) ? '' : ` (${f.severity}: ${mdCode(f.rule, true)})`}${isNew}${triageMark(f)}`, cell(f.expression)]));
    });
  }
  return out;
}

function warningRows(groups: FunctionGroup[]): string[] {
  const out: string[] = [];
  for (const g of groups) {
    g.rows.forEach((r) => {
      const f = r.finding;
      const dim = f.deemphasised ? '~~' : '';
      const isNew = f.baseline === 'new' ? ' **new**' : '';
      out.push(tr([fnCell(g), `${dim}${mdText(where(f))}${dim}`, cell(f.expression), mdText(f.rule), `${mdMessage(headline(f.message), true)}${isNew}${triageMark(f)}`]));
    });
  }
  return out;
}

function infoList(doc: ReportDoc, indices: readonly number[]): string[] {
  return indices.map((i) => {
    const f = doc.finding(i);
    const dim = f.deemphasised ? '~~' : '';
    return `- ${dim}${mdText(where(f))}${dim} ${mdCode(f.function ?? '(file scope)')}: ${mdMessage(headline(f.message))} (${mdText(f.verdict)})${triageMark(f)}`;
  });
}

export function markdownText(source: ReportSource, opts: MarkdownOptions = {}): string {
  const model = asDoc(source);
  const p = model.provenance;
  const c = model.counts;
  const s = reportSections(model);
  const t = tierCounts(s);
  const out: string[] = [];
  out.push('## tdx-audit report', '');
  const kernel = p.kernel ? `Linux ${mdText(p.kernel.version)}` : 'sources outside a kernel tree';
  out.push(`${kernel}, ${scopeLabels(p).map((x) => mdCode(x)).join(', ')}, profile ${mdCode(p.profile)}, tdx-audit ${mdText(p.tool.version)}, ${mdText(p.generatedAt)}.`);
  if (!p.objects.length) out.push(`Compiled forms: ${p.compiledNote ? mdText(p.compiledNote) : 'not read (source audit only): verdicts come from the source'}.`);
  out.push('');
  const aside = c.notBuilt ? 'triaged or not built' : 'triaged';
  const open = (n: number, o: number) => (o < n ? ` (${n - o} ${aside})` : '');
  out.push(
    `**${plural(t.failing, 'site')} will fail** in a TDX guest${open(t.failing, t.failingOpen)}, ` +
      `**${plural(t.warnings, 'warning')}**${open(t.warnings, t.warningsOpen)}, ${t.info} informational ` +
      `(${plural(c.findings, 'finding')} in ${plural(model.files.filter((f) => f.findings > 0).length, 'file')}: ` +
      SEVERITIES.map((sv) => `${c.bySeverity[sv]} ${sv}`).join(', ') + ').',
  );
  if (model.baseline) {
    const b = model.baseline;
    out.push(`Against baseline ${mdCode(b.source)}: **${b.new} new**, ${b.fixed.length} fixed, ${b.unchanged} unchanged.`);
  }
  out.push('');

  out.push(`### Will fail in a TDX guest (${t.failing})`, '');
  if (t.failing) {
    out.push('Decode-failed or rejected: the guest oopses; mis-emulated: it computes a wrong value. Grouped by function, worst first.', '');
    out.push('| function | site | instruction | verdict | expression |', '|---|---|---|---|---|', ...failingRows(s.failing));
  } else out.push(p.objects.length ? 'No instruction the #VE handler rejects or mis-emulates.' : 'No site the source alone shows will fail (no object was read: raw dereferences are listed as warnings).');
  out.push('');

  if (t.warnings) {
    out.push(`### Warnings: the compiler decides (${t.warnings})`, '');
    out.push('| function | site | expression | rule | what happens |', '|---|---|---|---|---|', ...warningRows(s.warnings));
    out.push('');
  }

  if (s.info.total) {
    out.push(`### Informational (${s.info.total})`, '');
    const rules = s.info.byRule.map(([r, n]) => `${n} ${mdCode(r)}`).join(', ');
    out.push(`Accesses the #VE handler emulates (${s.info.byVerdict.map(([v, n]) => `${n} ${mdText(v)}`).join(', ')}): ${rules}; in ${plural(s.info.byFile.length, 'file')}.` + (opts.full ? '' : ' Not listed here; the JSON and SARIF reports hold each one.'));
    out.push('');
    if (opts.full) out.push(...infoList(model, s.infoIndices), '');
  }

  if (model.baseline?.fixed.length) {
    out.push('### Fixed since the baseline', '');
    for (const f of model.baseline.fixed) out.push(`- ${mdText(`${f.file}:${f.line}`)} ${mdCode(f.rule)} in ${mdCode(f.function ?? '(file scope)')}`);
    out.push('');
  }

  // Reference material, folded: GitHub and most renderers show <details> collapsed.
  out.push('<details><summary>Provenance and counts</summary>', '');
  if (p.config) {
    const o2 = Object.entries(p.config.options).map(([k, v]) => `${mdCode(k)}=${mdText(v)}`);
    out.push(`- Config: ${o2.length ? o2.join(', ') : 'no TDX options set'}.`);
  }
  if (p.objects.length || p.headersWithoutObject) {
    out.push(`- Objects: ${mdText(objectStateText(p))}${p.compilers.length ? `; compiler ${mdCode(p.compilers[0])}${p.compilers.length > 1 ? ` and ${p.compilers.length - 1} more` : ''}` : ''}.`);
  }
  out.push(`- Tree root: ${mdCode(p.root)}.`);
  const triaged = Object.entries(c.byTriage).filter(([k]) => k !== 'untriaged');
  if (triaged.length) out.push(`- Triaged: ${triaged.map(([k, n]) => `${n} ${mdText(k)}`).join(', ')}.`);
  if (model.skipped.length) out.push(`- Not audited: ${plural(model.skipped.length, 'file')} (see the JSON report's \`skipped\`).`);
  if (s.info.byFile.length) {
    out.push('', '| file | informational sites |', '|---|---|', ...s.info.byFile.map(([f, n]) => tr([mdText(f), String(n)])));
  }
  out.push('', '</details>');
  return out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
}
