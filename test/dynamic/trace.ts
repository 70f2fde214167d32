// The dynamic ground truth: a fixture compiled with kernel-like flags, linked with
// the tracer (tracer.c, a PROT_NONE "BAR" + SIGSEGV/trap-flag single-step), run,
// and every recorded RIP named as function+offset with binutils' nm: nothing here
// uses the analysis' own ELF or DWARF readers, so the truth is independent of it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import type { InstructionClass } from '../../server/src/audit/compiled';
import { gcc, hasGcc } from '../support/gcc';

export const DYN = resolve(__dirname);
export const FIXTURES = join(DYN, 'fixtures');

/** Kernel-like code generation, with and without a frame pointer, and for size. */
const KERNEL = ['-g', '-fno-strict-aliasing', '-fno-common', '-mno-sse', '-mno-mmx', '-mno-red-zone', '-fno-pie'];
export const VARIANTS: Record<string, string[]> = {
  'O2 frame pointer': ['-O2', ...KERNEL, '-fno-omit-frame-pointer'],
  'O2 no frame pointer': ['-O2', ...KERNEL, '-fomit-frame-pointer'],
  Os: ['-Os', ...KERNEL],
};

export const FIXTURE_FILES = ['accessors.c', 'iphase_like.c', 'overlay.c', 'decoys.c', 'nested.c', 'scoped.c'];

export function canTrace(): string | false {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'the tracer needs x86-64 Linux';
  if (!hasGcc) return 'gcc is not installed';
  if (spawnSync('nm', ['--version']).status !== 0) return 'binutils (nm) is not installed';
  return false;
}


interface Sym {
  name: string;
  addr: bigint;
  size: bigint;
}

/** Function symbols with sizes, by nm. */
function functionSymbols(file: string): Sym[] {
  const r = spawnSync('nm', ['-S', '--defined-only', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nm ${file}: ${r.stderr}`);
  const out: Sym[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) [tT] (\S+)$/.exec(line.trim());
    if (m) out.push({ addr: BigInt(`0x${m[1]}`), size: BigInt(`0x${m[2]}`), name: m[3]! });
  }
  return out;
}

export interface Trace {
  source: string;
  object: string;
  /** function+0xoffset -> BAR offsets it touched, for the fixture's own functions. */
  traced: Map<string, Set<number>>;
}

/** Compiles, links, runs and names the traced instructions of one fixture. */
export function traceFixture(fixture: string, variant: string): Trace {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-dyn-'));
  const source = join(FIXTURES, fixture);
  const object = join(dir, fixture.replace(/\.c$/, '.o'));
  gcc([...VARIANTS[variant]!, '-c', source, '-o', object], dir);
  gcc(['-O1', '-g', '-c', join(FIXTURES, 'dyn_stubs.c'), '-o', join(dir, 'stubs.o')], dir);
  gcc(['-O1', '-g', '-c', join(DYN, 'tracer.c'), '-o', join(dir, 'tracer.o')], dir);
  const exe = join(dir, 'traced');
  gcc(['-no-pie', object, join(dir, 'stubs.o'), join(dir, 'tracer.o'), '-o', exe], dir);
  const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`${fixture} (${variant}) exited ${run.status ?? run.signal}: ${run.stderr}`);
  const own = new Set(functionSymbols(object).map((s) => s.name));
  const syms = functionSymbols(exe).filter((s) => own.has(s.name));
  const traced = new Map<string, Set<number>>();
  for (const line of run.stdout.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+)$/.exec(line.trim());
    if (!m) continue;
    const rip = BigInt(`0x${m[1]}`);
    const s = syms.find((x) => rip >= x.addr && rip < x.addr + x.size);
    if (!s) continue; // inside a stub (ioread32) or libc (memcpy): not this object's code
    const key = `${s.name}+0x${(rip - s.addr).toString(16)}`;
    if (!traced.has(key)) traced.set(key, new Set());
    traced.get(key)!.add(parseInt(m[2]!, 16));
  }
  return { source, object, traced };
}

/** Classes that are not memory accesses to MMIO. */
const NOT_MMIO: ReadonlySet<InstructionClass> = new Set(['CALL', 'PORT_IN', 'PORT_OUT', 'PORT_STRING', 'RDMSR', 'WRMSR', 'CPUID', 'HLT']);

export interface Flagged {
  key: string;
  verdict: string;
  text: string;
}

/** The analysis' MMIO instructions for the fixture with its object: the set the tracer is compared with. */
export async function analysisSet(t: Trace): Promise<Map<string, Flagged>> {
  const engine = await AuditEngine.create({ readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } } });
  engine.configure({ objects: { objects: [t.object] } });
  const a = engine.auditOnce(t.source, readFileSync(t.source, 'utf8'));
  const out = new Map<string, Flagged>();
  for (const f of a.findings) {
    for (const i of f.instructions ?? []) {
      if (NOT_MMIO.has(i.class)) continue;
      const key = `${i.function}+0x${i.offset.toString(16)}`;
      out.set(key, { key, verdict: i.verdict, text: i.text });
    }
  }
  return out;
}

export interface Score {
  truePositives: number;
  flagged: number;
  traced: number;
  falseDecodeFailed: string[];
  missed: string[];
  extra: string[];
}

export function score(traced: Map<string, Set<number>>, flagged: Map<string, Flagged>): Score {
  const tp = [...flagged.keys()].filter((k) => traced.has(k));
  const extra = [...flagged.values()].filter((f) => !traced.has(f.key));
  return {
    truePositives: tp.length,
    flagged: flagged.size,
    traced: traced.size,
    falseDecodeFailed: extra.filter((f) => f.verdict === 'decode-failed').map((f) => `${f.key} ${f.text}`),
    missed: [...traced.keys()].filter((k) => !flagged.has(k)),
    extra: extra.map((f) => `${f.key} ${f.text} (${f.verdict})`),
  };
}
