#!/usr/bin/env node
// The headless entry: the same engine as the language server, for CI and scripts.
//   tdx-audit scan <files or dirs...> [--format text|json] [--profile P]
//   tdx-audit decode <hex...> [--profile P] [--format text|json|jsonl]
// Exit status: 0 clean, 1 an error-severity finding exists, 2 usage or I/O error.

import { statSync } from 'node:fs';
import { readTextOrUndefined } from './fs/safeRead';
import { relative, resolve } from 'node:path';
import { discoverSources, mayHoldSites, readSource, SourceError } from './audit/sources';
import { checkObjectPaths, commonOption, optionValue, type CommonOptions } from './cliOptions';
import { PROFILE_IDS } from './x86/profiles';
import { AuditEngine, type FileAudit } from './audit/engine';
import { runDecode } from './x86/decodeCli';
import { runReport, REPORT_USAGE } from './audit/report/cli';
import { ObjectStore } from './audit/objects';
import { inventory } from './audit/inventory';
import { isRejected } from './audit/verdicts';
import { instructionJson, type CompiledInstruction } from './audit/compiled';

const VERSION = '0.1.0';

class UsageError extends Error {}

function statIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const USAGE = `usage:
  tdx-audit scan <files or dirs...> [--format text|json] [--profile P] [--no-includes] [--exit-zero]
                 [--objects DIR|FILE]... [--build-dir DIR --source-root DIR] [--vmlinux FILE]
  tdx-audit scan --vmlinux FILE [--format text|json] [--profile P]      (binary inventory, no sources)
  tdx-audit decode <hex bytes...> [--profile P] [--format text|json|jsonl]
  ${REPORT_USAGE.trim()}
profiles: ${PROFILE_IDS.join(', ')}`;

interface ScanOptions extends CommonOptions {
  paths: string[];
  format: 'text' | 'json';
  /** Report findings but exit 0 (for demos and advisory CI jobs). */
  exitZero: boolean;
  sourceRoot?: string;
}

function parseScanArgs(argv: string[]): ScanOptions {
  const o: ScanOptions = { paths: [], format: 'text', profile: 'tdx-linux-6.12+', followIncludes: true, exitZero: false, objects: [] };
  const fail = (m: string) => new UsageError(m);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const shared = commonOption(argv, i, o, fail);
    if (shared >= 0) i = shared;
    else if (a === '--format') {
      const v = argv[++i];
      if (v !== 'text' && v !== 'json') throw new UsageError(`--format takes text or json, not ${v ?? 'nothing'}`);
      o.format = v;
    } else if (a === '--source-root') o.sourceRoot = optionValue(argv, ++i, a, fail);
    else if (a === '--exit-zero') o.exitZero = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else o.paths.push(a);
  }
  if (!o.paths.length && !o.vmlinux) throw new UsageError('scan needs at least one file or directory (or --vmlinux FILE alone for the binary inventory)');
  if (o.buildDir && !o.sourceRoot) o.sourceRoot = o.paths.length === 1 && statIsDir(o.paths[0]!) ? o.paths[0] : process.cwd();
  checkObjectPaths(o, fail);
  return o;
}

/** C sources and headers under the given paths, in a stable order. */
export function collectSources(paths: string[], onSkip?: (path: string, why: string) => void): string[] {
  try {
    return discoverSources(paths, onSkip);
  } catch (e) {
    if (e instanceof SourceError) throw new UsageError(e.message);
    throw e;
  }
}

/** Headers: never /dev/zero, a FIFO or a 50 GB file (fs/safeRead). */
const readOrUndefined = (p: string) => readTextOrUndefined(p);

