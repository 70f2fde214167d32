// SARIF 2.1.0: the report as GitHub code scanning and the SARIF viewers load it.
// Rule ids are the engine's stable RuleCodes; partialFingerprints carry the triage
// fingerprint so code scanning tracks an alert across kernel updates the same way
// the triage file does; triaged safe/excluded/trusted findings are emitted as
// externally suppressed results rather than dropped.

import { hypercallText, registerText, ripText } from '../../x86/handlers';
import { pathToFileURL } from 'node:url';
import type * as Sarif from 'sarif';
import type { Range, RuleCode } from '../../c/types';
import type { Severity } from '../engine';
import { DEFAULT_SEVERITY } from '../findings';
import { jsonChunks, LazyArray } from './jsonStream';
import { errorsFirst, reportSections } from './sections';
import { asDoc, type ReportSource } from './doc';
import { FINGERPRINT_KEY } from './fingerprint';
import type { ReportFinding, ReportLocation } from './model';
import { allRules, ruleHelp, ruleTitle } from './rules';

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';
const SRCROOT = '%SRCROOT%';

const LEVEL: Record<Severity, Sarif.ReportingConfiguration.level> = {
  error: 'error',
  warning: 'warning',
  information: 'note',
  hint: 'note',
};

const pascal = (rule: string) => rule.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

function ruleDescriptor(rule: RuleCode): Sarif.ReportingDescriptor {
  const h = ruleHelp(rule);
  const title = ruleTitle(rule);
  const kernel = h.kernel.length ? `\n\nModelled on the kernel sources: ${h.kernel.join('; ')}.` : '';
  const kernelMd = h.kernel.length ? `\n\n**Kernel sources:**\n${h.kernel.map((k) => `- \`${k}\``).join('\n')}` : '';
  return {
    id: rule,
    name: pascal(rule),
    shortDescription: { text: title },
    fullDescription: { text: h.text },
    help: {
      text: `${h.text}${h.fix ? `\n\nFix: ${h.fix}` : ''}${kernel}`,
      markdown: `**${title}**\n\n${h.text}${h.fix ? `\n\n**Fix:** ${h.fix}` : ''}${kernelMd}`,
    },
    defaultConfiguration: { level: LEVEL[defaultSeverity(rule)] },
    properties: { tags: ['tdx', 'confidential-computing', 'linux-kernel', 'mmio'] },
  };
}

const defaultSeverity = (rule: RuleCode): Severity => DEFAULT_SEVERITY[rule] ?? 'warning';

/** A relative report path as a URI reference under %SRCROOT%, or an absolute file URI. */
function artifact(file: string): Sarif.ArtifactLocation {
  if (file.startsWith('/')) return { uri: pathToFileURL(file).href };
  return { uri: file.split('/').map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

/** SARIF regions are 1-based; columns count UTF-16 code units like ours (columnKind below). */
function region(r: Range): Sarif.Region {
  return { startLine: r.start.line + 1, startColumn: r.start.character + 1, endLine: r.end.line + 1, endColumn: r.end.character + 1 };
}

function physical(file: string, r: Range): Sarif.PhysicalLocation {
  return { artifactLocation: artifact(file), region: region(r) };
}

function related(locs: ReportLocation[]): Sarif.Location[] {
  return locs.map((l, i) => ({ id: i + 1, message: { text: l.message }, physicalLocation: physical(l.file, l.range) }));
}

function result(f: ReportFinding, ruleIndex: Map<RuleCode, number>, profile: string): Sarif.Result {
  const loc: Sarif.Location = { physicalLocation: physical(f.file, f.range) };
  if (f.function) loc.logicalLocations = [{ name: f.function, kind: 'function' }];
  const r: Sarif.Result = {
    ruleId: f.rule,
    level: LEVEL[f.severity],
    message: { text: f.message },
    locations: [loc],
    partialFingerprints: { [FINGERPRINT_KEY]: f.fingerprint },
    properties: {
      verdict: f.verdict,
      verdictFrom: f.verdictFrom,
      profile,
      accessor: f.accessor,
      base: f.base,
      accessorKind: f.accessorKind,
      width: f.width,
      expression: f.expression,
      subsystem: f.subsystem,
      ...(f.inParseError ? { inParseError: true } : {}),
      ...(f.objectOnly ? { objectOnly: f.objectOnly } : {}),
      ...(f.build ? { build: f.build } : {}),
      ...(f.handler ? { handler: { exit: f.handler.exit, hypercall: hypercallText(f.handler), verdict: f.handler.verdict, outcome: f.handler.outcome } } : {}),
      ...(f.compiled
        ? {
            instructions: f.compiled.instructions.map((i) => ({
              bytes: i.bytes,
              text: i.text,
              class: i.class,
              size: i.size,
              verdict: i.verdict,
              misemulation: i.misemulation,
              summary: i.summary,
              function: i.function,
              offset: i.offset,
              section: i.section,
              object: i.object,
              // What the handler does with it, in the record's one wording (x86/handlers.ts).
              ...(i.handler ? { hypercall: hypercallText(i.handler), registers: registerText(i.handler), rip: ripText(i.handler), outcome: i.handler.outcome } : {}),
            })),
            ...(f.compiled.note ? { compiledNote: f.compiled.note } : {}),
          }
        : {}),
      ...(f.triage ? { triage: f.triage } : {}),
    },
  };
  const idx = ruleIndex.get(f.rule);
  if (idx !== undefined) r.ruleIndex = idx;
  if (f.related.length) r.relatedLocations = related(f.related);
  if (f.baseline) r.baselineState = f.baseline;
  if (f.triage && f.deemphasised) {
    r.suppressions = [{ kind: 'external', status: 'accepted', justification: `${f.triage.status}${f.triage.comment ? `: ${f.triage.comment}` : ''}` }];
  }
  return r;
}

export function toSarif(source: ReportSource): Sarif.Log {
  return sarifDocument(source, false);
}

/** The log with its results as a LazyArray when `lazy` (jsonChunks prints them one by one). */
function sarifDocument(source: ReportSource, lazy: boolean): Sarif.Log {
  const doc = asDoc(source);
  const rules = allRules();
  for (const f of doc.keys) if (!rules.includes(f.rule)) rules.push(f.rule);
  const ruleIndex = new Map(rules.map((r, i) => [r, i]));
  const p = doc.provenance;
  const s = reportSections(doc);
  const results = function* () {
    for (const i of errorsFirst(s)) yield result(doc.finding(i), ruleIndex, p.profile);
  };
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'tdx-audit',
            version: p.tool.version,
            semanticVersion: p.tool.version,
            rules: rules.map(ruleDescriptor),
          },
        },
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(p.root.endsWith('/') ? p.root : p.root + '/').href } },
        columnKind: 'utf16CodeUnits',
        invocations: [{ executionSuccessful: true, endTimeUtc: p.generatedAt }],
        // Errors first, as every report: a viewer that keeps the order shows what crashes on top.
        results: lazy ? (new LazyArray(results) as unknown as Sarif.Result[]) : [...results()],
        properties: {
          provenance: p,
          ...(doc.baseline ? { baseline: doc.baseline } : {}),
        },
      },
    ],
  };
}

/** The SARIF log in pieces, result by result (written as they come). */
export function* sarifChunks(source: ReportSource): Generator<string> {
  yield* jsonChunks(sarifDocument(source, true));
  yield '\n';
}

export function sarifText(source: ReportSource): string {
  return [...sarifChunks(source)].join('');
}
