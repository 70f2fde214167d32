// The HTML report: one self-contained file a person opens in a browser, offline.
// Everything is inline (CSS, a small script, SVG charts); a Content-Security-Policy
// forbids any network fetch, so a report mailed around cannot phone home or break.
// Every string from the audited tree (function names, expressions, messages, paths,
// triage comments) goes through esc(): the tree is untrusted input. The script
// carries no data; it only sorts and filters the rows already in the page.
//
// Errors first: the page opens with what will crash the guest (grouped by function,
// with the instruction), then the warnings, then a count of the informational rest;
// the sortable list of every finding, the charts, and the long reference tables
// ("where the #VE lands", objects) come after, folded. It fits a 1,280 px window:
// long code wraps anywhere and the wide tables have fixed column widths, so severity
// and verdict stay on screen.

import type { LandingRow, ReportFinding, ReportVerdict } from './model';
import { asDoc, type FindingKey, type ReportDoc, type ReportSource } from './doc';
import { FAILING_VERDICTS, SEVERITIES, VERDICT_ORDER } from './model';
import { objectStateText, scopeLabels } from './provenance';
import { ruleHelp, ruleTitle } from './rules';
import { buildNote, headline, insnWhere, reportSections, tierCounts, type FunctionGroup, type ReportSections } from './sections';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text and attribute values: both contexts are covered by escaping all five. */
export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

export const VERDICT_COLOR: Record<ReportVerdict, string> = {
  'decode-failed': '#b3261e',
  rejected: '#c62828',
  'rejected-movs': '#d84315',
  'rejected-string-io': '#ef6c00',
  misemulated: '#b28704',
  'compiler-dependent': '#7e57c2',
  'out-of-line': '#4f7fd9',
  emulated: '#2e7d32',
  'not-intercepted': '#78909c',
};

const SEVERITY_COLOR: Record<string, string> = { error: '#b3261e', warning: '#b28704', information: '#4f7fd9', hint: '#78909c' };

const CSS = `
:root{--fg:#1d2330;--muted:#5d6675;--line:#d9dde3;--bg:#fff;--alt:#f6f7f9;--accent:#3558c7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:18px 28px;background:#1f2a44;color:#fff}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d2e6}
main{padding:8px 28px 40px;max-width:1600px}
td,th,dd,li,p,summary,code{overflow-wrap:anywhere}
code{white-space:pre-wrap}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:120px;background:var(--alt);color:inherit;text-decoration:none}
.card b{display:block;font-size:24px}
.card span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.charts{display:flex;flex-wrap:wrap;gap:28px}
.charts figure{margin:0}
.charts figcaption{font-weight:600;margin-bottom:6px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
table.fixed{table-layout:fixed}
table.fixed th{overflow:hidden;text-overflow:ellipsis}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--alt);position:sticky;top:0;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
td.num,th.num{text-align:right}
tr.group th{background:#eef1f6;cursor:default;position:static;font-weight:600;white-space:normal}
tr.group th code{font-weight:600}
section.tier h2 .count{font-weight:normal;font-size:14px}
details.ref{margin:20px 0}
details.ref>summary{cursor:pointer;font-size:18px;font-weight:600;border-bottom:1px solid var(--line);padding-bottom:4px}
tr.dim td{opacity:.5}
tr.dim td.msg{text-decoration:line-through}
.pill{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px;white-space:nowrap}
.tools{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:6px 0}
.tools input[type=search]{min-width:260px;padding:4px 8px;border:1px solid var(--line);border-radius:4px}
.tools select{padding:3px 6px}
.count{color:var(--muted)}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.prov dt{color:var(--muted)}
dl.prov dd{margin:0}
details.site{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:6px 10px}
details.site.dim{opacity:.6}
details.site summary{cursor:pointer}
details.site p{margin:6px 0}
.note{color:var(--muted)}
a{color:var(--accent)}
`;

