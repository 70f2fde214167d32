// Source analysis of one C file: accessor call sites (catalogued or through the
// driver's own wrappers), `__iomem` dereferences, and the function-level view.

import { fieldText, indexedNodesOf, nodesOf, type IndexedNodes } from './nodeIndex';
import type { Node, Tree } from 'web-tree-sitter';
import { CATALOGUE, LIBC_MEMORY_CALLS, type Accessor } from './catalogue';
import { collectFunctions, enclosing, functionView, type FunctionDef } from './functions';
import { collectDeclarations, DerefFinder, LocalScopes } from './iomem';
import { emptyKnowledge, mergeKnowledge, type Knowledge, type Wrapper } from './knowledge';
import type { CParser, ParsedFile } from './parser';
import { findUntypedDerefs, type ProvenanceTrace } from './provenance';
import { countErrors } from './parser';
import { callsInErrors, errorRegions, inRegions, lineStarts, rangeAt } from './errorRegions';
import { SHOWN_AS_WRITTEN } from './annotations';
import { callArguments, declaredName, identifiersIn, namesWord, parameterNames, rangeOf } from './syntax';
import type { Range, Site, SourceAnalysis, ViaStep } from './types';
import { objectLikeMacros } from './macroBodies';

interface MacroDef {
  name: string;
  params: string[];
  /** Sub-parse of the body laid out at its real rows and columns (or null if not parsed). */
  tree: Tree | null;
  bodyText: string;
  bodyNode: Node;
}

interface Call {
  node: Node;
  callee: string;
  calleeNode: Node;
  /** The arguments, comments left out (read on first need: most callees are no accessor). */
  readonly args: Node[];
  fn: FunctionDef | undefined;
  macro?: MacroDef;
  /** `node.endIndex` when the node index gave it (calls of the file's own tree). */
  end?: number;
  /** `node.startIndex` and `calleeNode.startIndex`, when known without the nodes. */
  start?: number;
  calleeStart?: number;
}

/**
 * A call of the file's own tree, read from the node index as numbers: its Node and
 * its callee's are made only when asked for (most calls name no accessor and are
 * only looked up by name).
 */
class IndexedCall implements Call {
  private argList?: Node[];
  private calleeMade?: Node;
  constructor(
    private readonly found: IndexedNodes,
    private readonly j: number,
    readonly callee: string,
    readonly calleeStart: number,
    readonly fn: FunctionDef | undefined,
    readonly end: number,
  ) {}

  get node(): Node {
    return this.found.node(this.j);
  }

  get start(): number {
    return this.found.start(this.j);
  }

  get calleeNode(): Node {
    return (this.calleeMade ??= this.node.childForFieldName('function')!);
  }

  get args(): Node[] {
    return (this.argList ??= callArguments(this.node));
  }
}

class CallOf implements Call {
  private argList?: Node[];
  constructor(
    readonly node: Node,
    readonly callee: string,
    readonly calleeNode: Node,
    readonly fn: FunctionDef | undefined,
    readonly macro?: MacroDef,
    /** `node.endIndex` when the node index gave it (calls of the file's own tree). */
    readonly end?: number,
  ) {}

  get args(): Node[] {
    return (this.argList ??= callArguments(this.node));
  }
}

export interface FileResult {
  analysis: SourceAnalysis;
  /** What this file declares for files that include it. */
  exports: Knowledge;
  /** The function definitions, in file order (offsets into the text). */
  table: FunctionSpan[];
  /** Per function name: the names it calls that are not sites (functionView's input). */
  callsFrom: Map<string, Set<string>>;
}

/** Where a function definition and its body stand in the text, without its tree. */
export interface FunctionSpan {
  name: string;
  start: number;
  end: number;
  /** The body's `{` and one past its `}` (-1 when the definition has none). */
  bodyStart: number;
  bodyEnd: number;
  isStatic: boolean;
  isInline: boolean;
  range: Range;
}

