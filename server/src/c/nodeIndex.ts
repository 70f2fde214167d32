// The syntax nodes the analyses look for, collected in one pass per tree. Each
// analysis used to ask tree-sitter for its own node kinds over the whole tree
// (calls twice, macro definitions twice, function definitions, declarations,
// dereferences...): eight traversals of every node per file. The first request on
// a tree now collects every kind below in one `descendantsOfType` traversal (done
// in tree-sitter's own code), kept per tree; later requests, on the root or on any
// node of that tree, are answered from it in document order.
//
// The index is numbers (starts, ends, kinds), read by c/wasmNodes.ts straight from
// web-tree-sitter's WASM walk; a node's `Node` object is made only when an analysis
// asks for it (`IndexedNodes.node`), most of them never do (BENCHMARKS.md "The node
// index as numbers"). Without those internals the public walk fills the same arrays.

import type { Node, Tree } from 'web-tree-sitter';
import { descendantsRaw, fieldChildRaw, makeNode, nodeFieldChild, nodeFieldText, type RawNodes } from './wasmNodes';
import { partitionPoint } from '../sorted';

/** Every kind an analysis asks for. A request for another kind goes to tree-sitter directly. */
const INDEXED = [
  'call_expression', 'preproc_function_def', 'function_definition',
  'init_declarator', 'assignment_expression', 'return_statement',
  // Not parameter_declaration: no analysis asks for it (one node in twenty of a driver's
  // index, each held as a Node object and read twice through WASM for nothing).
  'declaration', 'field_declaration',
  'pointer_expression', 'subscript_expression', 'field_expression',
  'type_definition', 'struct_specifier', 'union_specifier',
  // Rare: indexed so that "is this inside one?" is answered without climbing parents.
  'sizeof_expression', 'alignof_expression', 'offsetof_expression', 'typeof_specifier', 'macro_type_specifier',
] as const;
const INDEXED_SET: ReadonlySet<string> = new Set(INDEXED);
/** The kinds answered from the index (tests compare each with tree-sitter's own walk). */
export const INDEXED_KINDS: readonly string[] = INDEXED;

const KIND_OF: ReadonlyMap<string, number> = new Map(INDEXED.map((k, i) => [k, i]));

interface TreeIndex {
  tree: Tree;
  /** Start and end of each node (reading `endIndex` is a call into WASM: done once here). */
  starts: Int32Array;
  ends: Int32Array;
  /** Each node's kind, as a position in INDEXED (`type` is a call into WASM too). */
  kinds: Uint8Array;
  /** Kind names instead of `kinds`, for an answer about kinds not indexed. */
  kindNames?: string[];
  /**
   * The nodes' `Node` objects, made when first asked for (most indexed nodes are
   * never looked at beyond their kind and span); the same object on every answer.
   */
  nodes: (Node | undefined)[];
  /** The numbers wasmNodes.ts read, from which a node is made; undefined: `nodes` is full. */
  raw?: RawNodes;
  /** Per set of kinds asked of `mayBeInside`: those nodes' starts and the running maximum of their ends. */
  spans?: Map<string, { starts: Int32Array; maxEnds: Int32Array }>;
  /**
   * Per set of kinds asked of `kindedNodesOf`: the positions in `nodes` of those kinds,
   * and their starts. A request walks only the nodes of its kinds in its range, not
   * every indexed node there (a function body's declarations, its calls...).
   */
  selections: Map<string, { at: Int32Array; starts: Int32Array }>;
  /** The root node's id, read when first needed. */
  rootId?: number;
}

/** The key of a set of kinds (the same array is keyed once). */
const keys = new WeakMap<readonly string[], string>();
function keyOf(types: string | readonly string[]): string {
  if (typeof types === 'string') return types;
  let k = keys.get(types);
  if (k === undefined) keys.set(types, (k = types.join(' ')));
  return k;
}

const indexes = new WeakMap<Tree, TreeIndex>();

/** The text each tree was parsed from (parser.ts), when it was one string. */
const texts = new WeakMap<Tree, string>();

/**
 * `tree` was parsed from `text` (one string): a node's text is `text.slice(start,
 * end)`, as web-tree-sitter's `Node.text` reads it, without making the node.
 */
