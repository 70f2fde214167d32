#!/usr/bin/env node
// Real-world check of MMIO provenance (issue 7): lists every tdx-mmio-untyped-deref
// finding in drivers/ and arch/x86 of Debian's 6.1 tree, and, for chosen sites,
// builds the object under the tree's config and shows what gcc emitted for the
// site's line and what the TDX #VE handler does with it.
//
// Usage (from the repository root; runs the TypeScript sources through tsx):
//   node --import tsx scripts/kernel/untyped-derefs.mjs scan [TREE] [--out FILE] [--dirs drivers,arch/x86]
//   node --import tsx scripts/kernel/untyped-derefs.mjs merge --out FILE SHARD.json...   (after scan --shard i/n --out SHARD.json)
//   node --import tsx scripts/kernel/untyped-derefs.mjs sample [--out FILE] [--n 40] [--seed 7]
//   node --import tsx scripts/kernel/untyped-derefs.mjs objects [TREE] [--out FILE] [--sites FILE:LINE,...] [--build]
// TREE defaults to $TDX_KERNEL_DIR/linux-source-6.1 (scripts/kernel/prepare.sh);
// FILE defaults to $TDX_KERNEL_DIR/untyped-derefs.json. Nothing is written into the
// repository; kernel source and objects stay in the tree.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine.ts';
import { classifyMmio } from '../../server/src/x86/classify.ts';

const argv = process.argv.slice(2);
const cmd = argv[0] && !argv[0].startsWith('-') ? argv.shift() : 'scan';
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const flag = (name) => argv.includes(`--${name}`);
const base = process.env.TDX_KERNEL_DIR ?? '/var/tmp/tdx-audit-kernel';
const tree = argv[0] && !argv[0].startsWith('-') ? argv[0] : join(base, 'linux-source-6.1');
const out = opt('out', join(base, 'untyped-derefs.json'));

function walk(dir, acc) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, acc);
    else if (/\.[ch]$/.test(e.name)) acc.push(p);
  }
  return acc;
}

async function scan() {
  if (!existsSync(join(tree, 'Makefile'))) throw new Error(`no kernel tree at ${tree}`);
  const dirs = opt('dirs', 'drivers,arch/x86').split(',');
  // --shard i/n: every n-th file starting at i, so n processes can share the tree.
  const [si, sn] = opt('shard', '0/1').split('/').map(Number);
  const files = dirs.flatMap((d) => walk(join(tree, d), [])).sort().filter((_, i) => i % sn === si);
  const engine = await AuditEngine.create({
    readFile: (p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
  });
  const sites = [];
  let ms = 0;
  let slowest = { file: '', ms: 0 };
  const t0 = performance.now();
  for (const [i, f] of files.entries()) {
    const text = readFileSync(f, 'utf8');
    const a = engine.auditOnce(f, text);
    ms += a.ms;
    if (a.ms > slowest.ms) slowest = { file: relative(tree, f), ms: a.ms };
    for (const x of a.findings) {
      if (x.rule !== 'tdx-mmio-untyped-deref') continue;
      const s = x.site;
      sites.push({
        file: relative(tree, f),
        line: s.range.start.line + 1,
        column: s.range.start.character + 1,
        endLine: s.callRange.end.line + 1,
        function: s.function,
        accessor: s.accessor,
        kind: s.accessorKind,
        width: s.width,
        shape: s.shape ?? null,
        address: s.address.replace(/\s+/g, ' ').slice(0, 160),
        origin: s.declaredAt ? { name: s.declaredAt.name, file: relative(tree, s.declaredAt.file), line: s.declaredAt.range.start.line + 1 } : null,
        path: (s.path ?? []).map((p) => `${p.range.start.line + 1}: ${p.message}`),
        text: text.split('\n')[s.range.start.line].trim().slice(0, 200),
      });
    }
    if ((i + 1) % 2000 === 0) process.stderr.write(`  ${i + 1}/${files.length} files, ${sites.length} sites\n`);
  }
  const wall = performance.now() - t0;
  writeFileSync(out, JSON.stringify({ tree, files: files.length, analysisMs: ms, wallMs: wall, slowest, sites }, null, 1));
  summary({ files: files.length, analysisMs: ms, wallMs: wall, slowest, sites });
}

/** Merges shard outputs (--out of each) into one file and prints the summary. */
function merge() {
  const parts = argv.filter((a, i) => a.endsWith('.json') && argv[i - 1] !== '--out');
  const rs = parts.map((p) => JSON.parse(readFileSync(p, 'utf8')));
  const r = {
    tree: rs[0].tree,
    files: rs.reduce((a, x) => a + x.files, 0),
    analysisMs: rs.reduce((a, x) => a + x.analysisMs, 0),
    wallMs: Math.max(...rs.map((x) => x.wallMs)),
    slowest: rs.map((x) => x.slowest).sort((a, b) => b.ms - a.ms)[0],
    sites: rs.flatMap((x) => x.sites).sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column),
  };
  writeFileSync(out, JSON.stringify(r, null, 1));
  summary(r);
}