export interface AnalyzeOptions {
  /** Filled with what the provenance pass hands between functions. */
  trace?: ProvenanceTrace;
  /**
   * Leave macro bodies unparsed: their calls are neither sites nor wrappers here (an
   * editor's re-analysis of one function passes the file's wrappers in `imported` and
   * keeps the macro bodies' sites of its previous audit).
   */
  skipMacroBodies?: boolean;
}

const MAX_WRAPPER_ROUNDS = 8;

/**
 * Analyses a parsed file. `imported` is what its quoted-include headers declare.
 * `file` names the file in sites and wrapper chains (a URI or a path).
 */
/** Tree depth beyond which a file is treated as generated (kernel code stays far below). */
const MAX_TREE_DEPTH = 1000;
/** nestingHint() above this asks for the exact (cursor) depth check. */
export const NESTING_HINT_LIMIT = 1500;

/** ASCII characters nestingHint() does nothing with once past a line's start: 1. */
const HINT_PLAIN = (() => {
  const t = new Uint8Array(128).fill(1);
  for (const ch of '\n;{}(*&!~+-|^?') t[ch.charCodeAt(0)] = 0;
  return t;
})();

/**
 * A cheap upper-bound-ish hint of expression/statement nesting: the most opening
 * parentheses and operator characters in one statement (or directive line), or the
 * deepest brace. Only a hint: comments count too; the exact check is treeDeeperThan.
 */
export function nestingHint(text: string): number {
  let best = 0;
  let cur = 0;
  let depth = 0;
  let lineStart = true;
  let directive = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // Most characters are none of the ones below, mid-line: one table read passes
    // them (every file's text is read here once or twice per audit).
    if (!lineStart && (c >= 128 || HINT_PLAIN[c] === 1)) continue;
    if (c === 10) {
      if (directive && text.charCodeAt(i - 1) !== 92) {
        if (cur > best) best = cur;
        cur = 0;
        directive = false;
      }
      lineStart = true;
      continue;
    }
    if (lineStart && c !== 32 && c !== 9) {
      directive = c === 35;
      lineStart = false;
    }
    if (c === 59 || c === 123 || c === 125) {
      if (cur > best) best = cur;
      cur = 0;
      if (c === 123) {
        if (++depth > best) best = depth;
      } else if (c === 125 && depth > 0) depth--;
      continue;
    }
    // ( * & ! ~ + - | ^ ?
    if (c === 40 || c === 42 || c === 38 || c === 33 || c === 126 || c === 43 || c === 45 || c === 124 || c === 94 || c === 63) cur++;
  }
  return Math.max(best, cur);
}

/** Whether the syntax tree is deeper than `limit` (a cursor walk: no node objects). */
export function treeDeeperThan(root: Node, limit: number): boolean {
  const c = root.walk();
  let depth = 0;
  try {
    for (;;) {
      if (c.gotoFirstChild()) {
        if (++depth > limit) return true;
        continue;
      }
      while (!c.gotoNextSibling()) {
        if (!c.gotoParent()) return false;
        depth--;
      }
    }
  } finally {
    c.delete();
  }
}

