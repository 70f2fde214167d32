// One build: esbuild bundles the client (VS Code side) and the server (plain Node,
// also run as `node dist/server.js --stdio`) separately, and copies the WASM files
// the bundles load from their own directory at run time.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
const minify = process.argv.includes('--minify');
const out = 'dist';
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  sourcemap: true,
  minify,
  // web-tree-sitter's ESM build has an empty import.meta.url once bundled and
  // Parser.init then fails silently: always take its CommonJS entry.
  // (An `import` statement activates the package's "import" condition whatever the
  // output format, so the CommonJS file is named outright.)
  alias: { 'web-tree-sitter': './node_modules/web-tree-sitter/tree-sitter.cjs' },
  logLevel: 'warning',
};

const builds = [
  { ...common, entryPoints: { extension: 'client/src/extension.ts' }, outdir: out, external: ['vscode'] },
  { ...common, entryPoints: { server: 'server/src/server.ts', cli: 'server/src/cli.ts', indexWorker: 'server/src/index/worker.ts', exportWorker: 'server/src/lsp/exportWorker.ts', scanWorker: 'server/src/cli/scanWorker.ts', inventoryWorker: 'server/src/audit/inventoryWorker.ts' }, outdir: out },
];

for (const [from, to] of [
  ['node_modules/web-tree-sitter/tree-sitter.wasm', 'tree-sitter.wasm'],
  ['node_modules/tree-sitter-c/tree-sitter-c.wasm', 'tree-sitter-c.wasm'],
  ['node_modules/iced-x86/iced_x86_bg.wasm', 'iced_x86_bg.wasm'],
]) copyFileSync(from, join(out, to));

if (watch) {
  for (const b of builds) (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync(join(out, 'cli.js'), 0o755);
}
