// MMIO provenance: accesses to device memory that no `__iomem` annotation marks.
//
// A pointer returned by ioremap() (or another mapping API in catalogue.ts) points at
// device MMIO whatever type it is later given. Drivers cast the annotation away
// (`(struct regs __force *)base`), store the value in a `void *` global or a plain
// struct field, and then dereference it: `regs->flags |= BIT(0)` compiles to
// `orl $1,(%rax)`, which the TDX #VE handler cannot decode (oops). sparse sees only
// the cast. This pass follows the value instead.
//
// Model (flow-insensitive, per file, linear in the file's size times a small number
// of rounds):
//  - sources: calls of catalogued mapping APIs, and values declared `__iomem` (what
//    DerefFinder knows), which matter once they are copied into plain storage;
//  - storage ("slots"): locals and parameters per declaration (scopes.ts: two `raw`s
//    in two blocks are two slots), file-scope variables, struct
//    fields keyed by struct tag and field name, the return value of each function of the
//    file, the parameters of the file's static functions (from their callers' arguments);
//  - transfer: assignments and initialisers, casts, pointer arithmetic, `&`/`*`/`[]`,
//    member access, the conditional operator, same-file calls, and function-like macros
//    of the file (a macro that dereferences or passes through its parameter);
//  - a value is `depth` dereferences away from MMIO: 1 for a pointer to MMIO, 2 for a
//    table of such pointers (pcim_iomap_table), 0 for an expression that *is* MMIO.
// Slots are written once (the first provenance found wins), so the fixpoint ends after
// at most as many rounds as there are slots; it is capped at MAX_ROUNDS.
//
// What it reports: every evaluated expression of depth 0 (a load, store or
// read-modify-write of MMIO) and every plain memcpy/memset/str* call given a depth-1
// value, unless DerefFinder already reports it because the pointer is declared
// `__iomem` at that point (rule tdx-iomem-deref / tdx-iomem-libc): no double report.

import { fieldChildOf, fieldText, indexedNodesOf, isDotMemberOf, nodesOf, type IndexedNodes } from './nodeIndex';
import type { Node } from 'web-tree-sitter';
import { prepare } from './annotations';
import { CATALOGUE, LIBC_DEST_ARG, LIBC_MEMORY_CALLS, MAPPING_APIS, MAPPING_NAMES_RE } from './catalogue';
import { enclosing, type FunctionDef } from './functions';
import { MAX_EXPRESSION_NESTING, Types, type CType } from './ctypes';
import { isUnevaluated, type DerefFinder } from './iomem';
import type { CParser } from './parser';
import type { Scopes } from './scopes';
import { callArguments, declaredName, namesWord, rangeOf, someWord, unparen } from './syntax';
import type { Range, Site } from './types';
import { WordTable } from './words';

const MAX_ROUNDS = 6;
const MAX_STEPS = 8;

export interface Origin {
  file: string;
  range: Range;
  /** The mapping API called, or the `__iomem`-declared name. */
  name: string;
  from: 'mapping' | 'iomem' | 'param';
  /** For macro-body analysis: which macro parameter this stands for. */
  param?: number;
}

export interface Step {
  file: string;
  range: Range;
  message: string;
}

interface Prov {
  depth: number;
  origin: Origin;
  steps: Step[];
}

export interface ProvenanceInput {
  root: Node;
  /** Original text (the pre-filter runs on it). */
  text: string;
  /**
   * The text `root`'s tree was parsed from (the prepared text): the expressions' text
   * is sliced from it with the node index's ends, not asked of WASM node by node.
   */
  parsedText?: string;
  file: string;
  defs: readonly FunctionDef[];
  finder: DerefFinder;
  parser: CParser;
  /** true for callees that are already sites (catalogued accessors and derived wrappers). */
  isAccessor: (name: string) => boolean;
  /** Filled when given: what other functions read of this run (an editor's re-analysis of one function compares it). */
  trace?: ProvenanceTrace;
}

/**
 * The facts of a run that one function can hand to another: slots other than a
 * function's own locals (globals, struct fields, return values, static functions'
 * parameters), the fields given plain or normal memory, and the functions (by start
 * index; -1 for file scope) whose flows set any of them.
 */
export interface ProvenanceTrace {
  writers: Set<number>;
  facts: Map<string, { depth: number; origin: Origin; steps: Step[] }>;
  /** Field names given a plain value (`N:`) or normal memory (`M:`), and global slots given normal memory (`S:`). */
  plain: Set<string>;
  /** The functions (start index, -1 file scope) that add each `plain` entry. */
  plainBy: Map<string, Set<number>>;
  /** The fixpoint stopped at its round cap (the result depends on more than the facts). */
  capped: boolean;
  /** How many rounds the fixpoint ran (set by the run). */
  rounds?: number;
  /**
   * Filled when given (an array): what each function's flows did that other functions
   * can see, with when (TraceEvent). An editor's re-analysis hands the events of the
   * functions it leaves out back in as `replay`.
   */
  events?: TraceEvent[];
  /**
   * Input: events of flows that are not in the analysed text, in the order of the run
   * that recorded them (round, then `at`), `at` placed among the analysed text's flow
   * starts. Each is applied when the run reaches that point, as the flow's own store
   * was in the recording run, so the analysed functions see at every point what they
   * saw there. Replayed facts are not written back into `facts`.
   */
  replay?: readonly TraceEvent[];
}

/**
 * What one flow did that another function can see: a fact set (`slot`: `key` is the
 * slot, its value the run's fact), a variable of its own set (`live`: `key` is the
 * name, which makes expressions naming it anywhere live), a field name given a plain
 * value (`plain`; recorded for field names that hold MMIO somewhere). The first of each
 * kind and key per function; `at` is the start of the flow, `round` its round.
 */
