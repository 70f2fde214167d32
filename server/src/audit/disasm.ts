// The "TDX: Show Compiled Form" view: one function of an object, disassembled
// the way `objdump -d -l --inlines -M intel -r` would show it, but arranged for
// the #VE question: source lines interleaved, inline boundaries named, call
// targets resolved through relocations, and every MMIO instruction marked with
// what the profile's #VE handler does with it. The text is the `tdx-disasm`
// language (syntaxes/tdx-disasm.tmLanguage.json); keep the two in step.
//
// Line shapes (the grammar keys on the first characters):
//   # key       value                      header
//   name:                                  function label
//   ; file.c:123                           line-row change (innermost frame)
//   ; | source text                        that line of the source, when readable
//   ; inlined from F (decl) into G at f:l  entering an inlined instance
//   ; back in G                            leaving one
//     +0x1a  8b 07   mov eax,[rdi]   ok emulated  READ size 4  readl
// The marker column is separated from the instruction by at least two spaces;
// instruction text never contains two spaces in a row.

import { posix } from 'node:path';
import type { BinaryObject, DwarfUnit, InlinedInstance } from '../binary/index';
import { STT_SECTION } from '../binary/index';
import { SHN_LORESERVE } from '../binary/elf';
import { getAttr } from '../binary/dwarf/info';
import { constValue } from '../binary/dwarf/forms';
import { DW_AT } from '../binary/dwarf/constants';
import { R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_PC32, R_X86_64_PC64, R_X86_64_PLT32, R_X86_64_REX_GOTPCRELX } from '../binary/relocate';
import type { WalkedInstruction } from '../x86/iced';
import { performs } from './compiled/describe';
import { codeOf, type FunctionCode, type ObjectCode } from './code';
import { handleOnce } from '../x86/handlers';
import type { Profile } from '../x86/profiles';
import { CATALOGUE } from '../c/catalogue';
import type { CompiledInstruction, InstructionVerdict } from './compiled';

/** PC-relative relocation types: the field holds S + A - P, so the target is S + A + (end of insn - P). */
const PC_RELATIVE = new Set([R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_PC64, R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX]);
const GOT_RELATIVE = new Set([R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX]);

/** Relative branches: iced prints their target as an absolute hex literal we can rewrite. */
const BRANCH_MNEMONIC = /^(?:call|jmp|j[a-z]{1,3}|loop[a-z]*|jrcxz|jecxz|xbegin)$/;
/** Bytes shown before the column pads out further (x86 instructions can be 15 bytes). */
const BYTE_COLUMN_CAP = 10;
/** Instruction text width the marker column aligns to; longer texts push it right. */
const TEXT_COLUMN_CAP = 44;

export interface RenderOptions {
  profile: Profile;
  /**
   * Instructions the audit join tied to sites, keyed by DWARF address as
   * CompiledInstruction.address spells it (hex, with or without 0x). When
   * given, these are the only marks; when absent, MMIO is inferred from the
   * inlined catalogued accessors.
   */
  marks?: Map<string, CompiledInstruction>;
  /** Source text by path (as DWARF names it: comp_dir joined). undefined: not readable. */
  readSource?: (path: string) => string | undefined;
}

export interface RenderedFunction {
  content: string;
  /** The symbol rendered (its id: the name, or name@address when the name is not unique). */
  function: string;
}

export interface FunctionEntry {
  /** What renderFunction takes: the name, or `name@0x<address>` when several symbols share it. */
  id: string;
  name: string;
  section: string;
  /** Offset of the symbol in its section. */
  offset: number;
  size: number;
  /** DWARF address, hex with 0x (synthetic section<<32|offset for a .o). */
  address: string;
}

const hexAddr = (a: bigint): string => '0x' + a.toString(16);
const hexOff = (n: number | bigint): string => '0x' + n.toString(16);

