// Real-world check in a real VS Code (code-server 4.100.3 + Chromium, as the e2e
// test runs it): open a folder of Debian's 6.1 kernel sources, open a driver, hover
// a site, run "TDX: Export Audit Report" on the whole workspace, then validate the
// SARIF against the 2.1.0 schema and render the HTML in headless Chromium.
// Usage: node --import tsx scripts/kernel/vscode-kernel.ts [FOLDER] [FILE]
// (defaults: $TDX_KERNEL_DIR/linux-source-6.1/drivers/ata and libahci.c; needs
// `npm run build`, test/e2e/install-code-server.sh and chromium). Screenshots go to
// test-output/kernel-vscode/. Not part of the default tests.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { chromium as pw, type Page } from 'playwright-core';
import { REPO, findChromium, findCodeServer, freePort, packVsix, runGroup, sleep, spawnGroup, type Group } from '../../test/e2e/lib';

const TREE = join(process.env.TDX_KERNEL_DIR ?? '/var/tmp/tdx-audit-kernel', 'linux-source-6.1');
const FOLDER = process.argv[2] ?? join(TREE, 'drivers', 'ata');
const FILE = process.argv[3] ?? 'libahci.c';
const OUT = join(REPO, 'test-output', 'kernel-vscode');
const WAIT = 60_000;


async function waitNotification(page: Page, re: RegExp, timeoutMs = WAIT): Promise<string> {
  const until = Date.now() + timeoutMs;
  let seen: string[] = [];
  while (Date.now() < until) {
    seen = await page.locator('.notifications-toasts .notification-toast, .notification-list-item').allInnerTexts();
    const hit = seen.find((s) => re.test(s));
    if (hit) return hit;
    await sleep(250);
  }
  throw new Error(`no notification matching ${re} (seen: ${JSON.stringify(seen)})`);
}

