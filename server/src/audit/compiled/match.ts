// The join: source sites × the object's DWARF and code → the instructions the
// compiler emitted for each site, each with what the #VE handler does with it.
//
// - An inlined accessor call (readl, inb, a static inline wrapper of them) is
//   found through the DW_TAG_inlined_subroutine whose call_file/call_line/
//   call_column is the site; inside it, the instruction that touches memory with
//   the accessor's width and direction and is not a stack access. GCC
//   duplicates code (loop versioning, tail duplication), so one site can own
//   several instances and instructions: all are kept.
// - A dereference site gets the instructions of its line (DWARF's line table,
//   columns first) whose address the MMIO dataflow (dataflow.ts) derives from
//   MMIO: match 'dataflow'. Only where the dataflow knows nothing of the
//   function does the old width/direction guess run, labelled 'line-fallback'.
// - An out-of-line accessor (ioread32, memcpy_toio) is the CALL on the site's
//   line; the #VE lands in the callee, which the catalogue describes.
import { accessorFor } from '../../c/catalogue';
import type { Site } from '../../c/types';
import { DwarfError, ElfError, type DwarfUnit, type InlinedInstance, type LineRow } from '../../binary/index';
import type { MemoryAccess, WalkedInstruction } from '../../x86/iced';
import { formatVersion, profileData, type Profile } from '../../x86/profiles';
import type { FunctionCode } from '../code';
import type { CompiledInstruction, FileCompiled, InstructionVerdict, MatchKind, SiteCompiled } from '../compiled';
import type { ObjectChoice, OpenedObject } from '../objects';
import { callEntry, describe, deviceAccesses, performedIn } from './describe';
import { objectOnlySites } from './objectOnly';
import { openCallStart, utf16Column } from './sourceLines';
import { ObjectFacts, objectFlow, sameFile, sourceMmioNames, unitFactsOf } from './facts';
import { judgeFreshness } from './freshness';
import { spanAt } from '../../sorted';

function contains(outer: InlinedInstance, inner: InlinedInstance): boolean {
  return inner.ranges.every((r) => outer.ranges.some((o) => r.lo >= o.lo && r.hi <= o.hi));
}


