// `__iomem` pointers and their dereferences. A dereference of an `__iomem`
// pointer (`*p`, `p[i]`, `p->f`) is an MMIO access whose instruction the compiler
// picks: a read-modify-write becomes `or`/`and` on memory, which the #VE handler
// cannot decode. Declarations are found where the annotation stood before it was
// blanked for parsing.

import { fieldText, indexedNodesOf, isDotMemberOf, mayBeInside } from './nodeIndex';
import type { Node, Tree } from 'web-tree-sitter';
import { MAX_EXPRESSION_NESTING, Types } from './ctypes';
import { addField, fieldIn, type IomemDecl, type Knowledge } from './knowledge';
import { Scopes } from './scopes';
import { declaredName, namesWord, rangeOf, unparen } from './syntax';
import { enclosing, type FunctionDef } from './functions';

export { MAX_EXPRESSION_NESTING } from './ctypes';

const DEREF_KINDS = ['pointer_expression', 'subscript_expression', 'field_expression'];
const DECL_TYPES = new Set(['declaration', 'parameter_declaration', 'field_declaration']);
const NOT_EVALUATED_KINDS = ['sizeof_expression', 'alignof_expression', 'offsetof_expression', 'typeof_specifier', 'macro_type_specifier'];
const NOT_EVALUATED = new Set(NOT_EVALUATED_KINDS);
/** What may follow a field declaration's only declarator, a bare name: a number of bits, the `;`. */
const ONE_FIELD_END_RE = /^\s*(?::\s*\d+\s*)?;$/;

/**
 * A file's own declarations as the dereference analysis reads them: which locals and
 * parameters are `__iomem` (by declaration, scopes.ts) and the file's scopes.
 */
export class LocalScopes {
  /** `__iomem` locals and parameters by the start of their declared name (LocalDecl.id). */
  readonly iomem = new Map<number, IomemDecl>();
  readonly scopes: Scopes;
  /** The file the declarations are in (an imported global of a name it declares is shadowed). */
  file = '';

  constructor(
    readonly root: Node,
    /** The file's text before preparation (container_of's type argument is read from it). */
    readonly source?: string,
  ) {
    this.scopes = new Scopes(root);
  }
}

/**
 * Records every declaration in the file: __iomem ones into `k` (fields, globals)
 * or `locals`; plain field names as plain (a local's or a global's plainness is its
 * own declaration, which scopes.ts finds).
 */
