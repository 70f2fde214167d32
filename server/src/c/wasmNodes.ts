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
// - A `Node` is an object of Node.prototype with the own fields `0` (`other`),
//   `_children`, `_namedChildren`, `id`, `startIndex`, `startPosition` and `tree`
//   (what `unmarshalNode` gives its constructor, which wants a private symbol): one
//   is made here with those fields and that prototype (`nodeOf`).
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
}

const FUNCTIONS = [
  '_malloc', '_free', '_ts_init', '_ts_node_descendants_of_type_wasm',
  '_ts_node_symbol_wasm', '_ts_node_end_index_wasm', '_ts_node_parent_wasm', '_ts_node_child_by_field_id_wasm',
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
  M = undefined;
  verified = false;
  refusal = why;
}

/** The public accessors whose bodies this module stands in for still read as they did. */
function hasShape(): boolean {
  const src = (name: string) => {
    const d = Object.getOwnPropertyDescriptor(Node.prototype, name);
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
      if (!(made instanceof Node) || Object.keys(made).join() !== Object.keys(n).join() || made.id !== n.id || made.type !== n.type || made.endIndex !== n.endIndex ||
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
