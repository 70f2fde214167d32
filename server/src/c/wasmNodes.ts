// Syntax nodes as numbers, read straight from web-tree-sitter's WASM module. The
// ONE module that relies on web-tree-sitter's internals (pinned at 0.25.10 by
// package-lock.json; `WASM_NODES_VERSION` below, checked by
// test/unit/c/wasm-nodes.test.ts against node_modules).
//
// Why: `Node.descendantsOfType` makes a `Node` object (~370 bytes: its `[0]` class
// field gives every node a 17-slot elements store) for every match, and each later
// `endIndex` / `type` read marshals the node back into WASM through a generic
// `setValue`. The node index (nodeIndex.ts) wants kinds and spans of ~1 node in 5
// of a tree, most of which no analysis ever looks at beyond that. Here the same
// WASM walk (`_ts_node_descendants_of_type_wasm`) is called directly and its
// result buffer read into typed arrays; each match's kind and end are one direct
// WASM call each; a `Node` is made only when an analysis asks for one.
//
// What is relied on (web-tree-sitter 0.25.10, src/marshal.ts, lib/tree-sitter.c):
// - `Parser.init(options)` makes `options` the Emscripten module (MODULARIZE mutates
//   its argument): `HEAP32` (replaced when memory grows: read on every use),
//   `_malloc`, `_free`, `_ts_init` (returns the address of the static TRANSFER_BUFFER),
//   `_ts_node_descendants_of_type_wasm`, `_ts_node_symbol_wasm`,
//   `_ts_node_end_index_wasm`, `_ts_node_parent_wasm`.
// - A node in the transfer buffer is 5 int32: id, startIndex (UTF-16 units), start
//   row, start column (UTF-16 units), and `other` (the alias; `Node[0]`); `tree[0]`
//   is the TSTree address.
// - The descendants call leaves [count, address of count*5 int32] in the buffer; the
//   caller frees that address.
// - `Node.prototype.parent` is `marshalNode(this); C._ts_node_parent_wasm(tree[0]);
//   return unmarshalNode(tree)`: a Node is made (its constructor wants a private
//   symbol) by having that call leave the wanted node in the buffer.
// A self-check on the first tree of a process compares these readings with the
// public API (kinds, starts, ends, ids of the matches, and a made Node); if anything
// differs, or the module is not reachable, `available()` is false and callers use
// the public API. The test fails if any of this changes shape.

import { Node, type Tree } from 'web-tree-sitter';

/** The web-tree-sitter version whose internals this module reads. */
export const WASM_NODES_VERSION = '0.25.10';

const SIZE_OF_NODE_INTS = 5;
/** How many matches of a process's first walk the self-check compares. */
const CHECKED = 4000;
/** How many of them (with up to 3 children each) the fast accessors are compared on, each with every field of the language (test/unit/c/fast-accessors.test.ts compares every node of a fixture). */
const FAST_CHECKED = 12;

interface EmModule {
  HEAP32: Int32Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _ts_init(): number;
  _ts_node_descendants_of_type_wasm(tree: number, symbols: number, count: number, sr: number, sc: number, er: number, ec: number): void;
  _ts_node_symbol_wasm(tree: number): number;
  _ts_node_end_index_wasm(tree: number): number;
  _ts_node_parent_wasm(tree: number): void;
  _ts_node_child_by_field_id_wasm(tree: number, field: number): void;
  _ts_node_children_by_field_id_wasm(tree: number, field: number): void;
  _ts_node_end_point_wasm(tree: number): void;
  _ts_node_child_wasm(tree: number, index: number): void;
  _ts_node_named_child_wasm(tree: number, index: number): void;
  _ts_node_child_count_wasm(tree: number): number;
  _ts_node_named_child_count_wasm(tree: number): number;
  _ts_node_children_wasm(tree: number): void;
  _ts_node_named_children_wasm(tree: number): void;
}