export function collectDeclarations(
  tree: Tree,
  iomemOffsets: readonly number[],
  file: string,
  defs: readonly FunctionDef[],
  k: Knowledge,
  locals: LocalScopes,
): void {
  const root = tree.rootNode;
  locals.file = file;
  // Declarations that carry an __iomem (found from where the annotation stood).
  const marked: { decl: Node; at: number }[] = [];
  for (const at of iomemOffsets) {
    let n: Node | null = root.descendantForIndex(at, at);
    while (n && !DECL_TYPES.has(n.type) && n.type !== 'type_descriptor' && n.type !== 'function_definition' && n.type !== 'translation_unit') n = n.parent;
    if (!n || !DECL_TYPES.has(n.type)) continue; // casts, return types: provenance, not declarations
    marked.push({ decl: n, at });
  }

  // The fields of one struct body share their owner: climbed to once per body.
  const owners = new Map<number, { struct?: string; typedef?: string }>();
  const ownerOf = (field: Node) => {
    const list = field.parent;
    if (!list) return structTag(field);
    let o = owners.get(list.id);
    if (!o) owners.set(list.id, (o = structTag(field)));
    return o;
  };
  const record = (decl: Node, at: number | undefined) => {
    const isField = decl.type === 'field_declaration';
    // The owner and the range are read only for an __iomem declarator: a plain field
    // (most of them, in every header) needs its name alone.
    let owner: { struct?: string; typedef?: string } | undefined;
    for (const d of decl.childrenForFieldName('declarator')) {
      if (!d) continue;
      const named = declaredName(d);
      if (!named) continue;
      // An __iomem before the first declarator qualifies all; inside one, only that one.
      const applies = at !== undefined && (at < d.startIndex || (at >= d.startIndex && at < d.endIndex));
      const isIomem = applies && named.depth > 0 &&
        (d.type !== 'init_declarator' || (at as number) < (d.childForFieldName('value')?.startIndex ?? Infinity));
      if (!isIomem) {
        if (isField) k.plainFields.add(named.name);
        continue;
      }
      if (isField) owner ??= ownerOf(decl);
      const info: IomemDecl = { name: named.name, depth: named.depth, file, range: rangeOf(named.node), ...owner };
      if (isField) {
        addField(k, info);
        continue;
      }
      const fn = enclosing(defs, decl.startIndex);
      if (decl.type === 'parameter_declaration' && (!fn || !inDeclarator(decl, fn))) continue; // prototypes
      if (!fn) {
        k.globals.set(named.name, info);
        continue;
      }
      // Keyed by declaration: scopes.ts says which one a use of the name means.
      locals.iomem.set(named.node.startIndex, info);
    }
  };

  for (const { decl, at } of marked) record(decl, at);
  // Plain field declarations matter as plain twins of __iomem field names (for a base
  // whose type is not known); the pass is restricted to files that have any __iomem in play.
  if (iomemOffsets.length || k.fields.size || k.globals.size) {
    // A field declaration is one node per start (they nest only inside a member's struct
    // body, which starts later): the marked ones are known by where they start.
    const markedAt = new Set<number>();
    for (const { decl } of marked) if (decl.type === 'field_declaration') markedAt.add(decl.startIndex);
    const found = indexedNodesOf(root, 'field_declaration');
    for (let j = 0; j < found.length; j++) {
      if (markedAt.has(found.start(j))) continue;
      // Most fields are `type name;` (or `type name : 3;`): one declarator, a bare name
      // (declaredName's answer for a field_identifier is its text), read as numbers
      // without making a Node. Anything else after the name (a comma and another
      // declarator, an attribute, a comment) goes the whole way.
      const d = found.fieldChild(j, 'declarator');
      if (d?.kind === 'field_identifier' && ONE_FIELD_END_RE.test(found.text(j).slice(d.end - found.start(j)))) {
        k.plainFields.add(d.text);
        continue;
      }
      record(found.node(j), undefined);
    }
  }
}

function inDeclarator(param: Node, fn: FunctionDef): boolean {
  return fn.params !== null && param.startIndex >= fn.params.startIndex && param.endIndex <= fn.params.endIndex;
}

/**
 * The struct a field belongs to, as a member access names it: the tag, or for
 * `typedef struct { ... } foo_t` the typedef name (as ctypes.ts registers it); a C11
 * anonymous struct or union member's fields are the enclosing struct's.
 */
function structTag(field: Node): { struct?: string; typedef?: string } {
  for (let p = field.parent; p; p = p.parent) {
    if (p.type !== 'struct_specifier' && p.type !== 'union_specifier') continue;
    const holder = p.parent;
    if (holder?.type === 'field_declaration' && !holder.childForFieldName('declarator') && !p.childForFieldName('name')) continue; // anonymous member
    // `typedef struct iadev_priv { ... } IADEV;`: a file that includes this header
    // names the type IADEV without seeing the typedef.
    const named = holder?.type === 'type_definition' ? declaredName(holder.childForFieldName('declarator')) : null;
    const typedef = named && named.depth === 0 ? named.name : undefined;
    const tag = fieldText(p, 'name') ?? typedef;
    return tag ? { struct: tag, ...(typedef && typedef !== tag ? { typedef } : {}) } : {};
  }
  return {};
}

export interface Deref {
  node: Node;
  decl: IomemDecl;
  /** The access is the target of a compound assignment or ++/--. */
  rmw: boolean;
  /** The access is written (assignment target). */
  write: boolean;
  fn: FunctionDef | undefined;
  /** `node.endIndex`, from the node index. */
  end: number;
}

export interface LibcUse {
  call: Node;
  callee: string;
  arg: Node;
  decl: IomemDecl;
  fn: FunctionDef | undefined;
}

/**
 * Finds MMIO dereferences. For an expression, `remaining` is how many more
 * dereferences lead to device memory: 0 means the expression designates MMIO.
 */
