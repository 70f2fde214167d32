// End to end in Emacs (Debian emacs-nox 28 + elpa-eglot 1.9): eglot starts our server
// over stdio on the fixture driver with the README's eglot-server-programs entry.
// flymake's diagnostics must be the CLI's findings (line, range, severity, rule) and
// the hover at the __iowrite32_copy call must explain it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, fixtureWorkspace, lineOf, readmeSnippet, runGroup, which } from './lib';

const emacs = which('emacs');
const SERVER = join(REPO, 'dist', 'server.js');
const hasEglot = (): boolean =>
  !!emacs && spawnSync(emacs, ['--batch', '-q', '--eval', '(kill-emacs (if (require (quote eglot) nil t) 0 1))'], { timeout: 30_000 }).status === 0;

const skip = !emacs
  ? 'emacs not installed (apt-get install emacs-nox elpa-eglot; .ci/run installs them)'
  : !hasEglot()
    ? 'eglot not available to emacs (apt-get install elpa-eglot)'
    : !existsSync(SERVER)
      ? 'dist/server.js missing: run npm run build'
      : false;

// eglot shows LSP hints and information alike as notes.
const TYPE: Record<string, string> = { error: 'eglot-error', warning: 'eglot-warning', information: 'eglot-note', hint: 'eglot-note' };

test('Emacs eglot: diagnostics and hover', { skip, timeout: 120_000 }, async (t) => {
  const ws = fixtureWorkspace('emacs', false);
  const t0 = Date.now();
  try {
    const cli = spawnSync(process.execPath, [join(REPO, 'dist', 'cli.js'), 'scan', ws.source, '--format', 'json', '--exit-zero'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const sites = JSON.parse(cli.stdout).sites as { line: number; column: number; endLine: number; endColumn: number; rule: string; severity: string }[];
    const expected = sites.map((s) => ({ line: s.line, col: s.column - 1, end_col: s.endColumn - 1, type: TYPE[s.severity], rule: s.rule }));
    const hoverLine = lineOf(ws.source, '__iowrite32_copy(');
    const out = join(ws.root, 'eglot-result.json');
    const snippet = join(ws.root, 'readme-snippet.el');
    writeFileSync(snippet, readmeSnippet('elisp', 'Emacs 28 with eglot'));
    const r = await runGroup(emacs!, ['--batch', '-q', '-l', join(__dirname, 'editors', 'eglot-probe.el')], {
      cwd: ws.dir,
      timeoutMs: 90_000,
      env: {
        ...process.env,
        HOME: ws.root, // no user init, no ~/.emacs.d writes
        TDX_SNIPPET: snippet,
        TDX_ROOT: ws.dir,
        TDX_FILE: ws.source,
        TDX_HOVER_LINE: String(hoverLine),
        TDX_HOVER_COL: '6',
        TDX_OUT: out,
      },
    });
    assert.ok(!r.timedOut, `emacs timed out\n${r.stderr}`);
    assert.ok(existsSync(out), `emacs wrote no result (exit ${r.code})\n${r.stderr}`);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(res.error, undefined, `in emacs: ${res.error}\n${r.stderr}`);
    const got = (res.diagnostics as { line: number; col: number; end_col: number; type: string; text: string }[]).map((d) => ({
      line: d.line,
      col: d.col,
      end_col: d.end_col,
      type: d.type,
      rule: /\[([a-z0-9-]+)\]/.exec(d.text)?.[1],
    }));
    assert.deepEqual(got, expected);
    assert.match(res.hover, /__iowrite32_copy/);
    assert.match(res.hover, /rep movsl/);
    t.diagnostic(`eglot: ${got.length} diagnostics after ${res.diagnostics_ms} ms; whole test ${Date.now() - t0} ms`);
  } finally {
    ws.cleanup();
  }
});
