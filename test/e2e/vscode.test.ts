// End to end in a real VS Code: code-server 4.100.3 (VS Code 1.100.3) on 127.0.0.1
// with throwaway user-data and extensions folders and no marketplace, the .vsix
// packed from this repository installed with --install-extension, and the workbench
// driven by playwright-core in Debian's Chromium, as a user would: open the fixture
// driver, look at the squiggles, the Problems panel, the hover, the status item, type
// a new writel(), open TDX Findings from the workspace status item, mark an error
// safe and see every count move together, run Show Compiled Form and Export Audit
// Report (into tdxAudit.export.folder, outside the tree) and read the HTML report in
// Chromium. A screenshot of each step is saved under test-output/e2e/.

import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { hasGcc } from '../support/gcc';
import {
  OUTPUT,
  REPO,
  fixtureWorkspace,
  findChromium,
  freePort,
  findCodeServer,
  lineOf,
  packVsix,
  probeServer,
  runGroup,
  sleep,
  spawnGroup,
  startCodeServer,
  type CodeServerRun,
  type Group,
  type ServerSupport,
  type Workspace,
} from './lib';

const codeServer = findCodeServer();
const chromium = findChromium();
const WAIT = 30_000;
/** gcc -O2 compiles `fp->ovl->ctrl |= 1` to an `or` on memory (Intel or AT&T syntax). */
const OR_ON_MEMORY = /\bor\s+(?:byte|word|dword|qword) ptr \[|\borl?\s+\$(?:0x)?1,\s*\(/i;
/** LSP DiagnosticSeverity → Monaco's squiggle class. */
const SQUIGGLE: Record<number, string> = { 1: 'squiggly-error', 2: 'squiggly-warning', 3: 'squiggly-info', 4: 'squiggly-hint' };

const skip = !chromium
  ? 'chromium not installed (apt-get install chromium; .ci/run installs it)'
  : !codeServer
    ? 'code-server 4.100.3 not installed (test/e2e/install-code-server.sh; .ci/run runs it)'
    : !existsSync(join(REPO, 'dist', 'server.js'))
      ? 'dist/ missing: run npm run build'
      : false;


interface Rect {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

// Browser-side code is passed as source text: tsx compiles this file with esbuild's
// keepNames, whose __name() helper does not exist in the page.
const TEXT_RECT_JS = `([lineText, needle]) => {
  const norm = (s) => s.replace(/\\u00a0/g, ' ');
  for (const line of document.querySelectorAll('.monaco-editor .view-lines .view-line')) {
    const text = norm(line.textContent || '');
    const start = text.indexOf(lineText);
    if (start < 0) continue;
    const at = text.indexOf(needle, lineText.includes(needle) ? start : 0);
    if (at < 0) continue;
    // Walk the text nodes to turn the character offsets into a DOM Range.
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    let pos = 0, started = false;
    const range = document.createRange();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const len = (n.textContent || '').length;
      if (!started && at < pos + len) { range.setStart(n, at - pos); started = true; }
      if (started && at + needle.length <= pos + len) {
        range.setEnd(n, at + needle.length - pos);
        const r = range.getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      }
      pos += len;
    }
  }
  return null;
}`;

const SQUIGGLES_JS = `(cls) => [...document.querySelectorAll('.monaco-editor .' + cls)].map((e) => {
  const r = e.getBoundingClientRect();
  return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
})`;

/** The screen rectangle of `needle` on the rendered editor line whose text contains `lineText`. */
async function textRect(page: Page, lineText: string, needle: string): Promise<Rect | null> {
  return page.evaluate(`(${TEXT_RECT_JS})(${JSON.stringify([lineText, needle])})`) as Promise<Rect | null>;
}

/** Squiggle rectangles by Monaco class (squiggly-error, -warning, -info, -hint). */
async function squiggles(page: Page, cls: string): Promise<Rect[]> {
  return page.evaluate(`(${SQUIGGLES_JS})(${JSON.stringify(cls)})`) as Promise<Rect[]>;
}

const covers = (sq: Rect, t: Rect) =>
  Math.abs(sq.left - t.left) <= 2.5 && Math.abs(sq.right - t.right) <= 2.5 && sq.top < t.bottom + 4 && sq.bottom > t.top - 4;

/** Waits until a squiggle of `cls` sits exactly under `needle` on the line containing `lineText`. */
async function expectSquiggle(page: Page, cls: string, lineText: string, needle: string, timeoutMs = WAIT): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const t = await textRect(page, lineText, needle);
    const sq = await squiggles(page, cls);
    // Monaco draws a hint as a short run of dots at the start of the range, not under all of it.
    if (t && sq.some((s) => (cls === 'squiggly-hint' ? Math.abs(s.left - t.left) <= 2.5 && s.top < t.bottom + 4 && s.bottom > t.top - 4 : covers(s, t)))) return;
    last = `text at ${JSON.stringify(t)}; ${cls}: ${JSON.stringify(sq)}`;
    await sleep(200);
  }
  throw new Error(`no ${cls} under '${needle}' on the line '${lineText}' within ${timeoutMs} ms (${last})`);
}

async function noSquiggle(page: Page, classes: string[], lineText: string, needle: string): Promise<void> {
  const t = await textRect(page, lineText, needle);
  assert.ok(t, `'${lineText}' is not on screen`);
  for (const cls of classes) assert.ok(!(await squiggles(page, cls)).some((s) => covers(s, t)), `unexpected ${cls} under '${needle}'`);
}

async function goToLine(page: Page, line: number): Promise<void> {
  await page.keyboard.press('Control+G');
  await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
  await page.keyboard.insertText(String(line));
  await page.keyboard.press('Enter');
  await sleep(300);
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
  await page.keyboard.insertText(title);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: WAIT });
  await page.keyboard.press('Enter');
}