/** Function symbols of the object, in section and address order. */
export function listFunctions(obj: BinaryObject): FunctionEntry[] {
  return codeOf(obj).symbols.map((f) => ({
    id: f.id, name: f.name, section: f.section, offset: f.sectionOffset, size: f.size, address: hexAddr(f.start),
  }));
}

// ------------------------------------------------------------------ DWARF helpers

interface Frame {
  inst: InlinedInstance;
  /** Where the inlined function is declared (file:line), for the boundary line. */
  decl: string | undefined;
}

interface FunctionDwarf {
  cu: DwarfUnit | undefined;
  /** Inlined instances overlapping the function, outermost first at equal start. */
  instances: InlinedInstance[];
}

function functionDwarf(obj: BinaryObject, f: FunctionCode): FunctionDwarf {
  const dwarf = obj.dwarf;
  if (!dwarf.hasDebugInfo) return { cu: undefined, instances: [] };
  const cu = dwarf.unitForAddress(f.start) ?? dwarf.unitForAddress(f.start + BigInt(Math.max(0, f.size - 1)));
  if (!cu) return { cu: undefined, instances: [] };
  const lo = f.start;
  const hi = f.start + BigInt(f.size);
  const instances = dwarf.inlinedInstances(cu).filter((i) => i.ranges.some((r) => r.lo < hi && r.hi > lo));
  return { cu, instances };
}

/** Inlined instances containing addr, outermost first (depth order). */
function chainAt(instances: readonly InlinedInstance[], addr: bigint): InlinedInstance[] {
  const out = instances.filter((i) => i.ranges.some((r) => addr >= r.lo && addr < r.hi));
  out.sort((a, b) => a.depth - b.depth);
  return out;
}

/** decl_file:decl_line of an inlined function's abstract origin, following origin/specification a few hops. */
function declOf(obj: BinaryObject, originOffset: number | undefined, display: (p: string) => string): string | undefined {
  let off = originOffset;
  for (let hop = 0; hop < 4 && off !== undefined; hop++) {
    const hit = obj.dwarf.dieAt(off);
    if (!hit) return undefined;
    const file = constValue(getAttr(hit.die, DW_AT.decl_file));
    const line = constValue(getAttr(hit.die, DW_AT.decl_line));
    if (file !== undefined && line !== undefined) {
      const path = hit.unit.filePath(file);
      return path ? `${display(path)}:${line}` : undefined;
    }
    const ref = getAttr(hit.die, DW_AT.abstract_origin) ?? getAttr(hit.die, DW_AT.specification);
    off = ref?.kind === 'ref' ? ref.offset : undefined;
  }
  return undefined;
}

/** How a DWARF path is shown: relative to comp_dir, or bare when beside the unit's own source. */
function pathDisplay(cu: DwarfUnit | undefined): (p: string) => string {
  const compDir = cu?.compDir ? posix.normalize(cu.compDir) : undefined;
  const name = cu?.name;
  const unitDir = name ? posix.dirname(posix.normalize(name.startsWith('/') || !compDir ? name : `${compDir}/${name}`)) : undefined;
  return (p) => {
    const n = posix.normalize(p);
    if (unitDir && posix.dirname(n) === unitDir) return posix.basename(n);
    if (compDir && n.startsWith(compDir + '/')) return n.slice(compDir.length + 1);
    return n;
  };
}

// ------------------------------------------------------------------ marks

interface Mark {
  verdict: InstructionVerdict;
  misemulation: readonly string[];
  class: string;
  size: number;
  /** The accessor or callee the instruction belongs to, when known. */
  what: string | undefined;
}

function markText(m: Mark): string {
  let v: string;
  switch (m.verdict) {
    case 'emulated':
      v = 'ok emulated';
      break;
    case 'misemulated':
      v = `~~ misemulated: ${m.misemulation.join(',') || 'unknown'}`;
      break;
    case 'out-of-line':
      v = '-> out-of-line';
      break;
    case 'not-intercepted':
      // No #VE/#VC at all on this platform (HLT under SEV-ES): the guest is fine.
      v = 'ok not-intercepted';
      break;
    default:
      // rejected, rejected-movs, decode-failed, rejected-string-io: the guest oopses or is terminated.
      v = `!! ${m.verdict}`;
  }
  return `${v}  ${m.class} size ${m.size}${m.what ? `  ${m.what}` : ''}`;
}

