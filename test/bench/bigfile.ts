// One very large generated C file (issue 15: "keep the 21 MB file <= 2x its parse
// time"): the audit of the whole file (the annotation rewrite, tree-sitter's parse,
// every analysis) against tree-sitter's parse of the same text alone, measured in
// the same process, alternating, median of RUNS. The rewrite is ours, so it counts
// on the audit's side only (until 2026-12-07 the peer included it, and a quadratic
// rewrite flattered the ratio); the ratio with it on both sides is printed beside. The file is generated here, never
// committed: driver-shaped code (register macros, a struct with __iomem fields,
// macro and static-inline wrappers, accessor calls, __iomem dereferences, ioremap'd
// pointers, memcpy_toio, locals and loops) repeated with fresh names to SIZE bytes.
//
//   node --import tsx test/bench/bigfile.ts [--mb 21] [--runs 3] [--out FILE] [--crossings] [--dump FILE] [--source]
//
// The measured code runs as it ships: this file bundled by esbuild (lib.ts
// bundleWorker, the build's options) and run in plain node. Under tsx each module
// is compiled on its own and every read of an imported binding is a getter call
// (`REWRITE_WORD[c]` in the rewrite's loop, `STARTS` in the region lexer's): 5-10 %
// of the audit on this file, none of it in dist/ (one scope, no getters), none in
// tree-sitter's parse (WASM). --source measures the tsx-compiled source instead, as
// this bench did until 2026-12-08.
//
// --dump FILE: the last audit's findings and sites as JSON (nodes as kind@start-end),
// to compare two builds' results.
//
// --crossings: one more audit, counting the calls of web-tree-sitter's Node accessors
// (each a crossing into WASM, most of them making a Node object): a figure the
// machine's load does not move, unlike CPU time on 2 shared cores. The node index's
// own direct WASM calls (c/wasmNodes.ts: walks, kinds, ends, Nodes made) are counted
// beside them.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { CParser } from '../../server/src/c/parser';
import { prepare } from '../../server/src/c/annotations';
import { Node, Tree } from 'web-tree-sitter';
import { wasmCalls, wasmNodesStatus } from '../../server/src/c/wasmNodes';
import { bundleWorker, fmtMs, log, median } from './lib';

const ACCESSORS = ['text', 'type', 'parent', 'endIndex', 'endPosition', 'namedChildren', 'children', 'namedChildCount'];
const METHODS = ['childForFieldName', 'childrenForFieldName', 'namedChild', 'child', 'descendantsOfType', 'descendantForIndex'];

