// What one file teaches the analysis of another: accessor wrappers and `__iomem`
// declarations found in a header are used for every file that includes it.

import type { Accessor } from './catalogue';
import type { Range, ViaStep } from './types';

/** A driver's own static inline function or function-like macro that performs an accessor. */
export interface Wrapper {
  name: string;
  /** The catalogued accessor it ends in. */
  accessor: Accessor;
  /** The wrapper's arguments that flow into the accessor's address (first is shown). */
  addrArgs: number[];
  /** The chain from this wrapper down to the catalogued accessor (this wrapper first). */
  chain: ViaStep[];
  isMacro: boolean;
}

/** A pointer declared `__iomem`: `depth` pointer/array levels lead to device memory. */
export interface IomemDecl {
  name: string;
  depth: number;
  file: string;
  range: Range;
  /** For struct fields, the struct's tag (`typedef struct { ... } name`: the typedef name) when it has one. */
  struct?: string;
  /** For struct fields, the typedef name the struct is declared under (`typedef struct tag { ... } name`) when it differs. */
  typedef?: string;
}

export interface Knowledge {
  wrappers: Map<string, Wrapper>;
  /**
   * __iomem struct fields by field name: the first declaration of each struct (tag)
   * that has one, first seen first (a base of unknown type takes the first).
   */
  fields: Map<string, IomemDecl[]>;
  /** Field names also declared without __iomem somewhere (resolved only by struct type). */
  plainFields: Set<string>;
  /** File-scope __iomem variables. */
  globals: Map<string, IomemDecl>;
}

export function emptyKnowledge(): Knowledge {
  return { wrappers: new Map(), fields: new Map(), plainFields: new Set(), globals: new Map() };
}

/** Lists longer than this are answered from a map per list, not scanned. */
const SCAN_LIMIT = 8;
/** Per field list: the first declaration of each struct among its first `n` entries (lists only grow, by addField). */
const byStruct = new WeakMap<IomemDecl[], { n: number; first: Map<string | undefined, IomemDecl> }>();

/**
 * The first declaration in one field name's `list` that belongs to struct `struct`.
 * A long list is answered from a map kept beside it: a file (or the headers it
 * includes) with thousands of structs sharing a field name made each lookup and each
 * addField a scan of the list, quadratic in the file (21 MB generated: ~20 s).
 */
export function fieldIn(list: readonly IomemDecl[], struct: string | undefined): IomemDecl | undefined {
  if (list.length <= SCAN_LIMIT) return list.find((x) => x.struct === struct);
  let ix = byStruct.get(list as IomemDecl[]);
  if (!ix) byStruct.set(list as IomemDecl[], (ix = { n: 0, first: new Map() }));
  for (; ix.n < list.length; ix.n++) {
    const d = list[ix.n]!;
    if (!ix.first.has(d.struct)) ix.first.set(d.struct, d);
  }
  return ix.first.get(struct);
}

/** Adds an __iomem field unless its struct already has one of that name (the first wins). */
export function addField(k: Knowledge, d: IomemDecl): void {
  const list = k.fields.get(d.name);
  if (!list) k.fields.set(d.name, [d]);
  else if (!fieldIn(list, d.struct)) list.push(d);
}

/** Merges `from` into `into` (first definition wins, as with the preprocessor's first include). */
export function mergeKnowledge(into: Knowledge, from: Knowledge): void {
  for (const [k, v] of from.wrappers) if (!into.wrappers.has(k)) into.wrappers.set(k, v);
  for (const list of from.fields.values()) for (const d of list) addField(into, d);
  for (const k of from.plainFields) into.plainFields.add(k);
  for (const [k, v] of from.globals) if (!into.globals.has(k)) into.globals.set(k, v);
}

/** Knowledge as plain JSON (the header index's disk cache); accessors by name. */
export interface KnowledgeJson {
  w?: [string, { a: string; args: number[]; chain: ViaStep[]; m: boolean }][];
  /** Each field name's declarations, one per struct. */
  f?: [string, IomemDecl[]][];
  p?: string[];
  g?: [string, IomemDecl][];
}

export function knowledgeToJson(k: Knowledge): KnowledgeJson {
  const out: KnowledgeJson = {};
  if (k.wrappers.size) out.w = [...k.wrappers].map(([n, w]) => [n, { a: w.accessor.name, args: w.addrArgs, chain: w.chain, m: w.isMacro }]);
  if (k.fields.size) out.f = [...k.fields];
  if (k.plainFields.size) out.p = [...k.plainFields];
  if (k.globals.size) out.g = [...k.globals];
  return out;
}

/** The knowledge back, or undefined when the JSON is not what knowledgeToJson wrote (or names an accessor no longer catalogued). */
export function knowledgeFromJson(j: unknown, accessor: (name: string) => Accessor | undefined): Knowledge | undefined {
  if (typeof j !== 'object' || j === null) return undefined;
  const o = j as KnowledgeJson;
  const k = emptyKnowledge();
  try {
    for (const [n, w] of o.w ?? []) {
      const a = accessor(w.a);
      if (!a || !Array.isArray(w.args) || !Array.isArray(w.chain)) return undefined;
      k.wrappers.set(n, { name: n, accessor: a, addrArgs: w.args, chain: w.chain, isMacro: !!w.m });
    }
    for (const [n, d] of o.f ?? []) {
      // A cache line from before fields were kept per struct (one declaration, not a list).
      if (!Array.isArray(d)) return undefined;
      k.fields.set(n, d);
    }
    for (const n of o.p ?? []) k.plainFields.add(n);
    for (const [n, d] of o.g ?? []) k.globals.set(n, d);
  } catch {
    return undefined;
  }
  return k;
}
