// C types as far as the MMIO analyses need them: a base name and a pointer depth,
// enough to know an access's width and the struct behind `x->f` (which tells
// whether `f` is that struct's `__iomem` field or another struct's field of the
// same name). Names resolve through the file's scopes (scopes.ts).

import type { Node, Tree } from 'web-tree-sitter';
import type { FunctionDef } from './functions';
import { fieldText, indexedNodesOf } from './nodeIndex';
import type { LocalDecl, Scopes } from './scopes';
import { declaredName } from './syntax';

/** The kinds the struct and typedef tables are read from (one array: indexed once). */
const TABLE_KINDS = ['type_definition', 'struct_specifier', 'union_specifier'];

/** Deepest expression nesting followed before giving up (each level is a JS stack frame or few). */
export const MAX_EXPRESSION_NESTING = 400;

/** A C type as far as this pass needs it: a base name and a pointer/array depth. */
export interface CType {
  /** `struct:tag` for struct/union tags, a typedef or builtin name otherwise. */
  name: string;
  ptr: number;
  /** Of `ptr`, the innermost levels that are arrays (set for struct members only, see memberArrays). */
  arrays?: number;
}

const WIDTH_BY_NAME: ReadonlyMap<string, number> = new Map([
  ...['u8', 's8', '__u8', '__s8', 'uint8_t', 'int8_t', 'bool', '_Bool'].map((n) => [n, 1] as const),
  ...['u16', 's16', '__u16', '__s16', '__le16', '__be16', 'uint16_t', 'int16_t'].map((n) => [n, 2] as const),
  ...['u32', 's32', '__u32', '__s32', '__le32', '__be32', 'uint32_t', 'int32_t', 'float', 'enum'].map((n) => [n, 4] as const),
  ...['u64', 's64', '__u64', '__s64', '__le64', '__be64', 'uint64_t', 'int64_t', 'size_t', 'ssize_t', 'uintptr_t',
    'phys_addr_t', 'dma_addr_t', 'resource_size_t', 'double'].map((n) => [n, 8] as const),
]);

/** Width of a builtin spelled with keywords (`unsigned short int`), x86-64 LP64. */
function keywordWidth(name: string): number {
  const words = name.split(/\s+/);
  if (words.includes('char')) return 1;
  if (words.includes('short')) return 2;
  if (words.includes('long')) return 8;
  if (words.includes('int') || words.includes('unsigned') || words.includes('signed')) return 4;
  return 0;
}

function typeName(t: Node | null): string | null {
  if (!t) return null;
  switch (t.type) {
    case 'primitive_type':
    case 'type_identifier':
      return t.text;
    case 'sized_type_specifier':
      return t.text.replace(/\s+/g, ' ');
    case 'struct_specifier':
    case 'union_specifier': {
      const tag = fieldText(t, 'name');
      return tag ? `struct:${tag}` : null;
    }
    case 'enum_specifier':
      return 'enum';
    default:
      return null;
  }
}

/** Pointer levels of an abstract declarator (in a cast's type descriptor). */
/** Macros whose value points at the type given as this argument (annotations.ts's TYPE_ARG). */
const CONTAINER_TYPE_ARG: ReadonlyMap<string, number> = new Map([
  ['container_of', 1], ['container_of_const', 1], ['list_entry', 1], ['list_first_entry', 1],
  ['list_last_entry', 1], ['list_first_entry_or_null', 1], ['hlist_entry', 1], ['hlist_entry_safe', 1],
  ['rb_entry', 1], ['llist_entry', 1],
]);

function abstractDepth(d: Node | null): number {
  let depth = 0;
  for (let n = d, guard = 0; n && guard < 16; guard++) {
    if (n.type === 'abstract_pointer_declarator' || n.type === 'abstract_array_declarator') depth++;
    n = n.childForFieldName('declarator') ?? (n.type === 'abstract_parenthesized_declarator' ? n.namedChild(0) : null);
  }
  return depth;
}

/** The typedef and struct tables of a file's declarations (never changed once read). */
interface TypeTables {
  typedefs: Map<string, CType>;
  structs: Map<string, Map<string, CType>>;
}

