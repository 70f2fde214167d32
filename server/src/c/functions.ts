// The function table of one file: which definition encloses a position, which are
// static or inline (candidates for inlining into their callers), and the
// function-level view of where a #VE lands once static helpers are inlined.

import { nodesOf } from './nodeIndex';
import type { Node } from 'web-tree-sitter';
import type { Annotation } from './annotations';
import type { FunctionView, Range } from './types';
import { functionName, rangeOf } from './syntax';
import { partitionPoint } from '../sorted';

export interface FunctionDef {
  name: string;
  node: Node;
  body: Node | null;
  params: Node | null;
  startIndex: number;
  endIndex: number;
  isStatic: boolean;
  isInline: boolean;
  range: Range;
}

const INLINE_WORDS = new Set(['inline', '__inline', '__inline__', '__always_inline', '__forceinline']);

export function collectFunctions(root: Node, annotations: readonly Annotation[]): FunctionDef[] {
  const defs: FunctionDef[] = [];
  for (const def of nodesOf(root, 'function_definition')) {
    if (!def) continue;
    const fn = functionName(def);
    if (!fn) continue;
    const body = def.childForFieldName('body');
    const headerEnd = body?.startIndex ?? def.endIndex;
    let isStatic = false;
    let isInline = false;
    for (const c of def.children) {
      if (c?.type === 'storage_class_specifier') {
        if (c.text === 'static') isStatic = true;
        if (INLINE_WORDS.has(c.text)) isInline = true;
      }
    }
    // __always_inline was blanked before parsing: look for it in the header's range.
    for (const a of annotationsIn(annotations, def.startIndex, headerEnd)) {
      if (INLINE_WORDS.has(a.name)) isInline = true;
    }
    defs.push({
      name: fn.name,
      node: def,
      body,
      params: fn.params,
      startIndex: def.startIndex,
      endIndex: def.endIndex,
      isStatic,
      isInline,
      range: rangeOf(def),
    });
  }
  defs.sort((a, b) => a.startIndex - b.startIndex);
  return defs;
}

function* annotationsIn(list: readonly Annotation[], from: number, to: number): Generator<Annotation> {
  for (let i = partitionPoint(list.length, (j) => list[j].index < from); i < list.length && list[i].index < to; i++) yield list[i];
}

/** The definition whose text holds `index`, by binary search (definitions do not nest). */
export function enclosing(defs: readonly FunctionDef[], index: number): FunctionDef | undefined {
  let lo = 0;
  let hi = defs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const d = defs[mid];
    if (index < d.startIndex) hi = mid - 1;
    else if (index >= d.endIndex) lo = mid + 1;
    else return d;
  }
  return undefined;
}

/**
 * Builds the function-level view. `calls` maps a function to the names it calls
 * (excluding calls that are sites themselves); helpers are the file's static
 * functions, which gcc inlines freely, so their #VE lands in the caller.
 */
export function functionView(
  defs: readonly Pick<FunctionDef, 'name' | 'range' | 'isStatic' | 'isInline'>[],
  directCount: ReadonlyMap<string, number>,
  calls: ReadonlyMap<string, ReadonlySet<string>>,
): FunctionView[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const isHelper = (n: string) => byName.get(n)?.isStatic === true || byName.get(n)?.isInline === true;
  const reachMemo = new Map<string, Set<string>>();

  // Helpers (transitively) reachable from `name` that hold sites of their own.
  const reach = (name: string, visiting: Set<string>): Set<string> => {
    const memo = reachMemo.get(name);
    if (memo) return memo;
    const out = new Set<string>();
    if (visiting.has(name)) return out;
    visiting.add(name);
    for (const callee of calls.get(name) ?? []) {
      if (!isHelper(callee) || callee === name) continue;
      if ((directCount.get(callee) ?? 0) > 0) out.add(callee);
      for (const r of reach(callee, visiting)) out.add(r);
    }
    visiting.delete(name);
    reachMemo.set(name, out);
    return out;
  };

  return defs.map((d) => {
    const reached = reach(d.name, new Set());
    const via = [...(calls.get(d.name) ?? [])].filter(
      (c) => c !== d.name && isHelper(c) && ((directCount.get(c) ?? 0) > 0 || reach(c, new Set()).size > 0),
    );
    let reachedSites = 0;
    for (const r of reached) reachedSites += directCount.get(r) ?? 0;
    return {
      name: d.name,
      range: d.range,
      direct: directCount.get(d.name) ?? 0,
      via: via.sort(),
      reached: reachedSites,
      isStatic: d.isStatic,
      isInline: d.isInline,
    };
  });
}