const FUNCTIONS = [
  '_malloc', '_free', '_ts_init', '_ts_node_descendants_of_type_wasm',
  '_ts_node_symbol_wasm', '_ts_node_end_index_wasm', '_ts_node_parent_wasm', '_ts_node_child_by_field_id_wasm',
  '_ts_node_children_by_field_id_wasm', '_ts_node_end_point_wasm', '_ts_node_child_wasm', '_ts_node_named_child_wasm',
  '_ts_node_child_count_wasm', '_ts_node_named_child_count_wasm', '_ts_node_children_wasm', '_ts_node_named_children_wasm',
] as const;

let M: EmModule | undefined;
let transfer = 0;
/** undefined: not checked yet (done on the first tree); false: use the public API. */
let verified: boolean | undefined;
/** Why the internals are not used (for tests and diagnostics). */
let refusal: string | undefined;

/** Calls into WASM made here (the bench's `--crossings` adds them to the accessors'). */
export const wasmCalls = { descendants: 0, symbol: 0, endIndex: 0, made: 0, field: 0 };

/**
 * Called by parser.ts with the object it gave `Parser.init`. Refuses (and the
 * public API is used) if that object is not a module of the expected shape, e.g.
 * when another caller initialised web-tree-sitter first with its own options.
 */
export function registerModule(options: unknown): void {
  const m = options as Partial<EmModule> & Record<string, unknown>;
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  if (!littleEndian) return refuse('big-endian host');
  if (!m || !(m.HEAP32 instanceof Int32Array)) return refuse('no HEAP32 on the module');
  for (const f of FUNCTIONS) if (typeof m[f] !== 'function') return refuse(`no ${f} on the module`);
  if (!hasShape()) return refuse('Node.prototype does not have the expected shape');
  M = m as EmModule;
  transfer = M._ts_init();
  refusal = undefined;
}

function refuse(why: string): void {
  setFastAccessors(false);
  M = undefined;
  verified = false;
  refusal = why;
}

/** The public accessors whose bodies this module stands in for still read as they did. */
function hasShape(): boolean {
  const src = (name: string) => {
    // Once the fast accessors are in, the originals are what web-tree-sitter shipped.
    const d = originals?.get(name) ?? Object.getOwnPropertyDescriptor(Node.prototype, name);
    return String(d?.get ?? d?.value ?? '');
  };
  return src('parent').includes('_ts_node_parent_wasm') && src('descendantsOfType').includes('_ts_node_descendants_of_type_wasm') &&
    src('endIndex').includes('_ts_node_end_index_wasm') && src('typeId').includes('_ts_node_symbol_wasm') &&
    src('childForFieldId').includes('_ts_node_child_by_field_id_wasm');
}

/** Whether the internals are in use; `why` says why not. */
export function wasmNodesStatus(): { available: boolean; why?: string } {
  return { available: !!M && verified !== false, why: refusal };
}

/** The matches of one walk: 5 int32 per node as the transfer buffer holds them, plus kind and end. */
export interface RawNodes {
  count: number;
  ids: Int32Array;
  starts: Int32Array;
  rows: Int32Array;
  columns: Int32Array;
  others: Int32Array;
  ends: Int32Array;
  /** The node's symbol (alias-aware: what `typeId` answers). */
  symbols: Int32Array;
}

function put(tree: Tree, id: number, start: number, row: number, column: number, other: number): number {
  const h = M!.HEAP32;
  const at = transfer >> 2;
  h[at] = id;
  h[at + 1] = start;
  h[at + 2] = row;
  h[at + 3] = column;
  h[at + 4] = other;
  return (tree as unknown as { [0]: number })[0];
}

/**
 * Every descendant of `tree`'s root (document order, the root included) whose
 * symbol is in `symbols`, as numbers; undefined when the internals are not usable
 * (the caller then uses `descendantsOfType`).
 */
