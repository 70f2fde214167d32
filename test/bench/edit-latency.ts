// Edit → diagnostics latency over LSP (issue 15: "≤ 2× tree-sitter's incremental
// reparse of the same edit on a 10,000-line driver, measured over LSP").
//
// The built server (dist/server.js --stdio, or TDX_BENCH_SERVER=/other/dist/server.js
// for another build) is given a driver with debounceMs 0, then EDITS one-character
// edits spread over the file, one at a time: each is timed from the didChange
// notification to the publishDiagnostics of that version. Between edits the bench
// waits IDLE ms, as a typist pauses. Two drivers, each in its own server:
//  - a generated driver-shaped file of LINES lines (test/bench/bigfile.ts's
//    generator, never committed: thousands of findings, the worst case for publishing);
//  - real drivers read at run time from the Debian tree when it is there
//    (REAL_DRIVERS; `--file PATH`, repeatable, names others), opened where they
//    lie so their includes resolve as in the editor; never copied or committed.
// The edits: a decimal literal inside a function body (found with tree-sitter) gets
// another last digit, and the next edit puts it back; pairs spread over the file.
// The peer, in this process: web-tree-sitter's incremental reparse of the same
// edit (tree.edit + parse with the old tree) of the same text, the floor any
// tree-sitter based server pays, in CPU time of this process, twice: in a warm loop
// (two untimed edits, then each edit right after the last: the figure of every
// earlier row in BENCHMARKS.md) and paced as the server's edits are (a fresh parse,
// then IDLE ms before each edit, none untimed), since an edit after a pause costs
// more CPU than one in a loop on an idle machine. Both ratios are printed. The machine is shared:
// the server's CPU per edit is the figure to compare; the wall latency carries the
// load. The server's CPU is read two ways: /proc/<pid>/stat (10 ms ticks, the
// figure of the earlier rows in BENCHMARKS.md) and the scheduler's nanosecond count
// of each of its threads (/proc/<pid>/task/*/schedstat, summed: V8's helper threads
// too), which resolves a warm edit of a few milliseconds. The main thread's share is
// logged beside it (the JavaScript; the rest is V8's GC and concurrent compiler threads,
// which compile the audit's code through the first ~80 edits after an open), and each
// thread's CPU over the timed edits (by name; TDX_BENCH_BY_TID=1: by thread id).
//
// `--kernel-workspace` measures each real driver a second time with its kernel tree
// as the workspace folder, as a user has it: its kernel headers are followed (about
// 970 for igb_main.c), the client registers file watchers (so the server may keep a
// file's header walk between edits), and the workspace index is off (`index.enable`
// false: it would audit the whole tree in the same server during the edits).
//
//   node --import tsx test/bench/edit-latency.ts [--lines 10000 (0: no generated file)] [--edits 20] [--idle 1000] [--file PATH | --no-file] [--kernel-workspace] [--warmup N]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Parser, type Node, type Tree } from 'web-tree-sitter';
import { CParser } from '../../server/src/c/parser';
import { LspHarness, SERVER, fileUri } from '../lsp/harness';
import { generate } from './bigfile';
import { fmtMs, log, median, TREE } from './lib';

/**
 * The real drivers measured by default when the Debian tree is there: igb_main.c
 * (10,185 lines) parses without an error, so an edit in a body takes the incremental
 * path; ixgbe_main.c (11,668 lines) has 3 parse errors (an `#ifdef` giving a
 * function two headers, an `if` left without its statement in one body): until
 * 2026-12-07 every edit audited the whole file; now an edit away from them takes the
 * incremental path too (incremental.ts keeps the errors the edit leaves alone).
 */
const REAL_DRIVERS = ['drivers/net/ethernet/intel/igb/igb_main.c', 'drivers/net/ethernet/intel/ixgbe/ixgbe_main.c'].map((p) => join(TREE, p));

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

/** The kernel tree holding `file`: the nearest folder above it whose Makefile sets VERSION. */
function kernelTreeOf(file: string): string | undefined {
  for (let d = dirname(file); d !== dirname(d); d = dirname(d)) {
    const mk = join(d, 'Makefile');
    if (existsSync(mk) && /^VERSION\s*=/m.test(readFileSync(mk, 'utf8'))) return d;
  }
  return undefined;
}

/** A driver of at least `lines` lines, cut at the end of a unit. */
export function driverOfLines(lines: number): string {
  // The generator works in bytes: scale by the bytes per line of a sample.
  const sample = generate(64 * 1024);
  let bytes = Math.ceil((lines * sample.length) / sample.split('\n').length);
  for (;;) {
    const text = generate(bytes);
    if (text.split('\n').length >= lines) return text;
    bytes = Math.ceil(bytes * 1.02);
  }
}