function summary(r) {
  const count = (key) => {
    const m = new Map();
    for (const s of r.sites) m.set(key(s), (m.get(key(s)) ?? 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1]);
  };
  console.log(`${r.files} files, ${r.sites.length} untyped MMIO dereferences, analysis ${(r.analysisMs / 1000).toFixed(1)} s (wall ${(r.wallMs / 1000).toFixed(1)} s), slowest ${r.slowest.file} ${r.slowest.ms.toFixed(0)} ms`);
  console.log('by shape:', count((s) => s.shape ?? s.accessor).map(([k, v]) => `${k} ${v}`).join(', '));
  console.log('by origin:', count((s) => (s.origin?.name ?? '?')).slice(0, 15).map(([k, v]) => `${k} ${v}`).join(', '));
  console.log('by driver (directory):');
  for (const [k, v] of count((s) => s.file.replace(/\/[^/]+$/, ''))) console.log(`  ${String(v).padStart(4)}  ${k}`);
}

/** A deterministic sample (mulberry32), spread over files. */
function sample() {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  const n = Number(opt('n', '40'));
  let seed = Number(opt('seed', '7')) >>> 0;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pool = [...r.sites];
  const picked = [];
  while (picked.length < n && pool.length) picked.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]);
  picked.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  for (const s of picked) {
    console.log(`${s.file}:${s.line}:${s.column} ${s.function} ${s.accessor}${s.shape ? `/${s.shape}` : ''} w=${s.width} [${s.address}] from ${s.origin?.name}@${s.origin?.line} via ${s.path.join(' | ')}`);
    console.log(`    ${s.text}`);
  }
}

/** Instructions gcc emitted for each chosen site's line, with the #VE verdict of each memory access. */
function objects() {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  const want = opt('sites', '');
  const chosen = want
    ? want.split(',').map((k) => r.sites.find((s) => `${s.file}:${s.line}` === k)).filter(Boolean)
    : r.sites;
  const byObj = new Map();
  for (const s of chosen) {
    const obj = s.file.replace(/\.c$/, '.o');
    if (!s.file.endsWith('.c')) continue;
    if (!byObj.has(obj)) byObj.set(obj, []);
    byObj.get(obj).push(s);
  }
  for (const [obj, sites] of byObj) {
    const path = join(tree, obj);
    const src = join(tree, sites[0].file);
    if ((!existsSync(path) || statSync(path).mtimeMs < statSync(src).mtimeMs) && flag('build')) {
      const b = spawnSync('make', ['-j2', obj], { cwd: tree, encoding: 'utf8', timeout: 900_000 });
      if (b.status !== 0 || !existsSync(path)) {
        const log = `${b.stderr}\n${b.stdout}`;
        const err = log.split('\n').find((l) => /error:/.test(l));
        const why = /No rule to make target/.test(log) || !err ? 'not built under this config (no object, no compile error)' : `build failed: ${err.trim()}`;
        for (const s of sites) console.log(`${s.file}:${s.line} ${s.function}: ${why}`);
        continue;
      }
    }
    if (!existsSync(path)) {
      for (const s of sites) console.log(`${s.file}:${s.line} ${s.function}: no object (run with --build)`);
      continue;
    }
    const insns = disassemble(path, sites[0].file);
    for (const s of sites) {
      const lines = new Set();
      for (let l = s.line; l <= s.endLine; l++) lines.add(l);
      const mine = insns.filter((i) => lines.has(i.line) && /\(/.test(i.text) && !/^(lea|nop|call|jmp|push|pop)/.test(i.text) && !/%rip\)/.test(i.text) && !/\(%rsp\)|\(%rbp\)/.test(i.text));
      console.log(`${s.file}:${s.line} ${s.function} ${s.accessor}${s.shape ? `/${s.shape}` : ''} [${s.address}]`);
      if (!mine.length) console.log('    (no memory instruction on this line: inlined elsewhere, merged, or dead)');
      for (const i of mine) {
        const v = classifyMmio(Uint8Array.from(i.bytes.split(' ').map((b) => parseInt(b, 16))), 'tdx-linux-6.1');
        console.log(`    ${i.fn}+0x${i.off}: ${i.text.padEnd(40)} ${v.kernelEnum} -> ${v.verdict}${v.misemulation.length ? ` (${v.misemulation.join(',')})` : ''}`);
      }
    }
  }
}

function disassemble(obj, source) {
  const text = execFileSync('objdump', ['-d', '-l', '--insn-width=16', obj], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const insns = [];
  let fn = '';
  let line = 0;
  const want = source.split('/').pop();
  for (const l of text.split('\n')) {
    const head = /^[0-9a-f]+ <([^>]+)>:$/.exec(l);
    if (head) {
      fn = head[1];
      continue;
    }
    const loc = /^(\S.*):(\d+)(?: \(discriminator \d+\))?$/.exec(l);
    if (loc) {
      line = loc[1].endsWith(`/${want}`) || loc[1] === want ? Number(loc[2]) : 0;
      continue;
    }
    const ins = /^\s+([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$/.exec(l);
    if (ins) insns.push({ fn, off: ins[1], line, bytes: ins[2].trim(), text: ins[3].replace(/\s+#.*$/, '').replace(/\s+/g, ' ').trim() });
  }
  return insns;
}

const run = { scan, merge, sample, objects }[cmd];
if (!run) {
  console.error(`unknown command ${cmd}: scan | sample | objects`);
  process.exit(2);
}
await run();
