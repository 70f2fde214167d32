// Merging the JSON reports of sharded runs (`report --shard K/N`) back into the model
// one run over the whole scope would have built, so every format renders from it
// exactly as from a single run. What each part of the model is made of:
//   findings   each shard's, read back from JSON and sorted as buildReportModel sorts
//              (file, line, column; a stable sort, so findings at the same position
//              keep the order their shard listed them in);
//   functions, files, objects
//              in the order the single run met the files: the walk's order (names
//              sorted, depth first) under each scope path in turn (walkOrder);
//   skipped    what the walk skipped (the same in every shard, listed first), then
//              the files skipped while reading or auditing, in walk order;
//   counts     recounted from the merged findings;
//   generatedAt
//              the latest of the shards': a single run stamps its report when the
//              last file is done, and the merged report is complete only when the
//              last shard is. Per-file `ms` are the shards' own timings.
// Shards must come from the same command line but for --shard: the same root, scope,
// profile, kernel and config; a shard given twice, or a missing one, is an error.
// A baseline is applied to the merged model (per shard it would call every finding
// of the other shards "fixed"), so shards carrying one are refused.

import type { RuleCode, AccessorKind, SiteKind, Range } from '../../c/types';
import type { CompiledInstruction } from '../compiled';
import { type JsonFinding, type JsonInstruction, type JsonLocation, type JsonReport } from './json';
import { countFindings, deemphasisedOf, type ReportFinding, type ReportModel, type ReportVerdict } from './model';
import type { ObjectProvenance, Provenance } from './provenance';

export class MergeError extends Error {}

/** A shard's report and the shard it says it is (from the report's own `shard` field). */
export interface ShardReport {
  source: string;
  report: JsonReport;
}

const rangeOf = (l: JsonLocation): Range => ({
  start: { line: l.line - 1, character: l.column - 1 },
  end: { line: l.endLine - 1, character: l.endColumn - 1 },
});

/** instructionJson read back (it keeps every field; only `file: null` stands for undefined). */
function instructionOf(j: JsonInstruction): CompiledInstruction {
  const { file, ...rest } = j;
  return { ...(rest as Omit<CompiledInstruction, 'file'>), file: file ?? undefined } as CompiledInstruction;
}

/**
 * A JSON finding as the model holds it. `callRange` is not in the JSON and no writer
 * reads it; the site's range stands in for it.
 */