export function rememberText(tree: Tree, text: string): void {
  texts.set(tree, text);
}

/** Per language: the symbols of the indexed kinds, and each symbol's position in INDEXED (-1: none). */
const symbolTables = new WeakMap<object, { symbols: number[]; kindOf: Int16Array }>();
function symbolTable(tree: Tree) {
  const lang = tree.language;
  let t = symbolTables.get(lang);
  if (!t) {
    const types = lang.types;
    const kindOf = new Int16Array(Math.max(types.length, 65536)).fill(-1);
    const symbols: number[] = [];
    types.forEach((name, sym) => {
      const k = KIND_OF.get(name);
      if (k === undefined) return;
      symbols.push(sym);
      kindOf[sym] = k;
    });
    symbolTables.set(lang, (t = { symbols, kindOf }));
  }
  return t;
}

function indexOf(tree: Tree): TreeIndex {
  let ix = indexes.get(tree);
  if (!ix) {
    const table = symbolTable(tree);
    const raw = descendantsRaw(tree, table.symbols);
    if (raw) {
      const kinds = new Uint8Array(raw.count);
      for (let i = 0; i < raw.count; i++) kinds[i] = table.kindOf[raw.symbols[i]!]!;
      ix = { tree, starts: raw.starts, ends: raw.ends, kinds, nodes: new Array(raw.count), raw, selections: new Map() };
    } else {
      const nodes = tree.rootNode.descendantsOfType([...INDEXED]).filter((n): n is Node => !!n);
      ix = fromNodes(tree, nodes, (n) => KIND_OF.get(n.type)!);
    }
    indexes.set(tree, ix);
  }
  return ix;
}

/** An index of nodes already made (the public API's answer). */
function fromNodes(tree: Tree, nodes: Node[], kindOf?: (n: Node) => number): TreeIndex {
  const starts = new Int32Array(nodes.length);
  const ends = new Int32Array(nodes.length);
  const kinds = new Uint8Array(nodes.length);
  const kindNames: string[] | undefined = kindOf ? undefined : new Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    starts[i] = n.startIndex;
    ends[i] = n.endIndex;
    if (kindOf) kinds[i] = kindOf(n);
    else kindNames![i] = n.type;
  }
  return { tree, starts, ends, kinds, kindNames, nodes, selections: new Map() };
}

/** Per language, field name to id (`Language.fields.indexOf`, as `childForFieldName` does; -1: none). */
const fieldIds = new WeakMap<object, Map<string, number>>();
function fieldIdOf(lang: Tree['language'], field: string): number {
  let ids = fieldIds.get(lang);
  if (!ids) fieldIds.set(lang, (ids = new Map()));
  let id = ids.get(field);
  if (id === undefined) ids.set(field, (id = lang.fields.indexOf(field)));
  return id;
}

function nodeAt(ix: TreeIndex, i: number): Node {
  let n = ix.nodes[i];
  if (n === undefined) ix.nodes[i] = n = makeNode(ix.tree, ix.raw!, i);
  return n;
}

function kindAt(ix: TreeIndex, i: number): string {
  return ix.kindNames ? ix.kindNames[i]! : INDEXED[ix.kinds[i]!]!;
}

/** First position in `starts` (ascending) at or after `start`. */
function lowerBound(starts: Int32Array, start: number): number {
  return partitionPoint(starts.length, (j) => starts[j]! < start);
}

/** Nodes of some kinds in document order, with each one's kind and end offset beside it. */
export interface Kinded {
  nodes: Node[];
  /** `kinds[i]` is `nodes[i].type`. */
  kinds: string[];
  /** `ends[i]` is `nodes[i].endIndex` (read from the index, not from WASM). */
  ends: number[];
}

/**
 * Indexed nodes of some kinds in document order, as numbers: each one's kind, start
 * and end are read without making its `Node`, which `node(j)` makes (once per node
 * and tree: the same object on every answer) for the few an analysis looks into.
 */
export class IndexedNodes {
  /** @internal */
  constructor(private readonly ix: TreeIndex, private readonly at: ArrayLike<number>) {}

  get length(): number {
    return this.at.length;
  }