function normaliseMarks(marks: Map<string, CompiledInstruction>): Map<bigint, CompiledInstruction> {
  const out = new Map<bigint, CompiledInstruction>();
  for (const [k, v] of marks) {
    const h = k.trim().toLowerCase().replace(/^0x/, '');
    if (/^[0-9a-f]+$/.test(h)) out.set(BigInt('0x' + h), v);
  }
  return out;
}

function markFromJoin(c: CompiledInstruction): Mark {
  const what = c.match === 'call' ? c.callee : c.match === 'dataflow' || c.match === 'line-fallback' ? 'deref' : c.inlineChain[0];
  return { verdict: c.verdict, misemulation: c.misemulation, class: c.class, size: c.size, what };
}

/**
 * Without the join (no source, or an object that no longer matches it): an
 * instruction inside an inlined instance of a catalogued MMIO accessor that
 * performs that accessor's access, by the join's own rule (compiled/describe.ts
 * `performs`: direction, width, not the stack), so a pointer reload DWARF
 * happens to put inside the instance is not taken for the MMIO.
 */
function inferMark(ins: WalkedInstruction, chain: readonly InlinedInstance[], profile: Profile, framePointer: boolean): Mark | undefined {
  if (!ins.valid) return undefined;
  for (let k = chain.length - 1; k >= 0; k--) {
    const name = chain[k]!.name;
    const acc = name === undefined ? undefined : CATALOGUE.get(name);
    if (!acc || !acc.kind.startsWith('mmio-')) continue;
    if (!performs({ accessorKind: acc.kind, width: acc.width, name }, ins, framePointer)) return undefined;
    // The handler model's one record for these bytes, as the join's instructions carry it.
    const v = handleOnce(ins.bytes, profile).view;
    return { verdict: v.verdict, misemulation: v.misemulation, class: v.class, size: v.size, what: name };
  }
  return undefined;
}

// ------------------------------------------------------------------ instruction text

/** Rewrites iced's absolute branch targets and RIP-relative addresses into names. */
function instructionText(
  code: ObjectCode, f: FunctionCode, ins: WalkedInstruction,
): string {
  if (!ins.valid) return '(bad)';
  let text = ins.text;
  const secOff = f.sectionOffset + ins.offset; // offset of the instruction in its section
  const end = secOff + ins.length;
  const relocs = code.relocationsIn(f.sectionIndex, secOff, end);
  const used = new Set<number>();

  const relocName = (k: number): string => {
    const { rela, syms } = relocs[k]!;
    used.add(k);
    const sym = syms[rela.sym];
    const add = rela.addend + (PC_RELATIVE.has(rela.type) ? BigInt(end) - rela.offset : 0n);
    const got = GOT_RELATIVE.has(rela.type) ? '@GOTPCREL' : '';
    if (!sym) return `sym#${rela.sym}`;
    if (sym.type === STT_SECTION && add >= 0n && sym.shndx < SHN_LORESERVE) {
      return code.nameIn(sym.shndx, Number(add)) + got;
    }
    const name = sym.name || `sym#${rela.sym}`;
    if (add === 0n) return name + got;
    return `${name}${add < 0n ? '-' : '+'}${hexOff(add < 0n ? -add : add)}${got}`;
  };

  const mnemonic = ins.mnemonic.split(' ').pop() ?? '';
  // iced writes targets below 10 in decimal, the rest in hex with an h suffix.
  const branch = BRANCH_MNEMONIC.test(mnemonic) ? /(?:short |near )?\b(?:([0-9][0-9A-F]*)h|([0-9]))$/.exec(text) : null;
  if (branch) {
    let target: string;
    if (relocs.length > 0) target = relocName(0);
    else {
      // The decoder's own target, not the text's: iced prints a target whose low
      // 32 bits are zero (a .o's synthetic address of a section's first function) as 0.
      const t = ins.branchTarget ?? (branch[1] !== undefined ? BigInt('0x' + branch[1]) : BigInt(branch[2]!));
      if (t >= f.start && t < f.start + BigInt(f.size)) target = `+${hexOff(t - f.start)}`;
      else target = namedTarget(code, t);
    }
    text = text.slice(0, branch.index) + target;
  } else if (ins.memory.some((m) => m.ripRelative)) {
    const m = /\[(?:([0-9][0-9A-F]*)h|([0-9]))\]/.exec(text);
    if (m) {
      const k = relocs.findIndex((r) => PC_RELATIVE.has(r.rela.type));
      const t = m[1] !== undefined ? BigInt('0x' + m[1]) : BigInt(m[2]!);
      const target = k >= 0 ? relocName(k) : namedTarget(code, t);
      text = text.slice(0, m.index) + `[rip+${target}]` + text.slice(m.index + m[0].length);
    }
  }
  // Anything else relocated (absolute addresses, immediates): name it after the text.
  for (let k = 0; k < relocs.length; k++) if (!used.has(k)) text += ` <${relocName(k)}>`;
  return text;
}