async function hoverText(page: Page, lineText: string, needle: string, mustContain: string): Promise<string> {
  await page.mouse.move(5, 5);
  await page.keyboard.press('Escape');
  const t = await textRect(page, lineText, needle);
  assert.ok(t, `'${needle}' is not on screen`);
  const until = Date.now() + WAIT;
  let last = '';
  while (Date.now() < until) {
    // A small move inside the token re-arms the hover if a previous one was dismissed.
    await page.mouse.move((t.left + t.right) / 2 + 1, (t.top + t.bottom) / 2);
    await sleep(150);
    await page.mouse.move((t.left + t.right) / 2, (t.top + t.bottom) / 2);
    try {
      await page.waitForSelector('.monaco-hover:not(.hidden)', { timeout: 3000 });
      last = (await page.locator('.monaco-hover:not(.hidden)').first().innerText()) ?? '';
      if (last.includes(mustContain)) return last;
    } catch {
      /* not yet */
    }
  }
  throw new Error(`no hover containing '${mustContain}' over '${needle}' (last: ${last.slice(0, 500)})`);
}

async function notifications(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-toast, .notification-list-item').allInnerTexts();
}

async function waitNotification(page: Page, re: RegExp, timeoutMs = WAIT): Promise<string> {
  const until = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < until) {
    seen = await notifications(page);
    const hit = seen.find((s) => re.test(s));
    if (hit) return hit;
    await sleep(200);
  }
  throw new Error(`no notification matching ${re} within ${timeoutMs} ms (seen: ${JSON.stringify(seen)})`);
}

/**
 * Restricted mode as README and the manifest promise it: a folder nobody trusted (workspace
 * trust on, a fresh user-data folder) with foo_nic.o built beside foo_nic.c. The editor
 * shows the source audit only: the raw `fp->ovl->ctrl |= 1` is a warning whose hover names
 * no instruction and says why, and Show Compiled Form says it reads no object. Trusting the
 * folder (Workspaces: Manage Workspace Trust → Trust Folder) restarts the server with trust,
 * and the same line becomes the error naming gcc's `or` on memory. Screenshots:
 * test-output/e2e/restricted-*.png.
 */
test('VS Code (code-server 4.100.3): restricted mode reads no workspace object until the folder is trusted', { skip: skip || (!hasGcc ? 'gcc not installed: no foo_nic.o to build' : false), timeout: 240_000 }, async (t) => {
  const { chromium: pw } = await import('playwright-core');
  mkdirSync(OUTPUT, { recursive: true });
  for (const f of readdirSync(OUTPUT)) if (f.startsWith('restricted-')) rmSync(join(OUTPUT, f));
  const ws: Workspace = fixtureWorkspace('restricted');
  assert.ok(ws.object && existsSync(ws.object), 'foo_nic.o built beside foo_nic.c');
  let run: CodeServerRun | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let shot = 0;
  const screenshot = async (name: string) => {
    if (!page) return;
    const file = join(OUTPUT, `restricted-${String(++shot).padStart(2, '0')}-${name}.png`);
    await sleep(600);
    await page.screenshot({ path: file });
    t.diagnostic(`screenshot ${file}`);
  };
  const line = 'fp->ovl->ctrl |= 1;';
  try {
    const vsix = await packVsix(ws.root);
    run = await startCodeServer(codeServer!, ws, vsix, { trust: true });
    browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const p = page;
    await p.goto(run.url, { timeout: 60_000 });
    await p.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await p.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: WAIT });
    try {
      // The workbench itself says the folder is not trusted.
      await p.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: WAIT });
      await p.keyboard.press('Control+P');
      await p.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
      await p.keyboard.insertText('foo_nic.c');
      await p.locator('.quick-input-list .monaco-list-row', { hasText: 'foo_nic.c' }).first().waitFor({ timeout: WAIT });
      await p.keyboard.press('Enter');
      await p.waitForSelector('.tab[aria-label^="foo_nic.c"]', { timeout: WAIT });

      // Untrusted: the source verdict (a warning), no compiled instruction, and the hover says why.
      await goToLine(p, lineOf(ws.source, line));
      await expectSquiggle(p, 'squiggly-warning', line, 'fp->ovl->ctrl');
      const before = await hoverText(p, line, 'fp->ovl->ctrl', 'Restricted mode');
      await screenshot('untrusted-hover');
      assert.doesNotMatch(before, OR_ON_MEMORY, before);
      assert.doesNotMatch(before, /decode.failed|foo_kick\+0x/i, before);
      assert.match(before, /no object file of this workspace is read/, before);
      await p.mouse.move(5, 5);
      await p.keyboard.press('Escape');
      await p.locator('.monaco-editor .view-lines').first().click();
      await goToLine(p, lineOf(ws.source, line));
      await runCommand(p, 'TDX: Show Compiled Form');
      const refused = await waitNotification(p, /Restricted mode/);
      assert.match(refused, /reads no object file.*Trust the folder/, refused);
      assert.equal(await p.locator('.tab[aria-label^="foo_kick.tdx-disasm"]').count(), 0, 'no compiled form opened');
      await screenshot('untrusted-compiled-form-refused');
      await p.keyboard.press('Escape');

      // Trust the folder (the Workspace Trust editor's "Trust"): the extension restarts its server with trust, which reads foo_nic.o.
      await runCommand(p, 'Workspaces: Manage Workspace Trust');
      const trustButton = p.locator('.workspace-trust-editor .monaco-button', { hasText: /^\s*Trust\s*$/ }).first();
      await trustButton.waitFor({ timeout: WAIT });
      await screenshot('trust-editor');
      await trustButton.click();
      await p.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'detached', timeout: WAIT });
      await p.locator('.tab[aria-label^="foo_nic.c"]').first().click();
      await goToLine(p, lineOf(ws.source, line));
      await expectSquiggle(p, 'squiggly-error', line, 'fp->ovl->ctrl');
      const after = await hoverText(p, line, 'fp->ovl->ctrl', 'foo_kick+0x');
      await screenshot('trusted-hover');
      assert.match(after, OR_ON_MEMORY, after);
      assert.match(after, /decode.failed/i, after);
      assert.doesNotMatch(after, /Restricted mode/, after);
    } catch (err) {
      await screenshot('FAILED').catch(() => undefined);
      throw err;
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await run?.stop();
    if (process.env.TDX_E2E_KEEP) t.diagnostic(`kept ${ws.root}`);
    else ws.cleanup();
  }
});