export function analyzeFile(parser: CParser, parsed: ParsedFile, file: string, imported: Knowledge, opts: AnalyzeOptions = {}): FileResult {
  const root = parsed.tree.rootNode;
  const defs = collectFunctions(root, parsed.prepared.annotations);
  const own = emptyKnowledge();
  const locals = new LocalScopes(root, parsed.text);
  collectDeclarations(parsed.tree, parsed.prepared.iomem, file, defs, own, locals);

  const known = emptyKnowledge();
  mergeKnowledge(known, own);
  mergeKnowledge(known, imported);

  const macros = collectMacros(root, parsed.text);
  const calls: Call[] = [];
  // What toCall reads (the callee field's kind and text), as numbers.
  const callNodes = indexedNodesOf(root, 'call_expression');
  for (let j = 0; j < callNodes.length; j++) {
    const f = callNodes.fieldChild(j, 'function');
    if (!f || f.kind !== 'identifier') continue;
    calls.push(new IndexedCall(callNodes, j, f.text, f.start, enclosing(defs, callNodes.start(j)), callNodes.end(j)));
  }

  const isKnown = (name: string) => CATALOGUE.has(name) || known.wrappers.has(name);
  // A function's local flows, read once however many of its calls are wrapper candidates.
  const flowMemo = new Map<FunctionDef, Flow[]>();
  const flowsOf = (fn: FunctionDef) => {
    let f = flowMemo.get(fn);
    if (!f) flowMemo.set(fn, (f = localFlows(fn)));
    return f;
  };
  const parsedMacros = new Set<MacroDef>();
  /** Per call with a target: the owner's parameters its address arguments come from. */
  const paramsMemo = new Map<Call, number[]>();
  /** A function's parameter names, read once (each call of a wrapper candidate asked, every round). */
  const paramNames = new Map<FunctionDef, string[]>();
  const paramsOf = (fn: FunctionDef) => {
    let p = paramNames.get(fn);
    if (!p) paramNames.set(fn, (p = parameterNames(fn.params)));
    return p;
  };
  try {
    // Wrappers are found to a fixpoint: a wrapper of a wrapper is a wrapper.
    for (let round = 0; round < MAX_WRAPPER_ROUNDS; round++) {
      let added = false;
      for (const m of opts.skipMacroBodies ? [] : macros) {
        if (parsedMacros.has(m) || !namesWord(m.bodyText, isKnown)) continue;
        parsedMacros.add(m);
        // The prepared text: a body's annotations (`(__force u32)`, `(void __iomem *)`) are blanked as in code.
        m.tree = parseMacroBody(parser, parsed.prepared.text, m);
        if (!m.tree) continue;
        for (const n of m.tree.rootNode.descendantsOfType('call_expression')) {
          const c = n && toCall(n, undefined, m);
          if (c) calls.push(c);
        }
      }
      for (const c of calls) {
        const target = resolve(c.callee, known);
        if (!target) continue;
        const owner = c.macro
          ? { name: c.macro.name, params: c.macro.params, isMacro: true }
          : c.fn && c.fn.isStatic && c.fn.isInline
            ? { name: c.fn.name, params: paramsOf(c.fn), isMacro: false }
            : null;
        // A catalogued accessor's own definition (asm-generic/io.h's `ioread32` calling
        // `readl`) is the accessor, not a wrapper of another one.
        if (!owner || owner.name === c.callee || known.wrappers.has(owner.name) || CATALOGUE.has(owner.name)) continue;
        // The same in every round: a call's target, once found, stays (wrappers are
        // only added), and so do its arguments, its function's flows and the owner's
        // parameters; a call whose owner is no wrapper yet was computed again each round.
        let params = paramsMemo.get(c);
        if (!params) {
          const ids = new Set<string>();
          for (const i of target.addrArgs) for (const id of c.args[i] ? identifiersIn(c.args[i]) : []) ids.add(id);
          const flows = c.fn ? flowsOf(c.fn) : [];
          params = owner.params.flatMap((p, i) => (p && overlaps(ids, closure(p, flows)) ? [i] : []));
          paramsMemo.set(c, params);
        }
        if (!params.length) continue;
        const step: ViaStep = { name: owner.name, file, range: rangeOf(c.node), callee: c.callee };
        const w: Wrapper = {
          name: owner.name,
          accessor: target.accessor,
          addrArgs: params,
          chain: [step, ...target.chain],
          isMacro: owner.isMacro,
        };
        own.wrappers.set(w.name, w);
        known.wrappers.set(w.name, w);
        added = true;
      }
      if (!added) break;
    }

    const sites: Site[] = [];
    const asWritten = shownAsWritten(parsed);
    const at = positions(parsed.prepared.text);
    const callsFrom = new Map<string, Set<string>>();
    const finder = new DerefFinder(known, locals, defs);
    // Sites of macro bodies come from their own sub-parse: the file's ERROR regions say nothing of them.
    const fromMacros = new Set<Site>();
    for (const c of calls) {
      const target = resolve(c.callee, known);
      if (target) {
        const s = callSite(c, target, at, c.macro ? undefined : asWritten);
        sites.push(s);
        if (c.macro) fromMacros.add(s);
        continue;
      }
      if (LIBC_MEMORY_CALLS.has(c.callee) && !c.macro) {
        const use = finder.libcUse(c.node, c.callee);
        if (use) {
          sites.push({
            kind: 'iomem-libc',
            accessor: c.callee,
            base: c.callee,
            accessorKind: 'mmio-string',
            width: 0,
            rule: 'tdx-iomem-libc',
            function: c.fn?.name ?? null,
            range: rangeOf(c.calleeNode),
            callRange: rangeOf(c.node),
            address: use.arg.text,
            via: [],
            declaredAt: { file: use.decl.file, range: use.decl.range, name: use.decl.name },
          });
          continue;
        }
      }
      if (c.fn) {
        let s = callsFrom.get(c.fn.name);
        if (!s) callsFrom.set(c.fn.name, (s = new Set()));
        s.add(c.callee);
      }
    }
    // Generated code nested thousands deep makes every node.parent (O(depth) in
    // tree-sitter) quadratic: such a file gets calls only, not the deref analyses.
    const tooDeep = nestingHint(parsed.text) > NESTING_HINT_LIMIT && treeDeeperThan(root, MAX_TREE_DEPTH);
    for (const d of tooDeep ? [] : finder.findDerefs(root, parsed.prepared.text)) {
      // An accessor's own definition dereferences its argument in the asm operand
      // that *is* the MOV: that is the accessor, not a site.
      if (d.fn && CATALOGUE.has(d.fn.name)) continue;
      sites.push({
        kind: 'iomem-deref',
        accessor: d.rmw ? 'read-modify-write' : d.write ? 'store' : 'load',
        base: 'deref',
        accessorKind: d.write && !d.rmw ? 'mmio-write' : 'mmio-read',
        width: 0,
        rule: 'tdx-iomem-deref',
        function: d.fn?.name ?? null,
        range: at(d.node.startIndex, d.end),
        callRange: d.rmw ? rangeOf(d.node.parent ?? d.node) : at(d.node.startIndex, d.end),
        address: parsed.prepared.text.slice(d.node.startIndex, d.end),
        via: [],
        declaredAt: { file: d.decl.file, range: d.decl.range, name: d.decl.name },
      });
    }
    // Values of MMIO provenance dereferenced where they are not declared __iomem.
    if (!tooDeep) sites.push(
      ...findUntypedDerefs({
        root,
        text: parsed.text,
        parsedText: parsed.prepared.text,
        file,
        defs,
        finder,
        parser,
        isAccessor: (name) => resolve(name, known) !== undefined,
        ...(opts.trace ? { trace: opts.trace } : {}),
      }),
    );
    markParseErrors(root, parsed.prepared.text, parsed.text, sites, fromMacros, (name) => {
      const t = resolve(name, known);
      return t && { target: t, fn: (at: number) => enclosing(defs, at)?.name ?? null };
    });
    sites.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);

    const direct = new Map<string, number>();
    for (const s of sites) if (s.function) direct.set(s.function, (direct.get(s.function) ?? 0) + 1);
    return {
      analysis: { sites, functions: functionView(defs, direct, callsFrom), parseErrors: countErrors(parsed.tree) },
      exports: own,
      table: defs.map((d) => ({ name: d.name, start: d.startIndex, end: d.endIndex, bodyStart: d.body?.startIndex ?? -1, bodyEnd: d.body?.endIndex ?? -1, isStatic: d.isStatic, isInline: d.isInline, range: d.range })),
      callsFrom,
    };
  } finally {
    for (const m of macros) m.tree?.delete();
  }
}

