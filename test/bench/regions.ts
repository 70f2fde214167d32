// The region audit (server/src/audit/regions.ts) against the whole-file audit: the
// same `scan --format json` with the region filter on and off (TDX_AUDIT_NO_REGIONS=1),
// compared field by field (per-file `ms` aside), with each run's CPU and the bytes
// the parser was given.
//
//   node --import tsx test/bench/regions.ts TREE... [--header-cache-dir DIR] [--objects X]...
//        [--out DIR] [--jobs N] [--no-bytes] [--cli dist/cli.js] [--off-cli OTHER/dist/cli.js] [--order on,off]
//
// Runs the built CLI (npm run build first); --off-cli runs the `off` scan with another
// build (main's, which has no region audit) for a CPU pair of builds. Exits 1 when sites, functions or
// instructions differ. Bytes: one engine in this process audits the files the scan
// audited with the region audit on and sums what it blanked (load-independent).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { AuditEngine } from '../../server/src/audit/engine';
import type { RegionStats } from '../../server/src/audit/regions';
import { batchHost } from '../../server/src/audit/sources';
import { readTextOrUndefined } from '../../server/src/fs/safeRead';
import { ROOT } from './lib';

interface Args {
  trees: string[];
  pass: string[];
  out: string;
  bytes: boolean;
  cli: string;
  /** The CLI of the `off` run when not `cli` (main's build: a pair of builds, not of switches). */
  offCli?: string;
  order: string[];
  headerCacheDir?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { trees: [], pass: [], out: '/tmp/regions/bench', bytes: true, cli: join(ROOT, 'dist/cli.js'), order: ['on', 'off'] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--out') a.out = argv[++i]!;
    else if (x === '--no-bytes') a.bytes = false;
    else if (x === '--cli') a.cli = resolve(argv[++i]!);
    else if (x === '--off-cli') a.offCli = resolve(argv[++i]!);
    else if (x === '--order') a.order = argv[++i]!.split(',');
    else if (x === '--header-cache-dir') {
      a.headerCacheDir = argv[++i]!;
      a.pass.push(x, a.headerCacheDir);
    } else if (x === '--objects' || x === '--jobs') a.pass.push(x, argv[++i]!);
    else if (x.startsWith('--')) a.pass.push(x);
    else a.trees.push(resolve(x));
  }
  if (!a.trees.length) throw new Error('usage: regions.ts TREE... [--header-cache-dir DIR] [--objects X]...');
  return a;
}

interface Run {
  mode: string;
  json: string;
  wall: number;
  cpu: number;
  rssKiB: number;
  load: string;
}

function scan(a: Args, mode: string): Run {
  mkdirSync(a.out, { recursive: true });
  const json = join(a.out, `scan-${mode}.json`);
  const timeFile = join(a.out, `time-${mode}.txt`);
  const env = { ...process.env };
  if (mode === 'off') env.TDX_AUDIT_NO_REGIONS = '1';
  else delete env.TDX_AUDIT_NO_REGIONS;
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, mode === 'off' ? a.offCli ?? a.cli : a.cli, 'scan', ...a.trees, '--format', 'json', '--exit-zero', ...a.pass], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 4 << 30,
  });
  writeFileSync(join(a.out, `stderr-${mode}.txt`), r.stderr ?? '');
  if (r.status !== 0) throw new Error(`scan (${mode}) exited ${r.status} (stderr in ${a.out})`);
  writeFileSync(json, r.stdout);
  const [wall, user, sys, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { mode, json, wall: wall!, cpu: user! + sys!, rssKiB: rss!, load: `${load} → ${loadavg().map((x) => x.toFixed(2)).join(' ')}` };
}

type Doc = Record<string, unknown[]>;
const fileOf = (x: unknown) => ((x as { file?: string; site?: { file: string } }).file ?? (x as { site?: { file: string } }).site?.file ?? '');

