// End to end in Neovim (Debian 0.7.2): its built-in LSP client starts our server over
// stdio on the fixture driver. Diagnostics (ranges, severities, codes) must be the
// CLI's findings for the same file, the hover at the __iowrite32_copy call must
// explain it, a line added by an edit must get its own diagnostic, and after an
// error is marked safe the diagnostics, the file summary and the workspace view
// (tdxAudit/workspaceFindings, VS Code's TDX Findings) count the same errors.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { REPO, fixtureWorkspace, lineOf, readmeSnippet, runGroup, which } from './lib';
import { hasGcc } from '../support/gcc';

const nvim = which('nvim');
const SERVER = join(REPO, 'dist', 'server.js');

interface NvimDiag {
  lnum: number;
  col: number;
  end_lnum: number;
  end_col: number;
  severity: number;
  code?: string;
  message: string;
}

const SEVERITY: Record<string, number> = { error: 1, warning: 2, information: 3, hint: 4 };

test('Neovim: diagnostics, hover and an edit over the built-in LSP client', { skip: !nvim ? 'nvim not installed (apt-get install neovim; .ci/run installs it)' : !existsSync(SERVER) ? 'dist/server.js missing: run npm run build' : false, timeout: 120_000 }, async (t) => {
  const version = spawnSync(nvim!, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  t.diagnostic(version);
  // No object: the diagnostics are compared with the CLI's source-only scan.
  const ws = fixtureWorkspace('nvim', false);
  const t0 = Date.now();
  try {
    const cli = spawnSync(process.execPath, [join(REPO, 'dist', 'cli.js'), 'scan', ws.source, '--format', 'json', '--exit-zero'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    const expected = (JSON.parse(cli.stdout).sites as { line: number; column: number; endLine: number; endColumn: number; rule: string; severity: string }[]).map((s) => ({
      lnum: s.line - 1,
      col: s.column - 1,
      end_lnum: s.endLine - 1,
      end_col: s.endColumn - 1,
      severity: SEVERITY[s.severity],
      code: s.rule,
    }));
    assert.ok(expected.length >= 10, 'the fixture has sites');

    const hoverLine = lineOf(ws.source, '__iowrite32_copy(') - 1;
    const editAfter = lineOf(ws.source, 'u32 foo_poll(') ; // 0-based index of the '{' line below it
    const out = join(ws.root, 'nvim-result.json');
    mkdirSync(join(ws.root, 'xdg'), { recursive: true });
    const snippet = join(ws.root, 'readme-snippet.lua');
    writeFileSync(snippet, readmeSnippet('lua', 'Neovim 0.7 and newer'));
    const env = {
      ...process.env,
      TDX_OUT: out,
      TDX_SNIPPET: snippet,
      TDX_HOVER_LINE: String(hoverLine),
      TDX_HOVER_COL: '6',
      TDX_EDIT_AFTER: String(editAfter),
      TDX_EDIT_TEXT: '\twritel(0x3, fp->regs + FOO_CTRL);',
      XDG_CONFIG_HOME: join(ws.root, 'xdg', 'config'),
      XDG_DATA_HOME: join(ws.root, 'xdg', 'data'),
      XDG_CACHE_HOME: join(ws.root, 'xdg', 'cache'),
      XDG_STATE_HOME: join(ws.root, 'xdg', 'state'),
    };
    const r = await runGroup(nvim!, ['--headless', '--clean', '-u', join(__dirname, 'editors', 'nvim-probe.lua'), ws.source], { cwd: ws.dir, env, timeoutMs: 90_000 });
    assert.ok(!r.timedOut, `nvim timed out\n${r.stderr}`);
    assert.ok(existsSync(out), `nvim wrote no result (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const res = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(res.error, undefined, `in nvim: ${res.error}\n${JSON.stringify(res, null, 1).slice(0, 3000)}`);
    assert.equal(res.clients, 1, 'one server for the buffer');

    // 1. diagnostics: the CLI's findings, range for range, with the LSP severities and codes.
    const got = (res.diagnostics as NvimDiag[]).map(({ lnum, col, end_lnum, end_col, severity, code }) => ({ lnum, col, end_lnum, end_col, severity, code }));
    assert.deepEqual(got, expected);
    const err = (res.diagnostics as NvimDiag[]).find((d) => d.severity === 1)!;
    assert.equal(err.lnum, hoverLine);
    assert.match(err.message, /rep movs/);

    // 2. hover on __iowrite32_copy names it and what the #VE handler does with it.
    assert.equal(res.hover_error, undefined);
    const hover = (res.hover as string[]).join('\n');
    assert.match(hover, /__iowrite32_copy/);
    assert.match(hover, /movs/i);

    // 3. the edit: one more diagnostic, on the inserted writel line, an MMIO write.
    const added = (res.after_edit as NvimDiag[]).filter((d) => d.lnum === editAfter + 1);
    assert.equal(added.length, 1, JSON.stringify(res.after_edit));
    assert.equal(added[0].code, 'tdx-ve-mmio');
    assert.equal(added[0].severity, 3);
    assert.equal(added[0].col, 1, JSON.stringify(added[0]));
    assert.match(added[0].message, /writel/);
    assert.equal((res.after_edit as NvimDiag[]).length, res.count_before_edit + 1);
    // 4. the workspace view and triage: every count agrees, before and after.
    const b = res.before_triage;
    assert.equal(b.index, 'done');
    assert.deepEqual([b.view_errors, b.summary_errors, b.view_triaged, b.summary_triaged], [b.nvim_errors, b.nvim_errors, 0, 0], JSON.stringify(b));
    assert.match(String(res.triage_message), /^safe: saved in /);
    const a = res.after_triage;
    assert.equal(a.nvim_errors, b.nvim_errors - 1);
    assert.deepEqual([a.view_errors, a.summary_errors, a.view_triaged, a.summary_triaged], [a.nvim_errors, a.nvim_errors, 1, 1], JSON.stringify(a));
    t.diagnostic(`nvim steps (ms since start): ${JSON.stringify(res.steps)}; whole test ${Date.now() - t0} ms`);
  } finally {
    ws.cleanup();
  }
});

// Workspace trust has no LSP-side meaning in Neovim: it has no trust prompt that reaches
// a language server (vim.secure guards only exrc files), so the README snippet sends no
// initializationOptions and the server treats the folder as trusted, reading foo_nic.o
// beside foo_nic.c. A user who wants restricted mode asks for it with
// `init_options = { trusted = false }`: then no object is read and the hover says so.
test('Neovim: no trust prompt, so trusted by default; init_options trusted=false gives restricted mode', { skip: !nvim ? 'nvim not installed (apt-get install neovim; .ci/run installs it)' : !existsSync(SERVER) ? 'dist/server.js missing: run npm run build' : !hasGcc ? 'gcc not installed: no foo_nic.o' : false, timeout: 120_000 }, async () => {
  const ws = fixtureWorkspace('nvim-trust');
  try {
    assert.ok(ws.object, 'foo_nic.o beside the source');
    const line = lineOf(ws.source, 'fp->ovl->ctrl |= 1;') - 1;
    const probe = async (initOptions: string) => {
      const out = join(ws.root, `nvim-trust-${initOptions ? 'restricted' : 'default'}.json`);
      const env = {
        ...process.env, TDX_OUT: out, TDX_SERVER: SERVER, TDX_INIT_OPTIONS: initOptions, TDX_HOVER_LINE: String(line), TDX_HOVER_COL: '2',
        XDG_CONFIG_HOME: join(ws.root, 'xdg', 'config'), XDG_DATA_HOME: join(ws.root, 'xdg', 'data'), XDG_CACHE_HOME: join(ws.root, 'xdg', 'cache'), XDG_STATE_HOME: join(ws.root, 'xdg', 'state'),
      };
      const r = await runGroup(nvim!, ['--headless', '--clean', '-u', join(__dirname, 'editors', 'nvim-trust.lua'), ws.source], { cwd: ws.dir, env, timeoutMs: 60_000 });
      assert.ok(existsSync(out), `nvim wrote no result (exit ${r.code}, timed out: ${r.timedOut})\n${r.stderr}`);
      const res = JSON.parse(readFileSync(out, 'utf8')) as { error?: string; messages: { severity: number; message: string }[]; hover: string };
      assert.equal(res.error, undefined, res.error);
      return res;
    };
    const dflt = await probe('');
    assert.match(dflt.messages.map((m) => m.message).join('\n'), /or dword ptr \[/, 'no init_options: trusted, the object is read');
    assert.equal(dflt.messages[0]?.severity, 1);
    assert.doesNotMatch(dflt.hover, /Restricted mode/);
    const restricted = await probe('{"trusted": false}');
    assert.doesNotMatch(restricted.messages.map((m) => m.message).join('\n'), /or dword ptr/, 'trusted=false: no object read');
    assert.equal(restricted.messages[0]?.severity, 2, 'the source verdict: a warning');
    assert.match(restricted.hover, /Restricted mode: no object file of this workspace is read/);
  } finally {
    ws.cleanup();
  }
});