/**
 * Sites standing in an ERROR region are marked `inParseError`; calls of accessors or
 * wrappers the parser left as loose tokens there (errorRegions.ts says when such a
 * call is unambiguous) become sites, marked the same way, instead of being lost.
 */
function markParseErrors(
  root: Node,
  prepared: string,
  text: string,
  sites: Site[],
  fromMacros: ReadonlySet<Site>,
  lookup: (name: string) => { target: Target; fn: (at: number) => string | null } | undefined,
): void {
  const regions = errorRegions(root);
  if (!regions.length) return;
  const starts = lineStarts(text);
  const offset = (p: { line: number; character: number }) => (starts[p.line] ?? text.length) + p.character;
  const taken = new Set<number>();
  for (const s of sites) {
    if (fromMacros.has(s)) continue;
    const at = offset(s.range.start);
    taken.add(at);
    if (inRegions(regions, at)) s.inParseError = true;
  }
  for (const r of callsInErrors(root, prepared, regions, (name) => lookup(name) !== undefined)) {
    if (taken.has(r.start)) continue;
    const { target: t, fn } = lookup(r.callee)!;
    const a = t.accessor;
    sites.push({
      kind: 'call',
      accessor: r.callee,
      base: a.name,
      accessorKind: a.kind,
      width: a.width,
      rule: a.rule,
      function: fn(r.start),
      range: rangeOf(r.calleeNode),
      callRange: rangeAt(starts, r.start, r.end),
      address: t.addrArgs.length ? r.args[t.addrArgs[0]!] ?? '' : '',
      via: t.chain,
      inParseError: true,
    });
  }
}

