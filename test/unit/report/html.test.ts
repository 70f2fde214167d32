// The HTML report: escaping of hostile names from the tree, and a real render in
// headless Chromium (no console errors, no network request, a non-blank screenshot
// in test-output/report/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { CompiledInstruction, FileCompiled } from '../../../server/src/audit/compiled';
import { AuditEngine } from '../../../server/src/audit/engine';
import { htmlText } from '../../../server/src/audit/report/html';
import { toJsonReport } from '../../../server/src/audit/report/json';
import { markdownText, mdCode, mdMessage, mdText } from '../../../server/src/audit/report/markdown';
import { toSarif } from '../../../server/src/audit/report/sarif';
import { emptyTriage, setTriage } from '../../../server/src/audit/report/triage';
import { DRIVER, KERNEL_MAKEFILE, makeTree, modelOf } from './helpers';

const HOSTILE = 'evil_</script><img src=x onerror="window.__pwned=1">';
const HOSTILE_FN = `void x__script_img(void __iomem *b) { writel(1, b); }\n`;

const CHROMIUM = process.env.TDX_CHROMIUM ?? '/usr/bin/chromium';
const OUT = resolve(__dirname, '../../../test-output/report');

function insn(over: Partial<CompiledInstruction>): CompiledInstruction {
  return {
    object: '/o/acme.o', function: 'acme_peek', offset: 0x1c, section: '.text', address: '0x1c', bytes: '83 0f 01', text: 'or dword ptr [rdi],1',
    class: 'DECODE_FAILED', size: 0, verdict: 'decode-failed', misemulation: [], flags: [], summary: 'insn_decode_mmio: no MMIO class for OR: WARN, then oops',
    file: undefined, line: 20, column: 9, inlineChain: ['acme_peek'], match: 'line-fallback', ...over,
  };
}

/** A model with triage, compiled forms, several subsystems, and hostile strings everywhere the tree controls. */
async function richModel() {
  const root = makeTree({
    Makefile: KERNEL_MAKEFILE,
    'drivers/acme/acme.c': DRIVER,
    'drivers/ata/pata.c': 'void p(void __iomem *b) { writel(1, b); writel(2, b); iosubmit_cmds512(b, 0, 1); }\n',
    'arch/x86/kernel/io.c': HOSTILE_FN,
  });
  const e = await AuditEngine.create({ readFile: () => undefined });
  const a = e.auditOnce(join(root, 'drivers/acme/acme.c'), DRIVER);
  const derefIdx = a.analysis.sites.findIndex((s) => s.rule === 'tdx-iomem-deref');
  const readIdx = a.analysis.sites.findIndex((s) => s.accessor === 'readl');
  const compiled: FileCompiled = {
    object: { path: '/o/acme.o', state: 'older-than-source', message: 'acme.o is 3 minutes older than acme.c', producer: 'GNU C11 12.2.0 -mno-sse -O2' },
    sites: [
      { siteIndex: derefIdx, instructions: [insn({})] },
      { siteIndex: readIdx, instructions: [insn({ function: 'acme_probe', bytes: '8b 47 04', text: 'mov eax,[rdi+4]', class: 'READ', size: 4, verdict: 'emulated', summary: 'READ 4 bytes into eax' })] },
    ],
    functions: [
      { name: 'acme_probe', instructions: 4, verdicts: { emulated: 4 } },
      { name: 'acme_peek', instructions: 1, verdicts: { 'decode-failed': 1 } },
    ],
  };
  const m0 = await modelOf(root, ['drivers/acme/acme.c', 'drivers/ata/pata.c', 'arch/x86/kernel/io.c'], { compiled: { 'drivers/acme/acme.c': compiled } });
  const copy = m0.findings.find((f) => f.rule === 'tdx-movs-copy')!;
  const triage = setTriage(emptyTriage(), copy.fingerprint, 'excluded', { comment: `${HOSTILE} & "quotes"`, who: '<b>mallory</b>' });
  const m = await modelOf(root, ['drivers/acme/acme.c', 'drivers/ata/pata.c', 'arch/x86/kernel/io.c'], { compiled: { 'drivers/acme/acme.c': compiled }, triage });
  // Names come from the tree: make one hostile in every place a writer prints it.
  const h = m.findings.find((f) => f.file === 'arch/x86/kernel/io.c')!;
  h.function = HOSTILE;
  h.expression = `writel(1,b)${HOSTILE}`;
  h.message = `${HOSTILE} message`;
  m.functions.find((r) => r.function === 'x__script_img')!.function = HOSTILE;
  return m;
}

