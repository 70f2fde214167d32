// Parse health on a kernel folder (issue 14, item 4): every .c file parsed the way the
// engine parses it (read through audit/sources.ts, the pre-parse rewrite of
// c/annotations.ts, tree-sitter-c), counting files with an ERROR or MISSING node and
// putting each failing file's FIRST one in a bucket named after the construct around
// it (buckets: classify() below, the kernel shapes the grammar trips on).
//
//   node --import tsx test/bench/parse-health.ts [DIR] [--out OUT.tsv] [--json STATUS.json]
//   DIR defaults to drivers/ of the prepared 6.1 tree. OUT.tsv: one row per failing file
//   (file:line, bucket, the line). STATUS.json: the failing files with their first error,
//   to compare two builds (--compare OLD.json prints the files fixed and newly broken).
//
// Not part of the default tests; figures in BENCHMARKS.md "Parse health (issue 14, item 4)".
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CParser, type Node } from '../../server/src/c/parser';
import { discoverSources, readSource } from '../../server/src/audit/sources';
import { TREE } from './lib';

export interface FirstError {
  file: string;
  line: number;
  column: number;
  missing: boolean;
  bucket: string;
  text: string;
}

/** The first ERROR or MISSING node in document order. */
function firstError(root: Node): Node | undefined {
  const c = root.walk();
  try {
    for (;;) {
      const n = c.currentNode;
      if (n.isError || n.isMissing) return n;
      if (n.hasError && c.gotoFirstChild()) continue;
      while (!c.gotoNextSibling()) if (!c.gotoParent()) return undefined;
    }
  } finally {
    c.delete();
  }
}

/** The line holding `index`, and the lines just before it (a statement may start above). */
function around(text: string, index: number): { line: string; before: string; after: string } {
  const s = text.lastIndexOf('\n', index - 1) + 1;
  const e = text.indexOf('\n', index);
  const line = text.slice(s, e < 0 ? text.length : e);
  let p = s;
  let before = '';
  for (let guard = 0; guard < 50 && p > 0; guard++) {
    const q = text.lastIndexOf('\n', p - 2) + 1;
    before = text.slice(q, p - 1);
    p = q;
    const t = before.trim();
    if (t && !/^(\/\*.*\*\/|\/\/.*|\*.*|\/\*.*)$/.test(t)) break;
  }
  const e2 = e < 0 ? -1 : text.indexOf('\n', e + 1);
  const after = e < 0 ? '' : text.slice(e + 1, e2 < 0 ? text.length : e2);
  return { line, before, after };
}

/**
 * The construct around a first error, by the text (original, not rewritten) of its
 * line and the line before. Order matters: the most specific shape first.
 */