export function descendantsRaw(tree: Tree, symbols: readonly number[]): RawNodes | undefined {
  if (!M || verified === false) return undefined;
  const raw = walk(tree, symbols);
  if (verified === undefined) {
    verified = selfCheck(tree, symbols, raw);
    if (!verified) return undefined;
    if (fastRefusal === undefined) {
      const bad = fastCheck(tree, raw, FAST_CHECKED); // ~15 ms, once per process

      if (bad) fastRefusal = `fast accessors: ${bad} differs`;
      else setFastAccessors(true);
    }
  }
  return raw;
}

function walk(tree: Tree, symbols: readonly number[]): RawNodes {
  const m = M!;
  const root = tree.rootNode;
  const symbolsAt = m._malloc(4 * Math.max(1, symbols.length));
  m.HEAP32.set(symbols, symbolsAt >> 2);
  const treePtr = put(tree, root.id, root.startIndex, root.startPosition.row, root.startPosition.column,
    (root as unknown as { [0]: number })[0]);
  m._ts_node_descendants_of_type_wasm(treePtr, symbolsAt, symbols.length, 0, 0, 0, 0);
  wasmCalls.descendants++;
  const h = m.HEAP32;
  const count = h[transfer >> 2]!;
  const address = h[(transfer >> 2) + 1]!;
  const ids = new Int32Array(count);
  const starts = new Int32Array(count);
  const rows = new Int32Array(count);
  const columns = new Int32Array(count);
  const others = new Int32Array(count);
  for (let i = 0, a = address >> 2; i < count; i++, a += SIZE_OF_NODE_INTS) {
    ids[i] = h[a]!;
    starts[i] = h[a + 1]!;
    rows[i] = h[a + 2]!;
    columns[i] = h[a + 3]!;
    others[i] = h[a + 4]!;
  }
  m._free(address);
  m._free(symbolsAt);
  const ends = new Int32Array(count);
  const syms = new Int32Array(count);
  const at = transfer >> 2;
  // Neither call below allocates: the heap (and `h`, its view) stays put.
  for (let i = 0; i < count; i++) {
    h[at] = ids[i]!;
    h[at + 1] = starts[i]!;
    h[at + 2] = rows[i]!;
    h[at + 3] = columns[i]!;
    h[at + 4] = others[i]!;
    syms[i] = m._ts_node_symbol_wasm(treePtr);
    ends[i] = m._ts_node_end_index_wasm(treePtr);
  }
  wasmCalls.symbol += count;
  wasmCalls.endIndex += count;
  return { count, ids, starts, rows, columns, others, ends, symbols: syms };
}

/** A child's kind (symbol) and span, read without making its Node. */
export interface ChildSpan {
  symbol: number;
  start: number;
  end: number;
}

/**
 * `childForFieldId(fieldId)` of match `i` of `raw`, as numbers: what the public API's
 * `childForFieldName(...)` would make a Node of; null when there is none. The
 * child is left in the transfer buffer by the field call, so its kind and end are
 * read from there.
 */
export function fieldChildRaw(tree: Tree, raw: RawNodes, i: number, fieldId: number): ChildSpan | null {
  const m = M!;
  return fieldChildAt(m, put(tree, raw.ids[i]!, raw.starts[i]!, raw.rows[i]!, raw.columns[i]!, raw.others[i]!), fieldId);
}

/** `node.childForFieldId(fieldId)` as numbers (see fieldChildRaw); undefined: internals not in use. */
export function nodeFieldChild(node: Node, fieldId: number): ChildSpan | null | undefined {
  const m = M;
  if (!m || verified !== true) return undefined;
  return fieldChildAt(m, put(node.tree, node.id, node.startIndex, node.startPosition.row, node.startPosition.column,
    (node as unknown as { [0]: number })[0]), fieldId);
}

