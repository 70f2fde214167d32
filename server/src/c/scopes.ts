// Which declaration a name means where it is used, scoped as C scopes it. A driver
// declares `reg` in every `case` block of a switch, `__iomem` in one and a RAM
// pointer in the next (arcmsr_hba.c: `struct MessageUnit_A __iomem *reg` beside
// `struct MessageUnit_B *reg`): a name is not a property of the function, it is
// the innermost declaration visible at that point.
//
// Scopes: a compound statement (a function body, a `case` block with braces, a
// statement expression), a `for` statement for the declarations of its
// initialiser, the parameter list for the whole body, and the file. A name is
// visible from the end of its declarator (C 6.2.1: `T *p = p->next` reads the new
// `p`) to the end of its scope; an inner declaration shadows outer ones.

import type { Node } from 'web-tree-sitter';
import type { FunctionDef } from './functions';
import { nodesOf } from './nodeIndex';
import { declaredName } from './syntax';

/** One local variable or parameter. */
export interface LocalDecl {
  name: string;
  /** Start of the declared identifier: the declaration's identity in the file. */
  id: number;
  /** The `declaration` or `parameter_declaration` node. */
  decl: Node;
  /** Pointer/array levels of its declarator. */
  depth: number;
  /** Visible in [from, to). */
  from: number;
  to: number;
  /** Start of the scope that holds it: of two visible declarations, the later scope is the inner one. */
  scope: number;
}

/** Kinds a `declaration` climbs through to find its scope (anything else is a statement inside it). */
const SCOPE_KINDS = new Set(['compound_statement', 'for_statement', 'function_definition', 'translation_unit']);

export class Scopes {
  private readonly byFn = new Map<FunctionDef, Map<string, LocalDecl[]>>();
  private fileNames?: Set<string>;

  constructor(private readonly root: Node) {}

  /**
   * The local declaration (or parameter) `name` means at offset `at` of `fn`, or
   * undefined when it is a file-scope name there.
   */
  resolve(fn: FunctionDef | undefined, name: string, at: number): LocalDecl | undefined {
    if (!fn) return undefined;
    const list = this.localsOf(fn).get(name);
    if (!list) return undefined;
    let best: LocalDecl | undefined;
    for (const d of list) {
      if (at < d.from || at >= d.to) continue;
      if (!best || d.scope > best.scope || (d.scope === best.scope && d.from > best.from)) best = d;
    }
    return best;
  }

  /** The local that a declarator (`int *p` of a declaration or parameter in `fn`) declares. */
  declared(fn: FunctionDef | undefined, nameNode: Node): LocalDecl | undefined {
    if (!fn) return undefined;
    return this.localsOf(fn).get(nameNode.text)?.find((d) => d.id === nameNode.startIndex);
  }

  /** Whether this file declares `name` at file scope (a variable, with or without `extern`). */
  declaresAtFileScope(name: string): boolean {
    if (!this.fileNames) {
      this.fileNames = new Set();
      // The translation unit's own children and those of top-level preprocessor blocks.
      const stack: Node[] = [this.root];
      while (stack.length) {
        const n = stack.pop()!;
        for (const c of n.namedChildren) {
          if (!c) continue;
          if (c.type === 'declaration') {
            for (const d of c.childrenForFieldName('declarator')) {
              const named = d && declaredName(d);
              if (named) this.fileNames.add(named.name);
            }
          } else if (c.type.startsWith('preproc_if') || c.type === 'preproc_else' || c.type === 'preproc_elif') stack.push(c);
        }
      }
    }
    return this.fileNames.has(name);
  }

  /** Every local and parameter of `fn` by name (read on first need). */
  localsOf(fn: FunctionDef): Map<string, LocalDecl[]> {
    let byName = this.byFn.get(fn);
    if (byName) return byName;
    byName = new Map();
    this.byFn.set(fn, byName);
    const body = fn.body;
    if (!body) return byName;
    const add = (decl: Node, declarator: Node | null, scopeStart: number, to: number, visibleAt?: number) => {
      const named = declaredName(declarator);
      if (!named) return; // function declarators (local prototypes) declare no variable
      const d: LocalDecl = {
        name: named.name,
        id: named.node.startIndex,
        decl,
        depth: named.depth,
        from: visibleAt ?? named.node.endIndex,
        to,
        scope: scopeStart,
      };
      const list = byName!.get(d.name);
      if (list) list.push(d);
      else byName!.set(d.name, [d]);
    };
    // Parameters: the whole body, outside every block of it (a body's own
    // declaration of the same name is the inner one).
    for (const p of fn.params?.namedChildren ?? []) {
      if (p?.type === 'parameter_declaration') add(p, p.childForFieldName('declarator'), fn.startIndex, fn.endIndex, body.startIndex);
    }
    for (const decl of nodesOf(body, 'declaration')) {
      if (!decl) continue;
      let scope: Node | null = decl.parent;
      while (scope && !SCOPE_KINDS.has(scope.type)) scope = scope.parent;
      if (!scope || scope.type === 'translation_unit') continue;
      // A `for` scopes only its initialiser's declarations; one in its body has a block.
      const to = scope.type === 'function_definition' ? body.endIndex : scope.endIndex;
      for (const d of decl.childrenForFieldName('declarator')) add(decl, d, scope.startIndex, to);
    }
    return byName;
  }
}