export interface TraceEvent {
  round: number;
  at: number;
  kind: 'slot' | 'live' | 'plain';
  key: string;
  /** A replayed `slot` event's value (recorded events leave it out: it is `facts`' entry). */
  value?: { depth: number; origin: Origin; steps: Step[] };
}

// ---------------------------------------------------------------------------------
// Macros of the file: which parameter a function-like macro dereferences or passes on.

interface MacroInfo {
  name: string;
  params: string[];
  body: string;
  analysed?: MacroSummary;
}

interface MacroSummary {
  /** The body's value is `depth` dereferences from parameter `param` (-1: none). */
  value: { param: number; depth: number } | null;
  /** Dereferences inside the body that do not make up its whole value. */
  inner: { param: number; write: boolean; rmw: boolean; width: number; test: boolean }[];
  /** Access width when the whole value is a dereference. */
  width: number;
  /** The type of the body's value when it says (a cast), for `MACRO(p)->field`. */
  type: CType | null;
}

const DEREF_TYPES = ['pointer_expression', 'subscript_expression', 'field_expression'];
/** The kinds `run` reads: flows and uses (one array, so the node index keys it once). */
const ITEM_KINDS = ['init_declarator', 'assignment_expression', 'return_statement', 'call_expression', ...DEREF_TYPES];
const CONDITION_PARENTS = new Set(['if_statement', 'while_statement', 'do_statement', 'for_statement', 'conditional_expression']);

// ---------------------------------------------------------------------------------

/** An expression the pass reads: a flow (value transfer) or a use (possible access). */
/**
 * One indexed expression or statement. Its `Node` is made only when the item is
 * live (most are not: their words name nothing that carries MMIO).
 */
class Item {
  /**
   * The item's words as positions [lo, hi) in the run's word table (its occurrences, in
   * order: no list is made per item), found on first need; lo -1: the table cannot
   * answer (a word crosses the item's ends, or no table), and `words` holds them.
   */
  lo = -2;
  hi = 0;
  /** The distinct words of `text` as ids of the run's word list, when lo is -1. */
  words?: number[];
  /** The enclosing function (null: file scope), found on first need. */
  fn?: FunctionDef | null;

  constructor(
    private readonly found: IndexedNodes,
    private readonly j: number,
    /** The node's kind, from the node index. */
    readonly kind: string,
    /** The text the tree was parsed from, when the run has it. */
    private readonly source: string | undefined,
    /** Where `text` stands in `source` (-1: no source). */
    readonly from: number,
    readonly to: number,
  ) {}

  /** The node's text (read only when the word table cannot answer for it). */
  get text(): string {
    return this.source === undefined ? this.node.text : this.source.slice(this.from, this.to);
  }

  get node(): Node {
    return this.found.node(this.j);
  }

  get start(): number {
    return this.found.start(this.j);
  }
}

interface Access {
  write: boolean;
  rmw: boolean;
  /** The statement-level expression that performs the access (assignment, ++, or the node). */
  whole: Node;
  /** A load tested against a constant mask in a condition: gcc picks `test` on memory. */
  test: boolean;
}

/** How `top` (an lvalue expression, parentheses climbed) is used by its parent. */
function accessOf(top: Node): Access {
  const parent = top.parent;
  if (parent?.type === 'assignment_expression' && parent.childForFieldName('left')?.id === top.id) {
    const op = fieldText(parent, 'operator') ?? '=';
    return { write: true, rmw: op !== '=', whole: parent, test: false };
  }
  if (parent?.type === 'update_expression') return { write: true, rmw: true, whole: parent, test: false };
  return { write: false, rmw: false, whole: top, test: isBitTest(top) };
}

