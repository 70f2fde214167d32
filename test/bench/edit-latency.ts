// Edit → diagnostics latency over LSP (issue 15: "≤ 2× tree-sitter's incremental
// reparse of the same edit on a 10,000-line driver, measured over LSP").
//
// The built server (dist/server.js --stdio) is given a generated driver-shaped file
// of LINES lines (test/bench/bigfile.ts's generator, never committed) with
// debounceMs 0, then EDITS one-character edits spread over the file, one at a time:
// each is timed from the didChange notification to the publishDiagnostics of that
// version. Between edits the bench waits IDLE ms, as a typist pauses.
// The peer, in this process: web-tree-sitter's incremental reparse of the same
// edit (tree.edit + parse with the old tree) of the same text, the floor any
// tree-sitter based server pays, in CPU time of this thread. The machine is shared:
// the server's CPU per edit (/proc/<pid>/stat) is the figure to compare; the wall
// latency carries the load.
//
//   node --import tsx test/bench/edit-latency.ts [--lines 10000] [--edits 20] [--idle 1000]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Parser, type Tree } from 'web-tree-sitter';
import { CParser } from '../../server/src/c/parser';
import { LspHarness, fileUri } from '../lsp/harness';
import { generate } from './bigfile';
import { fmtMs, log, median } from './lib';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

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

interface Edit {
  /** Offset of the character replaced. */
  at: number;
  line: number;
  character: number;
  to: string;
}

/** One-character edits inside function bodies, spread over the file: `i < 16` → `i < 17` and back. */
function editsOf(text: string, n: number): Edit[] {
  const spots: number[] = [];
  for (let i = text.indexOf('i < 16'); i >= 0; i = text.indexOf('i < 16', i + 1)) spots.push(i + 5);
  const out: Edit[] = [];
  for (let k = 0; k < n; k++) {
    const at = spots[Math.floor(((k + 0.5) * spots.length) / n)]!;
    const p = pointOf(text, at);
    out.push({ at, line: p.row, character: p.column, to: k % 2 ? '6' : '7' });
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

async function main(): Promise<void> {
  const lines = arg('--lines', 10_000);
  const nEdits = arg('--edits', 20);
  const idle = arg('--idle', 1000);
  const text0 = driverOfLines(lines);
  const edits = editsOf(text0, nEdits);
  const dir = mkdtempSync(join(tmpdir(), 'tdx-edit-latency-'));
  const file = join(dir, 'driver.c');
  writeFileSync(file, text0);
  log(`${text0.split('\n').length} lines, ${(text0.length / 1024).toFixed(0)} KiB, ${edits.length} edits; load ${loadavg()[0]!.toFixed(2)}`);

  // Peer: tree-sitter's own incremental reparse of each edit (warm: one full parse and one untimed edit first).
  const cp = await CParser.create();
  const parser = new Parser();
  parser.setLanguage(cp.language);
  let peerText = text0;
  let tree: Tree = parser.parse(peerText)!;
  const applyPeer = (e: Edit): number => {
    const next = peerText.slice(0, e.at) + e.to + peerText.slice(e.at + 1);
    const p = pointOf(peerText, e.at);
    const t = process.cpuUsage();
    tree.edit({ startIndex: e.at, oldEndIndex: e.at + 1, newEndIndex: e.at + 1, startPosition: p, oldEndPosition: { row: p.row, column: p.column + 1 }, newEndPosition: { row: p.row, column: p.column + 1 } });
    const nt = parser.parse(next, tree)!;
    const d = process.cpuUsage(t);
    const ms = (d.user + d.system) / 1000;
    tree.delete();
    tree = nt;
    peerText = next;
    return ms;
  };
  applyPeer(edits[0]!);
  applyPeer({ ...edits[0]!, to: '6' });
  const peerMs = edits.map(applyPeer);
  tree.delete();
  parser.delete();

  // Ours, over LSP.
  // TDX_BENCH_SERVER_PROF=DIR: a CPU profile of the server, for finding where the latency goes.
  const prof = process.env.TDX_BENCH_SERVER_PROF;
  const h = LspHarness.spawn({ debounceMs: 0 }, prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []);
  const uri = fileUri(file);
  try {
    await h.initialize(dir);
    let t = performance.now();
    await h.open(uri, text0, 1);
    const first = await h.diagnosticsFor(uri, 1, 120_000);
    const openMs = performance.now() - t;
    log(`open: ${fmtMs(openMs)}, ${first.length} diagnostics`);
    const oursMs: number[] = [];
    const oursCpu: number[] = [];
    const pid = h.child.pid!;
    let version = 1;
    for (const e of edits) {
      await new Promise((r) => setTimeout(r, idle));
      version++;
      const c0 = cpuOfPid(pid);
      t = performance.now();
      await h.change(uri, version, [{ range: { start: { line: e.line, character: e.character }, end: { line: e.line, character: e.character + 1 } }, text: e.to }]);
      await h.diagnosticsFor(uri, version, 120_000);
      oursMs.push(performance.now() - t);
      oursCpu.push(cpuOfPid(pid) - c0);
    }
    const o = median(oursMs);
    const oc = median(oursCpu);
    const p = median(peerMs);
    console.log('| file | tree-sitter incremental reparse, CPU (median) | edit → publishDiagnostics over LSP, debounceMs 0: wall (median, min–max) | server CPU per edit (median) | **ours / reparse**: wall, CPU | open → first diagnostics | load (1 min) |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(
      `| ${text0.split('\n').length} lines, ${edits.length} edits | ${p.toFixed(2)} ms | ${fmtMs(o)} (${fmtMs(Math.min(...oursMs))}–${fmtMs(Math.max(...oursMs))}) | ${fmtMs(oc)} | **${(o / p).toFixed(0)}×, ${(oc / p).toFixed(0)}×** | ${fmtMs(openMs)} | ${loadavg()[0]!.toFixed(2)} |`,
    );
    await h.shutdown();
  } finally {
    h.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void main();