/**
 * `node.childForFieldId(fieldId)?.text` as `source.slice(start, end)` (`source` is the
 * text the tree was parsed from): the child's span read from the transfer buffer
 * and one end call, without making its Node (an operator's or a field name's text
 * is all most callers read of it). null: no such child; undefined: internals not in use.
 */
export function nodeFieldText(node: Node, fieldId: number, source: string): string | null | undefined {
  const m = M;
  if (!m || verified !== true) return undefined;
  const t = put(node.tree, node.id, node.startIndex, node.startPosition.row, node.startPosition.column,
    (node as unknown as { [0]: number })[0]);
  m._ts_node_child_by_field_id_wasm(t, fieldId);
  wasmCalls.field++;
  const at = transfer >> 2;
  if (m.HEAP32[at] === 0) return null;
  const start = m.HEAP32[at + 1]!;
  wasmCalls.endIndex++;
  return source.slice(start, m._ts_node_end_index_wasm(t));
}

/** The field call on the node `put` left at `t`, its child's kind and span read from the transfer buffer. */
function fieldChildAt(m: EmModule, t: number, fieldId: number): ChildSpan | null {
  m._ts_node_child_by_field_id_wasm(t, fieldId);
  wasmCalls.field++;
  const at = transfer >> 2;
  if (m.HEAP32[at] === 0) return null;
  const start = m.HEAP32[at + 1]!;
  const symbol = m._ts_node_symbol_wasm(t);
  const end = m._ts_node_end_index_wasm(t);
  wasmCalls.symbol++;
  wasmCalls.endIndex++;
  return { symbol, start, end };
}

/** The `Node` web-tree-sitter would have made for match `i` of `raw` (a fresh object each call). */
export function makeNode(tree: Tree, raw: RawNodes, i: number): Node {
  wasmCalls.made++;
  return nodeOf(tree, raw.ids[i]!, raw.starts[i]!, raw.rows[i]!, raw.columns[i]!, raw.others[i]!);
}

const NODE_PROTO = Node.prototype;

/**
 * A `Node` as web-tree-sitter's `unmarshalNode` makes it (the same own fields, in the
 * order its class declares them), without its constructor: that one wants a private
 * symbol and an options object, and defines its seven class fields one by one.
 */
function nodeOf(tree: Tree, id: number, start: number, row: number, column: number, other: number): Node {
  return new (MadeNode as unknown as new (...a: unknown[]) => Node)(tree, id, start, row, column, other);
}

/**
 * Makes web-tree-sitter's Nodes: a plain constructor whose prototype is Node's, so
 * `instanceof Node` and every accessor hold; V8 sizes its objects to their fields
 * (an `Object.create(Node.prototype)` object grew an out-of-object property store).
 */
function MadeNode(this: Record<string | number, unknown>, tree: Tree, id: number, start: number, row: number, column: number, other: number): void {
  this[0] = other;
  this._children = undefined;
  this._namedChildren = undefined;
  this.id = id;
  this.startIndex = start;
  this.startPosition = { row, column };
  this.tree = tree;
}
MadeNode.prototype = NODE_PROTO;

/** The node the transfer buffer holds at int32 `a` (what `unmarshalNode` reads), or null. */
function nodeAtHeap(tree: Tree, h: Int32Array, a: number): Node | null {
  const id = h[a]!;
  return id === 0 ? null : nodeOf(tree, id, h[a + 1]!, h[a + 2]!, h[a + 3]!, h[a + 4]!);
}

// ---------------------------------------------------------------------------------
// Fast accessors. Every `Node` accessor web-tree-sitter ships marshals its node into
// the transfer buffer with five generic `setValue(ptr, v, 'i32')` calls (a string
// switch and a DataView store each), and makes each answer through `unmarshalNode`
// (five `getValue`, an options object, the constructor's class fields). The analyses
// read node kinds, ends, parents and field children ~70 times per site (the 4 MB
// generated file: 3.2 million accessor calls per audit), and that marshalling was
// ~8 % of an audit's samples before any WASM ran. The accessors below do the same
// WASM calls with the node written and read through HEAP32, and are installed on
// Node.prototype once the process's first walk has passed its self-check and the
// accessors give what the originals give on that tree (`fastCheck`).