/** Tables by the text of the declarations they were read from, most recent last. */
const TABLES = new Map<string, TypeTables>();
/** A few: the documents being edited, and the header components of one walk. */
const MAX_TABLES = 8;
/** How many times tables were read from a tree rather than reused (tests prove the reuse and its invalidation). */
export const typeTableReads = { count: 0 };

/** What the Types of one tree share: read once per tree, not once per Types. */
interface TreeTypes {
  rootId: number;
  globals?: Map<string, CType | null>;
  tables?: TypeTables;
}

const BY_TREE = new WeakMap<Tree, TreeTypes>();

function treeTypes(root: Node): TreeTypes {
  const tree = root.tree;
  let t = BY_TREE.get(tree);
  // Keyed by the tree; a Types of another node than the root (none today) gets its own.
  if (!t || t.rootId !== root.id) {
    t = { rootId: root.id };
    if (!BY_TREE.has(tree)) BY_TREE.set(tree, t);
  }
  return t;
}

/**
 * File-scope declarations: the translation unit's own children (and those of
 * top-level preprocessor blocks), not a walk of every function body.
 */
function fileScopeTypes(root: Node): Map<string, CType | null> {
  const globals = new Map<string, CType | null>();
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    for (const c of n.namedChildren) {
      if (!c) continue;
      // One read of the kind per child (each is a call into WASM).
      const kind = c.type;
      if (kind === 'declaration') declarationTypes(c, globals);
      else if (kind.startsWith('preproc_if') || kind === 'preproc_else' || kind === 'preproc_elif') stack.push(c);
    }
  }
  return globals;
}

function declarationTypes(n: Node, scope: Map<string, CType | null>) {
  const name = typeName(n.childForFieldName('type'));
  for (const d of n.childrenForFieldName('declarator')) {
    const named = d && declaredName(d);
    if (!named || scope.has(named.name)) continue;
    scope.set(named.name, name ? { name, ptr: named.depth } : null);
  }
}

export class Types {
  /** Filled by readTypes, or another Types's tables of the same declarations (then never written). */
  private typedefs = new Map<string, CType>();
  private structTable = new Map<string, Map<string, CType>>();
  /** Struct and union fields by tag (or by the typedef name of an untagged one): empty until a type is resolved. */
  get structs(): ReadonlyMap<string, ReadonlyMap<string, CType>> {
    return this.structTable;
  }
  /** File-scope declarations' types by name (shared by every Types of the same tree: never written after it is read). */
  readonly globals: ReadonlyMap<string, CType | null>;
  /** Locals and parameters by declaration (scopes.ts's id). */
  private readonly locals = new Map<number, CType | null>();
  /** The type of a call's value (function-like macros of the file), set by the user. */
  callType?: (call: Node) => CType | null;
  /** Per node; swapped out while a macro body (another tree) is evaluated. */
  memo = new Map<number, CType | null>();

  private typesRead = false;
  /** What every Types of this root's tree shares (the iomem and provenance passes each make one). */
  private readonly shared: TreeTypes;

  constructor(
    private readonly root: Node,
    private readonly scopes: Scopes,
    /** The file's text before preparation (annotations.ts blanks container_of's type argument). */
    private readonly source?: string,
  ) {
    this.shared = treeTypes(root);
    this.globals = this.shared.globals ??= fileScopeTypes(root);
  }

  /**
   * Struct and typedef tables, read on first need (most files never need them).
   * They are a function of the text of the declarations that define them, in order:
   * the tables of the same declarations are reused (the iomem and provenance passes
   * of one analysis each make a Types; each keystroke in the editor analyses the
   * same declarations again), as reading 220 structs' fields through the tree costs
   * ~20 ms per analysis.
   */
  private readTypes() {
    if (this.typesRead) return;
    this.typesRead = true;
    const mine = this.shared.tables;
    if (mine) {
      this.typedefs = mine.typedefs;
      this.structTable = mine.structs;
      return;
    }
    const defining: Node[] = [];
    const texts: string[] = [];
    const found = indexedNodesOf(this.root, TABLE_KINDS);
    for (let j = 0; j < found.length; j++) {
      // A struct or union without a body (`struct foo *p`) defines nothing: most of
      // them, and the ones in function bodies the editor's slice keeps or blanks.
      // Passed over on its kind and text, without making its Node.
      const kind = found.kind(j);
      const text = found.text(j);
      if (kind !== 'type_definition' && !text.includes('{')) continue;
      defining.push(found.node(j));
      texts.push(kind, text);
    }
    const key = texts.join('\0');
    const hit = TABLES.get(key);
    if (hit) {
      TABLES.delete(key);
      TABLES.set(key, hit);
      this.typedefs = hit.typedefs;
      this.structTable = hit.structs;
      this.shared.tables = hit;
      return;
    }
    typeTableReads.count++;
    for (const n of defining) {
      if (n.type === 'type_definition') this.typedef(n);
      else this.struct(n);
    }
    const tables = { typedefs: this.typedefs, structs: this.structTable };
    this.shared.tables = tables;
    TABLES.set(key, tables);
    if (TABLES.size > MAX_TABLES) TABLES.delete(TABLES.keys().next().value!);
  }