  /** `node(j).type` */
  kind(j: number): string {
    return kindAt(this.ix, this.at[j]!);
  }

  /** `node(j).startIndex` */
  start(j: number): number {
    return this.ix.starts[this.at[j]!]!;
  }

  /** `node(j).endIndex` */
  end(j: number): number {
    return this.ix.ends[this.at[j]!]!;
  }

  node(j: number): Node {
    return nodeAt(this.ix, this.at[j]!);
  }

  /**
   * `node(j).childForFieldName(field)` as its kind, span and text, read without
   * making either Node when the index came from WASM; null when there is none.
   */
  fieldChild(j: number, field: string): { kind: string; start: number; end: number; text: string } | null {
    const ix = this.ix;
    const i = this.at[j]!;
    const source = texts.get(ix.tree);
    if (ix.raw && source !== undefined) {
      const lang = ix.tree.language;
      const id = fieldIdOf(lang, field);
      if (id < 0) return null;
      const c = fieldChildRaw(ix.tree, ix.raw, i, id);
      if (!c) return null;
      return { kind: lang.types[c.symbol] || 'ERROR', start: c.start, end: c.end, text: source.slice(c.start, c.end) };
    }
    const c = this.node(j).childForFieldName(field);
    return c && { kind: c.type, start: c.startIndex, end: c.endIndex, text: c.text };
  }

  /** `node(j).text`, sliced from the tree's text when parser.ts remembered it. */
  text(j: number): string {
    const source = texts.get(this.ix.tree);
    if (source === undefined) return this.node(j).text;
    const i = this.at[j]!;
    return source.slice(this.ix.starts[i], this.ix.ends[i]);
  }
}

/** A child's kind, span and text, without its Node. */
export interface ChildInfo {
  kind: string;
  start: number;
  end: number;
  text: string;
}

/**
 * `node.childForFieldName(field)` as kind, span and text, without making the child's
 * Node when the internals are in use and the tree's text is remembered (a caller
 * that only tests the child's kind or name).
 */
export function fieldChildOf(node: Node, field: string): ChildInfo | null {
  const source = texts.get(node.tree);
  if (source !== undefined) {
    const lang = node.tree.language;
    const id = fieldIdOf(lang, field);
    if (id < 0) return null;
    const c = nodeFieldChild(node, id);
    if (c !== undefined) return c && { kind: lang.types[c.symbol] || 'ERROR', start: c.start, end: c.end, text: source.slice(c.start, c.end) };
  }
  const c = node.childForFieldName(field);
  return c && { kind: c.type, start: c.startIndex, end: c.endIndex, text: c.text };
}

/**
 * `node.childForFieldName(field)?.text`, without making the child's Node when the
 * internals are in use and the tree's text is remembered: the analyses read an
 * operator's or a field name's text this way on every member access, dereference
 * and assignment they evaluate (a Node each, ~260 bytes, for one short string).
 */
export function fieldText(node: Node, field: string): string | undefined {
  const source = texts.get(node.tree);
  if (source !== undefined) {
    const id = fieldIdOf(node.tree.language, field);
    if (id < 0) return undefined;
    const t = nodeFieldText(node, id, source);
    if (t !== undefined) return t ?? undefined;
  }
  return node.childForFieldName(field)?.text;
}

/**
 * Whether `parent` is a `.` member access of the expression it holds: then that
 * expression is not an access by itself; the member is (or, for an array member,
 * its address is used and nothing is read at this level: ctypes.ts memberArrays).
 */
export function isDotMemberOf(parent: Node): boolean {
  return parent.type === 'field_expression' && fieldText(parent, 'operator') === '.';
}

/**
 * What `node.descendantsOfType(types)` answers (the node itself included, document
 * order), from the tree's index when every requested kind is indexed.
 */
export function nodesOf(node: Node, types: string | readonly string[]): Node[] {
  const found = indexedNodesOf(node, types);
  const out: Node[] = new Array(found.length);
  for (let j = 0; j < out.length; j++) out[j] = found.node(j);
  return out;
}

/**
 * `nodesOf` with each node's kind beside it (`kinds[i]` is `nodes[i].type`): a caller
 * that dispatches on the kind reads it from the index instead of asking WASM again.
 */