const COPY_CALL = /\b(memcpy|memmove|memset|memcmp|strcpy|strncpy|strscpy|strlcpy|strcmp|strncmp|strlen|strnlen|__builtin_mem\w+)\s*\($/;

/**
 * When the site is an argument of a plain copy (`memcpy((void *)p->ring, src, n)`),
 * which side of the copy is the device: the destination of memcpy/memset/str*cpy
 * is written, every other argument read. The other side is an ordinary buffer
 * whose loads or stores are not MMIO.
 */
/**
 * The column copyDirection reads a site from: a dereference's own; for a plain
 * memcpy/memset on MMIO (iomem-libc, whose range is the whole call) the MMIO
 * argument's, found by its text after the call's start (`memcpy((void *)r->ring, src,
 * n)`: the destination, written); the call's start when that argument is not on the
 * line (copyDirection then names no side).
 */
function copySideColumn(site: Site, lineText: string): number {
  const at = site.callRange.start.character;
  if (site.kind !== 'iomem-libc' || !site.address) return at;
  const i = lineText.indexOf(site.address, at);
  return i >= 0 ? i : at;
}

export function copyDirection(lineText: string, siteColumn: number): 'R' | 'W' | undefined {
  let depth = 0;
  let commas = 0;
  for (let i = siteColumn - 1; i >= 0; i--) {
    const c = lineText[i];
    if (c === ')' || c === ']') depth++;
    else if (c === '(' || c === '[') {
      if (depth > 0) {
        depth--;
        continue;
      }
      const m = COPY_CALL.exec(lineText.slice(0, i + 1));
      if (m) {
        const writes = /^(memcpy|memmove|memset|strcpy|strncpy|strscpy|strlcpy|__builtin_mem(cpy|move|set))$/.test(m[1]!);
        return writes && commas === 0 ? 'W' : 'R';
      }
      // A cast's or grouping parenthesis: keep looking outwards.
    } else if (c === ',' && depth === 0) commas++;
    else if (c === ';' || c === '{' || c === '}') return undefined;
  }
  return undefined;
}

/**
 * Names an accessor's inlined instance can carry: x86's io.h defines
 * `#define inb __inb` (BUILDIO), so DWARF names the function behind the macro.
 */
export function aliases(name: string): string[] {
  const out = [name, `__${name}`];
  // x86 io.h: `#define __raw_readl __readl`, `#define readl_relaxed(a) __readl(a)`.
  if (name.startsWith('__raw_')) out.push(`__${name.slice(6)}`);
  if (name.endsWith('_relaxed')) out.push(`__${name.slice(0, -8)}`);
  return out;
}

/**
 * `p->regs->ctrl |= 1` loads the __iomem pointer `p->regs` from ordinary memory
 * on the same line and column as the MMIO access. A 64-bit load whose
 * destination is the base or index of a later candidate is that pointer load.
 */
function withoutPointerLoads<T extends { insn: WalkedInstruction }>(cands: T[]): T[] {
  const regName = (i: WalkedInstruction): string | undefined => {
    const d = i.operands[0];
    return i.mnemonic === 'mov' && d?.kind === 'register' && d.gpr?.width === 8 ? d.register?.toLowerCase() : undefined;
  };
  return cands.filter((c, k) => {
    const r = regName(c.insn);
    if (!r) return true;
    return !cands.slice(k + 1).some((later) => later.insn.memory.some((m) => m.base?.toLowerCase() === r || m.index?.toLowerCase() === r));
  });
}

interface Region {
  lo: bigint;
  hi: bigint;
}

function regionsOfRows(rows: LineRow[], source: string, line1: number, col: { lo: number; hi: number } | undefined, lineText: string): Region[] {
  const all: { r: Region; column: number }[] = [];
  for (let i = 0; i + 1 < rows.length; i++) {
    const r = rows[i]!;
    if (r.endSequence || r.line !== line1 || !sameFile(r.file, source)) continue;
    const next = rows[i + 1]!;
    if (next.address <= r.address) continue;
    all.push({ r: { lo: r.address, hi: next.address }, column: r.column });
  }
  if (!col) return all.map((x) => x.r);
  const inside = all.filter((x) => {
    const c = utf16Column(lineText, x.column);
    return c >= col.lo && c <= col.hi;
  });
  return (inside.length ? inside : all).map((x) => x.r);
}

function uniqueByAddress(xs: CompiledInstruction[]): CompiledInstruction[] {
  const seen = new Set<string>();
  return xs
    .filter((x) => (seen.has(x.address) ? false : (seen.add(x.address), true)))
    .sort((a, b) => (a.function === b.function ? a.offset - b.offset : a.function < b.function ? -1 : 1));
}

export interface JoinInput {
  choice: ObjectChoice;
  source: string;
  text: string;
  sites: readonly Site[];
  profile: Profile;
  /** Reads the file as saved on disk; called only when the object looks stale (for the message). */
  diskText?: () => string | undefined;
}

/** Compiled forms of every site of one file. */
export function compiledFormsFor(input: JoinInput): FileCompiled {
  const { choice, source, text, sites, profile } = input;
  const info = judgeFreshness(choice, source, text, input.diskText);
  const o = choice.object;
  if (!o || info.state === 'lines-differ') return { object: info, sites: [], functions: [] };
  const flow = flowFor(o, choice.units, sites);
  const lines = text.split(/\r?\n/);
  const instances: InlinedInstance[] = [];
  const rows: LineRow[][] = [];
  for (const cu of choice.units) {
    const f = unitFactsOf(o, cu);
    instances.push(...f.instances);
    rows.push(f.rows);
  }
  // Instances by the function they sit in, for "the accessor's instances nested in this wrapper's".
  const inFunction = new Map<number | undefined, InlinedInstance[]>();
  for (const inst of instances) {
    const list = inFunction.get(inst.enclosingFunctionOffset);
    if (list) list.push(inst);
    else inFunction.set(inst.enclosingFunctionOffset, [inst]);
  }
  const atCall = new Map<string, InlinedInstance[]>();
  for (const inst of instances) {
    if (!inst.name || !inst.callLine || !sameFile(inst.callFile, source)) continue;
    const k = `${inst.callLine}:${inst.name}`;
    const list = atCall.get(k) ?? [];
    list.push(inst);
    atCall.set(k, list);
  }

  const out: SiteCompiled[] = [];
  // The accessor as the profile's kernel builds it (x86 __iowrite32_copy: a CALL up to 6.9,
  // an inline `rep movsl` from 6.10), so the call note and the order of the search follow it.
  const kernel = profileData(profile).kernel;
  sites.forEach((site, siteIndex) => {
    const line1 = site.range.start.line + 1;
    const lineText = lines[site.range.start.line] ?? '';
    const found: CompiledInstruction[] = [];
    let note: string | undefined;
    const acc = accessorFor(site.base, kernel);
    const pick = (regions: Region[], match: MatchKind) => {
      for (const p of performedIn(o, regions, { accessorKind: site.accessorKind, width: site.width, name: site.base }, profile, match)) found.push(p.described());
    };
    // A CALL to an accessor the profile's kernel builds inline: the object is from another version.
    const callNote = (callee: string) =>
      acc?.inline && acc.source && callee === site.base
        ? `out of line in this object, but ${formatVersion(kernel)} (the profile's kernel) builds ${callee} inline (${acc.source}): the object is from another kernel version, or the profile is wrong`
        : acc?.compiles ?? 'out of line';
    const calls = (regions: Region[], callee: string) => {
      for (const r of regions) {
        for (const { fn, insn } of o.code.instructionsIn(r.lo, r.hi)) {
          if (o.code.callTarget(fn, insn) === callee) found.push(callEntry(o, fn, insn, callee, callNote(callee)));
        }
      }
    };
    if (site.kind === 'call' && site.function === null) {
      note = 'inside a macro definition: the compiled form is shown where the macro is used';
    } else if (site.kind === 'call') {
      // A macro wrapper leaves no instance of its own: gcc records the function it expands to.
      let cands: InlinedInstance[] = [];
      const names = [site.accessor, ...site.via.map((v) => v.callee)].flatMap(aliases);
      for (const name of names) {
        cands = atCall.get(`${line1}:${name}`) ?? [];
        if (cands.length) break;
      }
      // Inside a multi-line macro call (pr_info(..., readl(p))), gcc records the macro's
      // line for everything expanded from it: look at the line the open call starts on.
      let macroLine: number | undefined;
      if (!cands.length) {
        const start = openCallStart(lines, site.range.start.line, site.range.start.character);
        if (start !== undefined) {
          for (const name of names) {
            cands = atCall.get(`${start + 1}:${name}`) ?? [];
            if (cands.length) break;
          }
          if (cands.length) macroLine = start + 1;
        }
      }
      const col = site.range.start.character;
      const exact = macroLine ? [] : cands.filter((c) => c.callColumn !== undefined && utf16Column(lineText, c.callColumn) === col);
      const own = exact.length ? exact : cands;
      if (own.length) {
        const baseNames = aliases(site.base);
        for (const inst of own) {
          if (baseNames.includes(inst.name!) || !acc?.inline) {
            const before = found.length;
            if (acc && !acc.inline) calls(inst.ranges, site.base);
            // An accessor the catalogue knows out of line that this kernel inlines
            // (x86 __iowrite32_copy since 6.10: inline `rep movsl`): its own instructions.
            if (found.length === before) pick(inst.ranges, 'inlined-accessor');
          } else {
            // Through an inline wrapper: the accessor's own instances nested in it.
            const nested = (inFunction.get(inst.enclosingFunctionOffset) ?? []).filter((x) => baseNames.includes(x.name ?? '') && x.depth > inst.depth && contains(inst, x));
            for (const n of nested) pick(n.ranges, 'inlined-accessor');
          }
        }
        if (found.length && macroLine) {
          const same = own.length;
          note = `inside the arguments of a macro call starting at line ${macroLine}: gcc records that line for every ${site.accessor} in it, so these are all ${same} instance${same === 1 ? '' : 's'} there`;
        }
        if (!found.length) note = `${site.accessor} was inlined here (${own.length} instance${own.length === 1 ? '' : 's'}) but no ${site.accessorKind} instruction of ${site.width} bytes is inside it`;
      } else {
        let regions = rows.flatMap((rs) => regionsOfRows(rs, source, line1, { lo: site.range.start.character, hi: site.callRange.end.character }, lineText));
        if (!regions.length) {
          const start = openCallStart(lines, site.range.start.line, site.range.start.character);
          if (start !== undefined) regions = rows.flatMap((rs) => regionsOfRows(rs, source, start + 1, undefined, lines[start] ?? ''));
        }
        calls(regions, site.accessor);
        if (!found.length && site.accessor !== site.base) calls(regions, site.base);
        // ioread64 is a header's macro for ioread64_lo_hi or _hi_lo: the CALL names those.
        for (const c of acc?.callees ?? []) if (!found.length) calls(regions, c);
        if (!found.length) {
          note = regions.length
            ? `no inlined ${site.accessor} and no call to it at line ${line1} in ${o.path}`
            : `no code at line ${line1} in ${o.path}: the call was optimised out, or sits in a function the object does not hold`;
        }
      }
    } else {
      const regions = rows.flatMap((rs) => regionsOfRows(rs, source, line1, { lo: site.callRange.start.character, hi: site.callRange.end.character }, lineText));
      const candidates: { fn: FunctionCode; insn: WalkedInstruction }[] = [];
      const byFlow: { fn: FunctionCode; insn: WalkedInstruction }[] = [];
      let flowKnows = false;
      const dir = copyDirection(lineText, copySideColumn(site, lineText));
      for (const r of regions) {
        for (const { fn, insn } of o.code.instructionsIn(r.lo, r.hi)) {
          if (!insn.valid) continue;
          const known = flow.accessesOf(fn);
          if (known) {
            flowKnows = true;
            const a = known.get(insn.ip);
            // A plain memcpy/memset on MMIO that gcc inlined (rep movs, vector moves) is
            // found as a dereference is: the accesses whose address the dataflow derives
            // from MMIO, on the copy's device side; a call to it is named below.
            if (a && (!dir || a.access === dir || a.access === 'RW')) {
              byFlow.push({ fn, insn });
              continue;
            }
          }
          const dev = deviceAccesses(insn, o.code.framePointer(fn));
          const stringOp = insn.memory.some((a) => a.string) && !insn.memory.some((a) => a.stack);
          if (site.kind === 'iomem-libc') {
            const t = o.code.callTarget(fn, insn);
            if (t === site.base || t === site.accessor) found.push(callEntry(o, fn, insn, t, `plain ${t} on MMIO: whatever instructions ${t} uses (rep movs/stos, vector moves) are not decodable by the #VE handler`));
            else if (stringOp || dev.some((a) => !dir || a.access === dir || a.access === 'RW')) candidates.push({ fn, insn });
          } else if (dev.some((a) => (site.width === 0 || a.width === site.width) && (!dir || a.access === dir || a.access === 'RW')) || stringOp) {
            candidates.push({ fn, insn });
          }
        }
      }
      // The columns DWARF gives for the site's own expression may hold no MMIO access (gcc
      // attributes an inline memset/memcpy or a read-modify-write to other columns of the
      // line), or another site's: the dataflow decides, so the whole line is looked at too.
      const wholeLine: { fn: FunctionCode; insn: WalkedInstruction }[] = [];
      if (flowKnows) {
        for (const r of rows.flatMap((rs) => regionsOfRows(rs, source, line1, undefined, lineText))) {
          for (const { fn, insn } of o.code.instructionsIn(r.lo, r.hi)) {
            const a = flow.accessesOf(fn)?.get(insn.ip);
            // On the rest of the line only an access of the site's own direction: a load
            // site must not take the store of the same line's other side.
            const want = dir ?? (site.accessor === 'load' ? 'R' : site.accessor === 'store' ? 'W' : undefined);
            if (a && (!want || a.access === want || a.access === 'RW')) wholeLine.push({ fn, insn });
          }
        }
      }
      // `eabr_vc->last_desc` and `abr_vc->status` on one line: the member's offset is the displacement.
      // (Not for an argument of a copy: memcpy(r->data, ...) touches every word after data.)
      const field = dir || site.shape === 'copy' ? undefined : /(?:->|\.)\s*([A-Za-z_]\w*)\s*$/.exec(site.address)?.[1];
      const offs = field ? flow.memberOffsets(field) : undefined;
      const shaped = (cs: typeof byFlow) => (offs ? cs.filter((c) => c.insn.memory.some((m) => !m.index && offs.has(Number(m.displacement)))) : []);
      const pickFlow = (): typeof byFlow => {
        const a = shaped(byFlow);
        if (a.length) return a;
        const b = shaped(wholeLine);
        if (b.length) return b;
        return byFlow.length ? byFlow : wholeLine;
      };
      const chosen = pickFlow();
      if (chosen.length) {
        // Two sites on one line: each keeps the accesses of its own width when that tells them apart.
        let own = site.width ? chosen.filter((c) => c.insn.memory.some((m) => m.width === site.width)) : [];
        if (!own.length) own = chosen;
        for (const c of own) found.push(describe(o, c.fn, c.insn, profile, 'dataflow'));
      } else if (!flowKnows) {
        for (const c of withoutPointerLoads(candidates)) found.push(describe(o, c.fn, c.insn, profile, 'line-fallback'));
      }
      if (!found.length) {
        note = !regions.length
          ? `no code at line ${line1} in ${o.path}`
          : flowKnows
            ? `no instruction at line ${line1} has an address derived from MMIO: gcc merged or dropped the access, or moved it to another line`
            : `no memory access of ${site.width || 'any'} byte${site.width === 1 ? '' : 's'} at line ${line1}: gcc merged or dropped it`;
      }
    }
    out.push({ siteIndex, instructions: uniqueByAddress(found), ...(note ? { note } : {}) });
  });

  preferSpecificClaims(out, sites);
  claimFusedAccesses(o, out, sites, flow, rows, source, profile);
  noteMergedReads(out, sites, lines);
  const objectOnly = objectOnlySites({ o, functions: flow.functions, instances, sites, lines, source, profile });
  return { object: info, sites: out, functions: functionView(out), ...(objectOnly.length ? { objectOnly } : {}) };
}

/** The MMIO dataflow of the functions the join looks at, as per-function lookups. */
export interface JoinFlow {
  /** The function's MMIO accesses by address, when the dataflow found any there (else the join falls back by line). */
  accessesOf(fn: FunctionCode): Map<bigint, MemoryAccess> | undefined;
  /** Offsets of struct members of this name (to tell `a->x` from `b->y` on one line). */
  memberOffsets(name: string): ReadonlySet<number>;
  /** The functions the dataflow ran over (the chosen units' code, not a whole vmlinux). */
  functions: readonly FunctionCode[];
}

/** Runs (once per object, units and source MMIO names) the object-wide MMIO dataflow. */
export function flowFor(o: OpenedObject, units: readonly DwarfUnit[], sites: readonly Site[]): JoinFlow {
  const names = sourceMmioNames(sites);
  const key = `${units.map((u) => u.offset).join(',')}|${[...names].map(([f, n]) => `${f}:${[...n].sort().join(',')}`).sort().join(';')}`;
  // Kept on the object, so releasing its units (ObjectStore.keepUnits) drops these too.
  const per = (o.joins ??= new Map()) as Map<string, JoinFlow>;
  const hit = per.get(key);
  if (hit) return hit;
  const fns = new Map<bigint, FunctionCode>();
  for (const cu of units) {
    let infos;
    try {
      infos = o.bin.dwarf.functions(cu);
    } catch {
      continue;
    }
    for (const f of infos) {
      for (const r of f.ranges) {
        const fn = o.code.functionAt(r.lo);
        if (fn) fns.set(fn.start, fn);
      }
    }
  }
  let facts: ObjectFacts;
  let result: ReturnType<typeof objectFlow>;
  try {
    facts = new ObjectFacts(units, o.code, names);
    result = objectFlow(o.code, [...fns.values()], facts);
  } catch (e) {
    // Malformed DWARF the readers reject (a typed ElfError/DwarfError): no dataflow,
    // so every dereference site falls back by line, labelled so.
    if (!(e instanceof ElfError || e instanceof DwarfError)) throw e;
    const none: JoinFlow = { accessesOf: () => undefined, memberOffsets: () => new Set(), functions: [] };
    per.set(key, none);
    return none;
  }
  const byFn = new Map<string, Map<bigint, MemoryAccess> | undefined>();
  const jf: JoinFlow = {
    functions: [...fns.values()],
    memberOffsets: (name) => facts.memberOffsets(name),
    accessesOf(fn) {
      if (byFn.has(fn.name)) return byFn.get(fn.name);
      const f = result.functions.get(fn.name);
      let m: Map<bigint, MemoryAccess> | undefined;
      if (f && !f.truncated && f.accesses.length) {
        const ins = o.code.instructions(fn);
        m = new Map(f.accesses.map((a) => [ins[a.index]!.ip, a.access]));
      }
      byFn.set(fn.name, m);
      return m;
    },
  };
  // One entry per object is plenty: an edit changes the names rarely, and the old flow is garbage then.
  per.clear();
  per.set(key, jf);
  return jf;
}

/**
 * Two dereference sites on one line that the dataflow gave overlapping
 * instructions: when one site's set is a single instruction the other also
 * holds, that instruction is the first site's (its shape matched more narrowly),
 * and the other site keeps the rest.
 */
function preferSpecificClaims(out: SiteCompiled[], sites: readonly Site[]): void {
  const byLine = new Map<number, SiteCompiled[]>();
  for (const sc of out) {
    const s = sites[sc.siteIndex]!;
    if (s.kind === 'call' || !sc.instructions.length || sc.instructions.some((i) => i.match !== 'dataflow')) continue;
    const l = s.range.start.line;
    byLine.set(l, [...(byLine.get(l) ?? []), sc]);
  }
  for (const group of byLine.values()) {
    if (group.length < 2) continue;
    for (const a of group) {
      if (a.instructions.length !== 1) continue;
      const x = a.instructions[0]!.address;
      for (const b of group) {
        if (b !== a && b.instructions.length > 1 && b.instructions.some((i) => i.address === x)) {
          b.instructions = b.instructions.filter((i) => i.address !== x);
        }
      }
    }
  }
}

/** Lines after a read site where gcc may put the instruction it fused the load into (`testb $0xe,(%rax)` of `if (status & 0xe)`). */
const FUSE_LINES = 2;

/**
 * MMIO accesses the dataflow found that no site claimed: gcc fused a load into
 * the next line's test or branch, and DWARF gives that line. Each goes to the
 * nearest read site above it in the same function, within FUSE_LINES lines.
 */
function claimFusedAccesses(o: OpenedObject, out: SiteCompiled[], sites: readonly Site[], flow: JoinFlow, rows: LineRow[][], source: string, profile: Profile): void {
  const claimed = new Set<string>();
  for (const sc of out) for (const i of sc.instructions) claimed.add(i.address);
  const readers = out.filter((sc) => {
    const s = sites[sc.siteIndex]!;
    return s.kind !== 'call' && s.kind !== 'iomem-libc' && s.accessorKind === 'mmio-read' && sc.instructions.every((i) => i.match !== 'line-fallback');
  });
  if (!readers.length) return;
  // Address ranges of the line rows of this file, sorted, for "which line is this instruction on".
  const spans: { lo: bigint; hi: bigint; line: number }[] = [];
  for (const rs of rows) {
    for (let i = 0; i + 1 < rs.length; i++) {
      const r = rs[i]!;
      if (!r.endSequence && sameFile(r.file, source) && rs[i + 1]!.address > r.address) spans.push({ lo: r.address, hi: rs[i + 1]!.address, line: r.line });
    }
  }
  spans.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  // Disjoint: one sequence's rows do not overlap, and each sequence lies in its own
  // function's bytes (a .o's sections at their synthetic bases, relocate.ts).
  const lineAt = (ip: bigint): number | undefined => spanAt(spans, ip, (sp) => sp.lo, (sp) => sp.hi)?.line;
  const seen = new Set<string>();
  for (const fn of flow.functions) {
    const acc = flow.accessesOf(fn);
    if (!acc) continue;
    for (const insn of o.code.instructions(fn)) {
      const a = acc.get(insn.ip);
      if (!a || a.access === 'W') continue;
      const addr = '0x' + insn.ip.toString(16);
      if (claimed.has(addr) || seen.has(addr)) continue;
      const line = lineAt(insn.ip);
      if (line === undefined) continue;
      const frames = o.bin.dwarf.inlineChain(insn.ip).map((f) => f.function);
      // The nearest read site of the same function within FUSE_LINES, one still without an
      // instruction first: above it for a load fused into the next line's test, below it
      // for a condition continued on the next line that DWARF gives the first line
      // (hptiop's `info->header.type` on line 456 read at 455, discriminator 1).
      let best: SiteCompiled | undefined;
      let bestRank = Infinity;
      for (const sc of readers) {
        const site = sites[sc.siteIndex]!;
        if (!site.function || (fn.name !== site.function && !fn.name.startsWith(`${site.function}.`) && !frames.includes(site.function))) continue;
        const l = site.range.start.line + 1;
        if (l === line || Math.abs(l - line) > FUSE_LINES) continue;
        const rank = (sc.instructions.length ? 10 : 0) + Math.abs(l - line) + (l > line ? 0.5 : 0);
        if (rank < bestRank) {
          best = sc;
          bestRank = rank;
        }
      }
      if (!best) continue;
      seen.add(addr);
      best.instructions.push(describe(o, fn, insn, profile, 'dataflow'));
      best.instructions = uniqueByAddress(best.instructions);
      best.note = `DWARF puts this read's instruction \`${insn.text}\` on line ${line} (gcc fused or scheduled it there)`;
    }
  }
}

/**
 * A device register read twice in the source is two accesses only through
 * readX(); through a plain pointer gcc may keep the first value and drop the
 * second read. Where two load sites of one function read the same expression
 * and only one of them has an instruction, say so on the other.
 */
function noteMergedReads(out: SiteCompiled[], sites: readonly Site[], lines: string[]): void {
  const textOf = (s: Site): string => {
    const r = s.callRange;
    if (r.start.line !== r.end.line) return '';
    return (lines[r.start.line] ?? '').slice(r.start.character, r.end.character).replace(/\s+/g, '');
  };
  const groups = new Map<string, SiteCompiled[]>();
  for (const sc of out) {
    const s = sites[sc.siteIndex]!;
    if (s.kind === 'call' || s.kind === 'iomem-libc' || s.accessorKind !== 'mmio-read' || !s.function) continue;
    const t = textOf(s);
    if (!t) continue;
    const k = `${s.function}\0${t}`;
    groups.set(k, [...(groups.get(k) ?? []), sc]);
  }
  for (const g of groups.values()) {
    const kept = g.filter((sc) => sc.instructions.length > 0);
    const dropped = g.filter((sc) => sc.instructions.length === 0);
    if (!kept.length || !dropped.length) continue;
    const first = sites[kept[0]!.siteIndex]!;
    for (const sc of dropped) {
      sc.note = `the source reads \`${textOf(sites[sc.siteIndex]!)}\` again here, but the binary reads it once (line ${first.range.start.line + 1}, \`${kept[0]!.instructions[0]!.text}\`): gcc merged the reads. A device register read twice needs readX()`;
    }
  }
}

/** Symbol → instructions it holds: where each #VE lands. */
export function functionView(sites: readonly { instructions: CompiledInstruction[] }[]): FileCompiled['functions'] {
  const by = new Map<string, { name: string; instructions: number; verdicts: Partial<Record<InstructionVerdict, number>>; seen: Set<string> }>();
  for (const s of sites) {
    for (const i of s.instructions) {
      let e = by.get(i.function);
      if (!e) by.set(i.function, (e = { name: i.function, instructions: 0, verdicts: {}, seen: new Set() }));
      if (e.seen.has(i.address)) continue;
      e.seen.add(i.address);
      e.instructions++;
      e.verdicts[i.verdict] = (e.verdicts[i.verdict] ?? 0) + 1;
    }
  }
  return [...by.values()].map(({ seen: _s, ...rest }) => rest).sort((a, b) => a.name.localeCompare(b.name));
}


