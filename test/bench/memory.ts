// CLI peak RSS (issue 15, item 4): `scan --format json` and `report` over a tree,
// against the same command over the tree's largest source file alone, in the same
// run. The peer is the file, not another tool: memory bounded by the largest file
// and not by the tree shows as a ratio near 1; a ratio that grows with the tree is
// what is still held per file (the report's model, every file's audit).
//
//   npm run bench:memory [-- --write]    (TDX_BENCH_MEMORY_TREE=DIR, default drivers/net
//                                         of the prepared 6.1 tree; TDX_BENCH_RUNS_MEMORY=N, default 1)
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureTree, fmtMiB, fmtMs, fmtRatio, gitHead, log, machine, Md, measure, median, ROOT, writeSection } from './lib';

/** The largest .c file under dir (the one file the tree's peak cannot be below). */
function largestSource(dir: string): { path: string; size: number } {
  let best = { path: '', size: -1 };
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, n.name);
      if (n.isDirectory()) walk(p);
      else if (n.isFile() && n.name.endsWith('.c')) {
        const s = statSync(p).size;
        if (s > best.size) best = { path: p, size: s };
      }
    }
  };
  walk(dir);
  return best;
}

async function main(): Promise<void> {
  const runs = Number(process.env.TDX_BENCH_RUNS_MEMORY ?? 1);
  const tree = process.env.TDX_BENCH_MEMORY_TREE ?? join(ensureTree(), 'drivers/net');
  const cli = join(ROOT, 'dist/cli.js');
  const big = largestSource(tree);
  const files = (() => {
    let n = 0;
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (/\.[ch]$/.test(e.name)) n++;
      }
    };
    walk(tree);
    return n;
  })();
  log(`memory: ${tree} (${files} .c/.h), largest ${big.path} (${(big.size / 1024).toFixed(0)} KiB)`);
  // No header cache and no objects: the same work every run, nothing written into the tree.
  const common = ['--exit-zero', '--no-objects'];
  const cases: { name: string; argv: (target: string, out: string) => string[] }[] = [
    { name: '`scan --format json`', argv: (t) => [process.execPath, cli, 'scan', t, '--format', 'json', '--no-header-cache', ...common] },
    { name: '`report` (all four formats)', argv: (t, out) => [process.execPath, cli, 'report', t, '--out', out, '--force', ...common] },
  ];
  const md = new Md();
  const loadBefore = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
  const rows: string[] = [];
  for (const c of cases) {
    const one: { rss: number; wall: number; cpu: number }[] = [];
    const all: { rss: number; wall: number; cpu: number }[] = [];
    for (let r = 0; r < runs; r++) {
      for (const [target, into] of [[big.path, one], [tree, all]] as const) {
        const out = mkdtempSync(join(tmpdir(), 'tdx-bench-mem-'));
        log(`memory: ${c.name} ${relative(ROOT, target) || target} run ${r + 1}/${runs}`);
        const m = await measure(c.argv(target, out), { discard: true });
        rmSync(out, { recursive: true, force: true });
        if (m.code !== 0) throw new Error(`${c.name} failed (${m.code}): ${m.stderr.slice(0, 2000)}`);
        into.push({ rss: m.maxRssKiB, wall: m.wallMs, cpu: m.cpuS });
      }
    }
    const med = (xs: { rss: number; wall: number; cpu: number }[], k: 'rss' | 'wall' | 'cpu') => median(xs.map((x) => x[k]));
    rows.push(`| ${c.name} | ${fmtMiB(med(one, 'rss'))} | ${fmtMiB(med(all, 'rss'))} | **${fmtRatio(med(all, 'rss') / med(one, 'rss'))}** | ${fmtMs(med(all, 'wall'))} | ${med(all, 'cpu').toFixed(1)} |`);
  }
  const loadAfter = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
  md.line('### CLI peak RSS: a tree against its largest file');
  md.line();
  md.line(`${machine()} (load before ${loadBefore}, after ${loadAfter}); tdx-audit ${gitHead()}; tree \`${tree}\` (${files} .c/.h files), largest file \`${relative(tree, big.path)}\` (${(big.size / 1024).toFixed(0)} KiB); ${runs} run${runs === 1 ? '' : 's'}, medians; \`--no-objects\`, scan also \`--no-header-cache\`; peak RSS from GNU time.`);
  md.line();
  md.line('| command | peak RSS, largest file alone | peak RSS, whole tree | **tree / file** | wall, tree | CPU s, tree |');
  md.line('|---|---|---|---|---|---|');
  for (const r of rows) md.line(r);
  writeSection('memory', md.text());
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
