// `npm run fuzz`: the long fuzz runs and the long server soak.
//   npm run fuzz                       1,000,000 mutated objects + 100,000 C inputs, then a 10,000-edit soak
//   npm run fuzz -- --objects N --c N --seed S --workers W --no-kernel --no-soak ...
// Arguments other than --no-soak go to test/fuzz/main.ts (see its header). Exit 1 on any crash or hang.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const has = (a) => args.includes(a);
const fuzzArgs = args.filter((a) => a !== '--no-soak');
if (!has('--objects')) fuzzArgs.push('--objects', '1000000');
if (!has('--c')) fuzzArgs.push('--c', '100000');
const fuzz = spawnSync(process.execPath, ['--import', 'tsx', 'test/fuzz/main.ts', ...fuzzArgs], { stdio: 'inherit' });
let status = fuzz.status ?? 1;
if (!has('--no-soak')) {
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  const soak = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/lsp/resilience-soak.test.ts'], {
    stdio: 'inherit',
    env: { ...process.env, TDX_AUDIT_SOAK_EDITS: process.env.TDX_AUDIT_SOAK_EDITS ?? '10000' },
  });
  if (b.status !== 0 || soak.status !== 0) status = status || 1;
}
process.exit(status);