export function kindedNodesOf(node: Node, types: string | readonly string[]): Kinded {
  const found = indexedNodesOf(node, types);
  const nodes: Node[] = new Array(found.length);
  const kinds: string[] = new Array(found.length);
  const ends: number[] = new Array(found.length);
  for (let j = 0; j < nodes.length; j++) {
    nodes[j] = found.node(j);
    kinds[j] = found.kind(j);
    ends[j] = found.end(j);
  }
  return { nodes, kinds, ends };
}

/**
 * The nodes `nodesOf(node, types)` names, as numbers first (see IndexedNodes): a
 * caller that filters on kind, span or text makes only the Nodes it keeps.
 */
export function indexedNodesOf(node: Node, types: string | readonly string[]): IndexedNodes {
  const wanted = typeof types === 'string' ? [types] : types;
  if (!wanted.every((t) => INDEXED_SET.has(t))) {
    const found = node.descendantsOfType([...wanted]).filter((n): n is Node => !!n);
    const ix = fromNodes(node.tree, found);
    return new IndexedNodes(ix, Int32Array.from(found, (_, i) => i));
  }
  const ix = indexOf(node.tree);
  const { starts, ends, kinds } = ix;
  const key = keyOf(types);
  let sel = ix.selections.get(key);
  if (!sel) {
    // Two passes over the kinds (count, then fill): no growing array of the picks, no
    // Set lookup per node and no iterator (`Int32Array.from` of an array walks one).
    const mask = new Uint8Array(INDEXED.length);
    for (const k of wanted) mask[KIND_OF.get(k)!] = 1;
    let count = 0;
    for (let i = 0; i < kinds.length; i++) count += mask[kinds[i]!]!;
    const at = new Int32Array(count);
    const selStarts = new Int32Array(count);
    for (let i = 0, j = 0; j < count; i++) {
      if (mask[kinds[i]!] === 0) continue;
      at[j] = i;
      selStarts[j++] = starts[i]!;
    }
    sel = { at, starts: selStarts };
    ix.selections.set(key, sel);
  }
  const start = node.startIndex;
  // The root's id, read once per tree (`tree.rootNode` makes a Node each time).
  const whole = start === 0 && node.id === (ix.rootId ??= node.tree.rootNode.id);
  const { at } = sel;
  if (whole) return new IndexedNodes(ix, at);
  const end = node.endIndex;
  const out: number[] = [];
  for (let j = lowerBound(sel.starts, start); j < at.length; j++) {
    const i = at[j]!;
    if (starts[i]! > end) break;
    if (ends[i]! <= end) out.push(i);
  }
  return new IndexedNodes(ix, out);
}

/**
 * False when no node of `types` (all indexed) in `node`'s tree starts at or before
 * `node` and ends at or after its start: then none of them is its ancestor, and a
 * caller can skip the climb through its parents (each `parent` is a call into WASM,
 * the dearest accessor). True means "maybe": climb (also for a tree not indexed yet).
 */
export function mayBeInside(node: Node, types: readonly string[]): boolean {
  // Only a tree indexed already is answered (a macro body's small tree is not worth one).
  const ix = indexes.get(node.tree);
  if (!ix) return true;
  const key = keyOf(types);
  let span = (ix.spans ??= new Map()).get(key);
  if (!span) {
    const set = new Set(types.map((k) => KIND_OF.get(k)));
    const picked: number[] = [];
    for (let i = 0; i < ix.kinds.length; i++) if (set.has(ix.kinds[i]!)) picked.push(i);
    const starts = new Int32Array(picked.length);
    const maxEnds = new Int32Array(picked.length);
    let max = -1;
    picked.forEach((i, j) => {
      starts[j] = ix.starts[i]!;
      max = Math.max(max, ix.ends[i]!);
      maxEnds[j] = max;
    });
    ix.spans.set(key, (span = { starts, maxEnds }));
  }
  const at = node.startIndex;
  // The last candidate starting at or before `at`; every earlier one ends by maxEnds.
  const j = lowerBound(span.starts, at + 1) - 1;
  return j >= 0 && span.maxEnds[j]! >= at;
}