  /** The declared type of a local or parameter. */
  private localType(d: LocalDecl): CType | null {
    let t = this.locals.get(d.id);
    if (t === undefined) {
      const name = typeName(d.decl.childForFieldName('type'));
      t = name ? { name, ptr: d.depth } : null;
      this.locals.set(d.id, t);
    }
    return t;
  }

  private typedef(n: Node) {
    const base = n.childForFieldName('type');
    for (const d of n.childrenForFieldName('declarator')) {
      const named = d && declaredName(d);
      if (!named) continue;
      const name = typeName(base);
      // `typedef struct { ... } foo_t;` registers its fields under foo_t (see struct()).
      if (name && name !== named.name) this.typedefs.set(named.name, { name, ptr: named.depth });
    }
  }

  private struct(n: Node) {
    const body = n.childForFieldName('body');
    if (!body) return;
    let tag = fieldText(n, 'name');
    if (!tag && n.parent?.type === 'type_definition') {
      const d = n.parent.childForFieldName('declarator');
      const named = d && declaredName(d);
      if (named && named.depth === 0) tag = named.name;
    }
    if (!tag || this.structTable.has(tag)) return;
    const fields = new Map<string, CType>();
    this.fieldsOf(body, fields, 0);
    this.structTable.set(tag, fields);
  }

  private fieldsOf(body: Node, into: Map<string, CType>, level: number) {
    for (const f of body.namedChildren) {
      if (f?.type !== 'field_declaration') continue;
      const t = f.childForFieldName('type');
      const decls = f.childrenForFieldName('declarator').filter((d): d is Node => !!d);
      if (!decls.length && t && level < 4 && (t.type === 'struct_specifier' || t.type === 'union_specifier')) {
        // C11 anonymous member: its fields are the parent's.
        const inner = t.childForFieldName('body');
        if (inner) this.fieldsOf(inner, into, level + 1);
        continue;
      }
      const name = typeName(t);
      for (const d of decls) {
        const named = declaredName(d);
        if (named && name && !into.has(named.name)) into.set(named.name, named.arrays ? { name, ptr: named.depth, arrays: named.arrays } : { name, ptr: named.depth });
      }
    }
  }

  resolve(t: CType): CType {
    this.readTypes();
    let cur = t;
    for (let guard = 0; guard < 8; guard++) {
      const a = this.typedefs.get(cur.name);
      if (!a) break;
      cur = { name: a.name, ptr: cur.ptr + a.ptr };
    }
    return cur;
  }

  /**
   * Array levels of the member a field_expression names (`vbt->signature` of a
   * `u8 signature[20]`: 1), 0 for anything else or when the base's struct is not one
   * this file declares. An array member of a struct in MMIO names an address:
   * `vbt->signature` handed to memcmp is no load, and `vbt->signature[0]` is the
   * access (iomem.ts and provenance.ts both ask here).
   */
  memberArrays(node: Node, fn: FunctionDef | undefined): number {
    if (node.type !== 'field_expression') return 0;
    const base = node.childForFieldName('argument');
    const field = fieldText(node, 'field');
    if (!base || !field) return 0;
    // The operator itself: a chain's text (`a->s.regs`) holds an inner `->`.
    const tag = this.tagOf(this.typeOf(base, fn), fieldText(node, 'operator') === '->');
    return tag === undefined ? 0 : (this.structTable.get(tag)?.get(field)?.arrays ?? 0);
  }

