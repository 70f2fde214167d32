// What the object's DWARF and the source say the MMIO dataflow starts from, and
// what it learns while running (dataflow.ts asks through DataflowFacts):
//
// - at a function's entry, each parameter's register holds its DWARF type (a
//   pointer to a struct), or MMIO when the source declares it __iomem or a
//   mapping API's value reaches it (site.declaredAt);
// - a load from a struct member yields MMIO when an MMIO value is stored into that
//   member anywhere in the object (learned), or the source names it as MMIO;
//   a pointer to another struct otherwise (so `dev->priv->regs` is followed);
// - a struct whose pointer is ever given MMIO is a register overlay: every
//   pointer of that type is MMIO (`a->c->mask` for `struct regs *c`);
// - globals and return values likewise; ioremap() and the other mapping APIs
//   of the catalogue return MMIO.
//
// Malformed DWARF (a bad type reference, a location that is not a register)
// leaves a parameter unknown, never throws: the join then falls back by line.
import { MAPPING_APIS } from '../../c/catalogue';
import type { Site } from '../../c/types';
import { DwarfError, ElfError, normalizePath, type DwarfUnit, type InlinedInstance, type LineRow } from '../../binary/index';
import type { OpenedObject } from '../objects';
import { DW_AT, DW_OP, DW_TAG } from '../../binary/dwarf/constants';
import { getAttr, type Die } from '../../binary/dwarf/info';
import { constValue } from '../../binary/dwarf/forms';
import { typeRef, UnitTypes } from '../../binary/dwarf/types';
import type { FunctionCode, ObjectCode } from '../code';
import { analyseFunction, MMIO, UNKNOWN, type DataflowFacts, type FunctionFlow, type RegisterHint, type Val } from './dataflow';

/** System V integer argument registers, GPR numbers: rdi rsi rdx rcx r8 r9. */
const ARG_REGS = [7, 6, 2, 1, 8, 9];
/** DWARF register number → GPR number (x86-64 psABI: rax rdx rcx rbx rsi rdi rbp rsp r8-r15). */
const DWARF_GPR = [0, 2, 1, 3, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15];
/** Rounds of the object-wide fixpoint (a member learned in one function is read in another). */
const MAX_ROUNDS = 4;

interface Param {
  name: string | undefined;
  type: number | undefined;
  /** GPR number at entry. */
  reg: number | undefined;
}

/**
 * What the source says holds MMIO: the names of the __iomem (or mapping-API-fed)
 * declarations its dereference sites start from, per enclosing function (a
 * parameter `p` of one function says nothing of another's `p`).
 */
export function sourceMmioNames(sites: readonly Site[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of sites) {
    if (s.kind === 'call' || !s.function) continue;
    const n = s.declaredAt?.name;
    if (!n || !/^[A-Za-z_]\w*$/.test(n) || MAPPING_APIS.has(n)) continue;
    let set = out.get(s.function);
    if (!set) out.set(s.function, (set = new Set()));
    set.add(n);
  }
  return out;
}

/** The GPR a location expression names when it is exactly DW_OP_regN / DW_OP_regx N (x86-64 numbering). */
export function registerOf(expr: Uint8Array): number | undefined {
  if (expr.length === 1 && expr[0]! >= DW_OP.reg0 && expr[0]! <= DW_OP.reg0 + 15) return DWARF_GPR[expr[0]! - DW_OP.reg0];
  if (expr.length === 2 && expr[0] === DW_OP.regx && expr[1]! < 16) return DWARF_GPR[expr[1]!];
  return undefined;
}

/** A variable with a location, and (read once, when its type first makes it worth it) its register ranges. */
interface LocatedVariable {
  die: Die;
  t: UnitTypes;
  /** The function it belongs to in the source (an inlined callee's name inside its caller). */
  fnName: string;
  name: string | undefined;
  type: number | undefined;
  regs?: { lo: bigint; hi: bigint; reg: number }[];
}

