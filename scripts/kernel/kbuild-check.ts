// Checks audit/kbuild.ts against what Debian really built: a file is built-in when
// vmlinux has a compile unit for it, a module when a .ko has one, and not built when
// neither has. Our verdict comes from the tree's Makefiles and Debian's .config only.
//   node --import tsx scripts/kernel/kbuild-check.ts <tree> <config or config.xz> <vmlinux> <modules dir> [sample]
// Prints the confusion matrix and examples of each disagreement.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { openBinary } from '../../server/src/binary/index';
import { parseDotConfig, treeKbuild, type BuildState } from '../../server/src/audit/kbuild';

const [tree, configPath, vmlinux, modules, sampleArg] = process.argv.slice(2);
if (!tree || !configPath || !vmlinux || !modules) {
  console.error('usage: kbuild-check.ts <tree> <config[.xz]> <vmlinux> <modules dir> [module sample]');
  process.exit(2);
}
const configText = configPath.endsWith('.xz') ? execFileSync('xz', ['-dc', configPath], { maxBuffer: 64 << 20 }).toString() : readFileSync(configPath, 'utf8');
const config = parseDotConfig(configText);

/** Tree-relative .c names of an object's compile units. */
function unitSources(path: string): string[] {
  const bin = openBinary(new Uint8Array(readFileSync(path)));
  const out: string[] = [];
  for (const cu of bin.dwarf.compileUnits()) {
    const n = cu.name;
    if (!n || !n.endsWith('.c')) continue;
    // Debian's names: relative to comp_dir (the build folder) or absolute under it.
    const m = /(?:^|\/)((?:arch|block|certs|crypto|drivers|fs|init|io_uring|ipc|kernel|lib|mm|net|security|sound|virt)\/.*\.c)$/.exec(n);
    if (m) out.push(m[1]!);
  }
  return out;
}

// Reading 4,000 modules' units takes minutes: the truth is cached per (vmlinux, modules, sample).
const cacheFile = join(tmpdir(), `tdx-audit-kbuild-truth-${createHash('sha1').update(`${vmlinux}\0${modules}\0${sampleArg ?? ''}\0${statSync(vmlinux).mtimeMs}`).digest('hex').slice(0, 12)}.json`);
let truth = new Map<string, BuildState>();
let read = 0;
let kosCount = 0;
let step = 1;
if (existsSync(cacheFile)) {
  const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as { truth: [string, BuildState][]; read: number; kos: number; step: number };
  truth = new Map(c.truth);
  ({ read, step } = c);
  kosCount = c.kos;
} else {
  for (const f of unitSources(vmlinux)) truth.set(f, 'built-in');
  const kos: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ko')) kos.push(p);
    }
  };
  walk(modules);
  kos.sort();
  kosCount = kos.length;
  const sample = sampleArg ? Number(sampleArg) : kos.length;
  step = Math.max(1, Math.floor(kos.length / sample));
  for (let i = 0; i < kos.length; i += step) {
    read++;
    for (const f of unitSources(kos[i]!)) if (!truth.has(f)) truth.set(f, 'module');
  }
  writeFileSync(cacheFile, JSON.stringify({ truth: [...truth], read, kos: kosCount, step }));
}

// Every .c of the tree's folders that the objects cover (drivers/ and the rest).
const files: string[] = [];
const walkC = (d: string) => {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (n !== 'tools' && n !== 'scripts' && n !== 'Documentation' && n !== 'samples' && !n.startsWith('.')) walkC(p);
    } else if (n.endsWith('.c')) files.push(relative(tree, p));
  }
};
walkC(join(tree, 'drivers'));

const kb = treeKbuild(tree);
const matrix = new Map<string, number>();
const examples = new Map<string, string[]>();
const t0 = performance.now();
for (const f of files) {
  const want = truth.get(f) ?? 'not-built';
  // Modules were sampled: a file in a module we did not read is not evidence of "not built".
  if (want === 'not-built' && step > 1) continue;
  const got = kb.verdict(f, config);
  const key = `${want} -> ${got.state}`;
  matrix.set(key, (matrix.get(key) ?? 0) + 1);
  if (want !== got.state) {
    const ex = examples.get(key) ?? [];
    if (ex.length < 6) ex.push(`${f}: ${got.why}`);
    examples.set(key, ex);
  }
}
const ms = performance.now() - t0;
console.log(`tree ${tree}; ${files.length} .c files under drivers/; truth: vmlinux + ${read} of ${kosCount} modules; Kbuild verdicts in ${(ms / 1000).toFixed(1)} s`);
for (const [k, n] of [...matrix].sort()) console.log(`${k.padEnd(28)} ${n}`);
const agree = [...matrix].filter(([k]) => k.split(' -> ')[0] === k.split(' -> ')[1]).reduce((a, [, n]) => a + n, 0);
const total = [...matrix.values()].reduce((a, n) => a + n, 0);
const decided = [...matrix].filter(([k]) => !k.endsWith('unknown')).reduce((a, [, n]) => a + n, 0);
console.log(`agreement ${agree}/${total} (${((100 * agree) / total).toFixed(1)} %); of decided verdicts ${agree}/${decided} (${((100 * agree) / decided).toFixed(1)} %)`);
for (const [k, ex] of examples) console.log(`\n${k}:\n  ${ex.join('\n  ')}`);