/** Each difference between the two documents: field, file, and what. */
function compare(on: Doc, off: Doc): { field: string; file: string; what: string }[] {
  const out: { field: string; file: string; what: string }[] = [];
  for (const field of new Set([...Object.keys(on), ...Object.keys(off)])) {
    const x = on[field];
    const y = off[field];
    if (!Array.isArray(x) || !Array.isArray(y)) {
      if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ field, file: '', what: `${JSON.stringify(x)} vs ${JSON.stringify(y)}` });
      continue;
    }
    const strip = (v: unknown) => {
      if (field !== 'files' || typeof v !== 'object' || v === null) return JSON.stringify(v);
      const { ms: _ms, ...rest } = v as Record<string, unknown>;
      return JSON.stringify(rest);
    };
    // Grouped by file: a row missing, added or changed.
    const group = (xs: unknown[]) => {
      const m = new Map<string, string[]>();
      for (const v of xs) {
        const f = fileOf(v);
        let l = m.get(f);
        if (!l) m.set(f, (l = []));
        l.push(strip(v));
      }
      return m;
    };
    const gx = group(x);
    const gy = group(y);
    for (const f of new Set([...gx.keys(), ...gy.keys()])) {
      const a = gx.get(f) ?? [];
      const b = gy.get(f) ?? [];
      if (a.length === b.length && a.every((v, i) => v === b[i])) continue;
      if (field === 'files' && a.length === 1 && b.length === 1) {
        const pa = JSON.parse(a[0]!) as Record<string, unknown>;
        const pb = JSON.parse(b[0]!) as Record<string, unknown>;
        const keys = Object.keys({ ...pa, ...pb }).filter((k) => JSON.stringify(pa[k]) !== JSON.stringify(pb[k]));
        out.push({ field, file: f, what: keys.map((k) => `${k}: ${JSON.stringify(pa[k])} (on) vs ${JSON.stringify(pb[k])} (off)`).join('; ') });
        continue;
      }
      const sa = new Set(a);
      const sb = new Set(b);
      const only = (p: string[], q: Set<string>) => p.filter((v) => !q.has(v));
      out.push({ field, file: f, what: `${a.length} rows (on) vs ${b.length} (off); only on: ${only(a, sb).slice(0, 3).join(' | ')}; only off: ${only(b, sa).slice(0, 3).join(' | ')}` });
    }
  }
  return out;
}

async function bytes(a: Args, files: string[]): Promise<AuditEngine['regionTotals'] & { read: number; later: number }> {
  const engine = await AuditEngine.create(batchHost());
  engine.configure({ followIncludes: true, headerCache: a.headerCacheDir !== undefined, ...(a.headerCacheDir ? { headerCacheDir: a.headerCacheDir } : {}), regions: true });
  /** Characters parsed as code over every round (a file analysed whole after rounds: its rounds too), and files that took more than one round. */
  let read = 0;
  let later = 0;
  for (const f of files) {
    const text = readTextOrUndefined(f);
    if (text === undefined) continue;
    engine.lastRegions = undefined;
    engine.auditOnce(f, text);
    const s = engine.lastRegions as RegionStats | undefined;
    if (!s) continue;
    read += (s.read ?? 0) + (s.whole ? text.length : 0);
    if (s.rounds > 1) later++;
  }
  return { ...engine.regionTotals, read, later };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const runs = new Map<string, Run>();
  for (const mode of a.order) {
    const r = scan(a, mode);
    runs.set(mode, r);
    console.log(`scan (regions ${mode}): ${r.wall.toFixed(1)} s wall, ${r.cpu.toFixed(1)} s CPU, ${(r.rssKiB / 1024).toFixed(0)} MiB peak, load ${r.load}`);
  }
  const on = JSON.parse(readFileSync(runs.get('on')!.json, 'utf8')) as Doc;
  const off = JSON.parse(readFileSync(runs.get('off')!.json, 'utf8')) as Doc;
  const diffs = compare(on, off);
  const counts = Object.fromEntries(Object.entries(on).map(([k, v]) => [k, Array.isArray(v) ? v.length : v]));
  console.log(`rows (on): ${JSON.stringify(counts)}`);
  const byField = new Map<string, number>();
  for (const d of diffs) byField.set(d.field, (byField.get(d.field) ?? 0) + 1);
  console.log(`differences: ${diffs.length} ${JSON.stringify(Object.fromEntries(byField))}`);
  for (const d of diffs) console.log(`  ${d.field} ${d.file}: ${d.what}`);
  if (a.bytes) {
    const files = (on.files as { file: string }[]).map((f) => f.file);
    const t = await bytes(a, files);
    const parsed = t.chars - t.blanked;
    console.log(`bytes: ${files.length} files audited, ${t.chars} characters, ${t.blanked} blanked: ${parsed} given to the parser as code (${((100 * parsed) / Math.max(1, t.chars)).toFixed(1)} %; the only characters the rewrite and tree-sitter read: the blanked insides are left out), ${t.rounds} region analyses (${t.later} files took more than one round); characters parsed over all rounds and whole audits: ${t.read}; audited whole: ${JSON.stringify(Object.fromEntries(t.whole))}`);
  }
  const bad = diffs.filter((d) => d.field !== 'files' || !/^parseErrors: [^;]*$/.test(d.what));
  process.exitCode = bad.length ? 1 : 0;
}

void main();