export function classify(line: string, before: string, after: string, errText: string): string {
  const l = line.trim();
  const b = before.trim();
  if (/^#\s*(if|ifdef|ifndef|else|elif|endif)\b/.test(b) && /^(\}|else\b)/.test(l)) return '#if/#else/#endif splitting an if/else';
  if (/^(\}\s*)?else\b/.test(l)) return 'else after a conditional group or statement macro';
  if (/^(static\s+)?[A-Za-z_]\w*\s*\(.*\)\s*$/.test(b) && /^[A-Z]/.test(b.replace(/^static\s+/, '')) && !/[;{},]$/.test(b)) return 'macro call without a semicolon (line above)';
  if (/##/.test(l)) return 'token pasting (##)';
  if (/^\s*#/.test(l) || /\\$/.test(b)) return 'preprocessor line or #define body';
  if (/__attribute|__aligned|__section|__packed/.test(l)) return '__attribute__ spellings';
  if (/^\s*(EXPORT_SYMBOL|MODULE_|module_\w+\(|\w*initcall)/.test(l)) return 'EXPORT_SYMBOL / MODULE_* / initcall lines';
  if (/\b\w*(for_each|foreach|_walk|_loop)\w*\s*\(/.test(l) || /\b\w*(for_each|foreach|_walk)\w*\s*\(/.test(b)) return 'loop macro (macro call then a statement)';
  if (/\b(scoped_guard|guard|scoped_cond_guard)\s*\(/.test(l)) return 'guard()/scoped_guard()';
  if (/^[A-Z][A-Z0-9_]*\s*(\(.*\))?\s*$/.test(l) || /^[A-Z][A-Z0-9_]*\s*(\(.*\))?\s*$/.test(b)) return 'statement-like macro without a semicolon';
  if (/^\s*\.\w+\s*=/.test(l) || /^\s*\[[^\]]*\]\s*=/.test(l)) return 'designated initialiser';
  if (/^\s*[A-Z][A-Z0-9_]*\s*\(.*\)\s*,?\s*$/.test(l)) return 'macro call in an initialiser / list';
  if (/\b__(printf|scanf|must_hold|acquires|releases)\b/.test(l)) return '__printf/__must_hold-style annotation';
  if (/\basm\b|__asm__|asm volatile/.test(l)) return 'inline asm';
  if (/\b(typeof|__typeof__|_Generic)\b/.test(l)) return 'typeof/_Generic';
  if (/\bstruct\s+\w+\s*[,)]/.test(l)) return 'type as a macro argument';
  if (/^\s*[A-Z_][A-Z0-9_]*\s+[A-Za-z_]/.test(l)) return 'CAPS macro before a declaration or expression';
  if (errText.length === 0) return 'MISSING token (other)';
  return 'other';
}

export async function parseHealth(dir: string, only?: ReadonlySet<string>): Promise<{ files: number; withErrors: FirstError[] }> {
  const p = await CParser.create();
  const files = discoverSources([dir]).filter((f) => f.endsWith('.c') && (!only || only.has(f)));
  const withErrors: FirstError[] = [];
  let n = 0;
  for (const f of files) {
    const r = readSource(f);
    if (!('text' in r)) continue;
    n++;
    const t = p.parse(undefined, r.text);
    try {
      if (!t.tree.rootNode.hasError) continue;
      const e = firstError(t.tree.rootNode);
      if (!e) continue;
      const a = around(r.text, e.startIndex);
      withErrors.push({
        file: f,
        line: e.startPosition.row + 1,
        column: e.startPosition.column + 1,
        missing: e.isMissing,
        bucket: classify(a.line, a.before, a.after, r.text.slice(e.startIndex, e.endIndex)),
        text: a.line.trim().slice(0, 120),
      });
    } finally {
      t.tree.delete();
    }
  }
  return { files: n, withErrors };
}

/** Buckets of an old run's TSV (path:line, kind, text; scripts/kernel/parse-health.ts wrote it) by reading each file. */
function classifyTsv(tsv: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of readFileSync(tsv, 'utf8').split('\n').filter(Boolean)) {
    const [where, kind] = row.split('\t');
    const m = /^(.*):(\d+)$/.exec(where!)!;
    const text = readFileSync(m[1]!, 'latin1');
    let at = 0;
    for (let l = 1; l < Number(m[2]); l++) at = text.indexOf('\n', at) + 1;
    const a = around(text, at);
    const b = classify(a.line, a.before, a.after, kind === 'MISSING' ? '' : 'x');
    out.set(b, (out.get(b) ?? 0) + 1);
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--classify') {
    const b = classifyTsv(args[1]!);
    console.log(JSON.stringify({ files: [...b.values()].reduce((x, y) => x + y, 0) }));
    for (const [k, v] of [...b].sort((x, y) => y[1] - x[1])) console.log(`${String(v).padStart(6)}  ${k}`);
    return;
  }
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const out = opt('--out');
  const json = opt('--json');
  const compare = opt('--compare');
  // --only LIST.tsv: parse just the files a previous run listed (first column, path:line).
  const onlyList = opt('--only');
  const dir = args[0] ?? join(TREE, 'drivers');
  const only = onlyList ? new Set(readFileSync(onlyList, 'utf8').split('\n').filter(Boolean).map((l) => {
    const f = l.split('\t')[0]!.replace(/:\d+$/, '');
    return f.startsWith('/') ? f : join(dir, '..', f);
  })) : undefined;
  const t0 = Date.now();
  const { files, withErrors } = await parseHealth(dir, only);
  const rel = (f: string) => relative(join(dir, '..'), f);
  if (out) writeFileSync(out, withErrors.map((e) => `${rel(e.file)}:${e.line}\t${e.missing ? 'MISSING' : 'ERROR'}\t${e.bucket}\t${e.text}`).join('\n') + '\n');
  if (json) writeFileSync(json, JSON.stringify(withErrors.map((e) => ({ ...e, file: rel(e.file) }))));
  const buckets = new Map<string, number>();
  for (const e of withErrors) buckets.set(e.bucket, (buckets.get(e.bucket) ?? 0) + 1);
  console.log(JSON.stringify({ dir, files, withErrors: withErrors.length, percent: Number(((100 * withErrors.length) / Math.max(1, files)).toFixed(2)), seconds: (Date.now() - t0) / 1000 }));
  for (const [b, k] of [...buckets].sort((x, y) => y[1] - x[1])) console.log(`${String(k).padStart(6)}  ${b}`);
  if (compare) {
    const old = JSON.parse(readFileSync(compare, 'utf8')) as FirstError[];
    const now = new Set(withErrors.map((e) => rel(e.file)));
    const was = new Set(old.map((e) => e.file));
    const fixed = old.filter((e) => !now.has(e.file));
    const broken = withErrors.filter((e) => !was.has(rel(e.file)));
    const byBucket = new Map<string, number>();
    for (const e of fixed) byBucket.set(e.bucket, (byBucket.get(e.bucket) ?? 0) + 1);
    console.log(`fixed ${fixed.length} (by the bucket of their old first error), newly failing ${broken.length}`);
    for (const [b, k] of [...byBucket].sort((x, y) => y[1] - x[1])) console.log(`${String(k).padStart(6)}  ${b}`);
    for (const e of broken) console.log(`  newly failing: ${rel(e.file)}:${e.line} ${e.bucket}: ${e.text}`);
  }
}

if (require.main === module) void main();
