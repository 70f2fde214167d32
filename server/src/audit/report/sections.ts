// Errors first: what every report format opens with. A maintainer reads a report to
// learn what will crash the guest, so the findings are put in three tiers:
//   failing   the #VE handler cannot decode, rejects or mis-emulates the instruction
//             (or the rule says the guest oopses): grouped by function, with the instruction;
//   warnings  the compiler decides (a raw __iomem dereference not yet compiled);
//   info      emulated accesses: counted, not listed, by default.
// Writers render these sections; none of them re-sorts or re-classifies findings.

import type { CompiledInstruction } from '../compiled';
import type { ReportFinding, ReportModel, ReportVerdict } from './model';
import { FAILING_VERDICTS, VERDICT_ORDER } from './model';

export type Tier = 'failing' | 'warning' | 'info';

export function tierOf(f: ReportFinding): Tier {
  if (FAILING_VERDICTS.has(f.verdict) || f.severity === 'error') return 'failing';
  if (f.severity === 'warning' || f.verdict === 'compiler-dependent' || f.triage?.status === 'concern') return 'warning';
  return 'info';
}

export interface SiteRow {
  finding: ReportFinding;
  /** Index in model.findings (anchors in the HTML page). */
  index: number;
  /** The instructions worth naming: those not emulated, else every one found. */
  instructions: CompiledInstruction[];
}

export interface FunctionGroup {
  file: string;
  function: string | null;
  /** Worst verdict of the group's open rows (of all rows when every one is triaged away). */
  worst: ReportVerdict;
  /** Rows not triaged safe/excluded/trusted. */
  open: number;
  /** In line order. */
  rows: SiteRow[];
}

export interface InfoSummary {
  total: number;
  /** Largest first. */
  byRule: [string, number][];
  byVerdict: [ReportVerdict, number][];
  /** Largest first. */
  byFile: [string, number][];
}

export interface ReportSections {
  failing: FunctionGroup[];
  warnings: FunctionGroup[];
  info: InfoSummary;
  /** The informational findings themselves (listed only when a writer is asked for all). */
  infoRows: SiteRow[];
}

const rank = (v: ReportVerdict) => {
  const i = VERDICT_ORDER.indexOf(v);
  return i < 0 ? VERDICT_ORDER.length : i;
};

function row(finding: ReportFinding, index: number): SiteRow {
  const all = finding.compiled?.instructions ?? [];
  // The instructions worth showing first: what the handler fails or emulates wrongly
  // (not-intercepted takes no exception at all, so it is not among them).
  const bad = all.filter((i) => i.verdict !== 'emulated' && i.verdict !== 'out-of-line' && i.verdict !== 'not-intercepted');
  return { finding, index, instructions: bad.length ? bad : all };
}

/**
 * Rows grouped by (file, function); groups with open rows first, then by worst
 * verdict, then by `risk` (lower first: the likeliest failure among the group's open
 * rows), file, function.
 */
