// All of drivers/ (issue 15: "all of drivers/ < 60 s wall on 2 cores", "CLI peak RSS
// <= 500 MB on drivers/", and "what remains between us and the parse floor"): the
// built CLI's `scan drivers --format json` with a warm header cache (the setup a CI job
// keeps between runs: `--header-cache-dir`), against the parse floor measured in the
// same run: tree-sitter's parse, in this process, of exactly the files the scan
// audited (its JSON's `files`), one after the other on one thread. The scan's CPU over
// the floor's is what the pre-filter, the header walk, the analyses, the compiled-form
// join and the workers' start-up cost above parsing what must be parsed.
//
//   node --import tsx test/bench/drivers.ts [--write]
//     TDX_BENCH_DRIVERS_TREE=DIR (default drivers/ of the prepared 6.1 tree)
//     TDX_BENCH_RUNS_DRIVERS=N   measured warm runs (default 1; one untimed run warms the cache)
//     TDX_BENCH_DRIVERS_CLI=PATH another build's dist/cli.js (default this checkout's)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CParser } from '../../server/src/c/parser';
import { ensureTree, fmtMiB, fmtMs, fmtRatio, gitHead, log, machine, Md, measure, median, ROOT, writeSection } from './lib';

const WALL_TARGET_MS = 60_000;
const RSS_TARGET_KIB = (500 * 1000 * 1000) / 1024;

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** CPU ms of tree-sitter's parse of each file, in this process (one warm-up parse first). */
async function parseFloor(files: readonly string[]): Promise<{ cpuMs: number; bytes: number }> {
  const parser = await CParser.create();
  const texts = files.map((f) => readFileSync(f, 'latin1'));
  if (texts.length) parser.parseOnce(texts[0]!).delete();
  let bytes = 0;
  const t0 = process.cpuUsage();
  for (const t of texts) {
    bytes += t.length;
    parser.parseOnce(t).delete();
  }
  const d = process.cpuUsage(t0);
  return { cpuMs: (d.user + d.system) / 1000, bytes };
}

async function main(): Promise<void> {
  const runs = Number(process.env.TDX_BENCH_RUNS_DRIVERS ?? 1);
  const tree = process.env.TDX_BENCH_DRIVERS_TREE ?? join(ensureTree(), 'drivers');
  const cli = process.env.TDX_BENCH_DRIVERS_CLI ?? join(ROOT, 'dist/cli.js');
  const cache = mkdtempSync(join(tmpdir(), 'tdx-bench-drivers-cache-'));
  const argv = [process.execPath, cli, 'scan', tree, '--format', 'json', '--exit-zero', '--header-cache-dir', cache];
  try {
    log(`drivers: warming the header cache (${tree})`);
    const warm = await measure(argv, { discard: true });
    if (warm.code !== 0) throw new Error(`scan failed (${warm.code}): ${warm.stderr.slice(0, 2000)}`);
    const measured: { wall: number; cpu: number; rss: number; loadBefore: string; loadAfter: string }[] = [];
    let json = '';
    for (let r = 0; r < runs; r++) {
      const loadBefore = load();
      log(`drivers: warm scan ${r + 1}/${runs} (load ${loadBefore})`);
      const m = await measure(argv);
      if (m.code !== 0) throw new Error(`scan failed (${m.code}): ${m.stderr.slice(0, 2000)}`);
      measured.push({ wall: m.wallMs, cpu: m.cpuS, rss: m.maxRssKiB, loadBefore, loadAfter: load() });
      if (r === runs - 1) json = m.stdout.toString('utf8');
    }
    const doc = JSON.parse(json) as { files: { file: string }[]; sites: unknown[] };
    const files = doc.files.map((f) => f.file);
    log(`drivers: parse floor over the ${files.length} audited files`);
    const floor = await parseFloor(files);
    const wall = median(measured.map((m) => m.wall));
    const cpu = median(measured.map((m) => m.cpu));
    const rss = median(measured.map((m) => m.rss));
    const md = new Md();
    md.line('### All of drivers/: wall, CPU and peak RSS against the parse floor');
    md.line();
    md.line(`${machine()}; tdx-audit ${gitHead()} (\`${cli === join(ROOT, 'dist/cli.js') ? 'dist/cli.js' : cli}\`); tree \`${tree}\`; \`scan --format json\` with a warm \`--header-cache-dir\` (one untimed run warmed it), default jobs; ${runs} measured run${runs === 1 ? '' : 's'}, medians; GNU time. Load per run: ${measured.map((m) => `${m.loadBefore} → ${m.loadAfter}`).join('; ')}.`);
    md.line();
    md.line('| | wall | CPU user+sys | peak RSS | files audited | sites |');
    md.line('|---|---|---|---|---|---|');
    md.line(`| \`scan ${tree.split('/').filter(Boolean).pop()}\` | **${fmtMs(wall)}** (target < ${fmtMs(WALL_TARGET_MS)}: ${wall < WALL_TARGET_MS ? 'met' : 'not met'}) | ${cpu.toFixed(1)} s | **${fmtMiB(rss)}** (target ≤ 500 MB = ${fmtMiB(RSS_TARGET_KIB)}: ${rss <= RSS_TARGET_KIB ? 'met' : 'not met'}) | ${files.length} | ${doc.sites.length} |`);
    md.line(`| parse floor: tree-sitter's parse of those files, one thread | ${fmtMs(floor.cpuMs)} (CPU) | | | ${(floor.bytes / 1e6).toFixed(1)} MB | |`);
    md.line();
    md.line(`Scan CPU / parse floor: **${fmtRatio((cpu * 1000) / floor.cpuMs)}**; on 2 cores the floor alone is ${fmtMs(floor.cpuMs / 2)} of wall at best.`);
    writeSection('drivers', md.text());
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