async function scan(argv: string[], write: (s: string) => void, warn: (s: string) => void): Promise<number> {
  const o = parseScanArgs(argv);
  if (!o.paths.length && o.vmlinux) return inventoryCommand(o, write, warn);
  const engine = await AuditEngine.create({ readFile: readOrUndefined });
  const withObjects = o.objects.length > 0 || !!o.vmlinux || !!o.buildDir;
  engine.configure({
    profile: o.profile,
    followIncludes: o.followIncludes,
    objects: withObjects ? { objects: o.objects, vmlinux: o.vmlinux, buildDir: o.buildDir, sourceRoot: o.sourceRoot } : undefined,
  });
  const skipped: { file: string; why: string }[] = [];
  const files = collectSources(o.paths, (file, why) => skipped.push({ file, why }));
  const audits: FileAudit[] = [];
  for (const f of files) {
    const src = readSource(f);
    if ('why' in src) {
      skipped.push({ file: f, why: src.why });
      continue;
    }
    const text = src.text;
    if (!mayHoldSites(text)) continue;
    try {
      audits.push(engine.auditOnce(f, text));
    } catch (e) {
      skipped.push({ file: f, why: `analysis failed: ${(e as Error).message}` });
    }
  }
  for (const s of skipped) warn(`tdx-audit: skipped ${s.file}: ${s.why}`);
  if (withObjects) {
    // Stale or broken objects are named one by one; files without any object are counted.
    const missing: string[] = [];
    for (const a of audits) {
      const ob = a.compiled?.object;
      if (!ob || !a.findings.length || ob.state === 'fresh') continue;
      if (ob.state === 'missing') missing.push(a.file);
      else warn(`tdx-audit: ${a.file}: ${ob.message}`);
    }
    if (missing.length) warn(`tdx-audit: ${missing.length} file(s) with sites have no object among those given (e.g. ${missing.slice(0, 3).join(', ')}): source view only for them`);
  }
  const hasError = audits.some((a) => a.findings.some((f) => f.severity === 'error'));
  write(o.format === 'json' ? JSON.stringify(toJson(audits, o, skipped), null, 2) + '\n' : toText(audits));
  return hasError && !o.exitZero ? 1 : 0;
}

/** `scan --vmlinux FILE` with no sources: every accessor instruction in the image. */
function inventoryCommand(o: ScanOptions, write: (s: string) => void, warn: (s: string) => void): number {
  const store = new ObjectStore(1);
  const r = store.load(resolve(o.vmlinux!), true);
  if ('error' in r) {
    warn(`tdx-audit: ${r.error}`);
    return 2;
  }
  const tty = process.stderr.isTTY;
  const inv = inventory(r, o.profile, {
    onUnit: tty ? (k, n) => { if (k % 50 === 0) process.stderr.write(`\r  reading DWARF: unit ${k}/${n}`); } : undefined,
  });
  if (tty) process.stderr.write('\r\x1b[K');
  const failures = inv.items.filter(isRejected);
  if (o.format === 'json') {
    write(JSON.stringify({
      tool: 'tdx-audit', version: VERSION, profile: o.profile, object: inv.object,
      units: inv.units, ms: Math.round(inv.ms),
      summary: summaryOf(inv.items),
      instructions: inv.items.map((i) => ({
        ...instructionJson(i),
        accessor: i.accessor, site: { file: i.site.file ?? null, line: i.site.line, column: i.site.column },
      })),
      functions: inv.functions,
    }, null, 2) + '\n');
  } else {
    const lines: string[] = [];
    for (const i of inv.items) {
      const where = i.site.file ? `${i.site.file}:${i.site.line}` : '?';
      lines.push(`${`${i.function}+0x${i.offset.toString(16)}`.padEnd(44)} ${i.text.padEnd(34)} ${`${i.class}/${i.size}`.padEnd(20)} ${i.verdict}${i.unreached ? ' (not reached under TDX)' : ''}  ${i.accessor} @ ${where}`);
    }
    const s = summaryOf(inv.items);
    lines.push('', `${inv.items.length} accessor instructions in ${inv.functions.length} functions (${inv.units.scanned} of ${inv.units.total} units read, ${(inv.ms / 1000).toFixed(1)} s): ` +
      Object.entries(s.byVerdict).map(([k, n]) => `${n} ${k}`).join(', '));
    write(lines.join('\n') + '\n');
  }
  return failures.length && !o.exitZero ? 1 : 0;
}

function summaryOf(items: readonly CompiledInstruction[]) {
  const byVerdict: Record<string, number> = {};
  const byClass: Record<string, number> = {};
  for (const i of items) {
    const v = i.unreached ? `${i.verdict} (unreached)` : i.verdict;
    byVerdict[v] = (byVerdict[v] ?? 0) + 1;
    byClass[i.class] = (byClass[i.class] ?? 0) + 1;
  }
  return { instructions: items.length, functions: new Set(items.map((i) => i.function)).size, byVerdict, byClass };
}

