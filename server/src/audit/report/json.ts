// The JSON report: the stable machine form (documented in README, "Report formats").
// Lines and columns are 1-based, columns in UTF-16 code units, as in `scan --format
// json`. Fields are only ever added; `schemaVersion` changes if one is removed or
// renamed. It is also the baseline format `--baseline` reads.

import { instructionJson } from '../compiled';
import type { LandingRow, ReportCounts, ReportFileRow, ReportFinding, BaselineSummary } from './model';
import { asDoc, type ReportSource } from './doc';
import type { Provenance } from './provenance';
import { jsonChunks, LazyArray } from './jsonStream';
import { errorsFirst, reportSections, tierCounts } from './sections';
import type { TriageEntry } from './triage';
import type { FileBuild } from './model';
import type { HandlerView } from '../../x86/handlers';

export const JSON_SCHEMA_NAME = 'tdx-audit-report';
export const JSON_SCHEMA_VERSION = 1;

export interface JsonLocation {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** An instruction as the report JSON carries it: the one JSON form (compiled.ts). */
export type JsonInstruction = ReturnType<typeof instructionJson>;

export interface JsonFinding extends JsonLocation {
  fingerprint: string;
  rule: string;
  severity: string;
  message: string;
  subsystem: string;
  function: string | null;
  expression: string;
  ordinal: number;
  accessor: string;
  base: string;
  kind: string;
  siteKind: string;
  width: number;
  address: string;
  verdict: string;
  verdictFrom: 'compiled' | 'source';
  /** Found in a region the parser could not fully read. */
  inParseError?: true;
  /** Seen in the object only (no source site at this line): an inlined instance or a call. */
  objectOnly?: 'inlined' | 'call';
  via: { name: string; callee: string; file: string; line: number }[];
  related: (JsonLocation & { message: string })[];
  /** null when no compiled form was joined for the file. */
  compiled: { note: string | null; instructions: JsonInstruction[] } | null;
  triage: TriageEntry | null;
  baseline?: 'new' | 'unchanged';
  /** Present when a .config or an allow-list was read: built-in/module/not-built/unknown, why, on the allow-list. */
  build?: FileBuild;
  /** The handler record of the accessor's own instruction, when it is one (Finding.handler). */
  handler?: HandlerView;
}

/** What the model does not hold but the JSON says: which shard of a split run this is. */
export interface JsonExtras {
  shard?: { index: number; of: number };
}

export interface JsonReport {
  schema: typeof JSON_SCHEMA_NAME;
  schemaVersion: number;
  /** Present in the report of one shard (`report --shard K/N`): `tdx-audit merge` takes the N of them. */
  shard?: { index: number; of: number };
  provenance: Provenance;
  /** `tiers`: sites that will fail in the guest, warnings, informational (added in 0.1.0; absent in older reports). */
  summary: ReportCounts & { tiers?: { failing: number; warnings: number; informational: number } };
  findings: JsonFinding[];
  functions: LandingRow[];
  files: ReportFileRow[];
  skipped: { file: string; why: string }[];
  baseline?: BaselineSummary;
}

const loc = (file: string, r: ReportFinding['range']): JsonLocation => ({
  file,
  line: r.start.line + 1,
  column: r.start.character + 1,
  endLine: r.end.line + 1,
  endColumn: r.end.character + 1,
});

export function jsonFinding(f: ReportFinding): JsonFinding {
  return {
    fingerprint: f.fingerprint,
    ...loc(f.file, f.range),
    rule: f.rule,
    severity: f.severity,
    message: f.message,
    subsystem: f.subsystem,
    function: f.function,
    expression: f.expression,
    ordinal: f.ordinal,
    accessor: f.accessor,
    base: f.base,
    kind: f.accessorKind,
    siteKind: f.siteKind,
    width: f.width,
    address: f.address,
    verdict: f.verdict,
    verdictFrom: f.verdictFrom,
    ...(f.inParseError ? { inParseError: true as const } : {}),
    ...(f.objectOnly ? { objectOnly: f.objectOnly } : {}),
    via: f.via,
    related: f.related.map((r) => ({ ...loc(r.file, r.range), message: r.message })),
    compiled: f.compiled ? { note: f.compiled.note ?? null, instructions: f.compiled.instructions.map(instructionJson) } : null,
    triage: f.triage ?? null,
    ...(f.baseline ? { baseline: f.baseline } : {}),
    ...(f.build ? { build: f.build } : {}),
    ...(f.handler ? { handler: f.handler } : {}),
  };
}

/**
 * The document, with its long arrays (findings, functions, files, skipped) as
 * LazyArrays when `lazy`: jsonChunks then prints them element by element, each
 * finding read from the document as it is printed.
 */
function jsonDocument(source: ReportSource, extras: JsonExtras, lazy: boolean) {
  const doc = asDoc(source);
  const s = reportSections(doc);
  const t = tierCounts(s);
  const list = <T>(xs: () => Iterable<T>): T[] => (lazy ? (new LazyArray(xs) as unknown as T[]) : [...xs()]);
  return {
    schema: JSON_SCHEMA_NAME,
    schemaVersion: JSON_SCHEMA_VERSION,
    ...(extras.shard ? { shard: { index: extras.shard.index, of: extras.shard.of } } : {}),
    provenance: doc.provenance,
    summary: { ...doc.counts, tiers: { failing: t.failing, warnings: t.warnings, informational: t.info } },
    // Errors first: failing sites grouped by function, worst first; then warnings; then the rest by file.
    findings: list(function* () {
      for (const i of errorsFirst(s)) yield jsonFinding(doc.finding(i));
    }),
    functions: list(() => doc.functions()),
    files: list(() => doc.files),
    skipped: list(() => doc.skipped),
    ...(doc.baseline ? { baseline: doc.baseline } : {}),
  } satisfies JsonReport;
}

export function toJsonReport(source: ReportSource, extras: JsonExtras = {}): JsonReport {
  return jsonDocument(source, extras, false);
}

/** The JSON report in pieces, finding by finding (written as they come). */
export function* jsonReportChunks(source: ReportSource, extras: JsonExtras = {}): Generator<string> {
  yield* jsonChunks(jsonDocument(source, extras, true));
  yield '\n';
}

export function jsonText(source: ReportSource, extras: JsonExtras = {}): string {
  return [...jsonReportChunks(source, extras)].join('');
}

export class ReportFormatError extends Error {}

/**
 * Reads a JSON report back (a baseline). Checks only what a diff relies on, so a
 * report from a newer tool with added fields still reads.
 */
export function parseJsonReport(text: string, source = 'report'): JsonReport {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ReportFormatError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const o = raw as Partial<JsonReport> | null;
  if (!o || typeof o !== 'object' || o.schema !== JSON_SCHEMA_NAME) {
    throw new ReportFormatError(`${source}: not a tdx-audit JSON report (no "schema": "${JSON_SCHEMA_NAME}")`);
  }
  if (typeof o.schemaVersion !== 'number' || o.schemaVersion > JSON_SCHEMA_VERSION) {
    throw new ReportFormatError(`${source}: schemaVersion ${String(o.schemaVersion)} is newer than this tool reads (${JSON_SCHEMA_VERSION})`);
  }
  if (!Array.isArray(o.findings)) throw new ReportFormatError(`${source}: "findings" must be an array`);
  if (o.shard !== undefined) {
    const sh = o.shard as { index?: unknown; of?: unknown } | null;
    if (!sh || !Number.isInteger(sh.index) || !Number.isInteger(sh.of) || (sh.index as number) < 1 || (sh.index as number) > (sh.of as number)) {
      throw new ReportFormatError(`${source}: "shard" must be {"index": K, "of": N} with 1 <= K <= N`);
    }
  }
  o.findings.forEach((f, i) => {
    if (!f || typeof f !== 'object' || typeof f.fingerprint !== 'string' || !f.fingerprint) {
      throw new ReportFormatError(`${source}: findings[${i}] has no fingerprint`);
    }
  });
  return o as JsonReport;
}
