// Worker of the object and vmlinux benchmarks, bundled by lib.ts:bundleWorker and
// run as plain node in a child process (so its peak RSS is its own).
//
//   node decode-worker.js [--lines] [--ranges] [--iterations N] [--profile P] FILE...
//
// For each ELF file: openBinary, every function symbol's bytes (aliases once)
// walked with one CodeWalker (iced, one reused Instruction), and for every
// instruction with a non-stack, non-RIP-relative memory operand classifyMmio
// (the kernel's #VE decode). With --lines also, per instruction, the DWARF line
// row (unitForAddress + lineForAddress) and the addr2line-style inline chain
// (inlineChain) — the work `objdump -d -l --inlines` does.
// Prints one JSON object on stdout: per file and iteration the time and counts,
// iced's WASM memory size after each iteration, and process.resourceUsage().maxRSS.
import { readFileSync } from 'node:fs';
import * as iced from 'iced-x86';
import { openBinary, SHF_EXECINSTR } from '../../server/src/binary/index';
import { CodeWalker, deviceMemoryAccesses } from '../../server/src/x86/iced';
import { classifyMmio } from '../../server/src/x86/classify';
import type { Profile } from '../../server/src/x86/profiles';

const wasmBytes = (): number => (iced as unknown as { __wasm: { memory: { buffer: ArrayBuffer } } }).__wasm.memory.buffer.byteLength;

interface Counts {
  functions: number;
  bytes: number;
  instructions: number;
  invalid: number;
  /** Instructions with a line row. */
  withLine: number;
  /** Instructions whose inline chain has more than one frame (inside inlined code). */
  inlined: number;
  /** Sum of the chains' frame counts. */
  frames: number;
  /** Instructions with a device-memory operand, classified. */
  deviceMemory: number;
  verdicts: Record<string, number>;
  classes: Record<string, number>;
  /** Instructions walked per section name. */
  sections: Record<string, number>;
  /** With --ranges: [section, start offset, end offset) of every function walked. */
  ranges?: [string, number, number][];
}

export interface FileResult {
  file: string;
  counts: Counts;
  /** Per iteration: ms for open + walk (+ lines) + classify. */
  ms: number[];
  /** Part of the first iteration spent in openBinary + symbol table. */
  openMs: number;
  /** WASM memory bytes after each iteration. */
  wasm: number[];
}

function run(file: string, lines: boolean, profile: Profile, ranges: boolean): { counts: Counts; openMs: number } {
  const t0 = performance.now();
  const data = readFileSync(file);
  const bin = openBinary(data);
  const elf = bin.elf;
  const seen = new Set<string>();
  const syms = elf.functionSymbols().filter((s) => {
    if (s.size === 0 || s.shndx >= elf.sections.length) return false;
    const sec = elf.sections[s.shndx]!;
    if ((sec.flags & SHF_EXECINSTR) === 0 || sec.type === 8 /* NOBITS */) return false;
    const k = `${s.shndx}:${s.value}:${s.size}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const openMs = performance.now() - t0;
  const c: Counts = { functions: syms.length, bytes: 0, instructions: 0, invalid: 0, withLine: 0, inlined: 0, frames: 0, deviceMemory: 0, verdicts: {}, classes: {}, sections: {} };
  const dwarf = bin.dwarf;
  const secData = new Map<number, Uint8Array>();
  for (const s of syms) {
    const sec = elf.sections[s.shndx]!;
    let d = secData.get(sec.index);
    if (!d) {
      d = elf.sectionData(sec);
      secData.set(sec.index, d);
    }
    const off = elf.isRelocatable ? Number(s.value) : Number(s.value - sec.addr);
    if (off < 0 || off + s.size > d.length) continue;
    const code = d.subarray(off, off + s.size);
    const base = bin.addressOf(sec.index, off);
    c.bytes += code.length;
    if (ranges) (c.ranges ??= []).push([sec.name, off, off + s.size]);
    const before = c.instructions;
    const w = new CodeWalker(code, base);
    try {
      for (const ins of w.walk()) {
        c.instructions++;
        if (!ins.valid) {
          c.invalid++;
          continue;
        }
        if (lines) {
          const cu = dwarf.unitForAddress(ins.ip);
          if (cu && dwarf.lineForAddress(cu, ins.ip)) c.withLine++;
          const chain = dwarf.inlineChain(ins.ip);
          c.frames += chain.length;
          if (chain.length > 1) c.inlined++;
        }
        if (deviceMemoryAccesses(ins).length > 0) {
          c.deviceMemory++;
          const v = classifyMmio(ins.bytes, profile);
          c.verdicts[v.verdict] = (c.verdicts[v.verdict] ?? 0) + 1;
          c.classes[v.class] = (c.classes[v.class] ?? 0) + 1;
        }
      }
    } finally {
      w.free();
    }
    c.sections[sec.name] = (c.sections[sec.name] ?? 0) + c.instructions - before;
  }
  return { counts: c, openMs };
}

function main(): void {
  const argv = process.argv.slice(2);
  let lines = false;
  let ranges = false;
  let iterations = 1;
  let profile: Profile = 'tdx-linux-6.1';
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--lines') lines = true;
    else if (a === '--ranges') ranges = true;
    else if (a === '--iterations') iterations = Number(argv[++i]);
    else if (a === '--profile') profile = argv[++i] as Profile;
    else files.push(a);
  }
  const results: FileResult[] = [];
  const wasmStart = wasmBytes();
  for (const f of files) {
    const r: FileResult = { file: f, counts: undefined as unknown as Counts, ms: [], openMs: 0, wasm: [] };
    for (let it = 0; it < iterations; it++) {
      const t = performance.now();
      const { counts, openMs } = run(f, lines, profile, ranges && it === 0);
      r.ms.push(performance.now() - t);
      r.wasm.push(wasmBytes());
      if (it === 0) {
        r.counts = counts;
        r.openMs = openMs;
      }
    }
    results.push(r);
  }
  process.stdout.write(JSON.stringify({ results, wasmStart, maxRssKiB: process.resourceUsage().maxRSS, heapUsed: process.memoryUsage().heapUsed }) + '\n');
}

main();
