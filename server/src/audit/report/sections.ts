// Errors first: what every report format opens with. A maintainer reads a report to
// learn what will crash the guest, so the findings are put in three tiers:
//   failing   the #VE handler cannot decode, rejects or mis-emulates the instruction
//             (or the rule says the guest oopses): grouped by function, with the instruction;
//   warnings  the compiler decides (a raw __iomem dereference not yet compiled);
//   info      emulated accesses: counted, not listed, by default.
// Writers render these sections; none of them re-sorts or re-classifies findings.

import type { CompiledInstruction } from '../compiled';
import type { ReportFinding, ReportVerdict } from './model';
import { FAILING_VERDICTS, VERDICT_ORDER } from './model';
import { asDoc, type FindingKey, type ReportDoc, type ReportSource } from './doc';

export { warningRisk } from './doc';

export type Tier = 'failing' | 'warning' | 'info';

export function tierOf(f: Pick<FindingKey, 'verdict' | 'severity' | 'triage'>): Tier {
  if (FAILING_VERDICTS.has(f.verdict) || f.severity === 'error') return 'failing';
  if (f.severity === 'warning' || f.verdict === 'compiler-dependent' || f.triage?.status === 'concern') return 'warning';
  return 'info';
}

/** The instructions worth naming: those not emulated, else every one found. */
export function instructionsWorthNaming(finding: ReportFinding): CompiledInstruction[] {
  const all = finding.compiled?.instructions ?? [];
  // What the handler fails or emulates wrongly (not-intercepted takes no exception at all, so it is not among them).
  const bad = all.filter((i) => i.verdict !== 'emulated' && i.verdict !== 'out-of-line' && i.verdict !== 'not-intercepted');
  return bad.length ? bad : all;
}

/** A listed site: its key, and the finding read from the document when a writer prints it. */
export class SiteRow {
  constructor(
    private readonly doc: ReportDoc,
    readonly key: FindingKey,
    /** Index in the model's order (anchors in the HTML page). */
    readonly index: number,
  ) {}

  get finding(): ReportFinding {
    return this.doc.finding(this.index);
  }

  get instructions(): CompiledInstruction[] {
    return instructionsWorthNaming(this.finding);
  }
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
  /** The informational findings' indices in the model's order (listed only when a writer is asked for all). */
  infoIndices: number[];
}

const rank = (v: ReportVerdict) => {
  const i = VERDICT_ORDER.indexOf(v);
  return i < 0 ? VERDICT_ORDER.length : i;
};

/**
 * Rows grouped by (file, function); groups with open rows first, then by worst
 * verdict, then by `risk` (lower first: the likeliest failure among the group's open
 * rows), file, function.
 */
export function groupByFunction(rows: SiteRow[], risk: (f: FindingKey) => number = () => 0): FunctionGroup[] {
  const groups = new Map<string, FunctionGroup>();
  for (const r of rows) {
    const f = r.key;
    const key = `${f.file}\0${f.function ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { file: f.file, function: f.function, worst: f.verdict, open: 0, rows: [] }));
    g.rows.push(r);
  }
  for (const g of groups.values()) {
    g.rows.sort((a, b) => a.key.line - b.key.line || a.key.character - b.key.character);
    const open = g.rows.filter((r) => !r.key.deemphasised);
    g.open = open.length;
    g.worst = (open.length ? open : g.rows).map((r) => r.key.verdict).reduce((a, b) => (rank(b) < rank(a) ? b : a));
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const riskOf = new Map([...groups.values()].map((g) => [g, Math.min(...(g.open ? g.rows.filter((r) => !r.key.deemphasised) : g.rows).map((r) => risk(r.key)))]));
  return [...groups.values()].sort(
    (a, b) =>
      Number(b.open > 0) - Number(a.open > 0) ||
      // With an allow-list, the drivers a TD runs come first (allowed is undefined without one).
      Number(b.rows.some((r) => r.key.build?.allowed === true)) - Number(a.rows.some((r) => r.key.build?.allowed === true)) ||
      rank(a.worst) - rank(b.worst) ||
      riskOf.get(a)! - riskOf.get(b)! ||
      cmp(a.file, b.file) ||
      cmp(a.function ?? '', b.function ?? ''),
  );
}

/** Each writer (HTML, Markdown, JSON, SARIF) asks for the sections of the same document: grouped once. */
const sectionsOf = new WeakMap<ReportDoc, ReportSections>();

export function reportSections(source: ReportSource): ReportSections {
  const doc = asDoc(source);
  let s = sectionsOf.get(doc);
  if (!s) sectionsOf.set(doc, (s = groupSections(doc)));
  return s;
}

function groupSections(doc: ReportDoc): ReportSections {
  const failing: SiteRow[] = [];
  const warnings: SiteRow[] = [];
  const infoIndices: number[] = [];
  const byRule = new Map<string, number>();
  const byVerdict = new Map<ReportVerdict, number>();
  const byFile = new Map<string, number>();
  doc.keys.forEach((f, i) => {
    const t = tierOf(f);
    if (t === 'failing') failing.push(new SiteRow(doc, f, i));
    else if (t === 'warning') warnings.push(new SiteRow(doc, f, i));
    else {
      infoIndices.push(i);
      byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
      byVerdict.set(f.verdict, (byVerdict.get(f.verdict) ?? 0) + 1);
      byFile.set(f.file, (byFile.get(f.file) ?? 0) + 1);
    }
  });
  const desc = <K>(m: Map<K, number>): [K, number][] => [...m.entries()].sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : 1));
  return {
    failing: groupByFunction(failing),
    warnings: groupByFunction(warnings, (k) => k.risk),
    info: {
      total: infoIndices.length,
      byRule: desc(byRule),
      byVerdict: [...byVerdict.entries()].sort((a, b) => rank(a[0]) - rank(b[0])),
      byFile: desc(byFile),
    },
    infoIndices,
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
 * The findings in reading order, as indices in the model's order: failing sites
 * (worst function first), then warnings, then the informational rest in file order.
 * JSON and SARIF list their findings so.
 */
export function* errorsFirst(s: ReportSections): Generator<number> {
  for (const g of s.failing) for (const r of g.rows) yield r.index;
  for (const g of s.warnings) for (const r of g.rows) yield r.index;
  yield* s.infoIndices;
}

/** The file's place in the TD kernel, in words, when a .config or an allow-list said something. */
export function buildNote(f: Pick<FindingKey, 'build'>): string | undefined {
  const b = f.build;
  if (!b) return undefined;
  const parts: string[] = [];
  if (b.state === 'not-built') parts.push('not built in this .config');
  if (b.allowed === true) parts.push('allow-listed');
  return parts.length ? parts.join(', ') : undefined;
}