export class DerefFinder {
  private readonly memo = new Map<number, { r: number; decl: IomemDecl } | null>();
  private fn: FunctionDef | undefined;

  constructor(
    private readonly k: Knowledge,
    private readonly locals: LocalScopes,
    private readonly defs: readonly FunctionDef[],
  ) {}

  get active(): boolean {
    return this.k.fields.size > 0 || this.k.globals.size > 0 || this.locals.iomem.size > 0;
  }

  /** The file's scopes (provenance.ts resolves its variables through the same ones). */
  get scopes(): Scopes {
    return this.locals.scopes;
  }

  /** What the name `id` means where it stands: its own declaration, scoped as C scopes it. */
  private variable(id: Node): IomemDecl | null {
    const local = this.locals.scopes.resolve(this.fn, id.text, id.startIndex);
    if (local) return this.locals.iomem.get(local.id) ?? null;
    const g = this.k.globals.get(id.text);
    // A header's __iomem global of a name this file declares itself at file scope
    // without __iomem: the file's own declaration is the one in force.
    if (g && g.file !== this.locals.file && this.locals.scopes.declaresAtFileScope(id.text)) return null;
    return g ?? null;
  }

  private typesOf?: Types;
  private typedefs?: Map<string, string>;

  /** Typedef name -> struct tag, for the structs that declare an __iomem field under a typedef. */
  private typedefTags(): Map<string, string> {
    if (!this.typedefs) {
      this.typedefs = new Map();
      for (const list of this.k.fields.values()) {
        for (const d of list) if (d.typedef && d.struct && !this.typedefs.has(d.typedef)) this.typedefs.set(d.typedef, d.struct);
      }
    }
    return this.typedefs;
  }

  /**
   * The `__iomem` field `base->name` (or `base.name`) designates. When the base's
   * struct is known, only that struct's own `__iomem` field of that name counts
   * (`msg->vram` of a `struct synthvid_msg *` is not `hyperv_drm_device`'s `void
   * __iomem *vram`). When it is not known (a call's value, a type from a header not
   * read), the name decides as before, unless the name is also a plain field
   * somewhere: recall over precision, measured in BENCHMARKS.md ("Scoped names").
   */
  private field(base: Node | null, name: string, arrow: boolean): IomemDecl | null {
    const decls = this.k.fields.get(name);
    if (!decls?.length) return null;
    const tag = base ? this.baseStruct(base, arrow) : undefined;
    if (tag !== undefined) {
      if (tag.known) return fieldIn(decls, tag.name) ?? null;
      // A type name that may be a typedef of a header's struct: its own field if it has one.
      const own = fieldIn(decls, tag.name);
      if (own) return own;
    }
    if (!this.k.plainFields.has(name)) return decls[0];
    // The name is also a plain field of another struct and the base's type is not
    // tracked: stay silent rather than flag RAM accesses as MMIO.
    return null;
  }

  /**
   * Whether struct `tag` declares `name` __iomem: undefined when no struct declares a
   * field of that name __iomem (nothing is known), false when only others do.
   */
  iomemFieldIn(tag: string, name: string): boolean | undefined {
    const decls = this.k.fields.get(name);
    if (!decls?.length) return undefined;
    return fieldIn(decls, tag) !== undefined;
  }

  /**
   * The struct behind a member access's base: `known` when the type says
   * `struct tag` (through the file's typedefs), not known when it is only a type
   * name this file does not define (a header's typedef), undefined when no type is
   * found at all.
   */
  private baseStruct(base: Node, arrow: boolean): { name: string; known: boolean } | undefined {
    const types = this.types();
    const t = types.typeOf(base, this.fn);
    if (!t) return undefined;
    const r = types.resolve(t);
    if (r.ptr !== (arrow ? 1 : 0)) return undefined;
    if (r.name.startsWith('struct:')) return { name: r.name.slice(7), known: true };
    if (types.structs.has(r.name)) return { name: r.name, known: true }; // typedef struct { ... } name
    const tag = this.typedefTags().get(r.name);
    if (tag) return { name: tag, known: true };
    return { name: r.name, known: false };
  }

  /** Array levels of the member `node` names (ctypes.ts memberArrays), in this.fn. */
  private arrayMember(node: Node): number {
    return this.types().memberArrays(node, this.fn);
  }