export class ObjectFacts implements DataflowFacts {
  private readonly types: UnitTypes[];
  private readonly params = new Map<string, Param[]>();
  private readonly globalTypes = new Map<string, number | undefined>();
  private readonly memberHolders = new Set<string>();
  private readonly globalHolders = new Set<string>();
  private readonly returnHolders = new Set<string>();
  /** Functions whose DWARF return type is a pointer: only their RAX at `ret` is a return value worth learning. */
  private readonly returnsPointer = new Set<string>();
  private readonly overlays = new Set<number>();
  /**
   * How many facts have been learned so far. Learning is the only change to
   * what the queries answer, so a function whose last run started at this
   * version would run again to the same flow (objectFlow skips it).
   */
  version = 0;

  constructor(units: readonly DwarfUnit[], code: ObjectCode, private readonly mmioNames: ReadonlyMap<string, ReadonlySet<string>>) {
    this.types = units.map((cu) => new UnitTypes(cu));
    for (const t of this.types) {
      try {
        this.readUnit(t, code);
      } catch (e) {
        // A unit whose DIEs the reader rejects gives no facts; the others still do.
        if (!(e instanceof ElfError || e instanceof DwarfError)) throw e;
      }
    }
    // A name the source declares __iomem that is no parameter of the function using
    // it is a struct field or a global (`dev->seg_ram`): loads of a pointer member
    // of that name are MMIO, even when the struct pointer came through a void * cast
    // the dataflow cannot type (iphase's INPH_IA_DEV(dev) = dev->dev_data).
    for (const [fn, names] of mmioNames) {
      const params = new Set((this.params.get(fn) ?? []).map((p) => p.name));
      for (const n of names) if (!params.has(n)) this.fieldNames.add(n);
    }
  }

  private readonly fieldNames = new Set<string>();

  /**
   * A pointer to void or to a scalar: what an __iomem field is declared as
   * (`void __iomem *seg_ram`, `u32 __iomem *regs`). A same-named pointer to a
   * struct elsewhere (struct atm_dev's `const struct atmphy_ops *phy` beside
   * iphase's `void __iomem *phy`) is not taken for it by name alone.
   */
  private plainPointer(t: UnitTypes, type: number | undefined): boolean {
    const s = t.shape(type);
    if (s.kind !== 'pointer') return false;
    return s.to === undefined || t.shape(s.to).kind === 'other';
  }

  private typesOf(offset: number): UnitTypes | undefined {
    return this.types.find((t) => offset >= t.cu.header.dieOffset && offset < t.cu.header.end);
  }

  private named(t: UnitTypes, d: Die): { name: string | undefined; type: number | undefined } {
    let name = t.cu.string(getAttr(d, DW_AT.name));
    let type = typeRef(d);
    const origin = getAttr(d, DW_AT.abstract_origin);
    if ((name === undefined || type === undefined) && origin?.kind === 'ref') {
      const o = t.cu.dieAt(origin.offset);
      if (o) {
        name ??= t.cu.string(getAttr(o, DW_AT.name));
        type ??= typeRef(o);
      }
    }
    return { name, type };
  }

  private readUnit(t: UnitTypes, code: ObjectCode): void {
    const cu = t.cu;
    let dies: Die[];
    try {
      dies = cu.dies();
    } catch {
      return;
    }
    for (const d of dies) {
      if (d.tag === DW_TAG.variable && d.depth === 1) {
        const { name, type } = this.named(t, d);
        if (name) this.globalTypes.set(name, type);
        continue;
      }
      if (d.tag !== DW_TAG.subprogram) continue;
      let ranges;
      try {
        ranges = cu.dieRanges(d);
      } catch {
        continue;
      }
      if (!ranges.length) continue;
      const fn = code.functionAt(ranges[0]!.lo);
      if (!fn || fn.start !== ranges[0]!.lo) continue;
      // gcc's hot/cold split (foo.cold): the other ranges are functions of their own;
      // the location lists cover them too, so their typed variables are known there.
      for (const r of ranges.slice(1)) {
        const part = code.functionAt(r.lo);
        if (part && part.start === r.lo && part !== fn) this.readLocations(t, d, part);
      }
      // gcc's clones (foo.isra.0, foo.constprop.0) drop or reorder arguments: only a
      // register location says where a parameter is.
      const clone = fn.name.includes('.');
      const params: Param[] = [];
      for (const c of cu.children(d)) {
        if (c.tag !== DW_TAG.formal_parameter) continue;
        const { name, type } = this.named(t, c);
        const loc = getAttr(c, DW_AT.location);
        let reg: number | undefined;
        if (loc?.kind === 'block' && registerOf(loc.value) !== undefined) {
          reg = registerOf(loc.value);
        } else if (!clone) reg = ARG_REGS[params.length];
        params.push({ name, type, reg });
      }
      this.params.set(fn.name, params);
      this.readLocations(t, d, fn);
      const ret = this.named(t, d).type;
      if (ret !== undefined && t.shape(ret).kind === 'pointer') this.returnsPointer.add(fn.name);
    }
  }

