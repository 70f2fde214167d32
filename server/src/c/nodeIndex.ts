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
  'declaration', 'parameter_declaration', 'field_declaration',
  'pointer_expression', 'subscript_expression', 'field_expression',
  'type_definition', 'struct_specifier', 'union_specifier',
] as const;
const INDEXED_SET: ReadonlySet<string> = new Set(INDEXED);

const indexes = new WeakMap<Tree, Node[]>();

function indexOf(tree: Tree): Node[] {
  let all = indexes.get(tree);
  if (!all) {
    all = tree.rootNode.descendantsOfType([...INDEXED]).filter((n): n is Node => !!n);
    indexes.set(tree, all);
  }
  return all;
}

/** First position in `all` (sorted by startIndex) whose node starts at or after `start`. */
function lowerBound(all: readonly Node[], start: number): number {
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid]!.startIndex < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * What `node.descendantsOfType(types)` answers (the node itself included, document
 * order), from the tree's index when every requested kind is indexed.
 */
export function nodesOf(node: Node, types: string | readonly string[]): Node[] {
  const wanted = typeof types === 'string' ? [types] : types;
  if (!wanted.every((t) => INDEXED_SET.has(t))) return node.descendantsOfType([...wanted]).filter((n): n is Node => !!n);
  const all = indexOf(node.tree);
  const set = new Set(wanted);
  const out: Node[] = [];
  const end = node.endIndex;
  for (let i = lowerBound(all, node.startIndex); i < all.length; i++) {
    const n = all[i]!;
    if (n.startIndex > end) break;
    if (n.endIndex <= end && set.has(n.type)) out.push(n);
  }
  return out;
}