export interface Edit {
  /** Offset of the character replaced. */
  at: number;
  line: number;
  character: number;
  to: string;
}

/**
 * One-character edits inside function bodies, spread over the file: the last digit
 * of a decimal literal changed, then put back by the next edit (so every edit
 * changes the text, and the file ends as it began).
 */
export function editsOf(tree: Tree, text: string, n: number): Edit[] {
  const spots: number[] = [];
  const visit = (node: Node, inBody: boolean): void => {
    if (inBody && node.type === 'number_literal' && /^(?:0|[1-9]\d*)$/.test(node.text)) spots.push(node.endIndex - 1);
    for (const c of node.children) if (c) visit(c, inBody || (node.type === 'function_definition' && c.type === 'compound_statement'));
  };
  visit(tree.rootNode, false);
  if (!spots.length) throw new Error('no decimal literal inside a function body to edit');
  const out: Edit[] = [];
  const pairs = Math.ceil(n / 2);
  for (let k = 0; k < n; k++) {
    const at = spots[Math.floor(((Math.floor(k / 2) + 0.5) * spots.length) / pairs)]!;
    const was = text[at]!;
    const p = pointOf(text, at);
    out.push({ at, line: p.row, character: p.column, to: k % 2 ? was : was === '9' ? '8' : String(Number(was) + 1) });
  }
  return out;
}

/** A point (row, column) of an offset, for tree.edit. */
function pointOf(text: string, at: number): { row: number; column: number } {
  const before = text.slice(0, at);
  return { row: before.split('\n').length - 1, column: at - before.lastIndexOf('\n') - 1 };
}

/** CPU time (user + system, ms) a process has used: /proc/<pid>/stat, 10 ms ticks. */
function cpuOfPid(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
  return (Number(rest[11]) + Number(rest[12])) * 10;
}

/**
 * CPU time (ms) a process's threads have run, in nanoseconds as the scheduler counts
 * them: the first field of /proc/<pid>/task/<tid>/schedstat, summed over the threads
 * (the main thread and V8's helpers: the parallel scavenger, the compilers). The
 * ticks of /proc/<pid>/stat are 10 ms, coarser than a warm edit; undefined where the
 * kernel gives no schedstat. A thread that ends between two readings takes its time
 * with it (the bench's servers start no worker during the edits: the index is off or
 * has an empty folder).
 */
