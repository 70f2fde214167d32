// Parse health on a kernel folder: how many .c files still hold a tree-sitter ERROR
// or MISSING node after the annotation rewrite (prepare()), and the source line of
// each file's first one, to see which kernel shapes the grammar still trips on.
// Usage: node --import tsx scripts/kernel/parse-health.ts <folder> [out.tsv]
// (not part of the default tests; BENCHMARKS.md "Headers through the include path")
import { writeFileSync } from 'node:fs';
import { CParser, countErrors, type Node } from '../../server/src/c/parser';
import { discoverSources, readSource } from '../../server/src/audit/sources';

async function main(): Promise<void> {
  const p = await CParser.create();
  const files = discoverSources([process.argv[2] ?? '.']).filter((f) => f.endsWith('.c'));
  let bad = 0;
  let n = 0;
  const firsts: string[] = [];
  for (const f of files) {
    const r = readSource(f);
    if (!('text' in r)) continue;
    n++;
    const t = p.parse(undefined, r.text);
    try {
      if (countErrors(t.tree) === 0) continue;
      bad++;
      // The first ERROR/MISSING node in document order.
      const queue: Node[] = [t.tree.rootNode];
      let first: Node | undefined;
      while (queue.length) {
        const x = queue.shift()!;
        if (x.isError || x.isMissing) {
          first = x;
          break;
        }
        if (x.hasError) queue.unshift(...x.children.filter((y): y is Node => !!y));
      }
      const line = first ? (r.text.split('\n')[first.startPosition.row] ?? '').trim().slice(0, 100) : '?';
      firsts.push(`${f}:${(first?.startPosition.row ?? 0) + 1}\t${first?.isMissing ? 'MISSING' : 'ERROR'}\t${line}`);
    } finally {
      t.tree.delete();
    }
  }
  if (process.argv[3]) writeFileSync(process.argv[3], firsts.join('\n') + '\n');
  console.log(JSON.stringify({ files: n, withErrors: bad, percent: Number(((100 * bad) / Math.max(1, n)).toFixed(2)) }));
}

void main();