  /** The struct tag a `->` (arrow) or `.` access on an expression of type t reads. */
  tagOf(t: CType | null, arrow: boolean): string | undefined {
    if (!t) return undefined;
    const r = this.resolve(t);
    if (r.ptr !== (arrow ? 1 : 0)) return undefined;
    if (r.name.startsWith('struct:')) return r.name.slice(7);
    return this.structs.has(r.name) ? r.name : undefined;
  }

  width(t: CType | null): number {
    if (!t) return 0;
    const r = this.resolve(t);
    if (r.ptr > 0) return 8;
    return WIDTH_BY_NAME.get(r.name) ?? keywordWidth(r.name);
  }

  /**
   * `container_of(p, struct foo, member)` (and list_entry & co.) is a `struct foo *`.
   * The type argument was blanked to `0` for parsing: it is read from the source.
   */
  private containerType(call: Node): CType | null {
    const callee = call.childForFieldName('function');
    const index = callee?.type === 'identifier' ? CONTAINER_TYPE_ARG.get(callee.text) : undefined;
    if (index === undefined || !this.source || call.tree !== this.root.tree) return null;
    const args = call.childForFieldName('arguments');
    const list = (args?.namedChildren ?? []).filter((a): a is Node => !!a && a.type !== 'comment');
    const arg = list[index];
    if (!arg || !args) return null;
    const end = list[index + 1]?.startIndex ?? args.endIndex - 1;
    const m = /^\s*(?:(struct|union)\s+)?([A-Za-z_]\w*)\s*,?\s*$/.exec(this.source.slice(arg.startIndex, end));
    if (!m) return null;
    return { name: m[1] ? `struct:${m[2]}` : m[2]!, ptr: 1 };
  }

  typeOf(node: Node, fn: FunctionDef | undefined): CType | null {
    const m = this.memo.get(node.id);
    if (m !== undefined) return m;
    if (this.nesting >= MAX_EXPRESSION_NESTING) return null;
    this.nesting++;
    try {
      const t = this.compute(node, fn);
      this.memo.set(node.id, t);
      return t;
    } finally {
      this.nesting--;
    }
  }

  private nesting = 0;

  private compute(node: Node, fn: FunctionDef | undefined): CType | null {
    switch (node.type) {
      case 'identifier': {
        const local = this.scopes.resolve(fn, node.text, node.startIndex);
        if (local) return this.localType(local);
        return this.globals.get(node.text) ?? null;
      }
      case 'parenthesized_expression':
        return node.namedChildCount === 1 ? this.typeOf(node.namedChild(0)!, fn) : null;
      case 'cast_expression': {
        const td = node.childForFieldName('type');
        const name = typeName(td?.childForFieldName('type') ?? null);
        return name ? { name, ptr: abstractDepth(td?.childForFieldName('declarator') ?? null) } : null;
      }
      case 'field_expression': {
        const base = node.childForFieldName('argument');
        const arrow = fieldText(node, 'operator') === '->';
        const tag = this.tagOf(base ? this.typeOf(base, fn) : null, arrow);
        const field = fieldText(node, 'field');
        return (tag && field && this.structs.get(tag)?.get(field)) || null;
      }
      case 'subscript_expression': {
        const a = node.childForFieldName('argument');
        const t = a ? this.typeOf(a, fn) : null;
        if (!t) return null;
        const r = this.resolve(t);
        return r.ptr > 0 ? { name: r.name, ptr: r.ptr - 1 } : null;
      }
      case 'pointer_expression': {
        const a = node.childForFieldName('argument');
        const t = a ? this.typeOf(a, fn) : null;
        if (!t) return null;
        const r = this.resolve(t);
        if (fieldText(node, 'operator') === '&') return { name: r.name, ptr: r.ptr + 1 };
        return r.ptr > 0 ? { name: r.name, ptr: r.ptr - 1 } : null;
      }
      case 'call_expression':
        return this.callType?.(node) ?? this.containerType(node);
      case 'binary_expression': {
        const op = fieldText(node, 'operator');
        if (op !== '+' && op !== '-') return null;
        for (const side of ['left', 'right']) {
          const s = node.childForFieldName(side);
          const t = s ? this.typeOf(s, fn) : null;
          if (t && this.resolve(t).ptr > 0) return t;
        }
        return null;
      }
      default:
        return null;
    }
  }
}