/** `x & CONST` (either order) used as a truth value. */
function isBitTest(top: Node): boolean {
  let p = top.parent;
  if (p?.type !== 'binary_expression' || fieldText(p, 'operator') !== '&') return false;
  const other = p.childForFieldName('left')?.id === top.id ? p.childForFieldName('right') : p.childForFieldName('left');
  if (!other || /[a-z]\w*\s*\(/.test(other.text) && !/^\s*(BIT|BIT_ULL|GENMASK)\s*\(/.test(other.text)) return false;
  if (other.type === 'identifier' && !/^[A-Z_][A-Z0-9_]*$/.test(other.text)) return false;
  for (let guard = 0; p?.parent && guard < 6; guard++) {
    const pp: Node = p.parent;
    if (pp.type === 'parenthesized_expression') {
      p = pp;
      continue;
    }
    if (pp.type === 'unary_expression' && fieldText(pp, 'operator') === '!') return true;
    if (pp.type === 'binary_expression' && ['&&', '||'].includes(fieldText(pp, 'operator') ?? '')) return true;
    if (pp.type === 'condition_clause' || CONDITION_PARENTS.has(pp.type)) return true;
    return false;
  }
  return false;
}

function climbParens(n: Node): Node {
  let top = n;
  while (top.parent?.type === 'parenthesized_expression') top = top.parent;
  return top;
}

const isDerefOp = (n: Node) => n.type !== 'pointer_expression' || (fieldText(n, 'operator') ?? n.text[0]) !== '&';

export function findUntypedDerefs(input: ProvenanceInput): Site[] {
  const { text, finder } = input;
  // Pre-filter: without a mapping API named and without any __iomem in play there is
  // no source, so nothing to follow (most files: no cost beyond one regex test).
  if (!MAPPING_NAMES_RE.test(text) && !finder.active && !input.trace?.replay?.length) return [];
  return new Provenance(input).run();
}

class Provenance {
  private readonly file: string;
  private readonly defs: readonly FunctionDef[];
  private readonly byName = new Map<string, FunctionDef>();
  private readonly types: Types;
  private readonly scopes: Scopes;
  private readonly slots = new Map<string, Prov>();
  /** Field keys (`tag.field`, tag `?` when unknown) and bare field names given a non-MMIO value. */
  private readonly plainFieldKeys = new Set<string>();
  private readonly plainFieldNames = new Set<string>();
  /** Field name -> struct tags it was given MMIO under. */
  private readonly fieldTags = new Map<string, Set<string>>();
  private readonly macros = new Map<string, MacroInfo>();
  /** Slots given the result of a mapping API that returns normal memory (memremap, ioremap_encrypted). */
  private readonly memorySlots = new Set<string>();
  /** Field names given such memory somewhere in the file (their `__iomem` is not taken as MMIO). */
  private readonly memoryFields = new Set<string>();
  private memo = new Map<number, Prov | null>();
  private changed = false;
  /** Slots that are a static function's parameter (set from its callers: a cross-function fact). */
  private readonly paramSlots = new Set<string>();
  /**
   * Words whose presence in an expression's text can give it provenance: mapping APIs,
   * `__iomem` names, and every variable, field, function and macro that got one. An
   * expression naming none of them is skipped without touching its tree (most are).
   */
  private readonly live: Set<string>;
  /**
   * The parsed text's words, read once (words.ts): an item's words are a span of it,
   * not a scan of the item's text (nested items read the same characters again).
   * Ids of words met only in an item's own scan are added to it.
   */
  private words = new WordTable('');
  /** Per word id: 1 when `live` holds the word. */
  private liveIds = new Uint8Array(0);

  constructor(private readonly input: ProvenanceInput) {
    this.file = input.file;
    this.defs = input.defs;
    for (const d of input.defs) if (!this.byName.has(d.name)) this.byName.set(d.name, d);
    this.scopes = input.finder.scopes;
    this.types = new Types(input.root, this.scopes, input.text);
    this.live = new Set([...MAPPING_APIS.keys(), ...input.finder.iomemNames()]);
    this.types.callType = (call) => {
      const name = fieldText(call, 'function') ?? '';
      const m = this.macros.get(name);
      return m && !this.byName.has(name) && !input.isAccessor(name) ? this.summary(m).type : null;
    };
    for (const m of nodesOf(input.root, 'preproc_function_def')) {
      const name = m ? fieldText(m, 'name') : undefined;
      const value = m?.childForFieldName('value');
      if (!m || !name || !value) continue;
      const params = (m.childForFieldName('parameters')?.namedChildren ?? [])
        .filter((p): p is Node => !!p && p.type === 'identifier')
        .map((p) => p.text);
      if (!this.macros.has(name)) this.macros.set(name, { name, params, body: value.text });
    }
  }

  run(): Site[] {
    // Kinds come from the node index (each `type` read is a call into WASM), and each
    // expression's words are read once: the rounds below test them against `live` again.
    const found = indexedNodesOf(this.input.root, ITEM_KINDS);
    const source = this.input.parsedText;
    // The table reads only the items' own text (a file's comments, declarations and
    // definitions outside any expression are never asked about).
    if (source !== undefined && found.length) this.words = new WordTable(source, found);
    for (const w of this.live) this.markLive(w);
    const flows: Item[] = [];
    const uses: Item[] = [];
    for (let i = 0; i < found.length; i++) {
      const t = found.kind(i);
      const from = source === undefined ? -1 : found.start(i);
      const to = source === undefined ? -1 : found.end(i);
      const item = new Item(found, i, t, source, from, to);
      if (t === 'init_declarator' || t === 'assignment_expression' || t === 'return_statement') flows.push(item);
      else if (t === 'call_expression') {
        flows.push(item);
        uses.push(item);
      } else uses.push(item);
    }
    for (const m of this.macros.values()) if (this.mentionsLive(m.body)) this.markLive(m.name);

    const fnOf = (f: Item) => {
      if (f.fn === undefined) f.fn = enclosing(this.defs, f.start) ?? null;
      return f.fn ?? undefined;
    };
    // Variables given normal memory by a mapping API are known before any value flows,
    // so an `__iomem` declaration on them is not taken as MMIO in any round.
    for (const f of flows) {
      if (f.kind === 'call_expression' || f.kind === 'return_statement' || !this.itemLive(f)) continue;
      const node = f.node;
      const left = f.kind === 'assignment_expression' ? node.childForFieldName('left') : null;
      const declared = f.kind === 'init_declarator' ? declaredName(node.childForFieldName('declarator')) : null;
      const lhs = declared ? declared.name : left?.type === 'identifier' ? left.text : undefined;
      const lhsEnd = declared?.node.endIndex;
      const rhs = node.childForFieldName(f.kind === 'init_declarator' ? 'value' : 'right');
      // `s->secret_data = ioremap_encrypted(...)`: that field name holds memory in this file.
      if (left?.type === 'field_expression' && rhs && isMemoryMapping(rhs)) this.memoryFields.add(fieldText(left, 'field') ?? '');
      const fn = fnOf(f);
      if (lhs && rhs && isMemoryMapping(rhs)) this.memorySlots.add(this.varKey(fn, lhs, left ? left.startIndex : lhsEnd!));
    }
    const trace = this.input.trace;
    if (trace) {
      // The pre-pass above is cross-function only for fields and file-scope names.
      for (const f of flows) {
        if (f.kind !== 'assignment_expression' || !this.itemLive(f)) continue;
        const left = f.node.childForFieldName('left');
        const rhs = f.node.childForFieldName('right');
        if (!rhs || !isMemoryMapping(rhs)) continue;
        const at = fnOf(f)?.startIndex ?? -1;
        if (left?.type === 'field_expression') addTo(trace.plainBy, `M:${fieldText(left, 'field') ?? ''}`, at);
        else if (left?.type === 'identifier') {
          const key = this.varKey(fnOf(f), left.text, left.startIndex);
          if (key.startsWith('G:')) addTo(trace.plainBy, `S:${key}`, at);
        }
      }
    }
    const replay = trace?.replay ?? [];
    let next = 0;
    /** Applies the replayed events the recording run had done before flow start `at` of `round`. */
    const replayUntil = (round: number, at: number) => {
      while (next < replay.length && (replay[next]!.round < round || (replay[next]!.round === round && replay[next]!.at < at))) this.apply(replay[next++]!);
    };
    let settled = false;
    let rounds = 0;
    /** The last round read only final facts and never hit the nesting cap: its values stand. */
    let final = false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      rounds++;
      this.round = round;
      this.changed = false;
      this.capHit = false;
      this.memo = new Map();
      // Not the last round: record what this round read, to tell whether the next
      // one could see anything different (see `stale`).
      this.reads = round < MAX_ROUNDS - 1 ? { slots: new Set(), plain: new Set(), tags: new Set(), dead: new Set() } : undefined;
      this.stale = false;
      for (const f of flows) {
        if (next < replay.length) replayUntil(round, f.start);
        if (!this.itemLive(f)) {
          if (this.reads) this.noteDead(f);
          continue;
        }
        const fn = fnOf(f);
        if (f.kind !== 'init_declarator' && f.kind !== 'assignment_expression' && !fn) continue;
        this.at = f.start;
        this.flow(f.node, fn);
      }
      if (next < replay.length) replayUntil(round, Infinity);
      final = !!this.reads && !this.stale && !this.capHit;
      // Replayed events of later rounds: the recording run went on (its other functions changed something).
      if (next < replay.length) continue;
      if (!this.changed) {
        settled = true;
        break;
      }
      // Every fact this round read was already final when read: the next round would
      // compute the same values, store nothing new and stop (the confirming round
      // that most files with any provenance used to pay for).
      if (this.reads && !this.stale) {
        settled = true;
        break;
      }
    }
    this.reads = undefined;
    if (trace) {
      trace.capped = !settled;
      trace.rounds = rounds;
      for (const [k, v] of this.slots) if ((!k.startsWith('L') || this.paramSlots.has(k)) && !this.replayed.has(k)) trace.facts.set(k, v);
      for (const k of this.plainFieldNames) trace.plain.add(`N:${k}`);
      for (const k of this.memoryFields) trace.plain.add(`M:${k}`);
      for (const k of this.memorySlots) if (k.startsWith('G:')) trace.plain.add(`S:${k}`);
      // A plain field name matters only for a field name that holds MMIO (fieldProv).
      if (trace.events) for (const e of this.events) if (e.kind !== 'plain' || this.fieldTags.has(e.key)) trace.events.push(e);
    }

    // The uses below evaluate many of the expressions the last round did (a flow's
    // value is often a use): when that round's values are final they are kept.
    if (!final) this.memo = new Map();
    const sites: Site[] = [];
    for (const u of uses) {
      if (!this.itemLive(u)) continue;
      const fn = enclosing(this.defs, u.start);
      if (!fn || CATALOGUE.has(fn.name)) continue; // an accessor's own body is the accessor
      const s = u.kind === 'call_expression' ? this.callUse(u.node, fn) : this.derefUse(u.node, fn, u.kind);
      if (s) sites.push(...s);
    }
    return sites;
  }

  /**
   * The slot of variable `name` used at offset `at`: the local declaration it means
   * there (scopes.ts; keyed like the parameters above, by where the name is
   * declared), else the file-scope name.
   */
  private varKey(fn: FunctionDef | undefined, name: string, at: number): string {
    const d = this.scopes.resolve(fn, name, at);
    return d ? `L${d.id}:${name}` : `G:${name}`;
  }

  private mentionsLive(text: string): boolean {
    return namesWord(text, (w) => this.live.has(w));
  }

  /** `mentionsLive(item.text)`, from the item's words (read once, as ids). */
  private itemLive(item: Item): boolean {
    if (item.lo === -2) this.locate(item);
    const live = this.liveIds;
    if (item.lo >= 0) {
      const ids = this.words.ids;
      for (let k = item.lo; k < item.hi; k++) if (live[ids[k]!] === 1) return true;
      return false;
    }
    for (const w of item.words!) if (live[w] === 1) return true;
    return false;
  }

  /** Records a dead flow's words in this round's reads (see `reads`). */
  private noteDead(item: Item): void {
    if (item.lo === -2) this.locate(item);
    const dead = this.reads!.dead;
    if (item.lo >= 0) {
      const ids = this.words.ids;
      for (let k = item.lo; k < item.hi; k++) dead.add(ids[k]!);
    } else for (const w of item.words!) dead.add(w);
  }

  /**
   * Where an item's words are in the word table ([lo, hi): WordTable.rangeIn), else
   * (a word crosses its ends) its distinct words by scanning its text.
   */
  private locate(item: Item): void {
    const table = this.words;
    if (item.from >= 0 && table.rangeIn(item.from, item.to, item)) return;
    item.lo = -1;
    const set = new Set<number>();
    someWord(item.text, (w) => {
      set.add(table.idOf(w));
      return false;
    });
    item.words = [...set];
  }

  /** Adds `word` to `live` and marks its id (ids past `liveIds`' end are not live). */
  private markLive(word: string): void {
    this.live.add(word);
    const id = this.words.idOf(word);
    if (this.liveIds.length <= id) {
      const grown = new Uint8Array(Math.max(this.words.words.length, this.liveIds.length * 2, 64));
      grown.set(this.liveIds);
      this.liveIds = grown;
    }
    this.liveIds[id] = 1;
  }

  /**
   * What the current round read of the facts that grow during a round: slot keys
   * looked up and not found, field names found not plain, field names whose tags were
   * read, and the words of flows skipped as naming nothing live. When a fact among
   * these changes later in the same round, an earlier evaluation may have seen less
   * than the next round would: the round is `stale`, and the next one must run.
   */
  private reads?: { slots: Set<string>; plain: Set<string>; tags: Set<string>; dead: Set<number> };
  private stale = false;

  private slotOf(key: string): Prov | undefined {
    const v = this.slots.get(key);
    if (v === undefined && this.reads) this.reads.slots.add(key);
    return v;
  }

  private isPlainField(field: string): boolean {
    const plain = this.plainFieldNames.has(field);
    if (!plain && this.reads) this.reads.plain.add(field);
    return plain;
  }

  private addLive(word: string): void {
    if (this.live.has(word)) return;
    this.markLive(word);
    if (this.reads?.dead.has(this.words.idOf(word))) this.stale = true;
  }

  // --- transfer -------------------------------------------------------------------

  private flow(n: Node, fn: FunctionDef | undefined) {
    switch (n.type) {
      case 'init_declarator': {
        const value = n.childForFieldName('value');
        const named = declaredName(n.childForFieldName('declarator'));
        if (!value || !named || value.type === 'initializer_list') return;
        const key = this.varKey(fn, named.name, named.node.endIndex);
        this.store({ key, extra: 0, label: named.name }, value, fn, n);
        return;
      }
      case 'assignment_expression': {
        if (fieldText(n, 'operator') !== '=') return;
        const left = n.childForFieldName('left');
        const right = n.childForFieldName('right');
        const slot = left && this.lvalueSlot(left, fn);
        if (slot && right) this.store(slot, right, fn, n);
        return;
      }
      case 'return_statement': {
        const e = n.namedChild(0);
        if (e && e.type !== 'comment' && fn) this.store({ key: `R:${fn.name}`, extra: 0, label: `the return value of ${fn.name}()`, returns: fn.name }, e, fn, n);
        return;
      }
      case 'call_expression': {
        const callee = fieldChildOf(n, 'function');
        const target = callee?.kind === 'identifier' ? this.byName.get(callee.text) : undefined;
        // Arguments flow into the parameters of the file's static functions: gcc sees
        // every caller of those (other callers would need the function to be extern).
        if (!target || !target.isStatic || !target.params) return;
        const params = target.params.namedChildren.filter((p): p is Node => p?.type === 'parameter_declaration');
        const args = callArguments(n);
        for (let i = 0; i < Math.min(params.length, args.length); i++) {
          const named = declaredName(params[i].childForFieldName('declarator'));
          if (!named) continue;
          this.store({ key: `L${named.node.startIndex}:${named.name}`, extra: 0, label: `parameter ${named.name} of ${target.name}()`, param: target.name }, args[i], fn, args[i]);
        }
        return;
      }
    }
  }

  private lvalueSlot(lhs: Node, fn: FunctionDef | undefined): { key: string; extra: number; label: string; field?: string; tag?: string } | null {
    switch (lhs.type) {
      case 'identifier':
        return { key: this.varKey(fn, lhs.text, lhs.startIndex), extra: 0, label: lhs.text };
      case 'parenthesized_expression':
        return lhs.namedChildCount === 1 ? this.lvalueSlot(lhs.namedChild(0)!, fn) : null;
      case 'field_expression': {
        const base = lhs.childForFieldName('argument');
        const field = fieldText(lhs, 'field');
        if (!base || !field) return null;
        const arrow = fieldText(lhs, 'operator') === '->';
        const b = this.val(base, fn);
        if (b && ((arrow && b.depth === 1) || (!arrow && b.depth === 0))) return null; // a store into MMIO, not into a slot
        const tag = this.types.tagOf(this.types.typeOf(base, fn), arrow) ?? '?';
        return { key: `F:${tag}.${field}`, extra: 0, label: lhs.text, field, tag };
      }
      case 'subscript_expression':
      case 'pointer_expression': {
        if (!isDerefOp(lhs)) return null;
        const a = lhs.childForFieldName('argument');
        const inner = a && this.lvalueSlot(a, fn);
        return inner ? { ...inner, extra: inner.extra + 1, label: lhs.text } : null;
      }
      default:
        return null;
    }
  }

  private store(
    slot: { key: string; extra: number; label: string; field?: string; tag?: string; returns?: string; param?: string },
    value: Node,
    fn: FunctionDef | undefined,
    at: Node,
  ) {
    const v = this.val(value, fn);
    // Depth 0 is the MMIO location itself: what is stored is the data read from it.
    if (!v || v.depth < 1) {
      if (slot.field && !v && !isNullish(value)) {
        this.plainFieldKeys.add(`${slot.tag}.${slot.field}`);
        this.addPlain(slot.field);
        if (this.input.trace) {
          addTo(this.input.trace.plainBy, `N:${slot.field}`, fn?.startIndex ?? -1);
          this.record(fn, 'plain', slot.field);
        }
      }
      return;
    }
    if (this.slots.has(slot.key)) return;
    const fact = !!slot.param || !slot.key.startsWith('L');
    if (this.input.trace && fact) {
      this.input.trace.writers.add(fn?.startIndex ?? -1);
      if (slot.param) this.paramSlots.add(slot.key);
    }
    const message = slot.returns
      ? `returned by ${slot.returns}()`
      : slot.param
        ? `passed as ${slot.label}`
        : `stored in \`${oneLine(slot.label)}\``;
    const steps = v.steps.length < MAX_STEPS ? [...v.steps, { file: this.file, range: rangeOf(at), message }] : v.steps;
    this.setSlot(slot.key, { depth: v.depth + slot.extra, origin: v.origin, steps });
    if (this.input.trace) this.record(fn, fact ? 'slot' : 'live', fact ? slot.key : slotName(slot.key));
  }

  /**
   * A slot set, and what follows for the other expressions: its name (a return value's
   * function) becomes live, a field's tags grow. `slot.field`, `slot.tag` and
   * `slot.returns` are what the key says (lvalueSlot, flow).
   */
  private setSlot(key: string, v: Prov): void {
    this.slots.set(key, v);
    if (this.reads?.slots.has(key)) this.stale = true;
    // Whatever names this slot in other expressions now carries provenance.
    this.addLive(slotName(key));
    if (key.startsWith('F:')) {
      const dot = key.lastIndexOf('.');
      const field = key.slice(dot + 1);
      const tag = key.slice(2, dot);
      let tags = this.fieldTags.get(field);
      if (!tags) this.fieldTags.set(field, (tags = new Set()));
      if (this.reads?.tags.has(field) && !tags.has(tag)) this.stale = true;
      tags.add(tag);
    }
    this.changed = true;
  }

  private addPlain(field: string): void {
    if (this.plainFieldNames.has(field)) return;
    this.plainFieldNames.add(field);
    if (this.reads?.plain.has(field)) this.stale = true;
  }

  /** Start of the flow under way (TraceEvent.at). */
  private at = -1;
  /** The events recorded (trace.events), and the function/kind/key of each (the first per function). */
  private readonly events: TraceEvent[] = [];
  private readonly recorded = new Set<string>();
  /** Slots set by replayed events (not this run's facts). */
  private readonly replayed = new Set<string>();
  private round = 0;

  private record(fn: FunctionDef | undefined, kind: TraceEvent['kind'], key: string): void {
    if (!this.input.trace?.events) return;
    const id = `${fn?.startIndex ?? -1}\0${kind}\0${key}`;
    if (this.recorded.has(id)) return;
    this.recorded.add(id);
    this.events.push({ round: this.round, at: this.at, kind, key });
  }

  /** A replayed event: what its flow's store did (store, setSlot, addPlain), at the same point of the run. */
  private apply(e: TraceEvent): void {
    if (e.kind === 'plain') this.addPlain(e.key);
    else if (e.kind === 'live') {
      this.addLive(e.key);
      this.changed = true;
    } else if (e.value && !this.slots.has(e.key)) {
      if (e.key.startsWith('L')) this.paramSlots.add(e.key);
      this.replayed.add(e.key);
      this.setSlot(e.key, e.value);
    }
  }

  private fieldProv(tag: string | undefined, field: string): Prov | null {
    const tags = this.fieldTags.get(field);
    this.reads?.tags.add(field);
    if (!tags) return null;
    if (tag) {
      const exact = this.slotOf(`F:${tag}.${field}`);
      if (exact) return exact;
      // Stored through a base whose type was not known: match it only when no other
      // struct's field of that name was given anything else, and not when the
      // declarations say the name is __iomem in other structs only (iphase.c stores
      // MMIO in an IADEV's `phy`; a `struct atm_dev`'s `phy` is its ops table).
      if (!tags.has('?') || this.isPlainField(field) || this.input.finder.iomemFieldIn(tag, field) === false) return null;
      return this.slotOf(`F:?.${field}`) ?? null;
    }
    // The base's type is unknown here: only a field name that holds MMIO and nothing else.
    if (tags.size !== 1 || this.isPlainField(field)) return null;
    return this.slotOf(`F:${[...tags][0]}.${field}`) ?? null;
  }

  // --- evaluation -----------------------------------------------------------------

  private val(node: Node, fn: FunctionDef | undefined, env?: Map<string, Prov>): Prov | null {
    const m = this.memo.get(node.id);
    if (m !== undefined) return m;
    this.memo.set(node.id, null); // cycles through macros or odd trees end here
    // Generated expressions thousands deep: unknown rather than a stack overflow.
    if (this.nesting >= MAX_EXPRESSION_NESTING) {
      this.capHit = true; // this node's null is where the walk started, not what it is
      return null;
    }
    this.nesting++;
    try {
      const v = this.compute(node, fn, env);
      this.memo.set(node.id, v);
      return v;
    } finally {
      this.nesting--;
    }
  }

  private nesting = 0;
  private capHit = false;

  private compute(node: Node, fn: FunctionDef | undefined, env?: Map<string, Prov>): Prov | null {
    switch (node.type) {
      case 'identifier': {
        if (env) return env.get(node.text) ?? null;
        const key = this.varKey(fn, node.text, node.startIndex);
        // Declared __iomem but only ever given normal memory (`void __iomem *mem = ioremap_encrypted(...)`).
        return this.slotOf(key) ?? (this.memorySlots.has(key) ? null : this.declared(node, fn));
      }
      case 'parenthesized_expression': {
        const inner = node.namedChild(node.namedChildCount - 1);
        return inner ? this.val(inner, fn, env) : null;
      }
      case 'cast_expression': {
        const v = node.childForFieldName('value');
        return v ? this.val(v, fn, env) : null;
      }
      case 'comma_expression': {
        const r = node.childForFieldName('right');
        return r ? this.val(r, fn, env) : null;
      }
      case 'assignment_expression': {
        const r = node.childForFieldName('right');
        return fieldText(node, 'operator') === '=' && r ? this.val(r, fn, env) : null;
      }
      case 'conditional_expression': {
        const c = node.childForFieldName('consequence');
        const a = node.childForFieldName('alternative');
        return (c && this.val(c, fn, env)) || (a && this.val(a, fn, env)) || null;
      }
      case 'binary_expression': {
        const op = fieldText(node, 'operator');
        if (op !== '+' && op !== '-') return null;
        const l = node.childForFieldName('left');
        const lv = l ? this.val(l, fn, env) : null;
        if (lv && lv.depth >= 1) return lv;
        const r = node.childForFieldName('right');
        const rv = r && op === '+' ? this.val(r, fn, env) : null;
        return rv && rv.depth >= 1 ? rv : null;
      }
      case 'pointer_expression': {
        const a = node.childForFieldName('argument');
        const inner = a ? this.val(a, fn, env) : null;
        if (!inner) return null;
        // `&arr` of an array member is the address `arr` already is (oxu210hp's
        // `(__le32 *) &oxu->mem->frame_list`): one level, not two.
        if (!isDerefOp(node)) return { ...inner, depth: inner.depth + (this.types.memberArrays(unparen(a!), fn) ? 0 : 1) };
        return inner.depth >= 1 ? { ...inner, depth: inner.depth - 1 } : null;
      }
      case 'subscript_expression': {
        const a = node.childForFieldName('argument');
        const inner = a ? this.val(a, fn, env) : null;
        // An array member of an MMIO struct stays MMIO (depth 0), as in DerefFinder.
        return inner ? { ...inner, depth: Math.max(0, inner.depth - 1) } : null;
      }
      case 'field_expression': {
        const base = node.childForFieldName('argument');
        const field = fieldText(node, 'field') ?? '';
        const arrow = fieldText(node, 'operator') === '->';
        const b = base ? this.val(base, fn, env) : null;
        // The member is in MMIO; an array member is an address into it (ctypes.ts memberArrays).
        if (b && ((arrow && b.depth <= 1) || (!arrow && b.depth === 0))) return { ...b, depth: this.types.memberArrays(node, fn) };
        if (env) return null;
        return this.fieldProv(this.types.tagOf(base ? this.types.typeOf(base, fn) : null, arrow), field) ??
          (this.memoryFields.has(field) ? null : this.declared(node, fn));
      }
      case 'call_expression':
        return this.callValue(node, fn, env);
      default:
        return null;
    }
  }

  /** Provenance from an `__iomem` declaration (what DerefFinder knows). */
  private declared(node: Node, fn: FunctionDef | undefined): Prov | null {
    const d = this.input.finder.valueAt(node, fn);
    if (!d) return null;
    return { depth: d.r, origin: { file: d.decl.file, range: d.decl.range, name: d.decl.name, from: 'iomem' }, steps: [] };
  }

  private callValue(node: Node, fn: FunctionDef | undefined, env?: Map<string, Prov>): Prov | null {
    // The callee's kind and name only: no Node for it (fieldChildOf).
    const callee = fieldChildOf(node, 'function');
    if (callee?.kind !== 'identifier') return null;
    const name = callee.text;
    const api = MAPPING_APIS.get(name);
    if (api) {
      const mmio = api.returns !== 'memory' || (!!fn && !!api.mmioIn?.includes(fn.name));
      if (!mmio) return null;
      return {
        depth: api.returns === 'mmio-table' ? 2 : 1,
        origin: { file: this.file, range: rangeOf(node), name, from: 'mapping' },
        steps: [],
      };
    }
    if (env) return null;
    const ret = this.slotOf(`R:${name}`);
    if (ret && this.byName.has(name)) return ret;
    const macro = this.macros.get(name);
    if (macro && !this.input.isAccessor(name)) {
      const s = this.summary(macro);
      if (!s.value) return null;
      const args = callArguments(node);
      const arg = args[s.value.param];
      const a = arg ? this.val(arg, fn) : null;
      if (!a) return null;
      const depth = a.depth - 1 + s.value.depth;
      return depth >= 0 ? { ...a, depth } : null;
    }
    return null;
  }

  // --- macro bodies ---------------------------------------------------------------

  private summary(m: MacroInfo): MacroSummary {
    if (m.analysed) return m.analysed;
    const none: MacroSummary = { value: null, inner: [], width: 0, type: null };
    m.analysed = none; // recursion guard
    if (!m.params.length || !/[*[]|->/.test(m.body)) return none;
    const body = prepare(
      m.body.replace(/\\(\r?\n)/g, ' $1').replace(/##/g, '+ ').replace(/#(?=\s*[A-Za-z_])/g, ' '),
    ).text;
    const tree = this.input.parser.parseOnce(`void __m(void){\n${body}\n;}`);
    const saved = this.memo;
    const savedTypes = this.types.memo;
    this.memo = new Map();
    this.types.memo = new Map();
    try {
      const env = new Map<string, Prov>();
      m.params.forEach((p, i) =>
        env.set(p, { depth: 1, origin: { file: this.file, range: ZERO, name: p, from: 'param', param: i }, steps: [] }),
      );
      const block = tree.rootNode.descendantsOfType('compound_statement')[0];
      const first = block?.namedChild(0);
      const top = first?.type === 'expression_statement' ? first.namedChild(0) : null;
      const summary: MacroSummary = { value: null, inner: [], width: 0, type: null };
      if (top && first && first.namedChildCount === 1 && block!.namedChildCount === 1) {
        const v = this.val(top, undefined, env);
        if (v && v.origin.param !== undefined) {
          summary.value = { param: v.origin.param, depth: v.depth };
          summary.type = this.types.typeOf(top, undefined);
          if (v.depth === 0) summary.width = this.derefWidth(unparen(top), undefined);
        }
      }
      for (const n of tree.rootNode.descendantsOfType(DEREF_TYPES)) {
        if (!n || !isDerefOp(n) || isUnevaluated(n)) continue;
        const v = this.val(n, undefined, env);
        if (!v || v.depth !== 0 || v.origin.param === undefined) continue;
        const t = climbParens(n);
        if (top && (t.id === climbParens(top).id || t.id === top.id)) continue; // the whole value: the use site decides
        const p = t.parent;
        if (p && (p.type === 'field_expression' || p.type === 'subscript_expression') && p.childForFieldName('argument')?.id === t.id) {
          const pv = this.val(p, undefined, env);
          if (pv && (pv.depth === 0 || isDotMemberOf(p))) continue;
        }
        if (p?.type === 'pointer_expression' && !isDerefOp(p)) continue;
        const acc = accessOf(t);
        summary.inner.push({ param: v.origin.param, write: acc.write, rmw: acc.rmw, width: this.derefWidth(n, undefined), test: acc.test });
      }
      m.analysed = summary;
      return summary;
    } finally {
      this.memo = saved;
      this.types.memo = savedTypes;
      tree.delete();
    }
  }

  private derefWidth(n: Node, fn: FunctionDef | undefined): number {
    return this.types.width(this.types.typeOf(n, fn));
  }

  // --- uses -----------------------------------------------------------------------

  private derefUse(n: Node, fn: FunctionDef, kind: string): Site[] | null {
    if (kind === 'pointer_expression' && !isDerefOp(n)) return null;
    const v = this.val(n, fn);
    if (!v || v.depth !== 0) return null;
    // Declared __iomem at this point: DerefFinder reports it (tdx-iomem-deref).
    if (this.input.finder.valueAt(n, fn)?.r === 0) return null;
    const top = climbParens(n);
    const parent = top.parent;
    if (parent && (parent.type === 'field_expression' || parent.type === 'subscript_expression') && parent.childForFieldName('argument')?.id === top.id) {
      const pv = this.val(parent, fn);
      if (pv && (pv.depth === 0 || isDotMemberOf(parent))) return null; // the outer member/subscript is the access
    }
    if (parent?.type === 'pointer_expression' && !isDerefOp(parent)) return null; // &p->f: an address
    if (parent?.type === 'call_expression' && parent.childForFieldName('function')?.id === top.id) return null;
    // An argument of an accessor (`memcpy_toio(r->data, ...)`, `readl(r->regs)`): the accessor does the access.
    if (parent?.type === 'argument_list') {
      const callee = parent.parent?.childForFieldName('function');
      if (callee?.type === 'identifier' && CATALOGUE.has(callee.text)) return null;
    }
    if (isUnevaluated(n)) return null;
    const acc = accessOf(top);
    const width = this.derefWidth(n, fn);
    return [this.site(n, acc.whole, fn, v, { ...acc, width, address: n.text })];
  }

  private callUse(call: Node, fn: FunctionDef): Site[] | null {
    // The callee's kind and name without its Node: most calls are neither a libc copy
    // nor a macro of the file, and end here.
    const calleeInfo = fieldChildOf(call, 'function');
    if (calleeInfo?.kind !== 'identifier') return null;
    const name = calleeInfo.text;
    if (LIBC_MEMORY_CALLS.has(name)) {
      const callee = call.childForFieldName('function')!;
      const args = callArguments(call);
      if (this.input.finder.libcUse(call, name)) return null; // tdx-iomem-libc reports it
      const dest = LIBC_DEST_ARG.get(name);
      const order = dest === undefined ? args.map((_, i) => i) : [dest, ...args.map((_, i) => i).filter((i) => i !== dest)];
      for (const i of order) {
        const v = args[i] ? this.val(args[i], fn) : null;
        if (!v || v.depth !== 1) continue;
        if (this.input.finder.valueAt(args[i], fn)?.r === 1) return null;
        const s = this.site(callee, call, fn, v, { write: i === dest, rmw: false, test: false, width: 0, address: args[i].text });
        s.accessor = name;
        s.base = name;
        s.shape = 'copy';
        return [s];
      }
      return null;
    }
    const macro = this.macros.get(name);
    if (!macro || this.input.isAccessor(name) || this.byName.has(name)) return null;
    const args = callArguments(call);
    const sum = this.summary(macro);
    const out: Site[] = [];
    // The whole macro value is an MMIO lvalue: `REG(base, 4) |= 1`.
    if (sum.value && sum.value.depth === 0) {
      const v = this.val(call, fn);
      if (v && v.depth === 0) {
        const top = climbParens(call);
        const acc = accessOf(top);
        out.push(this.site(call, acc.whole, fn, v, { ...acc, width: sum.width, address: call.text }));
      }
    }
    for (const d of sum.inner) {
      const a = args[d.param];
      const v = a ? this.val(a, fn) : null;
      if (!v || v.depth !== 1) continue;
      out.push(this.site(call, call, fn, v, { write: d.write, rmw: d.rmw, test: d.test, width: d.width, address: call.text }));
    }
    return out.length ? out : null;
  }

  private site(
    node: Node,
    whole: Node,
    fn: FunctionDef,
    v: Prov,
    a: { write: boolean; rmw: boolean; test: boolean; width: number; address: string },
  ): Site {
    const shape = a.rmw ? 'rmw' : a.test ? 'test' : !a.write && (a.width === 1 || a.width === 2) ? 'widening' : undefined;
    return {
      kind: 'untyped-deref',
      accessor: a.rmw ? 'read-modify-write' : a.write ? 'store' : 'load',
      base: 'deref',
      accessorKind: a.write ? 'mmio-write' : 'mmio-read',
      width: a.width,
      rule: 'tdx-mmio-untyped-deref',
      function: fn.name,
      range: rangeOf(node),
      callRange: rangeOf(whole),
      address: a.address,
      via: [],
      declaredAt: { file: v.origin.file, range: v.origin.range, name: v.origin.name },
      path: v.steps,
      ...(shape ? { shape } : {}),
    };
  }
}

const ZERO: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** The name a slot's key ends with: a variable, a field, a function (a return value). */
function slotName(key: string): string {
  return key.slice(key.lastIndexOf(key.startsWith('F:') ? '.' : ':') + 1);
}

function addTo(m: Map<string, Set<number>>, key: string, v: number): void {
  let set = m.get(key);
  if (!set) m.set(key, (set = new Set()));
  set.add(v);
}

/** A call (under casts and parentheses) of a mapping API that returns normal memory. */
function isMemoryMapping(n: Node): boolean {
  let x = n;
  while (x.type === 'cast_expression' || (x.type === 'parenthesized_expression' && x.namedChildCount === 1)) {
    x = (x.type === 'cast_expression' ? x.childForFieldName('value') : x.namedChild(0)) ?? x;
    if (x === n) break;
  }
  if (x.type !== 'call_expression') return false;
  const api = MAPPING_APIS.get(fieldText(x, 'function') ?? '');
  return !!api && api.returns === 'memory';
}

function isNullish(n: Node): boolean {
  const t = n.text.replace(/\s+/g, '');
  return t === 'NULL' || t === '0' || t === '(void*)0' || n.type === 'initializer_list';
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}
