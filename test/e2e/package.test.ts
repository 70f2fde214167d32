// The .vsix holds what runs and nothing else, and stays small. Packs the current
// dist/ (built by `npm test` / `npm run build`) with vsce into a temp folder and reads
// the archive's own central directory, so what is checked is the file users install.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, packVsix, zipEntries } from './lib';

/** The vsix may not grow past this without someone deciding so (1.28 MB minified, as `npm run package` builds it; 1.66 MB unminified). */
export const MAX_VSIX_BYTES = 3 * 1024 * 1024;

test('vsce packs an installable .vsix with only what runs', { timeout: 180_000, skip: existsSync(join(REPO, 'dist', 'server.js')) ? false : 'dist/ missing: run npm run build' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-vsix-'));
  try {
    const t0 = Date.now();
    const vsix = await packVsix(dir);
    const size = statSync(vsix).size;
    t.diagnostic(`packed in ${Date.now() - t0} ms, ${(size / 1024).toFixed(0)} KiB`);
    assert.ok(size <= MAX_VSIX_BYTES, `the .vsix is ${size} bytes, over the ${MAX_VSIX_BYTES} budget`);

    const names = zipEntries(readFileSync(vsix)).map((e) => e.name).sort();
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    const expected = [
      '[Content_Types].xml',
      'extension.vsixmanifest',
      'extension/package.json',
      'extension/readme.md',
      'extension/LICENSE.txt',
      'extension/dist/extension.js',
      'extension/dist/server.js',
      'extension/dist/cli.js',
      'extension/dist/indexWorker.js',
      'extension/dist/exportWorker.js',
      'extension/dist/scanWorker.js',
      'extension/dist/inventoryWorker.js',
      'extension/dist/tree-sitter.wasm',
      'extension/dist/tree-sitter-c.wasm',
      'extension/dist/iced_x86_bg.wasm',
      `extension/${pkg.icon}`,
      // every grammar the manifest contributes, and nothing else from syntaxes/
      ...(pkg.contributes.grammars ?? []).map((g: { path: string }) => `extension/${g.path.replace(/^\.\//, '')}`),
    ].sort();
    assert.deepEqual(names, expected);

    // What the manifest points at is in the package.
    for (const p of [pkg.main, pkg.bin['tdx-audit']]) assert.ok(names.includes(`extension/${p.replace(/^\.\//, '')}`), p);
    assert.match(pkg.engines.vscode, /^\^1\.(\d+)\./);
    assert.ok(Number(/^\^1\.(\d+)\./.exec(pkg.engines.vscode)![1]) <= 100, 'engines.vscode must accept VS Code 1.100 (code-server 4.100.3)');
    const typesVscode = JSON.parse(readFileSync(join(REPO, 'node_modules', '@types', 'vscode', 'package.json'), 'utf8')).version as string;
    assert.ok(Number(typesVscode.split('.')[1]) <= 100, `@types/vscode ${typesVscode} is newer than engines.vscode allows`);
    // Every contributed command is registered: by the client bundle, or by the server
    // (executeCommandProvider: vscode-languageclient registers those when the server starts).
    // VS Code 1.74+ activates on contributed commands by itself.
    const bundle = readFileSync(join(REPO, 'dist', 'extension.js'), 'utf8');
    const server = readFileSync(join(REPO, 'dist', 'server.js'), 'utf8');
    for (const c of pkg.contributes.commands as { command: string }[]) {
      assert.ok(bundle.includes(c.command) || server.includes(c.command), `${c.command} is contributed but registered neither in dist/extension.js nor in dist/server.js`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