/**
 * What the TD kernel builds, as the editor shows it: test/fixtures/kbuild (a top Makefile
 * with VERSION/PATCHLEVEL, drivers/foo/Makefile with `obj-$(CONFIG_FOO) += foo.o`) with a
 * .config that does not set CONFIG_FOO. foo.c's findings are faded (Monaco's
 * unnecessary-code style) over an information squiggle, not an error; its hover starts
 * with "not built in this .config"; the status item counts them as not built with no
 * errors; bar.c (obj-y) keeps its error. Screenshots: test-output/e2e/notbuilt-*.png.
 */
test('VS Code (code-server 4.100.3): findings in a file the .config does not build are faded and counted apart', { skip, timeout: 240_000 }, async (t) => {
  const { chromium: pw } = await import('playwright-core');
  mkdirSync(OUTPUT, { recursive: true });
  for (const f of readdirSync(OUTPUT)) if (f.startsWith('notbuilt-')) rmSync(join(OUTPUT, f));
  const root = mkdtempSync(join(tmpdir(), 'tdx-e2e-notbuilt-'));
  const dir = join(root, 'linux');
  cpSync(join(REPO, 'test', 'fixtures', 'kbuild'), dir, { recursive: true });
  writeFileSync(join(dir, '.config'), readFileSync(join(dir, 'foo-not-set.config')));
  const foo = join(dir, 'drivers', 'foo', 'foo.c');
  const ws: Workspace = { root, dir, source: foo, object: undefined, cleanup: () => rmSync(root, { recursive: true, force: true }) };
  let run: CodeServerRun | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let shot = 0;
  const screenshot = async (name: string) => {
    if (!page) return;
    const file = join(OUTPUT, `notbuilt-${String(++shot).padStart(2, '0')}-${name}.png`);
    await sleep(600);
    await page.screenshot({ path: file });
    t.diagnostic(`screenshot ${file}`);
  };
  const openFile = async (p: Page, name: string) => {
    await p.keyboard.press('Control+P');
    await p.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
    await p.keyboard.insertText(name);
    await p.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: WAIT });
    await p.keyboard.press('Enter');
    await p.waitForSelector(`.tab.active[aria-label^="${name}"]`, { timeout: WAIT });
  };
  const call = '__iowrite32_copy(r->ring, fw, 16);';
  try {
    const vsix = await packVsix(root);
    run = await startCodeServer(codeServer!, ws, vsix, { trust: false });
    browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const p = page;
    await p.goto(run.url, { timeout: 60_000 });
    await p.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await p.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: WAIT });
    try {
      await openFile(p, 'foo.c');
      // Faded (DiagnosticTag.Unnecessary) over an information squiggle: no error, no warning.
      await expectSquiggle(p, 'squiggly-info', call, '__iowrite32_copy');
      await expectSquiggle(p, 'squiggly-inline-unnecessary', call, '__iowrite32_copy');
      await noSquiggle(p, ['squiggly-error', 'squiggly-warning'], call, '__iowrite32_copy');
      // The extension's hover (not only the diagnostic's text in the marker hover above it).
      const hover = await hoverText(p, call, '__iowrite32_copy', 'never runs this code');
      assert.match(hover, /not built in this \.config: CONFIG_FOO is not set \(drivers\/foo\/Makefile:2\)/, hover);
      await screenshot('foo-faded-hover');
      await p.mouse.move(5, 5);
      await p.keyboard.press('Escape');
      // The status item: no open errors, the findings counted as not built.
      await p.locator('[id="status.languageStatus"]').click();
      const status = p.locator('.hover-language-status', { hasText: '#VE site' }).first();
      await status.waitFor({ timeout: WAIT });
      const until = Date.now() + WAIT;
      let text = '';
      while (Date.now() < until && !/not built in this \.config/.test(text)) {
        text = await status.innerText();
        await sleep(200);
      }
      assert.match(text, /0 errors, 0 warnings/, text);
      assert.match(text, /(\d+) not built in this \.config/, text);
      await screenshot('foo-status-not-built');
      await p.keyboard.press('Escape');
      // bar.c is obj-y: its error stands.
      await openFile(p, 'bar.c');
      await expectSquiggle(p, 'squiggly-error', call, '__iowrite32_copy');
      // The workspace (index and editor): bar.c's error and warnings only; foo.c's four in a group of their own.
      const item = p.locator('.statusbar-item', { hasText: /TDX\s+\d+\s+\d+/ }).first();
      const end = Date.now() + WAIT;
      let counts = '';
      while (Date.now() < end && !/TDX\s+1\s+2\b/.test(counts)) {
        counts = (await item.innerText().catch(() => '')).replace(/\s+/g, ' ');
        await sleep(250);
      }
      assert.match(counts, /TDX\s+1\s+2\b/, counts);
      await item.click();
      const group = p.locator('.pane', { has: p.locator('.pane-header', { hasText: 'TDX Findings' }) }).locator('.monaco-list-row', { hasText: 'Not built in this .config' }).first();
      await group.waitFor({ timeout: WAIT });
      assert.match(await group.innerText(), /4 in 1 file/);
      await screenshot('bar-error-and-findings-view');
    } catch (err) {
      await screenshot('FAILED').catch(() => undefined);
      throw err;
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await run?.stop();
    if (process.env.TDX_E2E_KEEP) t.diagnostic(`kept ${root}`);
    else ws.cleanup();
  }
});