/** What the fast accessors replaced (undefined: the originals are in place). */
let originals: Map<string, PropertyDescriptor> | undefined;
/** Whether installing them was refused (environment, or a check failed) and why. */
let fastRefusal: string | undefined = process.env.TDX_AUDIT_NO_FAST_NODES === '1' ? 'TDX_AUDIT_NO_FAST_NODES=1' : undefined;

/** The node in the transfer buffer (what `marshalNode(node)` writes); returns the TSTree address. */
function putNode(n: Node): number {
  const h = M!.HEAP32;
  const at = transfer >> 2;
  const p = n.startPosition;
  h[at] = n.id;
  h[at + 1] = n.startIndex;
  h[at + 2] = p.row;
  h[at + 3] = p.column;
  h[at + 4] = (n as unknown as { [0]: number })[0];
  return (n.tree as unknown as { [0]: number })[0];
}

/** Per language: field name to id, as `Language.fields.indexOf` answers it. */
const fieldIdMaps = new WeakMap<object, Map<string, number>>();
function fieldIdFor(lang: Tree['language'], name: string): number {
  let ids = fieldIdMaps.get(lang);
  if (!ids) fieldIdMaps.set(lang, (ids = new Map()));
  let id = ids.get(name);
  if (id === undefined) ids.set(name, (id = lang.fields.indexOf(name)));
  return id;
}

/** The nodes a `_ts_node_*children*_wasm` call left as [count, buffer] in the transfer buffer; frees the buffer. */
function nodeList(tree: Tree): Node[] {
  const m = M!;
  const h = m.HEAP32;
  const at = transfer >> 2;
  const count = h[at]!;
  const buffer = h[at + 1]!;
  const out: Node[] = new Array(count);
  if (count > 0) {
    for (let i = 0, a = buffer >> 2; i < count; i++, a += SIZE_OF_NODE_INTS) out[i] = nodeAtHeap(tree, h, a)!;
    m._free(buffer);
  }
  return out;
}

type FastNode = Node & { _children?: Node[]; _namedChildren?: Node[] };

/** The replacements, each doing what the original does (web-tree-sitter 0.25.10 src/node.ts). */
const FAST: Record<string, PropertyDescriptor> = {
  typeId: { get(this: Node) { return M!._ts_node_symbol_wasm(putNode(this)); } },
  endIndex: { get(this: Node) { return M!._ts_node_end_index_wasm(putNode(this)); } },
  endPosition: {
    get(this: Node) {
      M!._ts_node_end_point_wasm(putNode(this));
      const h = M!.HEAP32;
      const at = transfer >> 2;
      return { row: h[at]! >>> 0, column: h[at + 1]! >>> 0 };
    },
  },
  parent: {
    get(this: Node) {
      M!._ts_node_parent_wasm(putNode(this));
      return nodeAtHeap(this.tree, M!.HEAP32, transfer >> 2);
    },
  },
  childCount: { get(this: Node) { return M!._ts_node_child_count_wasm(putNode(this)); } },
  namedChildCount: { get(this: Node) { return M!._ts_node_named_child_count_wasm(putNode(this)); } },
  child: {
    value(this: Node, index: number) {
      M!._ts_node_child_wasm(putNode(this), index);
      return nodeAtHeap(this.tree, M!.HEAP32, transfer >> 2);
    },
  },
  namedChild: {
    value(this: Node, index: number) {
      M!._ts_node_named_child_wasm(putNode(this), index);
      return nodeAtHeap(this.tree, M!.HEAP32, transfer >> 2);
    },
  },
  childForFieldId: {
    value(this: Node, fieldId: number) {
      M!._ts_node_child_by_field_id_wasm(putNode(this), fieldId);
      return nodeAtHeap(this.tree, M!.HEAP32, transfer >> 2);
    },
  },
  childForFieldName: {
    value(this: Node, fieldName: string) {
      const fieldId = fieldIdFor(this.tree.language, fieldName);
      return fieldId !== -1 ? this.childForFieldId(fieldId) : null;
    },
  },
  childrenForFieldId: {
    value(this: Node, fieldId: number) {
      M!._ts_node_children_by_field_id_wasm(putNode(this), fieldId);
      return nodeList(this.tree);
    },
  },
  childrenForFieldName: {
    value(this: Node, fieldName: string) {
      const fieldId = fieldIdFor(this.tree.language, fieldName);
      return fieldId !== -1 && fieldId !== 0 ? this.childrenForFieldId(fieldId) : [];
    },
  },
  children: {
    get(this: FastNode) {
      if (!this._children) {
        M!._ts_node_children_wasm(putNode(this));
        this._children = nodeList(this.tree);
      }
      return this._children;
    },
  },
  namedChildren: {
    get(this: FastNode) {
      if (!this._namedChildren) {
        M!._ts_node_named_children_wasm(putNode(this));
        this._namedChildren = nodeList(this.tree);
      }
      return this._namedChildren;
    },
  },
};