// Sorting and filtering only; no data is embedded here, so nothing in the audited
// tree can reach script context.
const JS = `
(function(){
  function cellValue(tr, i){
    var td = tr.children[i]; if(!td) return '';
    var v = td.getAttribute('data-sort'); return v === null ? td.textContent.trim() : v;
  }
  document.querySelectorAll('table.sortable').forEach(function(table){
    var ths = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function(th, i){
      th.tabIndex = 0;
      function sort(){
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(ths, function(o){ o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var numeric = rows.every(function(r){ var v = cellValue(r, i); return v === '' || !isNaN(Number(v)); });
        rows.sort(function(a, b){
          var x = cellValue(a, i), y = cellValue(b, i), d;
          if (numeric) d = (x === '' ? -Infinity : Number(x)) - (y === '' ? -Infinity : Number(y));
          else d = x.localeCompare(y, undefined, {numeric: true});
          return asc ? d : -d;
        });
        rows.forEach(function(r){ body.appendChild(r); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function(e){ if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } });
    });
  });
  document.querySelectorAll('[data-filter-for]').forEach(function(box){
    var table = document.getElementById(box.getAttribute('data-filter-for'));
    var text = box.querySelector('input[type=search]');
    var selects = box.querySelectorAll('select[data-attr]');
    var hideDim = box.querySelector('input[data-hide-dim]');
    var count = box.querySelector('.count');
    function apply(){
      var q = text ? text.value.trim().toLowerCase() : '';
      var shown = 0, rows = table.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function(r){
        var ok = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
        Array.prototype.forEach.call(selects, function(s){
          if (s.value && r.getAttribute(s.getAttribute('data-attr')) !== s.value) ok = false;
        });
        if (hideDim && hideDim.checked && r.classList.contains('dim')) ok = false;
        r.hidden = !ok; if (ok) shown++;
      });
      if (count) count.textContent = shown + ' of ' + rows.length + ' shown';
    }
    box.addEventListener('input', apply); box.addEventListener('change', apply); apply();
  });
})();
`;

function pill(text: string, color: string): string {
  return `<span class="pill" style="background:${esc(color)}">${esc(text)}</span>`;
}

/** Engine messages mark code with backticks: shown as <code> (after escaping, so nothing else can become markup). */
const message = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');

const verdictPill = (v: ReportVerdict) => pill(v, VERDICT_COLOR[v] ?? '#555');
const line = (f: ReportFinding) => f.range.start.line + 1;

