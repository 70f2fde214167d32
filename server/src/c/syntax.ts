// Small helpers over tree-sitter-c nodes shared by the site finders.

import type { Node, Tree } from 'web-tree-sitter';
import type { Range } from './types';

/**
 * `node.childForFieldName(field)`, asked of tree-sitter once per node and field:
 * the analyses (declarations, `__iomem` dereferences, provenance, types) ask the
 * same nodes for the same children, and each answer is a call into WASM and a new
 * node object. Kept per tree (a tree is not changed once parsed: an edit reparses
 * into a new one).
 */
export function fieldChild(node: Node | null | undefined, field: string): Node | null {
  if (!node) return null;
  let byField = childCache.get(node.tree);
  if (!byField) childCache.set(node.tree, (byField = new Map()));
  let byNode = byField.get(field);
  if (!byNode) byField.set(field, (byNode = new Map()));
  let c = byNode.get(node.id);
  if (c === undefined) byNode.set(node.id, (c = node.childForFieldName(field)));
  return c;
}
const childCache = new WeakMap<Tree, Map<string, Map<number, Node | null>>>();

/**
 * `node.type`, asked of tree-sitter once per node (each read is a call into WASM;
 * the analyses test the same nodes' kinds again and again). Undefined for no node,
 * as `node?.type`.
 */
export function kindOf(node: Node): string;
export function kindOf(node: Node | null | undefined): string | undefined;
export function kindOf(node: Node | null | undefined): string | undefined {
  if (!node) return undefined;
  let byNode = kindCache.get(node.tree);
  if (!byNode) kindCache.set(node.tree, (byNode = new Map()));
  let k = byNode.get(node.id);
  if (k === undefined) byNode.set(node.id, (k = node.type));
  return k;
}
const kindCache = new WeakMap<Tree, Map<number, string>>();

/**
 * Drops what fieldChild and kindOf keep for `tree` (an analysis calls this when it is
 * done: the answers would otherwise live as long as the tree object, and the CLI's
 * peak memory grew by the node objects of every file still awaiting collection).
 */
export function forgetNodeCaches(tree: Tree): void {
  childCache.delete(tree);
  kindCache.delete(tree);
}

export function rangeOf(node: Node): Range {
  return {
    start: { line: node.startPosition.row, character: node.startPosition.column },
    end: { line: node.endPosition.row, character: node.endPosition.column },
  };
}

/** The identifier a declarator declares, and how many pointer/array levels wrap it. */
export function declaredName(declarator: Node | null): { name: string; node: Node; depth: number } | null {
  let depth = 0;
  let d = declarator;
  for (let guard = 0; d && guard < 64; guard++) {
    switch (d.type) {
      case 'identifier':
      case 'field_identifier':
      case 'type_identifier':
        return { name: d.text, node: d, depth };
      case 'pointer_declarator':
      case 'array_declarator':
        depth++;
        d = fieldChild(d, 'declarator');
        break;
      case 'init_declarator':
      case 'parenthesized_declarator':
      case 'attributed_declarator':
        d = fieldChild(d, 'declarator') ?? d.namedChild(0);
        break;
      default:
        return null; // function declarators and anything else declare no data pointer
    }
  }
  return null;
}

/** Name of a function_definition (through pointer-returning declarators). */
export function functionName(def: Node): { name: string; node: Node; params: Node | null } | null {
  let d = fieldChild(def, 'declarator');
  for (let guard = 0; d && guard < 16; guard++) {
    if (d.type === 'function_declarator') {
      const inner = fieldChild(d, 'declarator');
      if (inner?.type === 'identifier') return { name: inner.text, node: inner, params: fieldChild(d, 'parameters') };
      // `int (*f(void))(int)` and the like: keep descending.
      d = inner;
      continue;
    }
    d = fieldChild(d, 'declarator');
  }
  return null;
}

/** Parameter names of a parameter_list, in order. */
export function parameterNames(params: Node | null): string[] {
  if (!params) return [];
  const names: string[] = [];
  for (const p of params.namedChildren) {
    if (p?.type !== 'parameter_declaration') continue;
    names.push(declaredName(fieldChild(p, 'declarator'))?.name ?? '');
  }
  return names;
}

/** Skips parentheses and casts to the expression that carries the value. */
export function unwrap(node: Node): Node {
  let n = node;
  for (let guard = 0; guard < 64; guard++) {
    if (n.type === 'parenthesized_expression' && n.namedChildCount === 1) n = n.namedChild(0)!;
    else if (n.type === 'cast_expression') n = fieldChild(n, 'value') ?? n;
    else break;
  }
  return n;
}

/** Every identifier that appears in an expression (not field names). */
export function identifiersIn(node: Node): Set<string> {
  const out = new Set<string>();
  if (node.type === 'identifier') out.add(node.text);
  for (const id of node.descendantsOfType('identifier')) if (id) out.add(id.text);
  return out;
}

export function isInside(node: Node, types: ReadonlySet<string>, stop?: Node): boolean {
  for (let p = node.parent; p && p.id !== stop?.id; p = p.parent) if (types.has(p.type)) return true;
  return false;
}
