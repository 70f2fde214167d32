// `scan`'s output, built per file so that files can be audited on worker threads
// and written in path order as they complete (scanWriter.ts): each audit becomes a
// ScanFileResult, the JSON pieces and text lines of that one file, plain data that
// crosses a thread. The output is the same whichever thread audited which file.

import { relative, resolve } from 'node:path';
import { instructionJson } from '../audit/compiled';
import type { FileAudit } from '../audit/engine';

export const VERSION = '0.1.0';

type Json = Record<string, unknown>;

export interface ScanFileResult {
  file: string;
  sites: Json[];
  functions: Json[];
  instructions: Json[];
  objectFunctions: Json[];
  fileEntry: Json;
  /** The object was looked for (objects given). */
  joined: boolean;
  object?: { state: string; message: string };
  counts: Record<string, number>;
  findingLines: string[];
  objectLanding: { file: string; line: string }[];
  landing: { file: string; line: string }[];
  /** Includes the engine did not follow (not found, not readable), as the engine lists them. */
  notFollowed: { include: string; from: string; line: number; why: string }[];
}

/** One audited file as output pieces (the stable JSON interface, documented in the README). */
export function fileResult(a: FileAudit): ScanFileResult {
  const sites = a.findings.map((f) => ({
    file: a.file,
    line: f.site.range.start.line + 1,
    column: f.site.range.start.character + 1,
    endLine: f.site.range.end.line + 1,
    endColumn: f.site.range.end.character + 1,
    function: f.site.function,
    accessor: f.site.accessor,
    base: f.site.base,
    kind: f.site.accessorKind,
    siteKind: f.site.kind,
    width: f.site.width,
    rule: f.rule,
    severity: f.severity,
    address: f.site.address,
    message: f.message,
    via: f.site.via.map((v) => ({ name: v.name, callee: v.callee, file: v.file, line: v.range.start.line + 1 })),
  }));
  const instructions = a.findings.flatMap((f) =>
    (f.instructions ?? []).map((i) => ({
      ...instructionJson(i),
      dwarf: { file: i.file ?? null, line: i.line, column: i.column },
      site: { file: a.file, line: f.site.range.start.line + 1, column: f.site.range.start.character + 1, accessor: f.site.accessor, rule: f.rule },
    })),
  );
  const held = new Map<string, number>();
  for (const fn of a.compiled?.functions ?? []) held.set(fn.name, fn.instructions);
  const functions = a.analysis.functions
    .filter((fn) => fn.direct > 0 || fn.via.length > 0)
    .map((fn) => ({
      file: a.file,
      name: fn.name,
      line: fn.range.start.line + 1,
      direct: fn.direct,
      via: fn.via,
      reached: fn.reached,
      static: fn.isStatic,
      inline: fn.isInline,
      ...(a.compiled ? { instructions: held.get(fn.name) ?? 0 } : {}),
    }));
  // The object's view: every symbol holding an instruction of this file's sites,
  // including callers that static helpers were inlined into.
  const objectFunctions = (a.compiled?.functions ?? []).map((fn) => ({ file: a.file, ...fn }));
  const fileEntry = {
    file: a.file,
    sites: a.findings.length,
    parseErrors: a.analysis.parseErrors,
    ms: Math.round(a.ms * 10) / 10,
    ...(a.compiled ? { object: { path: a.compiled.object.path ?? null, state: a.compiled.object.state, message: a.compiled.object.message, origin: a.compiled.object.origin ?? null } } : {}),
  };

  const cwd = process.cwd();
  const name = relative(cwd, resolve(a.file)) || a.file;
  const counts: Record<string, number> = {};
  const findingLines: string[] = [];
  for (const f of a.findings) {
    const r = f.site.range.start;
    findingLines.push(`${name}:${r.line + 1}:${r.character + 1}: ${f.severity}: [${f.rule}] ${f.message.replace(/`/g, "'")}`);
    for (const i of f.instructions ?? []) {
      findingLines.push(`    ${`${i.function}+0x${i.offset.toString(16)}`.padEnd(32)} ${i.bytes.padEnd(20)} ${i.text.padEnd(32)} ${i.class === 'CALL' ? 'call' : `${i.class}/${i.size}`} ${i.verdict}${i.misemulation.length ? ` (${i.misemulation.join(', ')})` : ''}`);
    }
    counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  }
  const objectLanding = (a.compiled?.functions ?? []).map((fn) => {
    const v = Object.entries(fn.verdicts).map(([k, n]) => `${n} ${k}`).join(', ');
    return { file: name, line: `  ${name}: ${fn.name}: ${fn.instructions} instruction${fn.instructions === 1 ? '' : 's'} (${v})` };
  });
  const landing = a.analysis.functions
    .filter((fn) => fn.direct > 0 || fn.via.length > 0)
    .map((fn) => {
      const via = fn.via.length ? `, +${fn.reached} via ${fn.via.join(', ')}` : '';
      return { file: name, line: `  ${name}:${fn.range.start.line + 1}: ${fn.name}: ${fn.direct} direct${via}` };
    });
  return {
    file: a.file,
    sites,
    functions,
    instructions,
    objectFunctions,
    fileEntry,
    joined: !!a.compiled,
    ...(a.compiled ? { object: { state: a.compiled.object.state, message: a.compiled.object.message } } : {}),
    counts,
    findingLines,
    objectLanding,
    landing,
    notFollowed: a.notFollowed ?? [],
  };
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const arrayOf = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);
const isLanding = (x: unknown) => isObject(x) && typeof x.file === 'string' && typeof x.line === 'string';

/**
 * Whether `v`, read back from the result cache (resultCache.ts: untrusted bytes), has
 * the shape fileResult gives `file`, so that the writers cannot trip over it.
 */
export function isScanFileResult(v: unknown, file: string): v is ScanFileResult {
  if (!isObject(v) || v.file !== file) return false;
  return (
    arrayOf(v.sites, isObject) &&
    arrayOf(v.functions, isObject) &&
    arrayOf(v.instructions, isObject) &&
    arrayOf(v.objectFunctions, isObject) &&
    isObject(v.fileEntry) &&
    typeof v.joined === 'boolean' &&
    (v.object === undefined || (isObject(v.object) && typeof v.object.state === 'string' && typeof v.object.message === 'string')) &&
    isObject(v.counts) &&
    Object.values(v.counts).every((n) => typeof n === 'number') &&
    arrayOf(v.findingLines, (x) => typeof x === 'string') &&
    arrayOf(v.objectLanding, isLanding) &&
    arrayOf(v.landing, isLanding) &&
    arrayOf(v.notFollowed, (x) => isObject(x) && typeof x.include === 'string' && typeof x.from === 'string' && typeof x.line === 'number' && typeof x.why === 'string')
  );
}