interface Target {
  accessor: Accessor;
  addrArgs: number[];
  chain: ViaStep[];
}

function resolve(name: string, k: Knowledge): Target | undefined {
  const w = k.wrappers.get(name);
  if (w) return { accessor: w.accessor, addrArgs: w.addrArgs, chain: w.chain };
  const a = CATALOGUE.get(name);
  return a ? { accessor: a, addrArgs: a.addrArg >= 0 ? [a.addrArg] : [], chain: [] } : undefined;
}

/**
 * The text of a node as written: the prepared text, with the rewrites that change an
 * argument's characters (SHOWN_AS_WRITTEN: `offsetof(struct s, a.b)` read as `a`) put
 * back. Undefined when the file has none (node.text is then the text as written, up to
 * blanked annotations, as always).
 */
function shownAsWritten(parsed: ParsedFile): ((n: Node) => string) | undefined {
  const spans = parsed.prepared.annotations.filter((a) => SHOWN_AS_WRITTEN.has(a.name)).map((a) => [a.index, a.index + a.length] as const);
  if (!spans.length) return undefined;
  spans.sort((x, y) => x[0] - y[0]);
  return (n: Node) => {
    const s = n.startIndex;
    const e = n.endIndex;
    let out = n.text;
    for (const [a, b] of spans) {
      if (a >= e) break;
      if (b <= s) continue;
      const from = Math.max(a, s);
      const to = Math.min(b, e);
      out = out.slice(0, from - s) + parsed.text.slice(from, to) + out.slice(to - s);
    }
    return out;
  };
}

/**
 * The range of [start, end) of the parsed text, from its line starts (tree-sitter
 * counts rows at each `\n` and columns in UTF-16 units, as these do): a node's
 * `endPosition` is a call into WASM. Line starts are read on first need.
 */
function positions(parsedText: string): (start: number, end: number) => Range {
  let starts: number[] | undefined;
  return (start, end) => rangeAt((starts ??= lineStarts(parsedText)), start, end);
}

function callSite(c: Call, t: Target, at: (start: number, end: number) => Range, asWritten?: (n: Node) => string): Site {
  const a = t.accessor;
  const arg = t.addrArgs.length ? c.args[t.addrArgs[0]!] : undefined;
  // A call of the file's own tree: its end from the node index, the callee's from its
  // name (an identifier is one line; a `\` might splice one, so those ask the tree).
  const own = c.end !== undefined && !c.callee.includes('\\');
  return {
    kind: 'call',
    accessor: c.callee,
    base: a.name,
    accessorKind: a.kind,
    width: a.width,
    rule: a.rule,
    function: c.fn?.name ?? null,
    range: own ? at(c.calleeStart ?? c.calleeNode.startIndex, (c.calleeStart ?? c.calleeNode.startIndex) + c.callee.length) : rangeOf(c.calleeNode),
    callRange: own ? at(c.start ?? c.node.startIndex, c.end!) : rangeOf(c.node),
    address: arg ? (asWritten ? asWritten(arg) : arg.text) : '',
    via: t.chain,
  };
}

