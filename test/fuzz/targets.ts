/** The fuzz targets: how an input is generated from (seed, index), and what running it means. */
import { inputRand } from './prng';
import { describeSeed, exerciseObject, mutateObject, seedWeights, type Seed } from './objects';
import { cInput, exerciseC, type CSeed } from './cinputs';

export type TargetKind = 'objects' | 'c' | 'selftest';

export interface TargetPayload {
  objects?: Array<{ label: string; own: boolean; data: Uint8Array }>;
  texts?: CSeed[];
  /** C runs: make input 0 a file of this many bytes (0: none). */
  bigFileBytes?: number;
  /** C runs: cap on generated nesting depth (default: none). */
  maxDepth?: number;
}

export interface Generated {
  input: unknown;
  /** What is saved for a failing input. */
  bytes: Uint8Array;
  label: string;
  ops: string;
  own: boolean;
  budgetMs?: number;
}

export interface Target {
  init(): Promise<void>;
  generate(seed: number, index: number): Generated;
  /** 'ok': a result; 'typed': an accepted typed error. Anything thrown is a crash. */
  run(input: unknown): 'ok' | 'typed';
}

export function loadTarget(kind: TargetKind, payload: TargetPayload): Target {
  if (kind === 'selftest') {
    // Proves the runner itself: input 3 never ends, 5 throws, 8 exhausts the heap; the rest are fine.
    return {
      init: async () => undefined,
      generate: (_seed, index) => ({ input: index, bytes: Buffer.from(String(index)), label: 'selftest', ops: String(index), own: true }),
      run(input) {
        const i = input as number;
        if (i === 3) for (;;);
        if (i === 5) throw new TypeError('selftest: boom');
        if (i === 8) {
          const keep: number[][] = [];
          for (;;) keep.push(new Array(1 << 16).fill(i));
        }
        return 'ok';
      },
    };
  }
  if (kind === 'objects') {
    const seeds: Seed[] = [];
    for (const o of payload.objects ?? []) {
      const s = describeSeed(o.label, Buffer.from(o.data), o.own);
      if (s) seeds.push(s);
    }
    if (!seeds.length) throw new Error('no object seeds');
    const weights = seedWeights(seeds);
    return {
      init: async () => undefined,
      generate(seed, index) {
        const m = mutateObject(seeds, weights, inputRand(seed, index));
        return { input: m.data, bytes: m.data, label: m.seed.label, ops: m.ops.join(','), own: m.seed.own };
      },
      run(input) {
        const st = exerciseObject(input as Uint8Array);
        return st.typedErrors ? 'typed' : 'ok';
      },
    };
  }
  const texts = payload.texts ?? [];
  let engine: import('../../server/src/audit/engine').AuditEngine | undefined;
  return {
    async init() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { AuditEngine } = require('../../server/src/audit/engine') as typeof import('../../server/src/audit/engine');
      engine = await AuditEngine.create({ readFile: () => undefined });
    },
    generate(seed, index) {
      const g = cInput(texts, inputRand(seed, index), index === 0 ? payload.bigFileBytes ?? 0 : 0, payload.maxDepth ?? Infinity);
      return { input: g.text, bytes: Buffer.from(JSON.stringify(g.text)), label: g.label, ops: g.ops, own: g.own, budgetMs: g.budgetMs };
    },
    run(input) {
      exerciseC(engine!, input as string);
      return 'ok';
    },
  };
}