/**
 * A target address (decoded at DWARF-view addresses, so a .o's are synthetic
 * section<<32|offset), named by the symbol holding it.
 */
function namedTarget(code: ObjectCode, t: bigint): string {
  const loc = code.obj.locate(t);
  return loc ? code.nameIn(loc.sectionIndex, Number(loc.offset)) : hexAddr(t);
}

// ------------------------------------------------------------------ render

function resolveFunction(code: ObjectCode, symbol: string): FunctionCode {
  const f = code.byIdOrName(symbol);
  if (!f) throw new Error(`no function symbol ${symbol}`);
  return f;
}

/**
 * The annotated disassembly of one function symbol. `symbol` is a name, or
 * an id from listFunctions/functionAt (`name@0x<address>` when several
 * static functions share the name; a bare name then takes the first).
 */
export function renderFunction(obj: BinaryObject, objectPath: string, symbol: string, opts: RenderOptions): RenderedFunction {
  const code = codeOf(obj);
  const f = resolveFunction(code, symbol);
  const dw = functionDwarf(obj, f);
  const display = pathDisplay(dw.cu);
  const marks = opts.marks ? normaliseMarks(opts.marks) : undefined;

  const sources = new Map<string, string[] | undefined>();
  const sourceLine = (path: string, line: number): string | undefined => {
    if (!opts.readSource) return undefined;
    if (!sources.has(path)) {
      let text: string | undefined;
      try {
        text = opts.readSource(path);
      } catch {
        text = undefined; // an unreadable file only loses the source column
      }
      sources.set(path, text === undefined ? undefined : text.split(/\r?\n/));
    }
    return sources.get(path)?.[line - 1];
  };
  const decls = new Map<number, string | undefined>();
  const frameOf = (inst: InlinedInstance): Frame => {
    const key = inst.originOffset ?? -1;
    if (!decls.has(key)) decls.set(key, declOf(obj, inst.originOffset, display));
    return { inst, decl: decls.get(key) };
  };

  // Decode first: the columns are padded to the widest byte string and text.
  const insns = code.instructions(f);

  interface Row { ins: WalkedInstruction; addr: bigint; text: string; mark: Mark | undefined; chain: InlinedInstance[] }
  const framePointer = code.framePointer(f);
  const rows: Row[] = insns.map((ins) => {
    const addr = f.start + BigInt(ins.offset);
    const chain = chainAt(dw.instances, addr);
    const joined = marks?.get(addr);
    const mark = marks ? (joined ? markFromJoin(joined) : undefined) : inferMark(ins, chain, opts.profile, framePointer);
    return { ins, addr, text: instructionText(code, f, ins), mark, chain };
  });

  const out: string[] = [];
  const verdicts = new Map<string, number>();
  for (const r of rows) if (r.mark) verdicts.set(r.mark.verdict, (verdicts.get(r.mark.verdict) ?? 0) + 1);
  const marked = rows.filter((r) => r.mark).length;
  const verdictList = [...verdicts].map(([v, n]) => `${n} ${v}`).join(', ');
  out.push(`# tdx-audit compiled form: ${f.name}`);
  out.push(`# object    ${objectPath}`);
  out.push(`# function  ${f.id}`);
  out.push(`# section   ${f.section}+${hexOff(f.sectionOffset)}, ${f.size} bytes`);
  out.push(`# profile   ${opts.profile}`);
  out.push(`# compiler  ${dw.cu?.producer ?? (obj.dwarf.hasDebugInfo ? 'unknown (no DW_AT_producer)' : 'unknown (no DWARF)')}`);
  if (dw.cu?.name) out.push(`# unit      ${dw.cu.compDir && !dw.cu.name.startsWith('/') ? posix.join(dw.cu.compDir, dw.cu.name) : dw.cu.name}`);
  const how = marks ? 'from the audit join' : dw.cu ? 'inferred from inlined io.h accessors' : 'none (no DWARF to find accessors)';
  out.push(`# mmio      ${marked} marked${marked ? ` (${verdictList})` : ''}, ${how}`);
  const parts = code.symbols.filter((g) => g !== f && g.name.startsWith(f.name + '.') && /^\.(?:cold|part|isra|constprop|localalias)/.test(g.name.slice(f.name.length)));
  if (parts.length) out.push(`# parts     ${parts.map((g) => `${g.id} (${g.section})`).join(', ')}`);
  out.push('');
  out.push(`${f.id}:`);

  const offWidth = hexOff(Math.max(0, f.size - 1)).length + 1;
  const byteWidth = Math.min(BYTE_COLUMN_CAP, Math.max(1, ...rows.map((r) => r.ins.bytes.length))) * 3 - 1;
  const textWidth = Math.min(TEXT_COLUMN_CAP, Math.max(1, ...rows.filter((r) => r.mark).map((r) => r.text.length)));

  let prevChain: InlinedInstance[] = [];
  let prevLoc = '';
  for (const r of rows) {
    // Inline boundaries: frames left, then frames entered (outermost first).
    let common = 0;
    while (common < prevChain.length && common < r.chain.length && prevChain[common]!.dieOffset === r.chain[common]!.dieOffset) common++;
    const chainChanged = common !== prevChain.length || common !== r.chain.length;
    if (common === r.chain.length && common < prevChain.length) {
      const here = r.chain[common - 1]?.name ?? prevChain[0]!.enclosingFunction ?? f.name;
      out.push(`; back in ${here}`);
    }
    for (let k = common; k < r.chain.length; k++) {
      const fr = frameOf(r.chain[k]!);
      const into = k > 0 ? r.chain[k - 1]!.name : fr.inst.enclosingFunction;
      const at = fr.inst.callFile ? ` at ${display(fr.inst.callFile)}:${fr.inst.callLine ?? 0}${fr.inst.callColumn ? `:${fr.inst.callColumn}` : ''}` : '';
      out.push(`; inlined from ${fr.inst.name ?? '?'}${fr.decl ? ` (${fr.decl})` : ''} into ${into ?? '?'}${at}`);
    }
    prevChain = r.chain;

    const row = dw.cu ? obj.dwarf.lineForAddress(dw.cu, r.addr) : undefined;
    const loc = row && row.line > 0 && row.file ? `${row.file}:${row.line}` : '';
    if (loc && (loc !== prevLoc || chainChanged)) {
      out.push(`; ${display(row!.file)}:${row!.line}`);
      const src = sourceLine(row!.file, row!.line);
      if (src !== undefined) out.push(`; | ${src.replace(/\s+$/, '')}`);
    }
    prevLoc = loc;

    const bytes = Array.from(r.ins.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const off = `+${hexOff(r.ins.offset)}`;
    let line = `  ${off.padEnd(offWidth)}  ${bytes.padEnd(byteWidth)}  ${r.text}`;
    if (r.mark) line = `  ${off.padEnd(offWidth)}  ${bytes.padEnd(byteWidth)}  ${r.text.padEnd(textWidth)}  ${markText(r.mark)}`;
    out.push(line.replace(/\s+$/, ''));
  }
  return { content: out.join('\n') + '\n', function: f.id };
}

// ------------------------------------------------------------------ functionAt

function pathMatches(file: string, query: string): boolean {
  const a = posix.normalize(file);
  const b = posix.normalize(query);
  if (a === b) return true;
  if (!b.startsWith('/') && a.endsWith('/' + b)) return true;
  if (!a.startsWith('/') && b.endsWith('/' + a)) return true;
  return false;
}

/**
 * The function symbol holding the code of a source line (1-based). Rows of
 * the line itself win; among them, code that belongs to the function's own
 * body (not inlined) first, then the shallowest inlining, then the symbol
 * with most rows, then the lowest address: a line of an inlined static
 * helper resolves to the concrete function its code landed in, and a line
 * with an out-of-line copy resolves to that copy. A line without rows (a
 * declaration, a brace) falls back to the function whose rows of that file
 * span it most tightly.
 */
export function functionAt(obj: BinaryObject, sourcePath: string, line1: number): string | undefined {
  const dwarf = obj.dwarf;
  if (!dwarf.hasDebugInfo) return undefined;
  const code = codeOf(obj);
  interface Cand { f: FunctionCode; depth: number; rows: number; addr: bigint }
  const exact = new Map<FunctionCode, Cand>();
  const spans = new Map<FunctionCode, { lo: number; hi: number }>();
  // A .c file's code is in its own unit: match unit names first (headers only),
  // and read every unit's line-table header only for a header file.
  let units = dwarf.unitsForSource(sourcePath);
  if (units.length === 0) units = dwarf.unitsForSource(sourcePath, { lineTableFiles: true });
  for (const cu of units) {
    let instances: InlinedInstance[] | undefined;
    const fileOk = new Map<string, boolean>();
    const rows = dwarf.lineRows(cu);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (row.endSequence || row.line === 0 || !row.file) continue;
      // Only the last row at an address describes code (binutils' rule); the
      // earlier ones are boundaries, e.g. an inlined instance's end.
      const next = rows[i + 1];
      if (next && !next.endSequence && next.address === row.address) continue;
      let ok = fileOk.get(row.file);
      if (ok === undefined) fileOk.set(row.file, (ok = pathMatches(row.file, sourcePath)));
      if (!ok) continue;
      const f = code.symbolHolding(row.address);
      if (!f) continue;
      const s = spans.get(f);
      if (!s) spans.set(f, { lo: row.line, hi: row.line });
      else {
        s.lo = Math.min(s.lo, row.line);
        s.hi = Math.max(s.hi, row.line);
      }
      if (row.line !== line1) continue;
      instances ??= dwarf.inlinedInstances(cu);
      const depth = chainAt(instances, row.address).length;
      const c = exact.get(f);
      if (!c) exact.set(f, { f, depth, rows: 1, addr: row.address });
      else {
        c.depth = Math.min(c.depth, depth);
        c.rows++;
        if (row.address < c.addr) c.addr = row.address;
      }
    }
  }
  if (exact.size) {
    const best = [...exact.values()].sort((a, b) => a.depth - b.depth || b.rows - a.rows || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0))[0]!;
    return best.f.id;
  }
  let best: { f: FunctionCode; span: number } | undefined;
  for (const [f, s] of spans) {
    if (line1 < s.lo || line1 > s.hi) continue;
    const span = s.hi - s.lo;
    if (!best || span < best.span) best = { f, span };
  }
  return best?.f.id;
}