export function groupByFunction(rows: SiteRow[], risk: (f: ReportFinding) => number = () => 0): FunctionGroup[] {
  const groups = new Map<string, FunctionGroup>();
  for (const r of rows) {
    const f = r.finding;
    const key = `${f.file}\0${f.function ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { file: f.file, function: f.function, worst: f.verdict, open: 0, rows: [] }));
    g.rows.push(r);
  }
  for (const g of groups.values()) {
    g.rows.sort((a, b) => a.finding.range.start.line - b.finding.range.start.line || a.finding.range.start.character - b.finding.range.start.character);
    const open = g.rows.filter((r) => !r.finding.deemphasised);
    g.open = open.length;
    g.worst = (open.length ? open : g.rows).map((r) => r.finding.verdict).reduce((a, b) => (rank(b) < rank(a) ? b : a));
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const riskOf = new Map([...groups.values()].map((g) => [g, Math.min(...(g.open ? g.rows.filter((r) => !r.finding.deemphasised) : g.rows).map((r) => risk(r.finding)))]));
  return [...groups.values()].sort(
    (a, b) =>
      Number(b.open > 0) - Number(a.open > 0) ||
      // With an allow-list, the drivers a TD runs come first (allowed is undefined without one).
      Number(b.rows.some((r) => r.finding.build?.allowed === true)) - Number(a.rows.some((r) => r.finding.build?.allowed === true)) ||
      rank(a.worst) - rank(b.worst) ||
      riskOf.get(a)! - riskOf.get(b)! ||
      cmp(a.file, b.file) ||
      cmp(a.function ?? '', b.function ?? ''),
  );
}

/**
 * Among warnings (not compiled yet), what the source shape predicts: a
 * read-modify-write or bit test on MMIO is a likely oops, a widening load a likely
 * mis-emulation; the message's verdict says which (findings.ts writes it).
 */
export function warningRisk(f: ReportFinding): number {
  return /^likely (?:oops|terminates)\b/.test(f.message) ? 0 : /^likely mis-emulated\b/.test(f.message) ? 1 : 2;
}

/** Each writer (HTML, Markdown, JSON, SARIF) asks for the sections of the same model: grouped once. */
const sectionsOf = new WeakMap<ReportModel, ReportSections>();

export function reportSections(model: ReportModel): ReportSections {
  let s = sectionsOf.get(model);
  if (!s) sectionsOf.set(model, (s = groupSections(model)));
  return s;
}

function groupSections(model: ReportModel): ReportSections {
  const failing: SiteRow[] = [];
  const warnings: SiteRow[] = [];
  const infoRows: SiteRow[] = [];
  const byRule = new Map<string, number>();
  const byVerdict = new Map<ReportVerdict, number>();
  const byFile = new Map<string, number>();
  model.findings.forEach((f, i) => {
    const t = tierOf(f);
    const r = row(f, i);
    if (t === 'failing') failing.push(r);
    else if (t === 'warning') warnings.push(r);
    else {
      infoRows.push(r);
      byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
      byVerdict.set(f.verdict, (byVerdict.get(f.verdict) ?? 0) + 1);
      byFile.set(f.file, (byFile.get(f.file) ?? 0) + 1);
    }
  });
  const desc = <K>(m: Map<K, number>): [K, number][] => [...m.entries()].sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : 1));
  return {
    failing: groupByFunction(failing),
    warnings: groupByFunction(warnings, warningRisk),
    info: {
      total: infoRows.length,
      byRule: desc(byRule),
      byVerdict: [...byVerdict.entries()].sort((a, b) => rank(a[0]) - rank(b[0])),
      byFile: desc(byFile),
    },
    infoRows,
  };
}

/** `fn+0x1c` of an instruction, as objdump and the kernel's oops print it. */
export const insnWhere = (i: CompiledInstruction) => `${i.function}+0x${i.offset.toString(16)}`;

// The first sentence of a message (what happens and where): defined with the messages.
export { headline } from '../findings';

/** "3 will fail, 97 warnings, 925 informational" and the parts, for every writer's summary line. */
export function tierCounts(s: ReportSections): { failing: number; failingOpen: number; warnings: number; warningsOpen: number; info: number } {
  const n = (gs: FunctionGroup[]) => gs.reduce((a, g) => a + g.rows.length, 0);
  const open = (gs: FunctionGroup[]) => gs.reduce((a, g) => a + g.open, 0);
  return { failing: n(s.failing), failingOpen: open(s.failing), warnings: n(s.warnings), warningsOpen: open(s.warnings), info: s.info.total };
}

/**
 * The findings in reading order: failing sites (worst function first), then warnings,
 * then the informational rest in file order. JSON and SARIF list their findings so.
 */
export function errorsFirst(model: ReportModel, s: ReportSections = reportSections(model)): ReportFinding[] {
  const rows = [...s.failing.flatMap((g) => g.rows), ...s.warnings.flatMap((g) => g.rows), ...s.infoRows];
  return rows.map((r) => r.finding);
}

/** The file's place in the TD kernel, in words, when a .config or an allow-list said something. */
export function buildNote(f: ReportFinding): string | undefined {
  const b = f.build;
  if (!b) return undefined;
  const parts: string[] = [];
  if (b.state === 'not-built') parts.push('not built in this .config');
  if (b.allowed === true) parts.push('allow-listed');
  return parts.length ? parts.join(', ') : undefined;
}