/** The accessors FAST replaces (tests compare each with its original). */
export const FAST_ACCESSORS: readonly string[] = Object.keys(FAST);

/**
 * Puts the fast accessors on Node.prototype (true) or the originals back (false).
 * Installing needs the internals in use; returns whether the fast ones are in.
 */
export function setFastAccessors(on: boolean): boolean {
  const proto = NODE_PROTO as unknown as object;
  if (!on) {
    if (originals) for (const [name, d] of originals) Object.defineProperty(proto, name, d);
    originals = undefined;
    return false;
  }
  if (originals) return true;
  if (!M || verified !== true) return false;
  const saved = new Map<string, PropertyDescriptor>();
  for (const name of FAST_ACCESSORS) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (!d || !!d.get !== !!FAST[name]!.get) return false; // not the shape replaced
    saved.set(name, d);
  }
  originals = saved;
  for (const [name, d] of saved) Object.defineProperty(proto, name, { ...d, ...FAST[name] });
  return true;
}

/** Whether the fast accessors are installed; `why` says why not. */
export function fastAccessorsStatus(): { installed: boolean; why?: string } {
  return { installed: !!originals, why: fastRefusal };
}

/** The original accessor `name` called on `node` (args for methods): what the fast one must answer. */
function original(name: string, node: Node, args: unknown[] = []): unknown {
  const d = originals?.get(name) ?? Object.getOwnPropertyDescriptor(NODE_PROTO, name)!;
  return d.get ? d.get.call(node) : (d.value as (...a: unknown[]) => unknown).apply(node, args);
}

/** A node's identity as the transfer buffer carries it. */
const ident = (n: Node | null | undefined) =>
  n ? `${n.id}:${n.startIndex}:${n.startPosition.row}:${n.startPosition.column}:${(n as unknown as { [0]: number })[0]}` : 'null';

/**
 * The fast accessors against the originals on up to `limit` nodes of `tree` (the
 * matches of its first walk, their parents and children): every accessor, every
 * field of the language. Run once, before installing them.
 */