function toCall(node: Node, fn: FunctionDef | undefined, macro?: MacroDef, end?: number): Call | null {
  const f = node.childForFieldName('function');
  if (!f || f.type !== 'identifier') return null;
  return new CallOf(node, f.text, f, fn, macro, end);
}

function collectMacros(root: Node, text: string): MacroDef[] {
  const out: MacroDef[] = objectLikeMacros(root, text).map((o) => ({ name: o.name, params: [], tree: null, bodyText: o.bodyNode.text, bodyNode: o.bodyNode }));
  for (const m of nodesOf(root, 'preproc_function_def')) {
    if (!m) continue;
    const name = fieldText(m, 'name');
    const value = m.childForFieldName('value');
    if (!name || !value) continue;
    const params = (m.childForFieldName('parameters')?.namedChildren ?? [])
      .filter((p): p is Node => !!p && p.type === 'identifier')
      .map((p) => p.text);
    out.push({ name, params, tree: null, bodyText: value.text, bodyNode: value });
  }
  return out;
}

/**
 * Parses a macro body as statements, laid out at the body's own rows and columns so
 * node positions are file positions. The wrapper function header goes on the body's
 * first line, in the columns `#define NAME(args)` occupies (at least 10 of them).
 */
function parseMacroBody(parser: CParser, text: string, m: MacroDef): Tree | null {
  const body = m.bodyNode;
  const row = body.startPosition.row;
  const col = body.startPosition.column;
  const header = 'void m(){';
  // A body that starts on a continuation line (`#define A(x) \` then `\t(readb(x) + 1)`)
  // has no room before it: the header goes on the line above instead.
  const headerAbove = col < header.length + 1;
  if (headerAbove && row === 0) return null;
  // Continuations become spaces; `a##b` becomes `a+ b` and `#x` becomes ` x` so the
  // pasted or stringified parameter is still an identifier in the expression.
  const raw = text
    .slice(body.startIndex, body.endIndex)
    .replace(/\\(\r?\n)/g, ' $1')
    .replace(/##/g, '+ ')
    .replace(/#(?=\s*[A-Za-z_])/g, ' ');
  // Only the body's lines are given to tree-sitter, placed at their rows (parseAt);
  // the body's own characters keep their indices in the file.
  const lead = headerAbove ? header + '\n' + ' '.repeat(col) : header + ' '.repeat(col - header.length);
  const start = Math.max(0, body.startIndex - lead.length);
  return parser.parseAt(lead + raw + '\n;}', start, { row: headerAbove ? row - 1 : row, column: 0 });
}

type Flow = [target: string, from: Set<string>];

/** Assignments to locals inside a function body: `x = expr` and `T x = expr`. */
function localFlows(fn: FunctionDef): Flow[] {
  const flows: Flow[] = [];
  const body = fn.body;
  if (!body) return flows;
  for (const d of nodesOf(body, 'init_declarator')) {
    const name = d?.childForFieldName('declarator');
    const value = d?.childForFieldName('value');
    const declared = name && declaredName(name);
    if (declared && value) flows.push([declared.name, identifiersIn(value)]);
  }
  for (const a of nodesOf(body, 'assignment_expression')) {
    const left = a?.childForFieldName('left');
    const right = a?.childForFieldName('right');
    if (left?.type === 'identifier' && right) flows.push([left.text, identifiersIn(right)]);
  }
  return flows;
}

/**
 * A parameter and every local assigned (transitively) from it: an accessor whose
 * address comes from one of these acts on the caller's argument.
 */
function closure(param: string, flows: Flow[]): Set<string> {
  const out = new Set([param]);
  for (let round = 0; round < 8; round++) {
    let grew = false;
    for (const [name, from] of flows) {
      if (out.has(name)) continue;
      for (const f of from) {
        if (out.has(f)) {
          out.add(name);
          grew = true;
          break;
        }
      }
    }
    if (!grew) break;
  }
  return out;
}

function overlaps(a: Set<string>, b: Set<string>): boolean {
  for (const x of a) if (b.has(x)) return true;
  return false;
}