test('VS Code (code-server 4.100.3): the packaged extension as a user sees it', { skip, timeout: 300_000 }, async (t) => {
  const { chromium: pw } = await import('playwright-core');
  mkdirSync(OUTPUT, { recursive: true });
  const times: Record<string, number> = {};
  let clock = Date.now();
  const lap = (name: string) => {
    times[name] = Date.now() - clock;
    clock = Date.now();
  };
  const t0 = Date.now();
  const ws: Workspace = fixtureWorkspace('vscode');
  let server: Group | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let shot = 0;
  const screenshot = async (name: string) => {
    if (!page) return;
    const file = join(OUTPUT, `vscode-${String(++shot).padStart(2, '0')}-${name}.png`);
    await sleep(600); // let hovers and notifications finish fading in
    await page.screenshot({ path: file });
    t.diagnostic(`screenshot ${file}`);
  };
  // A failing step leaves a screenshot of what the user would have seen.
  const step = (name: string, fn: (tt: TestContext) => Promise<unknown>) =>
    t.test(name, async (tt) => {
      try {
        await fn(tt);
      } catch (err) {
        await screenshot(`FAILED-${name.replace(/[^\w]+/g, '-').slice(0, 40)}`).catch(() => undefined);
        throw err;
      }
    });
  for (const f of existsSync(OUTPUT) ? readdirSync(OUTPUT) : []) if (f.startsWith('vscode-')) rmSync(join(OUTPUT, f));
  try {
    // What the built server answers decides which steps can run (the others say why they skip).
    const support: ServerSupport = await probeServer(ws);
    t.diagnostic(
      `server: ${support.diagnostics.length} diagnostics (severities ${support.diagnostics.map((d) => d.severity).join('')}); ` +
        `compiledForm: ${support.compiledForm ?? 'answered'}; exportReport: ${support.exportReport ?? 'answered'}`,
    );
    const vsix = await packVsix(ws.root);
    lap('package');

    const ud = join(ws.root, 'user-data');
    const ext = join(ws.root, 'extensions');
    const xdg = join(ws.root, 'xdg');
    mkdirSync(join(ud, 'User'), { recursive: true });
    writeFileSync(
      join(ud, 'User', 'settings.json'),
      JSON.stringify({
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'extensions.ignoreRecommendations': true,
        'security.workspace.trust.enabled': false,
        'git.enabled': false,
        'editor.minimap.enabled': false,
        'editor.hover.delay': 200,
        'workbench.editor.enablePreviewFromQuickOpen': false,
        'chat.disableAIFeatures': true,
        // Outside the workspace folder, as the default (~/tdx-audit-reports/...) is: not the home folder of whoever runs the test.
        'tdxAudit.export.folder': join(ws.root, 'exported'),
      }),
    );
    const env = {
      ...process.env,
      XDG_CONFIG_HOME: join(xdg, 'config'),
      XDG_DATA_HOME: join(xdg, 'data'),
      XDG_CACHE_HOME: join(xdg, 'cache'),
      EXTENSIONS_GALLERY: '{}',
    };
    const inst = await runGroup(codeServer!, ['--user-data-dir', ud, '--extensions-dir', ext, '--install-extension', vsix], { env, timeoutMs: 120_000 });
    assert.equal(inst.code, 0, `--install-extension failed:\n${inst.stdout}\n${inst.stderr}`);
    assert.match(inst.stdout + inst.stderr, /successfully installed/i);
    assert.ok(readdirSync(ext).some((d) => d.startsWith('tdx-audit.tdx-audit-')), `not in ${ext}: ${readdirSync(ext)}`);
    lap('install');

    const port = await freePort();
    server = spawnGroup(
      codeServer!,
      [
        '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
        '--disable-workspace-trust', '--disable-getting-started-override',
        '--user-data-dir', ud, '--extensions-dir', ext, ws.dir,
      ],
      { env, cwd: ws.root },
    );
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
      if (server.child.exitCode !== null) throw new Error(`code-server exited: ${server.stderr()}`);
      if (Date.now() > until) throw new Error(`code-server not healthy within 60 s: ${server.stderr()}`);
      await sleep(100);
    }
    browser = await pw.launch({
      executablePath: chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const p = page;
    await p.goto(`http://127.0.0.1:${port}/`, { timeout: 60_000 });
    await p.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await p.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: WAIT });
    lap('start');

    // 1. Open the driver: diagnostics appear as squiggles on the call ranges, with their severities.
    await step('squiggles on the right ranges, with the right severities', async () => {
      await p.keyboard.press('Control+P');
      await p.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
      await p.keyboard.insertText('foo_nic.c');
      await p.locator('.quick-input-list .monaco-list-row', { hasText: 'foo_nic.c' }).first().waitFor({ timeout: WAIT });
      await p.keyboard.press('Enter');
      await p.waitForSelector('.tab[aria-label^="foo_nic.c"]', { timeout: WAIT });
      // Every diagnostic the server publishes for the file is drawn under exactly its range,
      // in its severity's style.
      const src = readFileSync(ws.source, 'utf8').split('\n');
      assert.ok(support.diagnostics.length >= 13, `the server publishes the fixture's sites: ${JSON.stringify(support.diagnostics)}`);
      let first = true;
      for (const d of support.diagnostics) {
        assert.equal(d.range.start.line, d.range.end.line, 'single-line ranges in this fixture');
        const text = src[d.range.start.line];
        const needle = text.slice(d.range.start.character, d.range.end.character);
        const lineText = text.replace(/^\t+/, '');
        await goToLine(p, d.range.start.line + 1);
        await expectSquiggle(p, SQUIGGLE[d.severity], lineText, needle);
        for (const other of Object.values(SQUIGGLE)) if (other !== SQUIGGLE[d.severity] && other !== 'squiggly-hint') await noSquiggle(p, [other], lineText, needle);
        if (first) await screenshot('open-squiggles-top');
        first = false;
      }
      // What the rules say, independently of the server's answer above:
      const at = (needle: string) => support.diagnostics.find((d) => src[d.range.start.line].includes(needle));
      assert.equal(at('__iowrite32_copy(')?.severity, 1, 'rep movs copy: error');
      assert.equal(at('native_read_msr(')?.severity, 4, 'MSR read: hint');
      assert.equal(at('return readl(fp->regs + FOO_STATUS)')?.severity, 3, 'readl: information');
      assert.ok([1, 2].includes(at('fp->ovl->ctrl |= 1')?.severity ?? 0), 'raw __iomem read-modify-write: warning, or error once compiled');
      await goToLine(p, lineOf(ws.source, 'static void foo_reset_hw('));
      await noSquiggle(p, Object.values(SQUIGGLE), 'static void foo_reset_hw(', 'foo_reset_hw');
      await goToLine(p, lineOf(ws.source, '__iowrite32_copy('));
      await screenshot('error-and-warning-squiggles');
      lap('squiggles');
    });

    // 2. Problems panel: one entry per finding (hints are not listed there), with line and column.
    await step('Problems panel entries', async () => {
      await p.keyboard.press('Control+Shift+M');
      await p.waitForSelector('.markers-panel .monaco-list-row', { timeout: WAIT });
      // The list is virtual (only the rows on screen exist); the file row carries the count.
      const listed = support.diagnostics.filter((d) => d.severity !== 4); // hints are not listed
      const head = new RegExp(`^${listed.length} problems in file foo_nic\\.c`);
      const until2 = Date.now() + WAIT;
      let labels: string[] = [];
      while (Date.now() < until2) {
        labels = await p.locator('.markers-panel .monaco-list-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? ''));
        if (labels.some((l) => head.test(l))) break;
        await sleep(200);
      }
      assert.ok(labels.some((l) => head.test(l)), `${listed.length} entries: ${JSON.stringify(labels)}`);
      // Sorted by severity, then position; each entry names its line and column.
      const markers = labels.filter((l) => /^(Error|Warning|Info):/.test(l));
      t.diagnostic(`Problems: ${labels[0]}; first entry: ${markers[0]}`);
      const order = listed.slice().sort((a, b) => a.severity - b.severity || a.range.start.line - b.range.start.line);
      const WORD: Record<number, string> = { 1: 'Error', 2: 'Warning', 3: 'Info' };
      for (let i = 0; i < Math.min(4, markers.length); i++) {
        const d = order[i];
        assert.ok(markers[i].startsWith(`${WORD[d.severity]}: `), `${markers[i]} vs ${JSON.stringify(d)}`);
        assert.ok(markers[i].includes(` at line ${d.range.start.line + 1} and character ${d.range.start.character + 1}.`), markers[i]);
        assert.ok(markers[i].includes('generated by tdx-audit'), markers[i]);
      }
      assert.ok(markers.some((m) => /^Error: .*__iowrite32_copy.* at line 67 and character 2\./.test(m)), JSON.stringify(markers));
      // related information: where the __iomem pointer was declared
      assert.ok(labels.some((l) => /ovl declared __iomem here at line 17/.test(l)), JSON.stringify(labels));
      await screenshot('problems-panel');
      await p.keyboard.press('Control+Shift+M'); // toggles the panel closed again
      await p.locator('.monaco-editor .view-lines').first().click();
      lap('problems');
    });

    // 3. Hover at the rep-movs copy explains what the #VE handler does with it.
    await step('hover text', async () => {
      await goToLine(p, lineOf(ws.source, '__iowrite32_copy('));
      const text = await hoverText(p, '__iowrite32_copy(', '__iowrite32_copy', 'tdx-movs-copy');
      assert.match(text, /rep movsl/);
      assert.match(text, /handle_mmio/);
      assert.match(text, /exit reason 48/);
      await screenshot('hover-iowrite32-copy');
      lap('hover');
    });

    // 3b. With the compiled object beside the source the hover names the instruction and its verdict.
    await step('hover names the compiled instruction and its verdict (needs foo_nic.o)', async (tt) => {
      if (!ws.object) return tt.skip('gcc not installed: no foo_nic.o to read');
      const line = 'fp->ovl->ctrl |= 1;';
      await goToLine(p, lineOf(ws.source, line));
      const text = await hoverText(p, line, 'fp->ovl->ctrl', 'tdx-iomem-deref');
      const row = text.split('\n').find((l) => /compiled form/i.test(l)) ?? '';
      await screenshot('hover-compiled-deref');
      if (/not known|no object file/i.test(text)) {
        return tt.skip(`the server's hover does not read the compiled object yet (it says: ${row.trim() || 'no compiled-form row'}); the server must find foo_nic.o beside foo_nic.c`);
      }
      // gcc -O2 makes `fp->ovl->ctrl |= 1` an `or` on memory, which insn_decode_mmio cannot decode.
      assert.match(text, OR_ON_MEMORY, text);
      assert.match(text, /decode.failed/i, text);
      assert.match(text, /foo_kick\+0x[0-9a-f]+/, text); // where the #VE lands
      // and the squiggle is now an error: the verdict upgrades the finding
      await expectSquiggle(p, 'squiggly-error', line, 'fp->ovl->ctrl');
      lap('hover-compiled');
    });

    // 4. The status item shows the site counts of the active file.
    await step('status bar item', async () => {
      const item = p.locator('[id="status.languageStatus"]');
      await item.waitFor({ timeout: WAIT });
      await item.click();
      const hover = p.locator('.hover-language-status', { hasText: '#VE site' }).first();
      await hover.waitFor({ timeout: WAIT });
      const text = await hover.innerText();
      const n = (s: number) => support.diagnostics.filter((d) => d.severity === s).length;
      const [e, w] = [n(1), n(2)];
      assert.match(text, new RegExp(`${support.diagnostics.length} #VE sites`), text);
      assert.match(text, new RegExp(`${e} errors?, ${w} warnings?, ${n(3) + n(4)} other`), text);
      await screenshot('status-item');
      await p.keyboard.press('Escape');
      lap('status');
    });

    /** The workspace status bar item (TDX Findings' totals): "TDX <errors> <warnings>". */
    const workspaceItem = () => p.locator('.statusbar-item', { hasText: /TDX\s+\d+\s+\d+/ }).first();
    const workspaceCounts = async () => {
      const m = /TDX\s+(\d+)\s+(\d+)/.exec((await workspaceItem().innerText()).replace(/\s+/g, ' '));
      return m ? { errors: Number(m[1]), warnings: Number(m[2]) } : undefined;
    };
    /** The language status item's detail for the active file: "N errors, M warnings, ...". */
    const fileCounts = async () => {
      await p.locator('[id="status.languageStatus"]').click();
      const hover = p.locator('.hover-language-status', { hasText: '#VE site' }).first();
      await hover.waitFor({ timeout: WAIT });
      const text = await hover.innerText();
      await p.keyboard.press('Escape');
      const n = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
      return { errors: n(/(\d+) errors?/), warnings: n(/(\d+) warnings?/), triaged: n(/(\d+) triaged/), text };
    };
    /** A row of the TDX Findings tree (not of the Explorer's file tree above it). */
    const findingsRow = (text: string | RegExp) =>
      p.locator('.pane', { has: p.locator('.pane-header', { hasText: 'TDX Findings' }) }).locator('.monaco-list-row', { hasText: text }).first();
    /** A group row of the TDX Findings tree ("Errors 3 in 1 file"): its count, or 0 when the group is absent. */
    const groupCount = async (label: string) => {
      const row = p.locator('.monaco-list-row', { hasText: label }).filter({ hasText: /\d+ in \d+ files?/ }).first();
      if (!(await row.count())) return 0;
      return Number(/(\d+) in \d+ files?/.exec(await row.innerText())?.[1] ?? 0);
    };
    const eventually = async (what: string, ok: () => Promise<boolean>) => {
      const end = Date.now() + WAIT;
      while (Date.now() < end) {
        if (await ok().catch(() => false)) return;
        await sleep(250);
      }
      throw new Error(`timed out: ${what}`);
    };

    // 4b. The workspace status item shows the workspace's errors and opens TDX Findings: errors first, by file, by site.
    await step('TDX Findings view from the workspace status item', async () => {
      await workspaceItem().waitFor({ timeout: WAIT });
      const file = await fileCounts();
      await eventually('the workspace item counts the open file as its status item does', async () => {
        const w = await workspaceCounts();
        return !!w && w.errors === file.errors && w.warnings === file.warnings;
      });
      await workspaceItem().click();
      await p.locator('.pane-header', { hasText: 'TDX Findings' }).first().waitFor({ timeout: WAIT });
      await eventually('the Errors group with the same count', async () => (await groupCount('Errors')) === file.errors);
      // Errors come first and are open: the file, then its sites.
      const rows = await p.locator('.pane', { has: p.locator('.pane-header', { hasText: 'TDX Findings' }) }).locator('.monaco-list-row').allInnerTexts();
      const first = rows.findIndex((r) => /^Errors/.test(r));
      assert.ok(first >= 0 && rows.slice(0, first).every((r) => !/^(Warnings|Information|Hints)/.test(r)), JSON.stringify(rows));
      await findingsRow('foo_nic.c').click();
      await findingsRow('__iowrite32_copy').waitFor({ timeout: WAIT });
      assert.equal(await groupCount('Warnings'), file.warnings);
      await screenshot('findings-view');
      // A site row opens the source at the site.
      await findingsRow('__iowrite32_copy').click();
      await p.waitForSelector('.tab.active[aria-label^="foo_nic.c"]', { timeout: WAIT });
      lap('findings-view');
    });

    // 4c. Marking an error safe asks why, and every count moves together: status item, workspace item, TDX Findings.
    await step('triage: after marking an error safe every count agrees', async () => {
      const before = await fileCounts();
      const line = lineOf(ws.source, '__iowrite32_copy(');
      const col = readFileSync(ws.source, 'utf8').split('\n')[line - 1].indexOf('__iowrite32_copy') + 1;
      await p.locator('.monaco-editor .view-lines').first().click();
      await goToLine(p, line);
      await p.keyboard.press('Home');
      for (let i = 1; i < col; i++) await p.keyboard.press('ArrowRight');
      await p.keyboard.press('Control+.');
      const fix = p.locator('.action-widget .monaco-list-row', { hasText: 'mark as safe' }).first();
      await fix.waitFor({ timeout: WAIT });
      await screenshot('triage-quick-fix');
      // By keyboard, as the menu opens with its first entry focused (a click raced its hover).
      const menu = await p.locator('.action-widget .monaco-list-row').allInnerTexts();
      const at = menu.findIndex((e) => /mark as safe/.test(e));
      const focused = Math.max(0, menu.findIndex((e) => /mark as concern/.test(e)));
      for (let i = focused; i < at; i++) await p.keyboard.press('ArrowDown');
      await p.keyboard.press('Enter');
      await p.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
      await p.keyboard.insertText('e2e: the ring is copied by the host in this test');
      await screenshot('triage-reason');
      await p.keyboard.press('Enter');
      await eventually('the status item says one error fewer, one triaged', async () => {
        const c = await fileCounts();
        return c.errors === before.errors - 1 && c.triaged === before.triaged + 1;
      });
      await eventually('the workspace item agrees', async () => (await workspaceCounts())?.errors === before.errors - 1);
      // The view's header says its totals (the Triaged group itself may be below the pane's fold).
      const header = async () => (await p.locator('.pane-header', { hasText: 'TDX Findings' }).first().innerText()).replace(/\s+/g, ' ');
      await eventually('TDX Findings agrees', async () => {
        const h = await header();
        return (await groupCount('Errors')) === before.errors - 1 && new RegExp(`\\b${before.errors - 1} errors?\\b`).test(h) && new RegExp(`\\b${before.triaged + 1} triaged\\b`).test(h);
      });
      const triage = JSON.parse(readFileSync(join(ws.dir, '.tdx-audit', 'triage.json'), 'utf8'));
      const entries = Object.values(triage.entries) as { status: string; comment?: string }[];
      assert.ok(entries.some((e) => e.status === 'safe' && /copied by the host/.test(e.comment ?? '')), JSON.stringify(triage));
      await screenshot('triage-counts');
      lap('triage');
    });

    // 5. TDX: Show Compiled Form (before any edit: the object matches the buffer) opens the function's annotated disassembly beside the source.
    await step('TDX: Show Compiled Form', async (tt) => {
      await p.locator('.monaco-editor .view-lines').first().click();
      await goToLine(p, lineOf(ws.source, 'fp->ovl->ctrl |= 1;'));
      await runCommand(p, 'TDX: Show Compiled Form');
      if (support.compiledForm) {
        // The client is wired (the command ran and sent the request); the server cannot answer it.
        const msg = await waitNotification(p, /compiled form/i);
        await screenshot('compiled-form-unsupported');
        assert.match(msg, /tdxAudit\/compiledForm|Unhandled method|compiled form/i);
        return tt.skip(`${support.compiledForm}: the command runs and reports the server's error`);
      }
      if (!ws.object) return tt.skip('gcc not installed: no foo_nic.o to disassemble');
      const tab = p.locator('.tab[aria-label^="foo_kick.tdx-disasm"]');
      await tab.waitFor({ timeout: WAIT });
      const view = p.locator('.editor-group-container.active .monaco-editor .view-lines').first();
      await view.waitFor({ timeout: WAIT });
      const text = (await view.innerText()).replace(/\u00a0/g, ' ');
      assert.match(text, /foo_kick/, text);
      assert.match(text, OR_ON_MEMORY, text);
      // the document is in the tdx-disasm language (status bar language indicator)
      const mode = await p.locator('[id="status.editor.mode"]').innerText();
      assert.match(mode, /TDX Disassembly/, mode);
      await screenshot('compiled-form');
      // back to the source for the next steps
      await p.locator('.tab[aria-label^="foo_nic.c"]').first().click();
      lap('compiled-form');
    });

    // 6. Typing a new writel() gets its own squiggle, Problems entry and status count.
    await step('an edit adding a site gets its diagnostic', async () => {
      await p.locator('.monaco-editor .view-lines').first().click();
      await goToLine(p, lineOf(ws.source, 'u32 foo_poll(') + 1); // the '{' line
      await p.keyboard.press('End');
      await p.keyboard.press('Enter');
      await p.keyboard.insertText('writel(0x3, fp->regs + FOO_CTRL);');
      await expectSquiggle(p, 'squiggly-info', 'writel(0x3, fp->regs + FOO_CTRL);', 'writel');
      // the line pushed down keeps its own squiggle
      await expectSquiggle(p, 'squiggly-info', 'return readl(fp->regs + FOO_STATUS);', 'readl');
      await screenshot('edit-new-writel');
      const item = p.locator('[id="status.languageStatus"]');
      await item.click();
      const hover = p.locator('.hover-language-status', { hasText: '#VE site' }).first();
      await hover.waitFor({ timeout: WAIT });
      const until3 = Date.now() + WAIT;
      let text = '';
      const want = `${support.diagnostics.length + 1} #VE sites`;
      while (Date.now() < until3 && !text.includes(want)) {
        text = await hover.innerText();
        await sleep(200);
      }
      assert.ok(text.includes(want), text);
      await p.keyboard.press('Escape');
      lap('edit');
    });

    // 7. TDX: Export Audit Report writes the four formats, and asks before overwriting.
    await step('TDX: Export Audit Report', async (tt) => {
      // tdxAudit.export.folder (settings above): offered first, outside the workspace folder.
      const outDir = join(ws.root, 'exported');
      const exportOnce = async () => {
        await p.locator('.monaco-editor .view-lines').first().click();
        await runCommand(p, 'TDX: Export Audit Report');
        await p.locator('.quick-input-list .monaco-list-row', { hasText: 'Whole workspace' }).first().waitFor({ timeout: WAIT });
        await screenshot('export-scope');
        await p.locator('.quick-input-list .monaco-list-row', { hasText: 'Whole workspace' }).first().click();
        // The configured folder first, "Choose a folder…" second.
        const configured = p.locator('.quick-input-list .monaco-list-row', { hasText: outDir }).first();
        await configured.waitFor({ timeout: WAIT });
        await screenshot('export-folder');
        await configured.click();
        // formats: all four ticked; Enter accepts
        await p.locator('.quick-input-list .monaco-list-row', { hasText: 'SARIF' }).first().waitFor({ timeout: WAIT });
        await p.keyboard.press('Enter');
      };
      await exportOnce();
      if (support.exportReport) {
        const msg = await waitNotification(p, /export/i);
        await screenshot('export-unsupported');
        assert.match(msg, /tdxAudit\/exportReport|Unhandled method|export/i);
        return tt.skip(`${support.exportReport}: the command asks scope, folder and formats and reports the server's error`);
      }
      const done = await waitNotification(p, /wrote \d+ report files?/i, 60_000);
      await screenshot('export-done');
      const files = readdirSync(outDir);
      for (const ext of ['.sarif', '.html', '.md', '.json']) assert.ok(files.some((f) => f.endsWith(ext)), `no ${ext} in ${files}`);
      assert.match(done, /wrote 4 report files/i);
      const sarif = JSON.parse(readFileSync(join(outDir, files.find((f) => f.endsWith('.sarif'))!), 'utf8'));
      assert.equal(sarif.version, '2.1.0');
      assert.ok(!existsSync(join(ws.dir, 'tdx-audit.html')), 'nothing written into the tree');
      // The report agrees with the editor: its open errors are the status item's (the triaged one is not counted).
      const json = JSON.parse(readFileSync(join(outDir, 'tdx-audit.json'), 'utf8'));
      const dismissed = (f: { triage: { status: string } | null }) => !!f.triage && ['safe', 'excluded', 'trusted'].includes(f.triage.status);
      const openErrors = json.findings.filter((f: { severity: string; triage: { status: string } | null }) => f.severity === 'error' && !dismissed(f)).length;
      assert.equal(openErrors, (await fileCounts()).errors, 'report and status item count the same errors');
      assert.equal(json.findings.filter(dismissed).length, 1, 'the report carries the triage');
      t.diagnostic(`export notification: ${done}`);
      // The report pages as a maintainer reads them: the HTML in Chromium, at 1,280 px.
      const report = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        await report.goto(pathToFileURL(join(outDir, 'tdx-audit.html')).href);
        const width = await report.evaluate('document.documentElement.scrollWidth');
        t.diagnostic(`HTML report: ${width} px wide at a 1,280 px window`);
        const file = join(OUTPUT, `vscode-${String(++shot).padStart(2, '0')}-report-html-top.png`);
        await report.screenshot({ path: file });
        t.diagnostic(`screenshot ${file}`);
        const full = join(OUTPUT, `vscode-${String(++shot).padStart(2, '0')}-report-html-full.png`);
        await report.screenshot({ path: full, fullPage: true });
        t.diagnostic(`screenshot ${full}`);
      } finally {
        await report.close();
      }
      const mtimes = files.map((f) => statSync(join(outDir, f)).mtimeMs);
      // Again into the same folder: the user is asked, and Overwrite replaces the files.
      await sleep(50);
      await exportOnce();
      const dialog = p.locator('.monaco-dialog-box', { hasText: 'Overwrite?' });
      await dialog.waitFor({ timeout: WAIT });
      await screenshot('export-overwrite-prompt');
      await dialog.locator('.monaco-button', { hasText: 'Overwrite' }).first().click();
      // The first export's notification may still be on screen: wait for the files themselves.
      let after = mtimes;
      for (let i = 0; i < 600 && !after.every((m, k) => m > mtimes[k]); i++) {
        await sleep(100);
        after = files.map((f) => statSync(join(outDir, f)).mtimeMs);
      }
      assert.ok(after.every((m, i) => m > mtimes[i]), 'the files were rewritten');
      await screenshot('export-overwritten');
      lap('export');
    });
  } finally {
    try {
      if (page && !page.isClosed()) await screenshot('final');
    } catch {
      /* best effort */
    }
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (process.env.TDX_E2E_KEEP) t.diagnostic(`kept ${ws.root}`);
    else ws.cleanup();
    t.diagnostic(`timings (ms): ${JSON.stringify(times)}; whole test ${Date.now() - t0} ms`);
  }
});

