// The syntax nodes the analyses look for, collected in one pass per tree. Each
// analysis used to ask tree-sitter for its own node kinds over the whole tree
// (calls twice, macro definitions twice, function definitions, declarations,
// dereferences...): eight traversals of every node per file. The first request on
// a tree now collects every kind below in one `descendantsOfType` traversal (done
// in tree-sitter's own code), kept per tree; later requests, on the root or on any
// node of that tree, are answered from it in document order.

import type { Node, Tree } from 'web-tree-sitter';

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

interface TreeIndex {
  nodes: Node[];
  /** Start and end of each node (reading `endIndex` is a call into WASM: done once here). */
  starts: Int32Array;
  ends: Int32Array;
  /** Each node's kind (`type` is a call into WASM too). */
  kinds: string[];
  /** Per set of kinds asked of `mayBeInside`: those nodes' starts and the running maximum of their ends. */
  spans?: Map<string, { starts: Int32Array; maxEnds: Int32Array }>;
  /**
   * Per set of kinds asked of `kindedNodesOf`: the positions in `nodes` of those kinds,
   * and their starts. A request walks only the nodes of its kinds in its range, not
   * every indexed node there (a function body's declarations, its calls...).
   */
  selections: Map<string, { at: Int32Array; starts: Int32Array }>;
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

function indexOf(tree: Tree): TreeIndex {
  let ix = indexes.get(tree);
  if (!ix) {
    const nodes = tree.rootNode.descendantsOfType([...INDEXED]).filter((n): n is Node => !!n);
    const starts = new Int32Array(nodes.length);
    const ends = new Int32Array(nodes.length);
    const kinds: string[] = new Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) {
      starts[i] = nodes[i]!.startIndex;
      ends[i] = nodes[i]!.endIndex;
      kinds[i] = nodes[i]!.type;
    }
    ix = { nodes, starts, ends, kinds, selections: new Map() };
    indexes.set(tree, ix);
  }
  return ix;
}

/** First position in `starts` (ascending) at or after `start`. */
function lowerBound(starts: Int32Array, start: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
 * What `node.descendantsOfType(types)` answers (the node itself included, document
 * order), from the tree's index when every requested kind is indexed.
 */
export function nodesOf(node: Node, types: string | readonly string[]): Node[] {
  return kindedNodesOf(node, types).nodes;
}

/**
 * `nodesOf` with each node's kind beside it (`kinds[i]` is `nodes[i].type`): a caller
 * that dispatches on the kind reads it from the index instead of asking WASM again.
 */
export function kindedNodesOf(node: Node, types: string | readonly string[]): Kinded {
  const wanted = typeof types === 'string' ? [types] : types;
  if (!wanted.every((t) => INDEXED_SET.has(t))) {
    const found = node.descendantsOfType([...wanted]).filter((n): n is Node => !!n);
    return { nodes: found, kinds: found.map((n) => n.type), ends: found.map((n) => n.endIndex) };
  }
  const ix = indexOf(node.tree);
  const { nodes, starts, ends, kinds } = ix;
  const key = keyOf(types);
  let sel = ix.selections.get(key);
  if (!sel) {
    const set = new Set(wanted);
    const picked: number[] = [];
    for (let i = 0; i < kinds.length; i++) if (set.has(kinds[i]!)) picked.push(i);
    sel = { at: Int32Array.from(picked), starts: Int32Array.from(picked, (i) => starts[i]!) };
    ix.selections.set(key, sel);
  }
  const out: Node[] = [];
  const outKinds: string[] = [];
  const outEnds: number[] = [];
  const start = node.startIndex;
  const end = node.endIndex;
  const whole = start === 0 && node.id === node.tree.rootNode.id;
  const { at } = sel;
  for (let j = whole ? 0 : lowerBound(sel.starts, start); j < at.length; j++) {
    const i = at[j]!;
    if (starts[i]! > end) break;
    if (ends[i]! <= end) {
      out.push(nodes[i]!);
      outKinds.push(kinds[i]!);
      outEnds.push(ends[i]!);
    }
  }
  return { nodes: out, kinds: outKinds, ends: outEnds };
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
  const key = types.join(' ');
  let span = (ix.spans ??= new Map()).get(key);
  if (!span) {
    const set = new Set(types);
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