  private memberOffsetIndex: Map<string, Set<number>> | undefined;

  /** Byte offsets at which a member of this name sits in the structs of these units (expression-shape matching). */
  memberOffsets(name: string): ReadonlySet<number> {
    if (!this.memberOffsetIndex) {
      this.memberOffsetIndex = new Map();
      for (const t of this.types) {
        let dies: Die[] = [];
        try {
          dies = t.cu.dies();
        } catch {
          continue;
        }
        for (const d of dies) {
          if (d.tag !== DW_TAG.member) continue;
          const n = t.cu.string(getAttr(d, DW_AT.name));
          const loc = getAttr(d, DW_AT.data_member_location);
          const off = loc === undefined ? 0 : loc.kind === 'block' ? undefined : constValue(loc);
          if (!n || off === undefined) continue;
          let set = this.memberOffsetIndex.get(n);
          if (!set) this.memberOffsetIndex.set(n, (set = new Set()));
          set.add(off);
        }
      }
    }
    return this.memberOffsetIndex.get(name) ?? new Set();
  }

  private readonly hintsOf = new Map<string, LocatedVariable[]>();

  /** Parameters and locals (inlined ones too) of a subprogram, for their location lists. */
  private readLocations(t: UnitTypes, d: Die, fn: FunctionCode): void {
    const dies = t.cu.dies();
    const list: LocatedVariable[] = [];
    // The function a variable belongs to in the source: the innermost inlined
    // subroutine around it (rx_pkt's buf_desc_ptr inside ia_int), else this one.
    const scopes: { depth: number; name: string }[] = [{ depth: d.depth, name: fn.name }];
    for (let i = d.index + 1; i < dies.length && dies[i]!.depth > d.depth; i++) {
      const c = dies[i]!;
      while (scopes.length > 1 && scopes[scopes.length - 1]!.depth >= c.depth) scopes.pop();
      if (c.tag === DW_TAG.inlined_subroutine) {
        const n = this.named(t, c).name;
        if (n) scopes.push({ depth: c.depth, name: n });
        continue;
      }
      if ((c.tag === DW_TAG.formal_parameter || c.tag === DW_TAG.variable) && getAttr(c, DW_AT.location)) {
        list.push({ die: c, t, fnName: scopes[scopes.length - 1]!.name, ...this.named(t, c) });
      }
    }
    this.hintsOf.set(fn.name, list);
  }

  /**
   * Where the function's typed variables sit in registers: location-list entries
   * (and single locations) that are one DW_OP_regN, for variables whose type is a
   * struct pointer or that the source says hold MMIO. Read lazily, per function.
   */
  hints(fn: string): RegisterHint[] {
    const out: RegisterHint[] = [];
    // The values change as the object's run learns (overlays); the locations do not: read once.
    for (const h of this.hintsOf.get(fn) ?? []) {
      const v = this.valueOfType(h.type, h.name, h.fnName);
      if (v === UNKNOWN) continue;
      if (!h.regs) {
        h.regs = [];
        try {
          for (const l of h.t.cu.locations(h.die)) {
            const reg = registerOf(l.expr);
            if (reg !== undefined) h.regs.push({ lo: l.lo, hi: l.hi, reg });
          }
        } catch {
          // malformed list: this variable gives no hint, the rest still do
        }
      }
      for (const r of h.regs) out.push({ ...r, value: v });
    }
    return out;
  }

  /** A value of this DWARF type: MMIO for a pointer to an overlay, ptr(struct) for another struct pointer. */
  private valueOfType(type: number | undefined, name?: string, fn?: string): Val {
    if (name && fn !== undefined && this.mmioNames.get(fn.replace(/\..*$/, ''))?.has(name)) return MMIO;
    if (type === undefined) return UNKNOWN;
    const s = this.typesOf(type)?.shape(type);
    if (!s || s.kind !== 'pointer' || s.to === undefined) return UNKNOWN;
    if (this.overlays.has(s.to)) return MMIO;
    return this.typesOf(s.to)?.shape(s.to).kind === 'struct' ? s.to : UNKNOWN;
  }