export function findingOf(f: JsonFinding): ReportFinding {
  const range = rangeOf(f);
  return {
    fingerprint: f.fingerprint,
    rule: f.rule as RuleCode,
    severity: f.severity as ReportFinding['severity'],
    message: f.message,
    file: f.file,
    subsystem: f.subsystem,
    function: f.function,
    expression: f.expression,
    ordinal: f.ordinal,
    range,
    callRange: range,
    accessor: f.accessor,
    base: f.base,
    accessorKind: f.kind as AccessorKind,
    siteKind: f.siteKind as SiteKind,
    width: f.width,
    address: f.address,
    via: f.via,
    related: f.related.map((r) => ({ file: r.file, range: rangeOf(r), message: r.message })),
    verdict: f.verdict as ReportVerdict,
    verdictFrom: f.verdictFrom,
    ...(f.inParseError ? { inParseError: true as const } : {}),
    ...(f.objectOnly ? { objectOnly: f.objectOnly } : {}),
    ...(f.compiled ? { compiled: { instructions: f.compiled.instructions.map(instructionOf), ...(f.compiled.note !== null ? { note: f.compiled.note } : {}) } } : {}),
    ...(f.triage ? { triage: f.triage } : {}),
    ...(f.build ? { build: f.build } : {}),
    ...(f.handler ? { handler: f.handler } : {}),
    deemphasised: deemphasisedOf(f),
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Orders root-relative paths as the walk listed them: by the first scope path that
 * holds them, then component by component ('a/b.c' before 'a-x/c.c', as a
 * depth-first walk in name order lists them, though '-' sorts before '/').
 */
export function walkOrder(scope: readonly string[]): (a: string, b: string) => number {
  const scopeIndex = (p: string) => {
    const i = scope.findIndex((s) => s === '.' || p === s || p.startsWith(s.endsWith('/') ? s : s + '/'));
    return i < 0 ? scope.length : i;
  };
  return (a, b) => {
    const d = scopeIndex(a) - scopeIndex(b);
    if (d) return d;
    const x = a.split('/');
    const y = b.split('/');
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = cmp(x[i]!, y[i]!);
      if (c) return c;
    }
    return x.length - y.length;
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Skipped entries every shard lists first (the walk's); the rest are each shard's own. */
function commonPrefix<T>(lists: T[][]): number {
  let n = 0;
  for (;;) {
    const first = lists[0]?.[n];
    if (first === undefined || !lists.every((l) => n < l.length && same(l[n], first))) return n;
    n++;
  }
}

function mergeProvenance(ps: Provenance[], objects: ObjectProvenance[]): Provenance {
  const p0 = ps[0]!;
  const objectStates: Provenance['objectStates'] = {};
  for (const ob of objects) objectStates[ob.state] = (objectStates[ob.state] ?? 0) + 1;
  const headers = ps.reduce((a, p) => a + (p.headersWithoutObject ?? 0), 0);
  // A shard whose files had no object says so; the merged run had objects if any shard did.
  const note = ps.every((p) => p.compiledNote) ? p0.compiledNote : undefined;
  const generatedAt = ps.map((p) => p.generatedAt).reduce((a, b) => (b > a ? b : a));
  // Same key order as collectProvenance, so the JSON is byte for byte a single run's.
  return {
    tool: p0.tool,
    generatedAt,
    root: p0.root,
    scope: p0.scope,
    profile: p0.profile,
    ...(p0.kernel ? { kernel: p0.kernel } : {}),
    ...(p0.config ? { config: p0.config } : {}),
    compilers: [...new Set(ps.flatMap((p) => p.compilers))].sort(),
    objects,
    objectStates,
    ...(headers ? { headersWithoutObject: headers } : {}),
    ...(note ? { compiledNote: note } : {}),
  };
}

/** The model a single run over the shards' whole scope would have built. */
export function mergeShardReports(shards: readonly ShardReport[]): ReportModel {
  if (!shards.length) throw new MergeError('merge needs at least one JSON report');
  const [first] = shards;
  const p0 = first!.report.provenance;
  // One run split N ways: each shard K/N once, all from the same command line.
  const tags = shards.map((s) => s.report.shard ?? { index: 1, of: 1 });
  const of = tags[0]!.of;
  for (let i = 0; i < shards.length; i++) {
    const s = shards[i]!;
    const p = s.report.provenance;
    if (s.report.baseline) throw new MergeError(`${s.source}: made with --baseline; merge the shards without it and give --baseline to merge`);
    for (const k of ['root', 'scope', 'profile', 'kernel', 'config', 'tool'] as const) {
      if (!same(p[k], p0[k])) throw new MergeError(`${s.source}: ${k} differs from ${first!.source}'s (${JSON.stringify(p[k])} vs ${JSON.stringify(p0[k])}): not shards of one run`);
    }
    if (tags[i]!.of !== of) throw new MergeError(`${s.source}: shard ${tags[i]!.index}/${tags[i]!.of}, but ${first!.source} is shard ${tags[0]!.index}/${of}`);
  }
  const seen = new Map<number, string>();
  for (let i = 0; i < shards.length; i++) {
    const k = tags[i]!.index;
    if (seen.has(k)) throw new MergeError(`${shards[i]!.source} and ${seen.get(k)} are both shard ${k}/${of}`);
    seen.set(k, shards[i]!.source);
  }
  const absent = Array.from({ length: of }, (_, i) => i + 1).filter((k) => !seen.has(k));
  if (absent.length) throw new MergeError(`shard${absent.length === 1 ? '' : 's'} ${absent.map((k) => `${k}/${of}`).join(', ')} not given: the merged report would miss their files`);

  const order = walkOrder(p0.scope);
  const byFile = <T>(key: (x: T) => string) => (a: T, b: T) => order(key(a), key(b));
  const reports = shards.map((s) => s.report);
  const findings = reports.flatMap((r) => r.findings.map(findingOf));
  findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character));
  // Each file is in one shard, so a stable sort by file keeps each file's rows in its shard's order.
  const functions = reports.flatMap((r) => r.functions).sort(byFile((x) => x.file));
  const files = reports.flatMap((r) => r.files).sort(byFile((x) => x.file));
  const objects = reports.flatMap((r) => r.provenance.objects).sort(byFile((x) => x.source));
  const skippedLists = reports.map((r) => r.skipped);
  const walk = shards.length > 1 ? commonPrefix(skippedLists) : skippedLists[0]!.length;
  const skipped = [...skippedLists[0]!.slice(0, walk), ...skippedLists.flatMap((l) => l.slice(walk)).sort(byFile((x) => x.file))];
  return {
    provenance: mergeProvenance(reports.map((r) => r.provenance), objects),
    findings,
    functions,
    files,
    skipped,
    counts: countFindings(findings),
  };
}