/** Runs `f` with every accessor and method above counted; returns the counts, most called first. */
function countCrossings(f: () => void): [string, number][] {
  const proto = Node.prototype as unknown as Record<string, unknown>;
  const counts = new Map<string, number>();
  const saved = new Map<string, PropertyDescriptor>();
  for (const name of [...ACCESSORS, ...METHODS]) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (!d) continue;
    saved.set(name, d);
    const bump = () => counts.set(name, (counts.get(name) ?? 0) + 1);
    if (d.get) {
      const get = d.get;
      Object.defineProperty(proto, name, { ...d, get(this: unknown) { bump(); return get.call(this); } });
    } else if (typeof d.value === 'function') {
      const fn = d.value as (...a: unknown[]) => unknown;
      Object.defineProperty(proto, name, { ...d, value(this: unknown, ...a: unknown[]) { bump(); return fn.apply(this, a); } });
    }
  }
  try {
    f();
  } finally {
    for (const [name, d] of saved) Object.defineProperty(proto, name, d);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** One driver-shaped unit; `k` makes every name in it unique. */
function unit(k: number): string {
  return `
#define REG_CTRL_${k} 0x${(k * 16).toString(16)}
#define REG_STAT_${k} (REG_CTRL_${k} + 4)
#define rd_${k}(p, o) readl((p)->base + (o))
#define wr_${k}(p, o, v) do { writel((v), (p)->base + (o)); } while (0)

struct dev_${k} {
\tvoid __iomem *base;
\tu32 __iomem *doorbell;
\tint irq;
\tunsigned long flags;
\tchar name[32];
};

static inline u32 dev_${k}_read(struct dev_${k} *d, unsigned int off)
{
\treturn ioread32(d->base + off);
}

static int dev_${k}_probe(struct dev_${k} *d, resource_size_t start)
{
\tu32 v, i;
\tvoid *plain = d->name;
\tu8 *regs = ioremap(start, 0x1000);

\tif (!regs)
\t\treturn -ENOMEM;
\tv = rd_${k}(d, REG_STAT_${k});
\twr_${k}(d, REG_CTRL_${k}, v | 1);
\tfor (i = 0; i < 16; i++) {
\t\tv += dev_${k}_read(d, i * 4);
\t\tif (v & 0x80000000)
\t\t\tbreak;
\t}
\t*d->doorbell = v;
\tregs[8] = 1;
\tv = *(u32 *)(regs + 0x10);
\tmemcpy_toio(d->base + 0x100, plain, 16);
\tswitch (v & 3) {
\tcase 0: outb(0x${(k & 0xff).toString(16)}, 0x80); break;
\tcase 1: v = inl(0xcf8); break;
\tdefault: d->flags |= v; break;
\t}
\td->irq = (int)(v >> 4) + ${k};
\treturn d->irq > 0 ? 0 : -EIO;
}
`;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

export function generate(bytes: number): string {
  const parts: string[] = ['#include <linux/io.h>\n'];
  let n = parts[0]!.length;
  for (let k = 0; n < bytes; k++) {
    const u = unit(k);
    parts.push(u);
    n += u.length;
  }
  return parts.join('');
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const mb = Number(arg('--mb') ?? 21);
  const runs = Number(arg('--runs') ?? 3);
  const text = generate(mb * 1024 * 1024);
  const file = arg('--out') ?? join(tmpdir(), `tdx-bigfile-${process.pid}.c`);
  writeFileSync(file, text);
  log(`generated ${(text.length / 1048576).toFixed(1)} MB, ${text.split('\n').length} lines: ${file}`);
  log(`measuring ${process.env[BUNDLED] === '1' ? 'the esbuild bundle (as dist/ runs)' : 'the tsx-compiled source (--source)'}`);
  const parser = await CParser.create();
  const engine = await AuditEngine.create({ readFile: () => undefined });
  engine.configure({ followIncludes: false });
  // One untimed round first: tree-sitter's WASM is compiled to optimised code while
  // it runs, and the first parse of a large file pays for that (2 MB: 1.6 s cold,
  // 0.75 s warm), which would flatter the ratio.
  parser.parseOnce(prepare(text).text).delete();
  engine.auditOnce(file, text);
  const parseMs: number[] = [];
  const rewriteMs: number[] = [];
  const auditMs: number[] = [];
  const cpu0 = process.cpuUsage();
  let sites = 0;
  for (let i = 0; i < runs; i++) {
    // CPU time of this thread (the machine is shared: wall time is the load's).
    let t = process.cpuUsage();
    const prepared = prepare(text).text;
    rewriteMs.push(cpuMs(t));
    const tree = parser.parseOnce(prepared);
    parseMs.push(cpuMs(t));
    tree.delete();
    t = process.cpuUsage();
    const a = engine.auditOnce(file, text);
    auditMs.push(cpuMs(t));
    sites = a.analysis.sites.length;
    if (i === runs - 1) dump(a);
    log(`run ${i + 1}: parse ${fmtMs(parseMs[i]!)} (of which the annotation rewrite ${fmtMs(rewriteMs[i]!)}), audit ${fmtMs(auditMs[i]!)}, ${sites} sites`);
  }
  const cpu = process.cpuUsage(cpu0);
  const p = median(parseMs);
  const a = median(auditMs);
  // The peer is tree-sitter's parse alone: the annotation rewrite (prepare) is our
  // own work, paid by the audit. The older ratio, with the rewrite on both sides,
  // is printed beside it.
  const r = median(rewriteMs);
  const ts = median(parseMs.map((ms, i) => ms - rewriteMs[i]!));
  console.log(`| generated file | tree-sitter parse, CPU | tdx-audit audit, CPU (rewrite ${fmtMs(r)} of it) | **audit/parse** | (rewrite on both sides) | sites | CPU s (all runs) |`);
  console.log(`|---|---|---|---|---|---|---|`);
  console.log(`| ${(text.length / 1048576).toFixed(1)} MB, ${text.split('\n').length} lines | ${fmtMs(ts)} | ${fmtMs(a)} | **${(a / ts).toFixed(2)}×** | ${(a / p).toFixed(2)}× | ${sites} | ${((cpu.user + cpu.system) / 1e6).toFixed(1)} |`);
  if (process.argv.includes('--crossings')) {
    // `text` counts its own `endIndex` read too (web-tree-sitter reads it inside).
    const before = { ...wasmCalls };
    const counts = countCrossings(() => engine.auditOnce(file, text));
    const total = counts.reduce((n, [, c]) => n + c, 0);
    console.log(`Node accessor calls in one audit: ${total.toLocaleString('en')} (${counts.map(([k, c]) => `${k} ${c.toLocaleString('en')}`).join(', ')})`);
    const own = Object.entries(wasmCalls).map(([k, v]) => `${k} ${(v - before[k as keyof typeof before]).toLocaleString('en')}`);
    const status = wasmNodesStatus();
    console.log(`Node index's direct WASM calls (c/wasmNodes.ts, ${status.available ? 'in use' : `not in use: ${status.why}`}): ${own.join(', ')}`);
  }
}

/** --dump FILE: the audit's findings and sites, nodes and trees as kind@start-end. */
function dump(a: unknown): void {
  const at = process.argv.indexOf('--dump');
  if (at < 0) return;
  const seen = new WeakSet<object>();
  const json = JSON.stringify(a, (key, v: unknown) => {
    if (key === 'ms') return undefined;
    if (v instanceof Node) return `${v.type}@${v.startIndex}-${v.endIndex}`;
    if (v instanceof Tree) return 'tree';
    if (v && typeof v === 'object') {
      if (seen.has(v)) return '(seen)';
      seen.add(v);
    }
    return v;
  });
  writeFileSync(process.argv[at + 1]!, json);
}

/** Set in the bundled child: it measures. */
const BUNDLED = 'TDX_BIGFILE_BUNDLED';

/**
 * This bench bundled (named by this process, so that two worktrees' runs do not
 * share a file) and run in plain node with the same arguments; its exit status is ours.
 */
async function viaBundle(): Promise<void> {
  const js = await bundleWorker(__filename, `bigfile-${process.pid}`);
  try {
    const r = spawnSync(process.execPath, [js, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, [BUNDLED]: '1' } });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(js, { force: true });
  }
}

if (require.main === module) {
  if (process.env[BUNDLED] === '1' || process.argv.includes('--source')) void main();
  else void viaBundle();
}