test('HTML escapes every string from the tree and loads nothing from the network', async () => {
  const html = htmlText(await richModel());
  assert.ok(!html.includes('<img'), 'no raw tag from the tree');
  assert.ok(!html.includes('onerror="'), 'no raw attribute from the tree');
  assert.ok(html.includes('evil_&lt;/script&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;'));
  assert.equal(html.match(/<\/script>/g)?.length, 1, 'only the page script closes a script element');
  assert.doesNotMatch(html, /\b(?:src|href)=["']?(?:https?:)?\/\//i, 'no external resource');
  assert.doesNotMatch(html, /@import|url\(/, 'no CSS fetch');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

test('HTML opens with what will crash; the reference tables come after the findings, folded; long code can wrap', async () => {
  const m = await richModel();
  const html = htmlText(m);
  const at = (id: string) => html.indexOf(`<section id="${id}"`);
  const order = ['summary', 'failing', 'informational', 'findings', 'charts', 'details', 'functions', 'provenance'].map(at);
  assert.ok(order.every((x) => x > 0), JSON.stringify(order));
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'sections in errors-first order');
  // Failing sites grouped by function, worst first, the triaged group last; the instruction in the row.
  const failing = html.slice(at('failing'), at('informational'));
  const groups = [...failing.matchAll(/<tr class="group"><th colspan="6"><code>([^<]*)<\/code>/g)].map((x) => x[1]);
  assert.deepEqual(groups, ['acme_peek', 'p', 'acme_probe']);
  assert.match(failing, /<code>or dword ptr \[rdi\],1<\/code> <span class="note">at<\/span> <code>acme_peek\+0x1c<\/code>/);
  assert.match(failing, /not compiled: verdict from the source/);
  // "Where the #VE lands" and the objects table are folded.
  assert.match(html, /<section id="functions"><details class="ref"><summary>Where the #VE lands \(\d+ functions?\)<\/summary>/);
  assert.match(html, /<details id="objects"><summary>Objects not fresh \(1\)<\/summary>/);
  // Long code wraps anywhere; the wide tables have fixed layouts with one <col> per header cell.
  assert.match(html, /td,th,dd,li,p,summary,code\{overflow-wrap:anywhere\}/);
  assert.match(html, /table\.fixed\{table-layout:fixed\}/);
  for (const id of ['failing-table', 'findings-table', 'functions-table']) {
    const t = new RegExp(`<table class="[^"]*fixed[^"]*" id="${id}"><colgroup>(.*?)</colgroup>\\s*<thead><tr>(.*?)</tr></thead>`).exec(html);
    assert.ok(t, `${id} is a fixed table with a colgroup`);
    assert.equal((t[1].match(/<col\b/g) ?? []).length, (t[2].match(/<th\b/g) ?? []).length, id);
  }
  assert.doesNotMatch(html, /class="nowrap"/);
  // The whole tree is named by its folder.
  assert.doesNotMatch(html, /<code>\.<\/code>/);
});

test('JSON and SARIF list the failing sites first, worst function first, then the rest by file', async () => {
  const m = await richModel();
  const j = toJsonReport(m);
  assert.deepEqual(j.summary.tiers, { failing: 3, warnings: 0, informational: 7 });
  assert.deepEqual(j.findings.slice(0, 3).map((f) => [f.function, f.verdict]), [['acme_peek', 'decode-failed'], ['p', 'decode-failed'], ['acme_probe', 'rejected-movs']]);
  const rest = j.findings.slice(3).map((f) => `${f.file}:${String(f.line).padStart(5, '0')}`);
  assert.deepEqual(rest, [...rest].sort());
  assert.equal(j.findings.length, m.findings.length);
  const results = toSarif(m).runs[0].results!;
  assert.deepEqual(results.slice(0, 3).map((r) => r.fingerprints?.['tdxAudit/v1'] ?? r.partialFingerprints?.['tdxAudit/v1']), j.findings.slice(0, 3).map((f) => f.fingerprint));
});

/** Cells of a GFM table row: `\|` is a literal pipe inside a cell, not a separator. */
function cells(row: string): string[] {
  assert.ok(row.startsWith('| ') && row.endsWith(' |'), row);
  return row.slice(2, -2).split(/(?<!\\)\|/).map((c) => c.trim());
}

/** Every table: each row has exactly its header's number of cells, none empty. */
function assertTablesWellFormed(md: string): number {
  const lines = md.split('\n');
  let tables = 0;
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('| ') || !/^\|(?:---\|)+$/.test(lines[i + 1])) continue;
    tables++;
    const n = cells(lines[i]).length;
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++) {
      const cs = cells(lines[j]);
      assert.equal(cs.length, n, `row has ${cs.length} cells, header ${n}: ${lines[j]}`);
      assert.ok(cs.every((c) => c.length > 0), `empty cell: ${lines[j]}`);
      assert.ok(!lines[j].includes('\n'));
    }
  }
  return tables;
}

test('Markdown opens with what will crash, grouped by function with the instruction; warnings next; the informational rest is one line', async () => {
  const m = await richModel();
  const md = markdownText(m);
  assert.ok(!md.includes('<img'), 'no raw HTML from the tree');
  assert.match(md, /Linux 6\.1\.55-rc2/);
  const fail = md.indexOf('### Will fail in a TDX guest (3)');
  const info = md.indexOf('### Informational (7)');
  const prov = md.indexOf('<details><summary>Provenance');
  assert.ok(fail > 0 && fail < info && info < prov, 'failing, then informational, then provenance (folded)');
  // The compiled row names the instruction, where it lands and its bytes; worst verdict first, the triaged group last.
  const rows = md.slice(fail, info).split('\n').filter((l) => l.startsWith('| `'));
  assert.deepEqual(rows.map((r) => cells(r)[0]), ['`acme_peek`', '`p`', '`acme_probe`']);
  assert.deepEqual(cells(rows[0]), ['`acme_peek`', 'drivers/acme/acme.c:21:9', '`or dword ptr [rdi],1` at `acme_peek+0x1c` (`83 0f 01`)', '**decode-failed**', '`*reg`']);
  // A row without an instruction keeps its columns: the expression stays under "expression".
  assert.deepEqual(cells(rows[1]).slice(2), ['_not compiled: from the source_', '**decode-failed**', '`iosubmit_cmds512(b,0,1)`']);
  assert.match(rows[2], /~~drivers\/acme\/acme\.c:14:2~~/);
  // No per-file "(N informational sites not listed)" lines: one summary.
  assert.doesNotMatch(md, /informational sites? not listed/);
  assert.match(md, /Accesses the #VE handler emulates \(7 emulated\): 7 `tdx-ve-mmio`; in 3 files\./);
  assert.match(md, /- Objects: 1 older-than-source; compiler `GNU C11 12\.2\.0 -mno-sse -O2`/);
  // The whole tree is named by its folder, not ".".
  assert.doesNotMatch(md, /`\.`/);
  assert.match(md, /`tdx-report-\w+\/`, profile/);
  assertTablesWellFormed(md);
  // With full, the informational sites are listed too.
  assert.equal((markdownText(m, { full: true }).match(/^- .*\(emulated\)/gm) ?? []).length, 7);

  assert.equal(mdCode('a`b|c', true), '``a`b\\|c``');
  assert.equal(mdText('<b>*x*</b>'), '&lt;b&gt;\\*x\\*&lt;/b&gt;');
  assert.equal(mdMessage('`__iowrite32_copy` on <b> `a|b`'), '`__iowrite32_copy` on &lt;b&gt; `a|b`');
});

test('Markdown tables stay well-formed with pipes, newlines and backticks in names, and rows without an instruction', async () => {
  const m = await richModel();
  for (const f of m.findings) {
    f.function = 'a|b\nc`d';
    f.expression = 'x |= y\n| z';
    f.message = 'warn | with\nnewline `p|q`. Rest.';
  }
  // Every finding a warning with no compiled form: the warning table's rows have no instruction.
  const w = m.findings.find((f) => f.rule === 'tdx-iomem-deref')!;
  w.verdict = 'compiler-dependent';
  w.severity = 'warning';
  delete w.compiled;
  const md = markdownText(m, { full: true });
  assert.ok(assertTablesWellFormed(md) >= 2, 'the failing and warning tables are checked');
  const warn = md.split('\n').find((l) => l.startsWith('| ') && l.includes('tdx-iomem-deref'))!;
  assert.deepEqual(cells(warn).slice(2, 5), ['`x \\|= y \\| z`', 'tdx-iomem-deref', 'warn \\| with newline `p\\|q`.']);
});

test('the HTML report renders in headless Chromium without errors, sorts and filters, and is not blank', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set TDX_CHROMIUM)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const html = htmlText(await richModel());
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, 'report.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(`file://${file}`);
    await page.waitForLoadState('load');
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, []);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined);
    assert.equal(await page.locator('img').count(), 0);
    assert.ok((await page.locator('#findings-table tbody tr').first().textContent())!.length > 0);
    const names = await page.locator('#functions-table tbody td:nth-child(2)').allTextContents();
    assert.ok(names.includes(HOSTILE), `hostile name shown as text: ${JSON.stringify(names)}`);

    // Sorting by severity puts the errors first.
    await page.locator('#findings-table th', { hasText: 'severity' }).click();
    const sev = await page.locator('#findings-table tbody tr td:nth-child(5)').allTextContents();
    assert.equal(sev[0], 'error');
    assert.deepEqual([...sev].sort((a, b) => ['error', 'warning', 'information', 'hint'].indexOf(a) - ['error', 'warning', 'information', 'hint'].indexOf(b)), sev);
    // Filtering by verdict and by text.
    await page.selectOption('#findings select[data-attr="data-verdict"]', 'decode-failed');
    const shown = await page.locator('#findings-table tbody tr:not([hidden])').count();
    assert.equal(shown, 2);
    await page.selectOption('#findings select[data-attr="data-verdict"]', '');
    await page.fill('#findings input[type=search]', 'pata.c');
    assert.equal(await page.locator('#findings-table tbody tr:not([hidden])').count(), 3);
    await page.fill('#findings input[type=search]', '');
    // The triaged (excluded) row is de-emphasised and can be hidden.
    assert.equal(await page.locator('#findings-table tbody tr.dim').count(), 1);
    await page.check('#findings input[data-hide-dim]');
    assert.equal(await page.locator('#findings-table tbody tr.dim:not([hidden])').count(), 0);
    await page.uncheck('#findings input[data-hide-dim]');
    // The charts are drawn.
    assert.ok((await page.locator('#charts svg rect').count()) >= 4);
    assert.deepEqual(problems, []);

    // Open the site with a compiled form, so the full-page picture shows one.
    await page.locator('details.site', { hasText: 'acme_peek' }).evaluate((d) => ((d as unknown as { open: boolean }).open = true));
    assert.match((await page.locator('details.site', { hasText: 'acme_peek' }).textContent())!, /acme_peek\+0x1c.*83 0f 01.*or dword ptr \[rdi\],1/s);
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    // The top of the page (summary, charts) is what must not be blank; the full page is for a person to look at.
    await page.screenshot({ path: join(OUT, 'report-full.png'), fullPage: true });
    const png = await page.screenshot({ path: join(OUT, 'report.png'), fullPage: false });
    const stats = pngStats(png);
    assert.ok(png.length > 20_000, `screenshot is ${png.length} bytes`);
    assert.ok(stats.distinct > 50, `only ${stats.distinct} distinct colours`);
    assert.ok(stats.nonWhite > 0.05, `only ${(stats.nonWhite * 100).toFixed(1)}% non-white pixels`);
  } finally {
    await browser.close();
  }
});

