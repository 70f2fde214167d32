#!/usr/bin/env node
// Real-world check of the source audit against `grep -nw` on Debian's 6.1 tree.
// For each file: the catalogue names grep finds on lines inside function bodies,
// against the call sites `tdx-audit scan --format json` lists, and the
// tree-sitter ERROR/MISSING counts with and without the annotation rewrite.
// Usage: node scripts/kernel/check-sites.mjs [TREE]   (needs `npm run build`; TREE
// defaults to $TDX_KERNEL_DIR/linux-source-6.1, prepared by scripts/kernel/prepare.sh)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelTree } from './tree.mjs';
import { createRequire } from 'node:module';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const tree = kernelTree(process.argv[2]);
const FILES = [
  'drivers/ata/libahci.c', 'arch/x86/kernel/apic/io_apic.c', 'drivers/pci/msi/msi.c',
  'arch/x86/pci/mmconfig_64.c', 'drivers/watchdog/iTCO_wdt.c', 'lib/iomap.c',
  ...['netdev', 'ich8lan', 'mac', 'nvm', 'phy', 'manage', '80003es2lan', '82571', 'ethtool', 'param', 'ptp']
    .map((f) => `drivers/net/ethernet/intel/e1000e/${f}.c`),
];

const cli = join(repo, 'dist/cli.js');
const require = createRequire(import.meta.url);
// The catalogue names, from the built CLI's own table (one source of truth).
const names = JSON.parse(execFileSync(process.execPath, ['-e', `
  require(${JSON.stringify(join(repo, 'node_modules/tsx/dist/cjs/index.cjs'))});
  const c = require(${JSON.stringify(join(repo, 'server/src/c/catalogue.ts'))});
  process.stdout.write(JSON.stringify([...c.CATALOGUE.keys()]));`]).toString());

const { Parser, Language } = require(join(repo, 'node_modules/web-tree-sitter/tree-sitter.cjs'));
await Parser.init();
const C = await Language.load(join(repo, 'node_modules/tree-sitter-c/tree-sitter-c.wasm'));
const parser = new Parser();
parser.setLanguage(C);
const countErrors = (t) => {
  let n = 0;
  const walk = (node) => {
    if (node.isError || node.isMissing) n++;
    if (node.hasError) for (const c of node.children) walk(c);
  };
  walk(t.rootNode);
  return n;
};

const rows = [];
let totalGrep = 0, totalOurs = 0;
for (const rel of FILES) {
  const path = join(tree, rel);
  const text = readFileSync(path, 'utf8');
  const out = execFileSync(process.execPath, [cli, 'scan', path, '--format', 'json', '--exit-zero'], { maxBuffer: 1 << 28 });
  const j = JSON.parse(out.toString());
  const all = j.sites.filter((s) => s.file === path && s.siteKind === 'call' && s.base === s.accessor);
  const calls = all.filter((s) => s.function !== null);
  const macroSites = all.length - calls.length;
  // Lines of function bodies, from the tool's function table is circular; use the
  // raw parse instead: a body is a function_definition's compound_statement.
  const raw = parser.parse(text);
  const rawErrors = countErrors(raw);
  const defs = raw.rootNode.descendantsOfType('function_definition');
  const bodies = defs.map((f) => [f.startPosition.row + 1, f.endPosition.row + 1]);
  // A definition's own name (`unsigned int ioread8(...)`) is not a call.
  const definitions = new Set(defs.map((f) => {
    const id = f.childForFieldName('declarator')?.descendantsOfType('identifier')[0];
    return id ? `${id.startPosition.row + 1}:${id.text}` : '';
  }));
  raw.delete();
  const inBody = (line) => bodies.some(([a, b]) => line >= a && line <= b);
  let grepHits = [];
  try {
    grepHits = execFileSync('grep', ['-nwo', '-E', names.join('|'), path]).toString().trim().split('\n').filter(Boolean)
      .map((l) => { const [line, name] = l.split(':'); return { line: +line, name }; });
  } catch { /* grep exits 1 on no match */ }
  // grep -w also hits comments, strings and #define bodies: keep lines in bodies
  // where the name is followed by '(' as a call.
  const lines = text.split('\n');
  const grepCalls = grepHits.filter((h) => new RegExp(`\\b${h.name}\\s*\\(`).test(lines[h.line - 1]) &&
    !/^\s*(\*(\s|\/|$)|\/\/|\/\*|#)/.test(lines[h.line - 1]) && inBody(h.line) && !definitions.has(`${h.line}:${h.name}`));
  const ours = new Map();
  for (const c of calls) ours.set(`${c.line}:${c.accessor}`, (ours.get(`${c.line}:${c.accessor}`) ?? 0) + 1);
  const theirs = new Map();
  for (const g of grepCalls) theirs.set(`${g.line}:${g.name}`, (theirs.get(`${g.line}:${g.name}`) ?? 0) + 1);
  const onlyGrep = [...theirs].filter(([k, n]) => (ours.get(k) ?? 0) < n).map(([k]) => k);
  const onlyOurs = [...ours].filter(([k, n]) => (theirs.get(k) ?? 0) < n).map(([k]) => k);
  const file = j.files.find((f) => f.file === path);
  totalGrep += grepCalls.length;
  totalOurs += calls.length;
  rows.push({ file: rel, grep: grepCalls.length, ours: calls.length, macroSites, wrapperSites: j.sites.filter((s) => s.file === path && s.accessor !== s.base && s.siteKind === 'call').length,
    derefs: j.sites.filter((s) => s.file === path && s.siteKind !== 'call').length, rawErrors, errors: file?.parseErrors ?? 0,
    landing: j.functions.filter((f) => f.file === path && (f.direct > 0 || f.via.length)).length, onlyGrep, onlyOurs });
}
console.log('| file | grep -nw calls in bodies | tdx-audit catalogued calls in bodies | + in macro bodies | + wrapper sites | __iomem derefs | ERROR nodes raw → rewritten | functions where a #VE lands |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.file} | ${r.grep} | ${r.ours} | ${r.macroSites} | ${r.wrapperSites} | ${r.derefs} | ${r.rawErrors} → ${r.errors} | ${r.landing} |`);
console.log(`\ntotal: grep ${totalGrep}, tdx-audit ${totalOurs}`);
for (const r of rows) {
  if (r.onlyGrep.length) console.log(`${r.file}: only grep: ${r.onlyGrep.join(' ')}`);
  if (r.onlyOurs.length) console.log(`${r.file}: only tdx-audit: ${r.onlyOurs.join(' ')}`);
}