function schedCpuOfPid(pid: number, onlyTid?: number): number | undefined {
  let ns = 0;
  if (onlyTid !== undefined) {
    try {
      return Number(readFileSync(`/proc/${pid}/task/${onlyTid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      return undefined;
    }
  }
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // The thread ended while being read.
      }
    }
  } catch {
    return undefined;
  }
  return Number.isFinite(ns) ? ns / 1e6 : undefined;
}

/** Each thread's CPU (ms, schedstat) by thread name (`comm`: node's main thread, V8's helpers), summed per name. */
function threadCpuOfPid(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() + (tid === String(pid) ? ' (main)' : process.env.TDX_BENCH_BY_TID ? ` ${tid}` : '');
        out.set(name, (out.get(name) ?? 0) + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
      } catch {
        // The thread ended while being read.
      }
    }
  } catch {
    // No /proc.
  }
  return out;
}

interface Row {
  name: string;
  lines: number;
  edits: number;
  diagnostics: number;
  peerMs: number;
  /** The peer's reparse (median CPU) with the server's pacing: IDLE ms before each edit, no untimed edit first. */
  peerPacedMs: number;
  oursMs: number[];
  oursCpu: number[];
  /** Server CPU per edit from schedstat (ns resolution), when the kernel gives it. */
  oursSched: number[];
  /** The same for the server's main thread alone (the JavaScript; the rest is V8's GC and compiler threads). */
  oursMain: number[];
  openMs: number;
  loadBefore: number;
  loadAfter: number;
}

/** One driver: the peer's reparse of each edit, then the server's edit → diagnostics. */
async function measure(name: string, file: string, text0: string, nEdits: number, idle: number, workspace: string, kernel = false, warmup = 0): Promise<Row> {
  const loadBefore = loadavg()[0]!;
  const cp = await CParser.create();
  const parser = new Parser();
  parser.setLanguage(cp.language);
  let peerText = text0;
  let tree: Tree = parser.parse(peerText)!;
  const edits = editsOf(tree, text0, nEdits);
  // Warm-up edits: pairs (so the text ends as it began) at other literals than the timed ones.
  const warmupEdits = warmup ? editsOf(tree, text0, warmup + (warmup % 2)).filter((e) => !edits.some((x) => x.at === e.at)) : [];
  log(`${name}: ${text0.split('\n').length} lines, ${(text0.length / 1024).toFixed(0)} KiB, ${edits.length} edits; load ${loadBefore.toFixed(2)}`);

  // Peer: tree-sitter's own incremental reparse of each edit (warm: one full parse and two untimed edits first).
  const applyPeer = (e: Edit): number => applyPeerWith(parser, e);
  const applyPeerWith = (by: Parser, e: Edit): number => {
    const next = peerText.slice(0, e.at) + e.to + peerText.slice(e.at + 1);
    const p = pointOf(peerText, e.at);
    const t = process.cpuUsage();
    tree.edit({ startIndex: e.at, oldEndIndex: e.at + 1, newEndIndex: e.at + 1, startPosition: p, oldEndPosition: { row: p.row, column: p.column + 1 }, newEndPosition: { row: p.row, column: p.column + 1 } });
    const nt = by.parse(next, tree)!;
    const d = process.cpuUsage(t);
    const ms = (d.user + d.system) / 1000;
    tree.delete();
    tree = nt;
    peerText = next;
    return ms;
  };
  applyPeer(edits[0]!);
  applyPeer(edits[1] ?? { ...edits[0]!, to: text0[edits[0]!.at]! });
  const peerMs = edits.map(applyPeer);
  tree.delete();
  parser.delete();

  // Peer again, paced as the server's edits are: a fresh parser and one full parse
  // (as the open), then each of the same edits after the same IDLE ms pause, none
  // untimed. The warm loop above times each reparse right after the last, on a core
  // the loop keeps busy; the server's edit comes after IDLE ms of nothing, which on
  // an idle machine costs more CPU for the same work (a cold core). This column
  // measures the peer under that condition too; the warm figure above stays as it was.
  const pacedParser = new Parser();
  pacedParser.setLanguage(cp.language);
  peerText = text0;
  tree = pacedParser.parse(peerText)!;
  const peerPacedMs: number[] = [];
  for (const e of edits) {
    await new Promise((r) => setTimeout(r, idle));
    peerPacedMs.push(applyPeerWith(pacedParser, e));
  }
  tree.delete();
  pacedParser.delete();
  log(`${name}: tree-sitter reparse, warm loop (ms): ${peerMs.map((x) => x.toFixed(2)).join(' ')}`);
  log(`${name}: tree-sitter reparse, ${idle} ms before each (ms): ${peerPacedMs.map((x) => x.toFixed(2)).join(' ')}`);

  // Ours, over LSP.
  // TDX_BENCH_SERVER_PROF=DIR: a CPU profile of the server, for finding where the latency goes.
  const prof = process.env.TDX_BENCH_SERVER_PROF;
  // TDX_BENCH_NODE_ARGS="--flag ...": more node flags for the server (a preload that logs GC, a heap size).
  const nodeArgs = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(process.env.TDX_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
  const h = LspHarness.spawn(kernel ? { debounceMs: 0, index: { enable: false } } : { debounceMs: 0 }, nodeArgs, process.env.TDX_BENCH_SERVER ?? SERVER);
  const uri = fileUri(file);
  try {
    await h.initialize(workspace, kernel ? { capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } } } : {});
    let t = performance.now();
    await h.open(uri, text0, 1);
    const first = await h.diagnosticsFor(uri, 1, 120_000);
    const openMs = performance.now() - t;
    log(`${name}: open ${fmtMs(openMs)}, ${first.length} diagnostics`);
    const oursMs: number[] = [];
    const oursCpu: number[] = [];
    const oursSched: number[] = [];
    const oursMain: number[] = [];
    const pid = h.child.pid!;
    let version = 1;
    // --warmup N: N untimed edits first (the same kind, in other functions' order), so
    // that the timed ones run the server's code after the JIT has seen it, as the
    // peer's reparse is timed after two untimed edits. The text ends as it began.
    for (const e of warmupEdits) {
      await new Promise((r) => setTimeout(r, Math.min(idle, 100)));
      version++;
      await h.change(uri, version, [{ range: { start: { line: e.line, character: e.character }, end: { line: e.line, character: e.character + 1 } }, text: e.to }]);
      await h.diagnosticsFor(uri, version, 120_000);
    }
    const threads0 = threadCpuOfPid(pid);
    for (const e of edits) {
      await new Promise((r) => setTimeout(r, idle));
      version++;
      const c0 = cpuOfPid(pid);
      const s0 = schedCpuOfPid(pid);
      const m0 = schedCpuOfPid(pid, pid);
      t = performance.now();
      await h.change(uri, version, [{ range: { start: { line: e.line, character: e.character }, end: { line: e.line, character: e.character + 1 } }, text: e.to }]);
      await h.diagnosticsFor(uri, version, 120_000);
      oursMs.push(performance.now() - t);
      oursCpu.push(cpuOfPid(pid) - c0);
      const s1 = schedCpuOfPid(pid);
      const m1 = schedCpuOfPid(pid, pid);
      if (s0 !== undefined && s1 !== undefined) oursSched.push(s1 - s0);
      if (m0 !== undefined && m1 !== undefined) oursMain.push(m1 - m0);
    }
    // Where the server's CPU went during the timed edits, by thread (the main thread runs the JavaScript).
    const threads1 = threadCpuOfPid(pid);
    log(`${name}: server CPU during the timed edits by thread (ms): ${[...threads1].map(([k, v]) => [k, v - (threads0.get(k) ?? 0)] as const).filter(([, v]) => v >= 0.05).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    await h.shutdown();
    return { name, lines: text0.split('\n').length, edits: edits.length, diagnostics: first.length, peerMs: median(peerMs), peerPacedMs: median(peerPacedMs), oursMs, oursCpu, oursSched, oursMain, openMs, loadBefore, loadAfter: loadavg()[0]! };
  } finally {
    h.kill();
  }
}

async function main(): Promise<void> {
  const lines = arg('--lines', 10_000);
  const nEdits = arg('--edits', 20);
  const idle = arg('--idle', 1000);
  const warmup = arg('--warmup', 0);
  const named = process.argv.flatMap((a, i) => (a === '--file' && process.argv[i + 1] ? [process.argv[i + 1]!] : []));
  const reals = process.argv.includes('--no-file') ? [] : named.length ? named : REAL_DRIVERS.filter((p) => existsSync(p));
  if (process.env.TDX_BENCH_SERVER) log(`server: ${process.env.TDX_BENCH_SERVER}`);
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tdx-edit-latency-'));
  try {
    if (lines > 0) {
      const gen = join(dir, 'driver.c');
      const text0 = driverOfLines(lines);
      writeFileSync(gen, text0);
      rows.push(await measure('generated driver', gen, text0, nEdits, idle, dir, false, warmup));
    }
    // The workspace is an empty folder: the workspace index would otherwise run
    // over the driver's directory in the same server during the edits.
    const ws = join(dir, 'workspace');
    mkdirSync(ws);
    for (const real of reals) {
      const name = real.replace(`${dirname(dirname(real))}/`, '');
      rows.push(await measure(name, real, readFileSync(real, 'utf8'), nEdits, idle, ws, false, warmup));
      const tree = process.argv.includes('--kernel-workspace') ? kernelTreeOf(real) : undefined;
      if (tree) rows.push(await measure(`${name} (kernel tree as workspace)`, real, readFileSync(real, 'utf8'), nEdits, idle, tree, true, warmup));
    }
    if (!reals.length) log('real drivers: skipped (no Debian tree; --file PATH names one)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('| file | diagnostics | tree-sitter incremental reparse, CPU (median) | edit → publishDiagnostics over LSP, debounceMs 0: wall (median, min–max) | server CPU per edit, 10 ms ticks (median; mean) | **server CPU per edit, schedstat** (median; mean) | **ours / reparse**: wall, CPU (schedstat) | open → first diagnostics | load (1 min) before → after | tree-sitter reparse paced as ours (IDLE ms before each), CPU (median) | ours / paced reparse, CPU (schedstat) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const r of rows) {
    const o = median(r.oursMs);
    const oc = median(r.oursCpu);
    const os = r.oursSched.length === r.edits ? median(r.oursSched) : undefined;
    const sched = os === undefined ? 'n/a' : `${os.toFixed(1)} ms; ${mean(r.oursSched).toFixed(1)} ms`;
    console.log(
      `| ${r.name}, ${r.lines} lines, ${r.edits} edits | ${r.diagnostics} | ${r.peerMs.toFixed(2)} ms | ${fmtMs(o)} (${fmtMs(Math.min(...r.oursMs))}–${fmtMs(Math.max(...r.oursMs))}) | ${fmtMs(oc)}; ${fmtMs(mean(r.oursCpu))} | ${sched} | **${(o / r.peerMs).toFixed(0)}×, ${((os ?? oc) / r.peerMs).toFixed(1)}×** | ${fmtMs(r.openMs)} | ${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)} | ${r.peerPacedMs.toFixed(2)} ms | **${((os ?? oc) / r.peerPacedMs).toFixed(1)}×** |`,
    );
    if (r.oursSched.length) log(`${r.name}: schedstat CPU per edit (ms): ${r.oursSched.map((x) => x.toFixed(1)).join(' ')}`);
    if (r.oursMain.length) log(`${r.name}: of it the main thread (ms; median ${median(r.oursMain).toFixed(1)}): ${r.oursMain.map((x) => x.toFixed(1)).join(' ')}`);
  }
}

if (require.main === module) void main();