async function main(): Promise<void> {
  const codeServer = findCodeServer();
  const chromium = findChromium();
  assert.ok(codeServer, 'code-server 4.100.3 not installed (test/e2e/install-code-server.sh)');
  assert.ok(chromium, 'chromium not installed');
  assert.ok(existsSync(join(FOLDER, FILE)), `${join(FOLDER, FILE)} missing: run scripts/kernel/prepare.sh`);
  mkdirSync(OUT, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'tdx-kernel-vscode-'));
  const reports = join(root, 'reports');
  mkdirSync(reports);
  let server: Group | undefined;
  let browser: Awaited<ReturnType<typeof pw.launch>> | undefined;
  let shot = 0;
  let page: Page | undefined;
  const screenshot = async (name: string) => {
    await sleep(600);
    await page?.screenshot({ path: join(OUT, `${String(++shot).padStart(2, '0')}-${name}.png`) });
  };
  const t0 = Date.now();
  try {
    const vsix = await packVsix(root);
    const ud = join(root, 'user-data');
    const ext = join(root, 'extensions');
    mkdirSync(join(ud, 'User'), { recursive: true });
    writeFileSync(join(ud, 'User', 'settings.json'), JSON.stringify({
      'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'update.mode': 'none',
      'extensions.autoCheckUpdates': false, 'security.workspace.trust.enabled': false, 'git.enabled': false,
      'editor.minimap.enabled': false, 'editor.hover.delay': 200, 'chat.disableAIFeatures': true,
    }));
    const env = { ...process.env, XDG_CONFIG_HOME: join(root, 'xdg', 'config'), XDG_DATA_HOME: join(root, 'xdg', 'data'), XDG_CACHE_HOME: join(root, 'xdg', 'cache'), EXTENSIONS_GALLERY: '{}' };
    const inst = await runGroup(codeServer, ['--user-data-dir', ud, '--extensions-dir', ext, '--install-extension', vsix], { env, timeoutMs: 120_000 });
    assert.equal(inst.code, 0, inst.stderr);
    const port = await freePort();
    server = spawnGroup(codeServer, ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
      '--disable-getting-started-override', '--user-data-dir', ud, '--extensions-dir', ext, FOLDER], { env, cwd: root });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      if (i > 600) throw new Error('code-server did not start');
      await sleep(100);
    }
    browser = await pw.launch({ executablePath: chromium, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(FOLDER)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: WAIT });
    await sleep(2000);
    // Open the driver and wait for its squiggles.
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
    await page.keyboard.insertText(FILE);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: FILE }).first().waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    await sleep(1500);
    // Go to the first line with an io.h accessor call.
    const firstSite = readFileSync(join(FOLDER, FILE), 'utf8').split('\n').findIndex((l) => /\b(readl|writel)\(/.test(l)) + 1;
    await page.keyboard.press('Control+G');
    await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
    await page.keyboard.insertText(String(firstSite));
    await page.keyboard.press('Enter');
    await page.waitForSelector('.monaco-editor .squiggly-info, .monaco-editor .squiggly-error, .monaco-editor .squiggly-warning', { timeout: WAIT, state: 'attached' });
    await screenshot('driver-open');
    // Hover the first squiggle: with the .o beside the source it names the instruction.
    const sq = page.locator('.monaco-editor .squiggly-info').first();
    const box = await sq.boundingBox();
    let hover = '';
    if (box) {
      for (let i = 0; i < 20 && !/Compiled form|compiled form/.test(hover); i++) {
        await page.mouse.move(box.x + box.width / 2 + (i % 2), box.y + box.height / 2 - 3);
        await sleep(500);
        hover = (await page.locator('.monaco-hover:not(.hidden)').first().innerText().catch(() => '')) ?? '';
      }
    }
    await screenshot('hover');
    console.log(`hover: ${hover.split('\n').slice(0, 3).join(' | ').slice(0, 300)}`);
    // Export the whole workspace.
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
    await page.keyboard.insertText('TDX: Export Audit Report');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'TDX: Export Audit Report' }).first().waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Whole workspace' }).first().waitFor({ timeout: WAIT });
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Whole workspace' }).first().click();
    await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: WAIT });
    await sleep(300);
    await page.locator('.quick-input-widget input.input').first().fill(reports + '/');
    await sleep(300);
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'SARIF' }).first().waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    const tExport = Date.now();
    const done = await waitNotification(page, /wrote \d+ report files?/i, 600_000);
    console.log(`export: "${done.split('\n')[0]}" in ${((Date.now() - tExport) / 1000).toFixed(1)} s`);
    await screenshot('export-done');
    const files = readdirSync(reports);
    for (const ext of ['.sarif', '.html', '.md', '.json']) assert.ok(files.some((f) => f.endsWith(ext)), `no ${ext} among ${files}`);
    // SARIF against the 2.1.0 schema.
    const schema = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    const sarif: any = JSON.parse(readFileSync(join(reports, files.find((f) => f.endsWith('.sarif'))!), 'utf8'));
    const valid = ajv.validate(schema, sarif);
    assert.ok(valid as boolean, `SARIF invalid: ${ajv.errorsText(ajv.errors?.slice(0, 5))}`);
    console.log(`SARIF: valid 2.1.0, ${(sarif as { runs: { results: unknown[] }[] }).runs[0]!.results.length} results`);
    // The HTML in Chromium: no console errors, a screenshot.
    const hp = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    hp.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    hp.on('pageerror', (e) => errors.push(String(e)));
    await hp.goto(`file://${join(reports, files.find((f) => f.endsWith('.html'))!)}`);
    await sleep(1000);
    await hp.screenshot({ path: join(OUT, `${String(++shot).padStart(2, '0')}-report-html.png`) });
    assert.deepEqual(errors, [], 'the HTML report renders without errors');
    console.log(`HTML: rendered without errors; screenshots in ${OUT}; ${basename(FOLDER)} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } catch (e) {
    await screenshot('FAILED').catch(() => undefined);
    throw e;
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