  /** This file's types, read when first asked (most files dereference no struct member of MMIO). */
  private types(): Types {
    return (this.typesOf ??= new Types(this.locals.root, this.locals.scopes, this.locals.source));
  }

  remaining(node: Node): { r: number; decl: IomemDecl } | null {
    if (this.memo.has(node.id)) return this.memo.get(node.id)!;
    // Expressions nested thousands deep are generated, not written: past the limit
    // the value is unknown rather than a stack overflow.
    if (this.nesting >= MAX_EXPRESSION_NESTING) return null;
    this.nesting++;
    try {
      const v = this.compute(node);
      this.memo.set(node.id, v);
      return v;
    } finally {
      this.nesting--;
    }
  }

  private nesting = 0;

  private compute(node: Node): { r: number; decl: IomemDecl } | null {
    switch (node.type) {
      case 'identifier': {
        const d = this.variable(node);
        return d ? { r: d.depth, decl: d } : null;
      }
      case 'parenthesized_expression':
        return node.namedChildCount === 1 ? this.remaining(node.namedChild(0)!) : null;
      case 'cast_expression': {
        const v = node.childForFieldName('value');
        return v ? this.remaining(v) : null;
      }
      case 'field_expression': {
        const base = node.childForFieldName('argument');
        const fieldName = fieldText(node, 'field') ?? '';
        const arrow = fieldText(node, 'operator') === '->' || node.text.includes('->');
        const inner = base ? this.remaining(base) : null;
        if (inner && ((arrow && inner.r === 1) || (!arrow && inner.r === 0) || (arrow && inner.r === 0))) {
          // The member is in MMIO; an array member is an address into it (memberArrays).
          return { r: this.arrayMember(node), decl: inner.decl };
        }
        const f = this.field(base, fieldName, arrow);
        return f ? { r: f.depth, decl: f } : null;
      }
      case 'subscript_expression': {
        const a = node.childForFieldName('argument');
        const inner = a ? this.remaining(a) : null;
        if (!inner) return null;
        return { r: Math.max(0, inner.r - 1), decl: inner.decl };
      }
      case 'pointer_expression': {
        const a = node.childForFieldName('argument');
        const inner = a ? this.remaining(a) : null;
        if (!inner) return null;
        const op = fieldText(node, 'operator') ?? node.text[0];
        // `&arr` of an array member is the address `arr` already is: one level, not two.
        if (op === '&') return { r: inner.r + (this.arrayMember(unparen(a!)) ? 0 : 1), decl: inner.decl };
        return inner.r >= 1 ? { r: inner.r - 1, decl: inner.decl } : null;
      }
      case 'binary_expression': {
        const op = fieldText(node, 'operator');
        if (op !== '+' && op !== '-') return null;
        const l = node.childForFieldName('left');
        const r = node.childForFieldName('right');
        const lv = l ? this.remaining(l) : null;
        if (lv && lv.r >= 1) return lv;
        const rv = r && op === '+' ? this.remaining(r) : null;
        return rv && rv.r >= 1 ? rv : null;
      }
      case 'update_expression': {
        // `*p++ = v`: p++ (and ++p, p--) designates what p does.
        const a = node.childForFieldName('argument');
        return a ? this.remaining(a) : null;
      }
      case 'conditional_expression': {
        const c = node.childForFieldName('consequence');
        const a = node.childForFieldName('alternative');
        return (c && this.remaining(c)) || (a && this.remaining(a)) || null;
      }
      default:
        return null;
    }
  }