test('the HTML report fits 1,280 px: long code wraps, severity and verdict stay on screen, the failing sites are on the first screen', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set TDX_CHROMIUM)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const m = await richModel();
  // Names without a break opportunity, as a macro-heavy driver has them.
  const long = 'REG_' + 'VERY_LONG_REGISTER_NAME_'.repeat(12);
  for (const f of m.findings) {
    f.expression = `*(u32*)(dev->seg_ram+${long}+dev->host_tcq_wr)`;
    f.function = `ia_${long.toLowerCase()}`;
    f.file = `drivers/atm/${long.toLowerCase()}/iphase.c`;
  }
  for (const r of m.functions) r.function = `fn_${long}`;
  const html = htmlText(m);
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, 'report-1280.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${file}`);
    // Open every fold, so the folded tables are measured too.
    await page.evaluate(`document.querySelectorAll('details').forEach((d) => { d.open = true; })`);
    // A string, not a function: tsx would wrap a named arrow function in a helper the page lacks.
    const r = (await page.evaluate(`(() => {
      const right = (sel) => Math.max(0, ...[...document.querySelectorAll(sel)].map((e) => e.getBoundingClientRect().right));
      return {
        scrollWidth: document.documentElement.scrollWidth,
        widestTable: right('table'),
        severity: right('#findings-table td:nth-child(5) .pill'),
        verdict: right('#findings-table td:nth-child(6) .pill'),
        failingVerdict: right('#failing-table td:nth-child(4) .pill'),
        failingTop: document.querySelector('#failing').getBoundingClientRect().top,
      };
    })()`)) as Record<'scrollWidth' | 'widestTable' | 'severity' | 'verdict' | 'failingVerdict' | 'failingTop', number>;
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await page.screenshot({ path: join(OUT, 'report-1280.png') });
    assert.ok(r.scrollWidth <= 1280, `page is ${r.scrollWidth} px wide`);
    assert.ok(r.widestTable <= 1280, `a table reaches ${r.widestTable} px`);
    for (const k of ['severity', 'verdict', 'failingVerdict'] as const) assert.ok(r[k] > 0 && r[k] <= 1280, `${k} pill ends at ${r[k]} px`);
    assert.ok(r.failingTop < 600, `the failing sites start at ${r.failingTop} px`);
  } finally {
    await browser.close();
  }
});