/** Horizontal bar chart of counts, as inline SVG. */
export function barChart(title: string, rows: { label: string; parts: { value: number; color: string; name: string }[] }[]): string {
  const labelW = 170;
  const barW = 300;
  const rowH = 22;
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, p) => a + p.value, 0)));
  const h = rows.length * rowH + 8;
  const bars = rows.map((r, i) => {
    const y = 4 + i * rowH;
    let x = labelW;
    const total = r.parts.reduce((a, p) => a + p.value, 0);
    const rects = r.parts
      .filter((p) => p.value > 0)
      .map((p) => {
        const w = Math.max(1, (p.value / max) * barW);
        const rect = `<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${esc(p.color)}"><title>${esc(`${r.label}: ${p.value} ${p.name}`)}</title></rect>`;
        x += w;
        return rect;
      })
      .join('');
    const label = r.label.length > 24 ? r.label.slice(0, 23) + '…' : r.label;
    return `<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end" font-size="12" fill="#1d2330">${esc(label)}</text>${rects}<text x="${(x + 6).toFixed(1)}" y="${y + rowH / 2 + 4}" font-size="12" fill="#5d6675">${total}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" width="${labelW + barW + 60}" height="${h}" viewBox="0 0 ${labelW + barW + 60} ${h}">${bars.join('')}</svg>`;
}

function summary(model: ReportDoc, s: ReportSections): string {
  const c = model.counts;
  const t = tierCounts(s);
  const cards = [
    ['will fail', t.failing, VERDICT_COLOR['decode-failed'], '#failing'],
    ['warnings', t.warnings, SEVERITY_COLOR.warning, '#warnings'],
    ['informational', t.info, SEVERITY_COLOR.information, '#informational'],
    ['findings', c.findings, '#1d2330', '#findings'],
  ]
    .map(([k, v, color, href]) => `<a class="card" href="${esc(href)}"><b style="color:${esc(color)}">${esc(v)}</b><span>${esc(k)}</span></a>`)
    .join('');
  const sev = SEVERITIES.map((sv) => `${c.bySeverity[sv]} ${sv}`).join(', ');
  const triaged = t.failing - t.failingOpen + (t.warnings - t.warningsOpen);
  const b = model.baseline;
  return `<section id="summary"><div class="cards">${cards}</div>
<p class="note">By severity: ${esc(sev)}.${triaged ? ` ${triaged} of the failing and warning sites are triaged safe, excluded or trusted${c.notBuilt ? ', or in files this .config does not build' : ''} (shown struck through).` : ''}${
    b ? ` Against baseline <code>${esc(b.source)}</code>: <b>${b.new} new</b>, ${b.fixed.length} fixed, ${b.unchanged} unchanged.` : ''
  }${model.provenance.objects.length ? '' : ' No object was read: verdicts come from the source, and raw dereferences are warnings until compiled.'}</p></section>`;
}

const fnName = (g: FunctionGroup) => (g.function ? `<code>${esc(g.function)}</code>` : '<span class="note">(file scope)</span>');
const groupRow = (g: FunctionGroup, cols: number) =>
  `<tr class="group"><th colspan="${cols}">${fnName(g)} <span class="note">${esc(g.file)}${g.open < g.rows.length ? ` · ${g.rows.length - g.open} set aside (triaged or not built)` : ''}</span></th></tr>`;
const siteLink = (f: ReportFinding, i: number) => `<a href="#site-${i}">${esc(f.file.split('/').pop() ?? f.file)}:${line(f)}</a>`;
const triageCell = (f: ReportFinding) => {
  const note = buildNote(f);
  return `${esc(f.triage?.status ?? '')}${f.baseline === 'new' ? ' <b>new</b>' : ''}${note ? `<br><span class="note">${esc(note)}</span>` : ''}`;
};

/** What will crash: one block per function, worst first, each site with its instruction. */
function failingSection(s: ReportSections): string {
  const n = s.failing.reduce((a, g) => a + g.rows.length, 0);
  if (!n) return `<section id="failing" class="tier"><h2>Will fail in a TDX guest (0)</h2><p>No site the #VE handler rejects or mis-emulates.</p></section>`;
  const body = s.failing
    .map(
      (g) =>
        groupRow(g, 6) +
        g.rows
          .map(({ finding: f, index: i, instructions }) => {
            const insn = instructions.length
              ? instructions.map((x) => `<code>${esc(x.text)}</code> <span class="note">at</span> <code>${esc(insnWhere(x))}</code>`).join('<br>')
              : '<span class="note">not compiled: verdict from the source</span>';
            const bytes = instructions.map((x) => `<code>${esc(x.bytes)}</code>`).join('<br>');
            // Here for its rule (an error) while the instruction is a call: say which rule.
            const why = FAILING_VERDICTS.has(f.verdict) ? '' : `<br><span class="note">${esc(f.severity)}: ${esc(f.rule)}</span>`;
            return `<tr${f.deemphasised ? ' class="dim"' : ''}><td>${siteLink(f, i)}</td><td>${insn}</td><td>${bytes}</td><td>${verdictPill(f.verdict)}${why}</td><td class="msg"><code>${esc(f.expression)}</code></td><td>${triageCell(f)}</td></tr>`;
          })
          .join(''),
    )
    .join('');
  return `<section id="failing" class="tier"><h2>Will fail in a TDX guest (${n})</h2>
<p class="note">Decode-failed or rejected: the guest oopses (panics with oops=panic). Mis-emulated: it reads or writes a wrong value. Grouped by function, worst first.</p>
<table class="fixed" id="failing-table"><colgroup><col style="width:13%"><col style="width:27%"><col style="width:12%"><col style="width:12%"><col><col style="width:8%"></colgroup>
<thead><tr><th>site</th><th>instruction</th><th>bytes</th><th>verdict</th><th>expression</th><th>triage</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

/** What the compiler decides: grouped like the failing sites, with what happens in words. */
function warningSection(s: ReportSections): string {
  const n = s.warnings.reduce((a, g) => a + g.rows.length, 0);
  if (!n) return '';
  const body = s.warnings
    .map(
      (g) =>
        groupRow(g, 5) +
        g.rows
          .map(({ finding: f, index: i }) => `<tr${f.deemphasised ? ' class="dim"' : ''}><td>${siteLink(f, i)}</td><td class="msg"><code>${esc(f.expression)}</code></td><td>${verdictPill(f.verdict)}</td><td>${message(headline(f.message))}</td><td>${triageCell(f)}</td></tr>`)
          .join(''),
    )
    .join('');
  return `<section id="warnings" class="tier"><h2>Warnings: the compiler decides (${n})</h2>
<table class="fixed" id="warnings-table"><colgroup><col style="width:13%"><col style="width:25%"><col style="width:13%"><col><col style="width:8%"></colgroup>
<thead><tr><th>site</th><th>expression</th><th>verdict</th><th>what happens</th><th>triage</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

/** The emulated rest: counted, with the per-file counts folded. */
function infoSection(s: ReportSections, allListed: boolean): string {
  const i = s.info;
  if (!i.total) return '';
  const rows = i.byFile.map(([f, n]) => `<tr><td>${esc(f)}</td><td class="num">${n}</td></tr>`).join('');
  return `<section id="informational" class="tier"><h2>Informational (${i.total})</h2>
<p>Accesses the #VE handler emulates (${i.byVerdict.map(([v, n]) => `${n} ${esc(v)}`).join(', ')}): ${i.byRule.map(([r, n]) => `${n} <code>${esc(r)}</code>`).join(', ')}; in ${i.byFile.length} file${i.byFile.length === 1 ? '' : 's'}. ${allListed ? 'Each is in the list of all findings below.' : 'Too many to list here: the JSON and SARIF reports hold each one.'}</p>
<details><summary>Per file</summary><table class="sortable" id="informational-table"><thead><tr><th>file</th><th class="num">sites</th></tr></thead><tbody>${rows}</tbody></table></details></section>`;
}

/** The charts and the per-subsystem counts: after the findings. */
function charts(model: ReportDoc): string {
  const c = model.counts;
  const verdictRows = VERDICT_ORDER.filter((v) => c.byVerdict[v]).map((v) => ({ label: v, parts: [{ value: c.byVerdict[v] ?? 0, color: VERDICT_COLOR[v], name: 'sites' }] }));
  const top = c.bySubsystem.slice(0, 15);
  const rest = c.bySubsystem.slice(15);
  const subRows = top.map((s) => ({ label: s.subsystem, parts: VERDICT_ORDER.map((v) => ({ value: s.byVerdict[v] ?? 0, color: VERDICT_COLOR[v], name: v })) }));
  if (rest.length) {
    subRows.push({
      label: `${rest.length} more`,
      parts: VERDICT_ORDER.map((v) => ({ value: rest.reduce((a, s) => a + (s.byVerdict[v] ?? 0), 0), color: VERDICT_COLOR[v], name: v })),
    });
  }
  const legend = VERDICT_ORDER.filter((v) => c.byVerdict[v]).map((v) => verdictPill(v)).join(' ');
  const present = VERDICT_ORDER.filter((v) => c.byVerdict[v]);
  const subTable = c.bySubsystem
    .map((s) => `<tr><td>${esc(s.subsystem)}</td><td class="num">${s.total}</td>${present.map((v) => `<td class="num">${s.byVerdict[v] ?? ''}</td>`).join('')}</tr>`)
    .join('');
  return `<section id="charts"><h2>By verdict and subsystem</h2>
<div class="charts"><figure><figcaption>By verdict</figcaption>${verdictRows.length ? barChart('Findings by verdict', verdictRows) : '<p class="note">No findings.</p>'}</figure>
<figure><figcaption>By subsystem</figcaption>${subRows.length ? barChart('Findings by subsystem and verdict', subRows) : '<p class="note">No findings.</p>'}<div>${legend}</div></figure></div>
<table class="sortable" id="subsystems"><thead><tr><th>subsystem</th><th class="num">findings</th>${present.map((v) => `<th class="num">${esc(v)}</th>`).join('')}</tr></thead><tbody>${subTable}</tbody></table></section>`;
}

function provenance(model: ReportDoc): string {
  const p = model.provenance;
  const rows: [string, string][] = [
    ['kernel', p.kernel ? `${esc(p.kernel.version)}${p.kernel.name ? ` “${esc(p.kernel.name)}”` : ''} <span class="note">(${esc(p.kernel.makefile)})</span>` : '<span class="note">not a kernel tree (no top-level Makefile with VERSION)</span>'],
    ['tree root', `<code>${esc(p.root)}</code>`],
    ['scope', scopeLabels(p).map((s) => `<code>${esc(s)}</code>`).join(', ')],
    ['profile', `<code>${esc(p.profile)}</code>`],
    [
      '.config',
      p.config
        ? `<code>${esc(p.config.path)}</code>: ${Object.entries(p.config.options).map(([k, v]) => `<code>${esc(k)}=${esc(v)}</code>`).join(', ') || 'no TDX options set'}`
        : '<span class="note">none found</span>',
    ],
    ['compiler', p.compilers.length ? p.compilers.map((c) => `<code>${esc(c)}</code>`).join('<br>') : '<span class="note">unknown (no objects read)</span>'],
    [
      'objects',
      p.objects.length || p.headersWithoutObject
        ? esc(objectStateText(p))
        : `<span class="note">${esc(p.compiledNote ?? 'none read: source audit only')}</span>`,
    ],
    ['tool', `tdx-audit ${esc(p.tool.version)}`],
    ['generated', esc(p.generatedAt)],
  ];
  if (model.baseline) {
    const b = model.baseline;
    rows.push(['baseline', `<code>${esc(b.source)}</code>: <b>${b.new} new</b>, ${b.fixed.length} fixed, ${b.unchanged} unchanged`]);
  }
  const stale = p.objects.filter((o) => o.state !== 'fresh');
  const staleTable = stale.length
    ? `<details id="objects"><summary>Objects not fresh (${stale.length})</summary><table class="sortable fixed"><colgroup><col style="width:25%"><col style="width:25%"><col style="width:12%"><col></colgroup><thead><tr><th>source</th><th>object</th><th>state</th><th>why</th></tr></thead><tbody>${stale
        .map((o) => `<tr><td>${esc(o.source)}</td><td><code>${esc(o.object ?? '')}</code></td><td>${esc(o.state)}</td><td>${esc(o.message)}</td></tr>`)
        .join('')}</tbody></table></details>`
    : '';
  return `<section id="provenance"><h2>Provenance</h2><dl class="prov">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>${staleTable}</section>`;
}

function functionRow(r: LandingRow): string {
  const verdicts = r.verdicts
    ? Object.entries(r.verdicts)
        .map(([v, n]) => `${n} ${esc(v)}`)
        .join(', ')
    : '';
  return `<tr><td>${esc(r.file)}</td><td><code>${esc(r.function)}</code></td><td class="num">${r.line ?? ''}</td><td>${esc(r.from)}</td><td class="num">${r.direct ?? ''}</td><td>${r.via.map((v) => `<code>${esc(v)}</code>`).join(', ')}</td><td class="num">${r.reached ?? ''}</td><td class="num">${r.instructions ?? ''}</td><td>${verdicts}</td></tr>`;
}

function* functionsTable(count: number, rows: Iterable<LandingRow>): Generator<string> {
  yield `<section id="functions"><details class="ref"><summary>Where the #VE lands (${count} function${count === 1 ? '' : 's'})</summary>
<p class="note">A #VE reports the instruction's RIP: static helpers are inlined into their callers, so each row is a function that holds #VE sites after inlining (from the object when one was read, else from the source view).</p>
<div class="tools" data-filter-for="functions-table"><input type="search" placeholder="Filter functions…" aria-label="Filter functions"><span class="count"></span></div>
<table class="sortable fixed" id="functions-table"><colgroup><col style="width:20%"><col style="width:17%"><col style="width:6%"><col style="width:7%"><col style="width:6%"><col><col style="width:7%"><col style="width:9%"><col style="width:13%"></colgroup><thead><tr><th>file</th><th>function</th><th class="num">line</th><th>from</th><th class="num">direct</th><th>via helpers</th><th class="num">reached</th><th class="num">instructions</th><th>verdicts</th></tr></thead><tbody>`;
  for (const r of rows) yield functionRow(r);
  yield `</tbody></table></details></section>`;
}

/**
 * A whole-tree audit has 100,000+ informational io.h sites: listing each makes a
 * page no browser opens. Past this many findings only the notable ones are listed
 * (and counted per file otherwise); the JSON report always has every finding.
 */
export const HTML_LIST_ALL_LIMIT = 5000;

/** Worth a row of its own in a large report: not merely an emulated, untriaged io.h access. */
function notable(f: FindingKey): boolean {
  return f.severity === 'error' || f.severity === 'warning' || (f.verdict !== 'emulated' && f.verdict !== 'out-of-line') || !!f.triage || f.baseline === 'new';
}

/** The indices (in the model's order: anchors stay stable) of the findings the page lists. */
function* listed(model: ReportDoc): Generator<number> {
  const all = model.keys.length <= HTML_LIST_ALL_LIMIT;
  for (let i = 0; i < model.keys.length; i++) if (all || notable(model.keys[i]!)) yield i;
}

function unlistedTable(model: ReportDoc): string {
  if (model.keys.length <= HTML_LIST_ALL_LIMIT) return '';
  const byFile = new Map<string, number>();
  for (const f of model.keys) if (!notable(f)) byFile.set(f.file, (byFile.get(f.file) ?? 0) + 1);
  const rows = [...byFile.entries()].sort((a, b) => b[1] - a[1]).map(([file, n]) => `<tr><td>${esc(file)}</td><td class="num">${n}</td></tr>`).join('');
  const total = [...byFile.values()].reduce((a, b) => a + b, 0);
  return `<section id="unlisted"><h2>Informational sites not listed (${total})</h2>
<p class="note">With ${model.keys.length} findings, this page lists only errors, warnings, instructions not emulated, triaged and new findings; the rest are emulated io.h accesses, counted here per file. The JSON and SARIF reports hold every finding.</p>
<table class="sortable" id="unlisted-table"><thead><tr><th>file</th><th class="num">sites</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function* findingsTable(model: ReportDoc): Generator<string> {
  // Where no object was read at all, every verdict is from the source: no need to say so per row.
  const mixed = model.keys.some((f) => f.verdictFrom === 'compiled');
  const row = (f: ReportFinding, i: number) => {
    const cls = f.deemphasised ? ' class="dim"' : '';
    return `<tr${cls} data-severity="${esc(f.severity)}" data-verdict="${esc(f.verdict)}" data-rule="${esc(f.rule)}"><td data-sort="${esc(`${f.file}:${String(line(f)).padStart(7, '0')}`)}"><a href="#site-${i}">${esc(f.file)}:${line(f)}</a></td><td><code>${esc(f.function ?? '(file scope)')}</code></td><td class="msg"><code>${esc(f.expression)}</code></td><td>${esc(f.rule)}</td><td data-sort="${SEVERITIES.indexOf(f.severity)}">${pill(f.severity, SEVERITY_COLOR[f.severity])}</td><td data-sort="${VERDICT_ORDER.indexOf(f.verdict)}">${verdictPill(f.verdict)}${mixed && f.verdictFrom === 'source' ? '<span class="note"> (source)</span>' : ''}</td><td>${esc(f.triage?.status ?? '')}${f.baseline === 'new' ? ' <b>new</b>' : ''}</td><td>${esc(f.subsystem)}</td></tr>`;
  };
  const opt = (xs: readonly string[]) => xs.map((x) => `<option value="${esc(x)}">${esc(x)}</option>`).join('');
  const rules = [...new Set(model.keys.map((f) => f.rule))].sort();
  yield `<section id="findings"><h2>All findings</h2>
<div class="tools" data-filter-for="findings-table"><input type="search" placeholder="Filter by file, function, expression…" aria-label="Filter findings">
<select data-attr="data-severity" aria-label="Severity"><option value="">any severity</option>${opt(SEVERITIES)}</select>
<select data-attr="data-verdict" aria-label="Verdict"><option value="">any verdict</option>${opt(VERDICT_ORDER.filter((v) => model.counts.byVerdict[v]))}</select>
<select data-attr="data-rule" aria-label="Rule"><option value="">any rule</option>${opt(rules)}</select>
<label><input type="checkbox" data-hide-dim> hide triaged safe/excluded/trusted</label><span class="count"></span></div>
<table class="sortable fixed" id="findings-table"><colgroup><col style="width:16%"><col style="width:13%"><col><col style="width:13%"><col style="width:9%"><col style="width:12%"><col style="width:7%"><col style="width:9%"></colgroup><thead><tr><th>site</th><th>function</th><th>expression</th><th>rule</th><th>severity</th><th>verdict</th><th>triage</th><th>subsystem</th></tr></thead><tbody>`;
  for (const i of listed(model)) yield row(model.finding(i), i);
  yield `</tbody></table></section>`;
}

function siteDetails(f: ReportFinding, i: number): string {
  const help = ruleHelp(f.rule);
  const parts: string[] = [];
  parts.push(`<p>${message(f.message)}</p>`);
  parts.push(`<p class="note">${esc(ruleTitle(f.rule))}. ${esc(help.fix)}${help.kernel.length ? ` Kernel: ${help.kernel.map((k) => `<code>${esc(k)}</code>`).join(', ')}.` : ''}</p>`);
  if (f.via.length) parts.push(`<p>Via: ${f.via.map((v) => `<code>${esc(v.name)}</code> → <code>${esc(v.callee)}</code> (${esc(v.file)}:${v.line})`).join(' · ')}</p>`);
  if (f.related.length) parts.push(`<ul>${f.related.map((r) => `<li>${esc(r.file)}:${r.range.start.line + 1}: ${esc(r.message)}</li>`).join('')}</ul>`);
  if (f.triage) {
    parts.push(`<p>Triage: <b>${esc(f.triage.status)}</b>${f.triage.comment ? ` — ${esc(f.triage.comment)}` : ''}${f.triage.who ? ` <span class="note">(${esc(f.triage.who)}${f.triage.when ? `, ${esc(f.triage.when)}` : ''})</span>` : ''}</p>`);
  }
  if (f.compiled) {
    if (f.compiled.instructions.length) {
      parts.push(
        `<table class="fixed"><colgroup><col style="width:16%"><col style="width:12%"><col style="width:18%"><col style="width:10%"><col style="width:5%"><col style="width:12%"><col></colgroup><thead><tr><th>function+offset</th><th>bytes</th><th>instruction (Intel)</th><th>class</th><th class="num">size</th><th>verdict</th><th>emulation</th></tr></thead><tbody>${f.compiled.instructions
          .map(
            (ins) =>
              `<tr><td><code>${esc(ins.function)}+0x${ins.offset.toString(16)}</code><br><span class="note">${esc(ins.section)}</span></td><td><code>${esc(ins.bytes)}</code></td><td><code>${esc(ins.text)}</code></td><td>${esc(ins.class)}</td><td class="num">${ins.size}</td><td>${verdictPill(ins.verdict)}${ins.misemulation.length ? `<br><span class="note">${esc(ins.misemulation.join(', '))}</span>` : ''}</td><td>${esc(ins.summary)}${ins.calleeNote ? `<br><span class="note">${esc(ins.calleeNote)}</span>` : ''}</td></tr>`,
          )
          .join('')}</tbody></table>`,
      );
    }
    if (f.compiled.note) parts.push(`<p class="note">Compiled form: ${esc(f.compiled.note)}</p>`);
    else if (!f.compiled.instructions.length) parts.push('<p class="note">Compiled form: no instruction found for this site.</p>');
  } else parts.push('<p class="note">Compiled form: not read (no object or vmlinux for this file).</p>');
  parts.push(`<p class="note mono">fingerprint ${esc(f.fingerprint)}</p>`);
  return `<details class="site${f.deemphasised ? ' dim' : ''}" id="site-${i}"><summary>${verdictPill(f.verdict)} <b>${esc(f.file)}:${line(f)}</b> <code>${esc(f.function ?? '(file scope)')}</code>: <code>${esc(f.expression)}</code></summary>${parts.join('')}</details>`;
}

/**
 * The page in pieces: the long parts (the findings table, the site details, the
 * functions table) row by row, so a whole tree's page is never one string.
 */
export function* htmlChunks(source: ReportSource): Generator<string> {
  const model = asDoc(source);
  const p = model.provenance;
  const title = `TDX #VE audit${p.kernel ? ` — Linux ${p.kernel.version}` : ''}`;
  const s = reportSections(model);
  yield `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tdx-audit ${esc(p.tool.version)}">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><p>${esc(scopeLabels(p).join(', '))} · profile ${esc(p.profile)} · ${esc(p.generatedAt)}</p></header>
<main>${summary(model, s)}${failingSection(s)}${warningSection(s)}${infoSection(s, model.keys.length <= HTML_LIST_ALL_LIMIT)}`;
  yield* findingsTable(model);
  yield charts(model);
  yield `
<section id="details"><h2>Sites</h2>`;
  let first = true;
  for (const i of listed(model)) {
    yield (first ? '' : '\n') + siteDetails(model.finding(i), i);
    first = false;
  }
  yield `</section>${unlistedTable(model)}`;
  yield* functionsTable(model.functionCount, model.functions());
  yield `${provenance(model)}</main>
<script>${JS}</script></body></html>
`;
}

export function htmlText(source: ReportSource): string {
  return [...htmlChunks(source)].join('');
}