  /**
   * Every outermost expression that designates MMIO and is evaluated. `parsedText`,
   * the text `root`'s tree was parsed from, gives the candidates' text without asking
   * WASM for each one's end.
   */
  findDerefs(root: Node, parsedText?: string): Deref[] {
    const out: Deref[] = [];
    if (!this.active) return out;
    // One request for the three kinds (document order, kinds from the index), in the
    // order three requests sorted by start gave: at one start, pointers, then
    // subscripts, then members, each kind in document order.
    const found = indexedNodesOf(root, DEREF_KINDS);
    // Every non-null `remaining` starts at an identifier of an __iomem variable or at
    // a field name declared __iomem, both inside the expression's own text: a
    // candidate naming none of them is no access (most dereferences of a driver),
    // and is passed over without making its Node or asking the tree anything else.
    // The test depends on the candidate alone, so the candidates are filtered first
    // and only those kept are ordered (the order below, restricted to them).
    const names = this.iomemNames();
    const isName = (w: string) => names.has(w);
    const kept: number[] = [];
    for (let i = 0; i < found.length; i++) {
      const text = parsedText === undefined ? found.node(i).text : parsedText.slice(found.start(i), found.end(i));
      if (!namesWord(text, isName)) continue;
      // A pointer_expression begins with its operator (`*` or `&`) token.
      if (found.kind(i) === 'pointer_expression' && text[0] === '&') continue;
      kept.push(i);
    }
    if (kept.length > 1) {
      const rank = (i: number) => DEREF_KINDS.indexOf(found.kind(i));
      kept.sort((a, b) => found.start(a) - found.start(b) || rank(a) - rank(b) || a - b);
    }
    for (const i of kept) {
      const end = found.end(i);
      const n = found.node(i);
      this.fn = enclosing(this.defs, n.startIndex);
      if (!this.fn) continue; // initialisers of globals are not run-time accesses
      const v = this.remaining(n);
      if (!v || v.r !== 0) continue;
      // Only the outermost expression of a member/subscript chain is the access.
      let top = n;
      let parent = n.parent;
      while (parent?.type === 'parenthesized_expression') {
        top = parent;
        parent = parent.parent;
      }
      if (parent && (parent.type === 'field_expression' || parent.type === 'subscript_expression') &&
          parent.childForFieldName('argument')?.id === top.id) {
        const pv = this.remaining(parent);
        if (pv && (pv.r === 0 || isDotMemberOf(parent))) continue;
      }
      if (parent?.type === 'pointer_expression' && (fieldText(parent, 'operator') ?? parent.text[0]) === '&') continue;
      if (isUnevaluated(n)) continue;
      const assign = parent?.type === 'assignment_expression' && parent.childForFieldName('left')?.id === top.id ? parent : null;
      const op = assign ? fieldText(assign, 'operator') : undefined;
      const rmw = (assign !== null && op !== '=') || parent?.type === 'update_expression';
      out.push({ node: n, decl: v.decl, rmw, write: assign !== null || rmw, fn: this.fn, end });
    }
    return out;
  }

  /**
   * How many dereferences from `node` lead to MMIO according to `__iomem` declarations
   * alone, evaluated in `fn` (provenance.ts uses this as a source and to leave the
   * accesses this finder reports to it).
   */
  valueAt(node: Node, fn: FunctionDef | undefined): { r: number; decl: IomemDecl } | null {
    if (!this.active) return null;
    this.fn = fn;
    return this.remaining(node);
  }

  /** Every name declared `__iomem` (fields, globals, locals): provenance's pre-filter words. */
  iomemNames(): Set<string> {
    const out = new Set<string>([...this.k.fields.keys(), ...this.k.globals.keys()]);
    for (const d of this.locals.iomem.values()) out.add(d.name);
    return out;
  }

  /** An `__iomem` pointer handed to memcpy/memset/memcmp/str*. */
  libcUse(call: Node, callee: string): LibcUse | null {
    if (!this.active) return null;
    this.fn = enclosing(this.defs, call.startIndex);
    const args = call.childForFieldName('arguments');
    for (const a of args?.namedChildren ?? []) {
      if (!a) continue;
      const v = this.remaining(a);
      if (v && v.r === 1) return { call, callee, arg: a, decl: v.decl, fn: this.fn };
    }
    return null;
  }
}

export function isUnevaluated(n: Node): boolean {
  // Most expressions stand in no sizeof/typeof at all: the node index says so
  // without climbing (each `parent` is a call into WASM).
  if (!mayBeInside(n, NOT_EVALUATED_KINDS)) return false;
  for (let p = n.parent; p; p = p.parent) {
    if (NOT_EVALUATED.has(p.type)) return true;
    if (p.type === 'function_definition' || p.type === 'compound_statement') return false;
  }
  return false;
}