// The export after the background index (helper "export", issue 17 item 5): the
// workspace's files come from the index's rows instead of being audited again, and
// the notification says so. Its own code-server session, on a workspace of twenty
// distinct copies of the fixture driver, none of them opened.
test('VS Code: Export Audit Report after the index takes unchanged files from it', { skip, timeout: 300_000 }, async (t) => {
  const { chromium: pw } = await import('playwright-core');
  mkdirSync(OUTPUT, { recursive: true });
  const ws: Workspace = fixtureWorkspace('vscode-export', false);
  const nic = readFileSync(ws.source, 'utf8');
  // Distinct texts: a copy of the same text is audited once by the index and has no rows of its own.
  for (let i = 0; i < 20; i++) writeFileSync(join(ws.dir, `nic_${i}.c`), `/* copy ${i} */\n${nic}`);
  let server: Group | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const shot = async (name: string) => {
    const file = join(OUTPUT, `vscode-export-${name}.png`);
    await sleep(600);
    await page?.screenshot({ path: file });
    t.diagnostic(`screenshot ${file}`);
  };
  try {
    const vsix = await packVsix(ws.root);
    const ud = join(ws.root, 'user-data');
    const ext = join(ws.root, 'extensions');
    const xdg = join(ws.root, 'xdg');
    const outDir = join(ws.root, 'exported');
    mkdirSync(join(ud, 'User'), { recursive: true });
    writeFileSync(join(ud, 'User', 'settings.json'), JSON.stringify({
      'workbench.startupEditor': 'none', 'workbench.tips.enabled': false, 'telemetry.telemetryLevel': 'off', 'update.mode': 'none',
      'extensions.autoCheckUpdates': false, 'extensions.autoUpdate': false, 'security.workspace.trust.enabled': false, 'git.enabled': false,
      'chat.disableAIFeatures': true, 'tdxAudit.export.folder': outDir,
    }));
    const env = { ...process.env, XDG_CONFIG_HOME: join(xdg, 'config'), XDG_DATA_HOME: join(xdg, 'data'), XDG_CACHE_HOME: join(xdg, 'cache'), EXTENSIONS_GALLERY: '{}' };
    const inst = await runGroup(codeServer!, ['--user-data-dir', ud, '--extensions-dir', ext, '--install-extension', vsix], { env, timeoutMs: 120_000 });
    assert.equal(inst.code, 0, `--install-extension failed:\n${inst.stdout}\n${inst.stderr}`);
    const port = await freePort();
    server = spawnGroup(codeServer!, ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--user-data-dir', ud, '--extensions-dir', ext, ws.dir], { env, cwd: ws.root });
    for (const until = Date.now() + 60_000; ; await sleep(100)) {
      if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
      if (server.child.exitCode !== null || Date.now() > until) throw new Error(`code-server not healthy: ${server.stderr()}`);
    }
    browser = await pw.launch({ executablePath: chromium, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const p = page;
    await p.goto(`http://127.0.0.1:${port}/`, { timeout: 60_000 });
    await p.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60_000 });
    // A C file activates the extension (opened, not edited: its text is the indexed one).
    await p.keyboard.press('Control+P');
    await p.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
    await p.keyboard.insertText('foo_nic.c');
    await p.locator('.quick-input-list .monaco-list-row', { hasText: 'foo_nic.c' }).first().waitFor({ timeout: WAIT });
    await p.keyboard.press('Enter');
    await p.waitForSelector('.monaco-editor .view-lines', { timeout: WAIT });
    // The index is done when the workspace item counts every copy's error (each holds at
    // least foo_nic.c's one) without the spinning icon; before the index starts it counts the open file only.
    const item = p.locator('.statusbar-item', { hasText: /TDX\s+\d+\s+\d+/ }).first();
    await item.waitFor({ timeout: 60_000 });
    const indexed = async () => {
      const m = /TDX\s+(\d+)/.exec((await item.innerText()).replace(/\s+/g, ' '));
      return !!m && Number(m[1]) >= 21 && (await item.locator('.codicon-sync, .codicon-modifier-spin').count()) === 0;
    };
    for (const until = Date.now() + 120_000; !(await indexed().catch(() => false)); await sleep(250)) {
      if (Date.now() > until) throw new Error(`the workspace index did not finish: ${await item.innerText()}`);
    }
    await shot('indexed');
    await p.locator('.monaco-editor .view-lines').first().click();
    await runCommand(p, 'TDX: Export Audit Report');
    await p.locator('.quick-input-list .monaco-list-row', { hasText: 'Whole workspace' }).first().click({ timeout: WAIT });
    await p.locator('.quick-input-list .monaco-list-row', { hasText: outDir }).first().click({ timeout: WAIT });
    await p.locator('.quick-input-list .monaco-list-row', { hasText: 'SARIF' }).first().waitFor({ timeout: WAIT });
    const t0 = Date.now();
    await p.keyboard.press('Enter');
    const done = await waitNotification(p, /wrote 4 report files/i, 60_000);
    const ms = Date.now() - t0;
    await shot('after-index');
    t.diagnostic(`export after the index: ${ms} ms; notification: ${done}`);
    // foo_nic.c and its twenty copies (and the header): every file from the index, none audited again.
    const taken = /(\d+) files taken from the workspace index unchanged; 0 files audited/i.exec(done);
    assert.ok(taken && Number(taken[1]) >= 21, done);
    const json = JSON.parse(readFileSync(join(outDir, 'tdx-audit.json'), 'utf8'));
    assert.equal(new Set(json.findings.map((f: { file: string }) => f.file)).size >= 21, true, 'every copy is in the report');
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (process.env.TDX_E2E_KEEP) t.diagnostic(`kept ${ws.root}`);
    else ws.cleanup();
  }
});
