// `tdx-audit fix <files...> --diff [--objects DIR|FILE]...`: the fix-its of every raw
// or untyped MMIO dereference as a unified diff on stdout (`git apply` takes it).
// Nothing is written; the object, when given, tells the access width of a site
// the source does not (a cast to a typedef, a struct field).
import { relative, resolve } from 'node:path';
import { AuditEngine } from '../audit/engine';
import { applyFixes, fixFor, unifiedDiff, type Fix } from '../audit/fix';
import { readTextOrUndefined } from '../fs/safeRead';
import { readSource } from '../audit/sources';

export const FIX_USAGE = 'tdx-audit fix <files...> --diff [--objects DIR|FILE]...';

export async function runFix(argv: string[], write: (s: string) => void, warn: (s: string) => void): Promise<number> {
  const files: string[] = [];
  const objects: string[] = [];
  let diff = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--diff') diff = true;
    else if (a === '--objects') {
      const v = argv[++i];
      if (!v) throw new Error('--objects needs a path');
      objects.push(resolve(v));
    } else if (a.startsWith('-')) {
      warn(`tdx-audit: unknown option ${a}\nusage: ${FIX_USAGE}`);
      return 2;
    } else files.push(a);
  }
  if (!diff || !files.length) {
    warn(`tdx-audit: fix prints a diff and writes nothing: give --diff and the files\nusage: ${FIX_USAGE}`);
    return 2;
  }
  const engine = await AuditEngine.create({ readFile: (p) => readTextOrUndefined(p) });
  if (objects.length) engine.configure({ objects: { objects } });
  let fixed = 0;
  let left = 0;
  for (const f of files) {
    const path = resolve(f);
    // A FIFO, /dev/zero or a 50 GB file named as a source: skipped with the reason, as scan does.
    const read = readSource(path);
    if ('why' in read) {
      const why = read.why;
      warn(`tdx-audit: ${f}: ${why.startsWith('skipped') ? why : `skipped: ${why}`}`);
      continue;
    }
    const text = read.text;
    const audit = engine.auditOnce(path, text);
    const fixes: Fix[] = [];
    for (const finding of audit.findings) {
      if (finding.site.kind === 'call') continue;
      const r = fixFor(text, finding.site, finding.instructions);
      if ('none' in r) {
        left++;
        warn(`${f}:${finding.site.range.start.line + 1}:${finding.site.range.start.character + 1}: no fix: ${r.none}`);
      } else fixes.push(r);
    }
    fixed += fixes.length;
    write(unifiedDiff(relative(process.cwd(), path) || path, text, applyFixes(text, fixes)));
  }
  warn(`${fixed} fix${fixed === 1 ? '' : 'es'}, ${left} site${left === 1 ? '' : 's'} left for a person`);
  return 0;
}