  entry(fn: string): ReadonlyMap<number, Val> {
    const out = new Map<number, Val>();
    for (const p of this.params.get(fn) ?? []) {
      if (p.reg === undefined) continue;
      const v = this.valueOfType(p.type, p.name, fn);
      if (v !== UNKNOWN) out.set(p.reg, v);
    }
    return out;
  }

  member(struct: number, offset: number): Val {
    if (this.memberHolders.has(`${struct}:${offset}`)) return MMIO;
    const t = this.typesOf(struct);
    if (!t) return UNKNOWN;
    let v: Val = UNKNOWN;
    for (const m of t.membersAt(struct, offset)) {
      if (m.name && this.fieldNames.has(m.name) && this.plainPointer(t, m.type)) return MMIO;
      const mv = this.valueOfType(m.type, m.name);
      if (mv === MMIO) return MMIO;
      if (mv !== UNKNOWN) v = mv;
    }
    return v;
  }

  memberAddress(struct: number, offset: number): Val {
    const t = this.typesOf(struct);
    if (!t) return UNKNOWN;
    for (const m of t.membersAt(struct, offset)) {
      const s = t.shape(m.type);
      if (s.kind === 'struct') return s.offset;
    }
    return UNKNOWN;
  }

  private globalName(ref: string): { name: string; offset: number } | undefined {
    const m = /^(.*)\+(-?\d+)$/.exec(ref);
    return m ? { name: m[1]!, offset: Number(m[2]) } : undefined;
  }

  global(ref: string): Val {
    if (this.globalHolders.has(ref)) return MMIO;
    const g = this.globalName(ref);
    if (!g || !this.globalTypes.has(g.name)) return UNKNOWN;
    const type = this.globalTypes.get(g.name);
    if (g.offset === 0 && this.fieldNames.has(g.name) && type !== undefined && this.typesOf(type)?.shape(type).kind === 'pointer') return MMIO;
    if (g.offset === 0) return this.valueOfType(type, g.name);
    // A member of a global struct (`static struct priv p; p.regs`).
    const s = type === undefined ? undefined : this.typesOf(type)?.shape(type);
    return s?.kind === 'struct' ? this.member(s.offset, g.offset) : UNKNOWN;
  }

  globalAddress(ref: string): Val {
    const g = this.globalName(ref);
    const type = g ? this.globalTypes.get(g.name) : undefined;
    if (!g || type === undefined) return UNKNOWN;
    const s = this.typesOf(type)?.shape(type);
    if (s?.kind !== 'struct') return UNKNOWN;
    return g.offset === 0 ? s.offset : this.memberAddress(s.offset, g.offset);
  }

  returns(callee: string): Val {
    const api = MAPPING_APIS.get(callee);
    if (api && api.returns === 'mmio') return MMIO;
    return this.returnHolders.has(callee) ? MMIO : UNKNOWN;
  }

  /** The member's pointee struct becomes an overlay: every pointer of that type is MMIO. */
  private overlay(type: number | undefined): void {
    if (type === undefined) return;
    const s = this.typesOf(type)?.shape(type);
    if (s?.kind === 'pointer' && s.to !== undefined && this.typesOf(s.to)?.shape(s.to).kind === 'struct') this.overlays.add(s.to);
  }

  learnMember(struct: number, offset: number): boolean {
    const k = `${struct}:${offset}`;
    if (this.memberHolders.has(k)) return false;
    this.memberHolders.add(k);
    for (const m of this.typesOf(struct)?.membersAt(struct, offset) ?? []) this.overlay(m.type);
    this.version++;
    return true;
  }

  learnGlobal(ref: string): boolean {
    if (this.globalHolders.has(ref)) return false;
    this.globalHolders.add(ref);
    const g = this.globalName(ref);
    if (g && g.offset === 0) this.overlay(this.globalTypes.get(g.name));
    this.version++;
    return true;
  }