function fastCheck(tree: Tree, raw: RawNodes, limit: number): string | undefined {
  const fields = tree.language.fields;
  // Not the root, nor any node with many children (a file's root has thousands):
  // the children lists are read whole.
  const sample: Node[] = [];
  for (let i = 0; i < raw.count && sample.length < limit; i++) {
    const n = makeNode(tree, raw, i);
    if ((original('childCount', n) as number) <= 64) sample.push(n);
  }
  const n0 = sample.length;
  for (let i = 0; i < n0; i++) {
    const kids = original('children', sample[i]!) as Node[];
    for (const k of kids.slice(0, 3)) sample.push(k);
  }
  const same = (what: string, a: unknown, b: unknown) => {
    const show = (v: unknown) => (Array.isArray(v) ? v.map((x) => ident(x as Node)).join(',') : v instanceof Node || v === null ? ident(v as Node | null) : JSON.stringify(v));
    return show(a) === show(b) ? undefined : what;
  };
  for (const n of sample) {
    const fresh = () => nodeOf(n.tree, n.id, n.startIndex, n.startPosition.row, n.startPosition.column, (n as unknown as { [0]: number })[0]);
    for (const name of ['typeId', 'endIndex', 'endPosition', 'parent', 'childCount', 'namedChildCount']) {
      const d = FAST[name]!;
      const bad = same(name, d.get!.call(n), original(name, n));
      if (bad) return bad;
    }
    for (const name of ['children', 'namedChildren']) {
      const bad = same(name, FAST[name]!.get!.call(fresh()), original(name, fresh()));
      if (bad) return bad;
    }
    for (const i of [0, 1, -1, 99]) {
      for (const name of ['child', 'namedChild']) {
        const bad = same(`${name}(${i})`, (FAST[name]!.value as (i: number) => Node | null).call(n, i), original(name, n, [i]));
        if (bad) return bad;
      }
    }
    for (let f = 0; f < fields.length; f++) {
      const fieldName = fields[f];
      if (!fieldName) continue;
      const one = (FAST.childForFieldId!.value as (id: number) => Node | null).call(n, fieldIdFor(tree.language, fieldName));
      const bad = same(`childForFieldName(${fieldName})`, one, original('childForFieldName', n, [fieldName])) ??
        same(`childrenForFieldName(${fieldName})`, (FAST.childrenForFieldId!.value as (id: number) => Node[]).call(n, f), original('childrenForFieldName', n, [fieldName]));
      if (bad) return bad;
    }
  }
  return undefined;
}

/**
 * The first walk of a process against the public API: the same matches (ids,
 * starts, positions), kinds and ends, and Nodes made here equal to theirs.
 */
function selfCheck(tree: Tree, symbols: readonly number[], raw: RawNodes): boolean {
  try {
    const types = tree.language.types;
    const names = [...new Set(symbols.map((s) => types[s]!))];
    // The first CHECKED matches (a 20 MB first tree is not walked twice): the public
    // walk up to the start of match CHECKED, which it leaves out with any match
    // starting there.
    const k = Math.min(raw.count, CHECKED);
    const pub = k < raw.count
      ? tree.rootNode.descendantsOfType(names, { row: 0, column: 0 }, { row: raw.rows[k]!, column: raw.columns[k]! })
      : tree.rootNode.descendantsOfType(names);
    if (pub.length > k || (k > 0 && pub.length === 0)) return failed('match count differs');
    for (let i = 0; i < pub.length; i++) {
      const n = pub[i]!;
      if (n.id !== raw.ids[i] || n.startIndex !== raw.starts[i] || n.startPosition.row !== raw.rows[i] ||
          n.startPosition.column !== raw.columns[i] || n.typeId !== raw.symbols[i] || n.endIndex !== raw.ends[i]) {
        return failed(`match ${i} differs`);
      }
    }
    for (const i of [0, pub.length >> 1, pub.length - 1]) {
      if (i < 0 || i >= pub.length) continue;
      const made = makeNode(tree, raw, i);
      const n = pub[i]!;
      if (!(made instanceof Node) || made.id !== n.id || made.type !== n.type || made.endIndex !== n.endIndex ||
          made.text !== n.text || made.parent?.id !== n.parent?.id) return failed(`made node ${i} differs`);
    }
    return true;
  } catch (e) {
    return failed(`self-check threw: ${String(e)}`);
  }
}

function failed(why: string): false {
  refusal = `self-check: ${why}`;
  return false;
}