/** Distinct colours and the share of non-white pixels of an 8-bit RGB(A) PNG. */
function pngStats(png: Buffer): { distinct: number; nonWhite: number } {
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels, `colour type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  const colours = new Set<number>();
  let nonWhite = 0;
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base];
    for (let x = 0; x < stride; x++) {
      const v = raw[base + 1 + x];
      const a = x >= channels ? cur[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      let r: number;
      switch (filter) {
        case 0: r = v; break;
        case 1: r = v + a; break;
        case 2: r = v + b; break;
        case 3: r = v + ((a + b) >> 1); break;
        default: {
          const p = a + b - c;
          const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          r = v + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
      }
      cur[x] = r & 0xff;
    }
    for (let x = 0; x < stride; x += channels) {
      const rgb = (cur[x] << 16) | (cur[x + 1] << 8) | cur[x + 2];
      colours.add(rgb);
      if (rgb !== 0xffffff) nonWhite++;
    }
    cur.copy(prev);
  }
  return { distinct: colours.size, nonWhite: nonWhite / (width * height) };
}

test('a whole-tree HTML report lists only notable findings and counts the informational rest per file', async () => {
  const many = Array.from({ length: 2600 }, (_, i) => `\twritel(${i}, b + ${i * 4});\n\tx += readl(b + ${i * 4});`).join('\n');
  const root = makeTree({
    Makefile: KERNEL_MAKEFILE,
    'drivers/big/big.c': `#include "../../io.h"\nu32 x;\nvoid big(void __iomem *b)\n{\n${many}\n}\nvoid bad(u32 __iomem *p)\n{\n\t*p |= 1;\n}\n`,
    'io.h': '#define __iomem\n',
  });
  const model = await modelOf(root, ['drivers/big/big.c']);
  assert.ok(model.findings.length > 5000, `${model.findings.length} findings`);
  const html = htmlText(model);
  const details = html.match(/<details class="site/g) ?? [];
  const notable = model.findings.filter((f) => f.severity === 'error' || f.severity === 'warning');
  assert.equal(details.length, notable.length, 'one detail per notable finding');
  assert.match(html, /Informational sites not listed \(5200\)/);
  assert.match(html, /drivers\/big\/big\.c<\/td><td class="num">5200</);
});
