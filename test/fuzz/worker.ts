/** Worker thread of runner.ts: runs inputs [from, to) with stride, reporting each one's start in shared memory. */
import { parentPort, workerData } from 'node:worker_threads';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { loadTarget } from './targets';

const { kind, payload, seed, from, to, stride, slot, shared, crashDir } = workerData as {
  kind: 'objects' | 'c'; payload: any; seed: number; from: number; to: number; stride: number; slot: number; shared: SharedArrayBuffer; crashDir: string;
};
const mem = new Float64Array(shared);
const port = parentPort!;

function signature(e: unknown): string {
  const s = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 3).join('\n') ?? ''}` : String(e);
  return s.replace(/0x[0-9a-f]+|\d+/gi, 'N');
}

async function main(): Promise<void> {
  const target = loadTarget(kind, payload);
  await target.init();
  let tried = 0;
  let ok = 0;
  let typed = 0;
  let slowest = { index: -1, ms: 0, label: '', ops: '' };
  const seen = new Map<string, number>();
  let lastReport = Date.now();
  const report = (type: 'progress' | 'done') => port.postMessage({ type, tried, ok, typed, slowest });
  for (let i = from; i < to; i += stride) {
    const g = target.generate(seed, i);
    mem[slot * 3 + 2] = g.budgetMs ?? 0;
    mem[slot * 3 + 1] = Date.now();
    mem[slot * 3] = i;
    const t = performance.now();
    try {
      const r = target.run(g.input);
      if (r === 'ok') ok++;
      else typed++;
    } catch (e) {
      const sig = signature(e);
      const n = (seen.get(sig) ?? 0) + 1;
      seen.set(sig, n);
      let file: string | undefined;
      if (n <= 3) {
        mkdirSync(crashDir, { recursive: true });
        const h = createHash('sha1').update(g.bytes).digest('hex').slice(0, 10);
        file = join(crashDir, `${kind}-crash-${seed}-${i}-${h}.bin`);
        writeFileSync(file, g.bytes);
        writeFileSync(file.replace(/\.bin$/, '.txt'), `${e instanceof Error ? e.stack : String(e)}\nseed ${seed} index ${i}\ninput from ${g.label}\nmutations ${g.ops}\n`);
      }
      port.postMessage({ type: 'crash', index: i, label: g.label, ops: g.ops, message: e instanceof Error ? (e.stack ?? e.message) : String(e), own: g.own, file });
    }
    const ms = performance.now() - t;
    mem[slot * 3] = -1;
    tried++;
    if (ms > slowest.ms) slowest = { index: i, ms, label: g.label, ops: g.ops };
    if (Date.now() - lastReport > 250) {
      lastReport = Date.now();
      report('progress');
    }
  }
  report('done');
}

main().catch((e) => {
  throw e;
});