  learnReturn(fn: string): boolean {
    if (this.returnHolders.has(fn) || !this.returnsPointer.has(fn)) return false;
    this.returnHolders.add(fn);
    this.version++;
    return true;
  }
}

/** Two paths name the same file: equal, or one is a '/'-aligned suffix of the other. */
export function sameFile(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = normalizePath(a);
  const y = normalizePath(b);
  if (x === y) return true;
  const [s, l] = x.length < y.length ? [x, y] : [y, x];
  return l.endsWith(s) && l[l.length - s.length - 1] === '/';
}


/** Per-unit DWARF facts the join reuses across edits. */
export interface UnitFacts {
  instances: InlinedInstance[];
  rows: LineRow[];
  /** Named subprograms with their DW_AT_decl_file/decl_line (the staleness check). */
  decls: { name: string; line: number; file: string | undefined }[];
}
const unitFacts = new WeakMap<DwarfUnit, UnitFacts>();

/** Drops a unit's cached facts (a linked image's unit released after use: its rows and instances are the bulk of the memory). */
export function forgetUnitFacts(cu: DwarfUnit): void {
  unitFacts.delete(cu);
}

export function unitFactsOf(o: OpenedObject, cu: DwarfUnit): UnitFacts {
  let f = unitFacts.get(cu);
  if (!f) {
    // The declarations first: they decode the unit's whole DIE tree, from which the
    // instances' scope subset is then built instead of decoding the unit again.
    const decls = declsOf(cu);
    f = { instances: o.bin.dwarf.inlinedInstances(cu), rows: o.bin.dwarf.lineRows(cu), decls };
    unitFacts.set(cu, f);
  }
  return f;
}

function declsOf(cu: DwarfUnit): UnitFacts['decls'] {
  const out: UnitFacts['decls'] = [];
  for (const d of cu.dies()) {
    if (d.tag !== DW_TAG.subprogram) continue;
    const line = constValue(getAttr(d, DW_AT.decl_line));
    const file = constValue(getAttr(d, DW_AT.decl_file));
    const name = cu.string(getAttr(d, DW_AT.name));
    if (line && file !== undefined && name) out.push({ name, line, file: cu.filePath(file) });
  }
  return out;
}


export interface ObjectFlow {
  /** Per function (by symbol name): its MMIO accesses. */
  functions: Map<string, FunctionFlow>;
  /** Functions the analysis covered. */
  analysed: number;
  /** Function analyses run over all rounds (at most analysed × rounds; fewer where a function's inputs had not changed). */
  runs: number;
}

/** One run of the dataflow over one function of an object, against what `facts` answer now. */
export function functionFlow(code: ObjectCode, fn: FunctionCode, facts: DataflowFacts): FunctionFlow {
  return analyseFunction(fn.name, {
    instructions: code.instructions(fn),
    framePointer: code.framePointer(fn),
    callTarget: (i) => code.callTarget(fn, i),
    dataRef: (i) => code.dataRef(fn, i),
  }, facts);
}

/**
 * Runs the dataflow over the given functions of an object until what it learns
 * (members, globals, return values holding MMIO) stops growing.
 */
export function objectFlow(code: ObjectCode, fns: readonly FunctionCode[], facts: ObjectFacts): ObjectFlow {
  const flows = new Map<FunctionCode, FunctionFlow>();
  // A function's flow depends on its code and on what the facts answer, which
  // changes only when something is learned: a function whose last run started
  // at the facts' current version (it learned nothing, and nothing was learned
  // since) would give the same flow again and is not run again. Same result as
  // running every function every round, without the rounds' repeated work.
  const ranAt = new Map<FunctionCode, number>();
  let runs = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let learned = false;
    for (const fn of fns) {
      const version = facts.version;
      if (ranAt.get(fn) === version) continue;
      ranAt.set(fn, version);
      runs++;
      const flow = functionFlow(code, fn, facts);
      flows.set(fn, flow);
      learned ||= flow.learned;
    }
    if (!learned) break;
  }
  // By name, in the functions' order (a later function of the same name wins, as it did when each round rewrote the map).
  const functions = new Map<string, FunctionFlow>();
  for (const fn of fns) {
    const f = flows.get(fn);
    if (f) functions.set(fn.name, f);
  }
  return { functions, analysed: fns.length, runs };
}
