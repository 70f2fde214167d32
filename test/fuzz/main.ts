/**
 * `npm run fuzz` entry: node --import tsx test/fuzz/main.ts [--objects N] [--c N] [--seed S]
 *   [--workers W] [--budget MS] [--no-kernel] [--big-mb MB] [--start I] [--max-depth N] [--tsx]
 * Prints inputs tried, crashes, hangs and the slowest input; failing inputs go to
 * test-output/fuzz/crashes/. Exit 1 on any crash or hang.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelSeeds, ownSeeds } from './objects';
import { kernelCSeeds, ownCSeeds } from './cinputs';
import { CRASH_DIR, bundleWorker, runFuzz, summary, type FuzzResult } from './runner';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const seed = arg('--seed', Date.now() % 1_000_000);
const objects = arg('--objects', 20_000);
const cInputs = arg('--c', 5_000);
const workers = arg('--workers', 2);
const budgetMs = arg('--budget', 5_000);
const bigMb = arg('--big-mb', 20);
const start = arg('--start', 0);
const maxDepth = arg('--max-depth', Infinity);
const kernel = !process.argv.includes('--no-kernel');
const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

async function main(): Promise<void> {
  log(`fuzz seed ${seed} (rerun with --seed ${seed}); crashes are saved to ${CRASH_DIR}`);
  const results: FuzzResult[] = [];
  const workerFile = process.argv.includes('--tsx') ? undefined : await bundleWorker();
  if (objects > 0) {
    const own = ownSeeds();
    const ks = kernel ? kernelSeeds() : [];
    log(`object seeds: ${own.length} compiled from our fixtures, ${ks.length} Debian kernel objects`);
    if (!own.length && !ks.length) throw new Error('no object seeds (gcc missing?)');
    const payload = { objects: [...own, ...ks].map((s) => ({ label: s.label, own: s.own, data: new Uint8Array(s.data) })) };
    results.push(await runFuzz({ kind: 'objects', seed, inputs: objects, start, workers, budgetMs, payload, progressMs: 30_000, log, workerFile }));
    log(summary(results[results.length - 1]!));
  }
  if (cInputs > 0) {
    const texts = [...ownCSeeds(), ...(kernel ? kernelCSeeds() : [])];
    log(`C seeds: ${texts.length} (${texts.filter((t) => !t.own).length} from the kernel tree)`);
    const payload = { texts, bigFileBytes: start === 0 ? bigMb * 1024 * 1024 : 0, maxDepth };
    results.push(await runFuzz({ kind: 'c', seed, inputs: cInputs, start, workers, budgetMs, payload, progressMs: 30_000, log, memoryMb: 2048, workerFile }));
    log(summary(results[results.length - 1]!));
  }
  const out = join(CRASH_DIR, '..');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `run-${seed}.json`), JSON.stringify(results, null, 1));
  for (const r of results) console.log(summary(r));
  if (results.some((r) => r.crashes.length || r.hangs.length)) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