/** The stable JSON interface (documented in the README). */
export function toJson(audits: FileAudit[], o: Pick<ScanOptions, 'profile'>, skipped: { file: string; why: string }[] = []) {
  const sites = audits.flatMap((a) =>
    a.findings.map((f) => ({
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
    })),
  );
  const instructions = audits.flatMap((a) =>
    a.findings.flatMap((f) =>
      (f.instructions ?? []).map((i) => ({
        ...instructionJson(i),
        dwarf: { file: i.file ?? null, line: i.line, column: i.column },
        site: { file: a.file, line: f.site.range.start.line + 1, column: f.site.range.start.character + 1, accessor: f.site.accessor, rule: f.rule },
      })),
    ),
  );
  const held = new Map<string, number>();
  for (const a of audits) for (const fn of a.compiled?.functions ?? []) held.set(`${a.file}\0${fn.name}`, fn.instructions);
  const functions = audits.flatMap((a) =>
    a.analysis.functions
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
        ...(a.compiled ? { instructions: held.get(`${a.file}\0${fn.name}`) ?? 0 } : {}),
      })),
  );
  // The object's view: every symbol holding an instruction of this file's sites,
  // including callers that static helpers were inlined into.
  const objectFunctions = audits.flatMap((a) => (a.compiled?.functions ?? []).map((fn) => ({ file: a.file, ...fn })));
  return {
    tool: 'tdx-audit',
    version: VERSION,
    profile: o.profile,
    sites,
    functions,
    ...(audits.some((a) => a.compiled) ? { instructions, objectFunctions } : {}),
    files: audits.map((a) => ({
      file: a.file,
      sites: a.findings.length,
      parseErrors: a.analysis.parseErrors,
      ms: Math.round(a.ms * 10) / 10,
      ...(a.compiled ? { object: { path: a.compiled.object.path ?? null, state: a.compiled.object.state, message: a.compiled.object.message, origin: a.compiled.object.origin ?? null } } : {}),
    })),
    skipped,
  };
}

function toText(audits: FileAudit[]): string {
  const lines: string[] = [];
  const cwd = process.cwd();
  const counts = new Map<string, number>();
  for (const a of audits) {
    const name = relative(cwd, resolve(a.file)) || a.file;
    for (const f of a.findings) {
      const r = f.site.range.start;
      lines.push(`${name}:${r.line + 1}:${r.character + 1}: ${f.severity}: [${f.rule}] ${f.message.replace(/`/g, "'")}`);
      for (const i of f.instructions ?? []) {
        lines.push(`    ${`${i.function}+0x${i.offset.toString(16)}`.padEnd(32)} ${i.bytes.padEnd(20)} ${i.text.padEnd(32)} ${i.class === 'CALL' ? 'call' : `${i.class}/${i.size}`} ${i.verdict}${i.misemulation.length ? ` (${i.misemulation.join(', ')})` : ''}`);
      }
      counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
    }
  }
  const objectLanding = audits.flatMap((a) => (a.compiled?.functions ?? []).map((fn) => ({ file: relative(cwd, resolve(a.file)) || a.file, fn })));
  if (objectLanding.length) {
    lines.push('', 'Where the #VE lands (from the objects: symbols holding the instructions):');
    for (const { file, fn } of objectLanding) {
      const v = Object.entries(fn.verdicts).map(([k, n]) => `${n} ${k}`).join(', ');
      lines.push(`  ${file}: ${fn.name}: ${fn.instructions} instruction${fn.instructions === 1 ? '' : 's'} (${v})`);
    }
  }
  const landing = audits.flatMap((a) =>
    a.analysis.functions
      .filter((fn) => fn.direct > 0 || fn.via.length > 0)
      .map((fn) => ({ file: relative(cwd, resolve(a.file)) || a.file, fn })),
  );
  if (landing.length) {
    lines.push('', 'Where the #VE lands (function-level view; static helpers inline into their callers):');
    for (const { file, fn } of landing) {
      const via = fn.via.length ? `, +${fn.reached} via ${fn.via.join(', ')}` : '';
      lines.push(`  ${file}:${fn.range.start.line + 1}: ${fn.name}: ${fn.direct} direct${via}`);
    }
  }
  const summary = ['error', 'warning', 'information', 'hint'].map((s) => `${counts.get(s) ?? 0} ${s}`).join(', ');
  const withSites = audits.filter((a) => a.findings.length > 0).length;
  lines.push('', `${withSites} file(s) with sites: ${summary}`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[], write = (s: string) => void process.stdout.write(s), warn = (s: string) => void process.stderr.write(s + '\n')): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'scan':
        return await scan(rest, write, warn);
      case 'decode':
        return runDecode(rest, write);
      case 'report':
        return await runReport(rest);
      case '--version':
        write(VERSION + '\n');
        return 0;
      case undefined:
      case '--help':
      case '-h':
        write(USAGE + '\n');
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${cmd}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      warn(`tdx-audit: ${e.message}\n${USAGE}`);
      return 2;
    }
    warn(`tdx-audit: ${(e as Error).stack ?? e}`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
