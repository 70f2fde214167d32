// Kernel C is full of annotations and macros that tree-sitter-c does not know.
// Rather than teach the grammar, we rewrite the text before parsing with edits that
// never change its length or line structure, so every node position is still the
// position in the user's file. What was rewritten is remembered (an `__iomem` is
// the fact the audit needs most).

import { functionMacroNames, isCaps, mayStartOperatorArg, mayStartStringTail, maySpace, REWRITE_WORD, WordFilter } from './rewriteWords';
import { TextUnits, type Units } from './textUnits';
import { wordHash } from './words';

/**
 * Every word the rewrite looks up in a set or map (each word of the text, or each
 * one starting a statement or before a `(`), by hash: a word whose bit is clear is in
 * none of them, and is not looked up. Each set is added where it is made (`lookedUp`).
 */
const LOOKED_UP = new WordFilter();
function lookedUp<T extends ReadonlySet<string> | ReadonlyMap<string, unknown>>(set: T): T {
  for (const w of set.keys()) LOOKED_UP.add(w);
  return set;
}

/** Annotations that are a bare word: blanked to spaces. */
const BARE = lookedUp(new Set([
  '__iomem', '__user', '__force', '__rcu', '__percpu', '__kernel', '__bitwise', '__safe',
  '__nocast', '__private', '__must_check', '__always_inline', '__inline', 'noinline',
  '__noinline', '__init', '__exit', '__initdata', '__initconst', '__exitdata', '__devinit',
  '__devexit', '__devinitdata', '__meminit', '__meminitdata', '__ref', '__refdata',
  '__maybe_unused', '__always_unused', '__unused', '__cold', '__hot', '__noreturn',
  '__packed', '__used', '__weak', '__pure', '__visible', '__read_mostly', '__ro_after_init',
  '____cacheline_aligned', '__cacheline_aligned', '____cacheline_aligned_in_smp',
  '__cacheline_aligned_in_smp', '__randomize_layout', '__no_randomize_layout',
  '__latent_entropy', 'notrace', 'noinstr', 'asmlinkage', '__sched', '__kprobes',
  '__irq_entry', '__attribute_const__', '__nocfi', '__init_or_module', '__flatten',
  '__noclone', '__deprecated', '__naked', '__malloc', '__nonstring', '__designated_init',
  '__noendbr', '__cpuidle', '__initdata_or_module', '__exit_p', '__must_be_checked',
  '__acpi_initdata', '__lockfunc', '__no_kcsan', '__no_sanitize_address', '__nostackprotector',
  '__always_inline__', '__fix_address', '__head', '__weak_alias', '__noinitretpoline',
  'noinline_for_stack', '__exception_irq_entry', '__softirq_entry', '__init_memblock',
  '__efiapi', '__noipa', '__net_init', '__net_exit', '__net_initdata', 'ACPI_INIT_FUNCTION',
  'ACPI_SYSTEM_XFACE', 'ACPI_INTERNAL_VAR_XFACE', 'ACPI_EXTERNAL_XFACE', 'ACPI_INTERNAL_XFACE',
  '__efistub_global', '__initconst_or_module', '__maybe_unused_var',
  // Driver- and subsystem-local spellings of the same (each the first ERROR of files in drivers/):
  '__xipram', '__long_aligned', '__ALIGNED__', 'SBA_INLINE', 'CCIO_INLINE', 'INITSECTION',
  '__initdata_or_acpilib', 'I915_SELFTEST_EXPORT', 'INDIRECT_CALLABLE_SCOPE', '__mock',
]));

/** Annotations that take an argument list: blanked with their balanced parentheses. */
const WITH_ARGS = lookedUp(new Set([
  '__attribute__', '__attribute', '__must_hold', '__acquires', '__releases', '__acquire',
  '__release', '__aligned', '__section', '__printf', '__scanf', '__counted_by', '__free',
  '__cleanup', '__alloc_size', '__guarded_by', '__pt_guarded_by', '__diag_ignore',
  '__no_sanitize_or_inline', '__cond_acquires', '__cond_releases', '__assume_aligned',
  '__sized_by', '__nonnull', '__ATTR_PRINTF', '__bpf_kfunc', '__diagnose_as',
]));

/**
 * Macros with a type among their arguments (index of that argument). Not `offsetof`:
 * tree-sitter-c parses `offsetof(struct a, b)` itself, and a 0 there was an ERROR
 * (in virtio_pci_modern_dev.c's first function, among others).
 */
const TYPE_ARG: ReadonlyMap<string, number> = lookedUp(new Map([
  ['container_of', 1], ['container_of_const', 1], ['list_entry', 1], ['list_first_entry', 1],
  ['list_last_entry', 1], ['list_first_entry_or_null', 1], ['list_next_entry', -1], ['hlist_entry', 1],
  ['hlist_entry_safe', 1], ['rb_entry', 1], ['llist_entry', 1], ['min_t', 0], ['max_t', 0],
  ['clamp_t', 0], ['offsetofend', 0], ['sizeof_field', 0], ['FIELD_SIZEOF', 0],
  ['struct_size_t', 0], ['__must_be_array', -1], ['va_arg', 1], ['READ_ONCE_TYPE', 0],
  ['alloc_percpu', 0], ['alloc_percpu_gfp', 0], ['BITS_PER_TYPE', 0], ['typecheck', 0],
  ['overflows_type', 1], ['vla_item', 1], ['DECLARE_SOCKADDR', 0], ['smtod', 1],
]));

// A capitalised word (`/^[A-Z][A-Z0-9_]*[A-Z0-9]$/`, a macro's name): rewriteWords.ts isCaps.
/** A call of something named like an accessor (a file's own macro over it may be a wrapper). */
const ACCESSOR_LIKE_CALL_RE = /\b(?:(?:__raw_)?(?:read|write)[bwlq]\w*|io(?:read|write)\w*|(?:in|out)[bwl](?:_p)?|[rw]dmsr\w*|cpuid\w*|\w*_(?:read|write|rd|wr|in|out)(?:8|16|32|64|[bwlq])?|memcpy_(?:to|from)io|memset_io)\s*\(/i;
/** C number literals (with GNU/C23 suffixes). */
const NUMBER_RE = /^(?:0[xX][0-9a-fA-F']*(?:\.[0-9a-fA-F]*)?(?:[pP][+-]?\d+)?|0[bB][01']+|\d[\d']*(?:\.\d*)?(?:[eE][+-]?\d+)?)(?:[uUlLfFiIjJ]|wb|WB|df|dd|dl|DF|DD|DL)*$/;
/** Lower-case macros that stand alone at file scope. */
const FILE_SCOPE_CALL_RE = /^(?:module_(?:init|exit|param\w*|driver|\w+_driver)|\w*initcall\w*|console_initcall|builtin_\w*driver)$/;

/** The kernel's file-scope declaring macros (they hold no site). */
const KERNEL_DECL_MACRO_RE = /^(?:EXPORT_\w+|MODULE_\w+|DEFINE_(?:PER_CPU\w*|RATELIMIT_STATE|MUTEX|SPINLOCK|RAW_SPINLOCK|IDA|IDR|XARRAY\w*|SEMAPHORE|RWLOCK|STATIC_KEY_\w+|SHOW_ATTRIBUTE|SHOW_STORE_ATTRIBUTE|SIMPLE_ATTRIBUTE|DEBUGFS_ATTRIBUTE|SIMPLE_DEV_PM_OPS|RUNTIME_DEV_PM_OPS|STATIC_SRCU|WAIT_QUEUE_HEAD\w*|TIMER|LOCAL_IRQ_LOCK)|DECLARE_(?:PER_CPU\w*|WORK|DELAYED_WORK|BITMAP|WAIT_QUEUE_HEAD\w*|HASHTABLE|TASKLET\w*|COMPLETION\w*|RWSEM|KFIFO\w*)|LIST_HEAD|SIMPLE_DEV_PM_OPS|ACPI_MODULE_NAME|MODULE_DEVICE_TABLE)$/;

/** Words before a '(' that does not open a call's arguments. */
const NOT_CALL = lookedUp(new Set(['if', 'while', 'for', 'switch', 'return', 'sizeof', 'typeof', '__typeof__', '__typeof', '_Alignof', '__alignof__', 'alignof', 'case', 'do', 'else', 'goto', '_Generic', '__builtin_types_compatible_p', '__builtin_offsetof', 'offsetof']));

/** Words that are C's own (never a statement macro's name). */
const C_KEYWORDS = lookedUp(new Set([
  'int', 'char', 'void', 'unsigned', 'signed', 'long', 'short', 'const', 'volatile', 'static', 'struct', 'union',
  'enum', 'typedef', 'extern', 'register', 'auto', 'inline', 'break', 'continue', 'default', 'if', 'else', 'while',
  'for', 'do', 'switch', 'return', 'goto', 'case', 'sizeof', 'asm', '__asm__', '__asm', '_Static_assert',
  'static_assert', 'float', 'double', 'bool', '_Bool', '__volatile__', '__extension__', '__label__',
]));
/** Keywords that start a statement. */
const STATEMENT_KEYWORDS = new Set(['if', 'for', 'while', 'do', 'switch', 'return', 'goto', 'break', 'continue']);

/** Type words that end an unnamed bit-field's type (`u16 :10;`, `unsigned int: 16;`). */
const BITFIELD_TYPE_RE = /^(?:int|char|short|long|unsigned|signed|bool|_Bool|(?:__)?[us](?:8|16|32|64)|u?int(?:8|16|32|64)_t|__(?:le|be)(?:16|32|64)|u_(?:char|short|int|long)|uint|ulong|ushort|uchar)$/;
/** An operator standing alone as a macro argument (`NVBO_TD32(bo, o, R, F, ==, V)`). */
const OPERATOR_ARG_RE = /^(?:==|!=|>=|<=|&&|\|\||[<>+\-\/%&|^])(?=[ \t]*[,)])/;
/** `struct_group(NAME, members...)` and its kin: index of the members' first argument. */
const STRUCT_GROUP: ReadonlyMap<string, number> = new Map([['struct_group', 1], ['struct_group_attr', 2], ['struct_group_tagged', 2], ['__struct_group', 3]]);

/** Iterator macros (`list_for_each_entry(pos, head, member) { ... }`) parse as loops. */
const ITERATOR_RE = /(^|_)for_each(_|$)|^for_each|_for_each$/;

export interface Annotation {
  name: string;
  /** UTF-16 offset of the annotation in the original text. */
  index: number;
  length: number;
}

/**
 * Rewrites whose original text is what a site's address shows (they change characters
 * inside an argument, not only blank an annotation): analyze.ts puts the original back.
 */
export const SHOWN_AS_WRITTEN: ReadonlySet<string> = new Set([
  'pasted name starting with a digit', 'statement in a macro argument', 'declaration in a macro argument',
  'offsetof typeof', 'offsetof member designator', 'pasted string macro in an argument',
  'alignof as sizeof', 'string macro as a string', 'typeof as a type name', 'empty macro argument',
  'operator as a macro argument', 'per-cpu definition as a declaration', 'enumerator macro call',
]);

/**
 * Spans of a text that hold only blanks (space, CR, LF), as [start, end) pairs, flat,
 * in order and disjoint: the blanked insides of a batch audit's function bodies
 * (audit/regions.ts). The rewrite jumps over them (it would read only blanks there,
 * and rewrites nothing in them) and the parser leaves them out of its included
 * ranges (c/parser.ts): 45 MB of the 186 MB of drivers/ that a region audit parses.
 */
export type BlankSpans = readonly number[];

export interface Prepared {
  /** Same length and line structure as the input. */
  text: string;
  /** Every blanked annotation, in text order. */
  annotations: Annotation[];
  /** Offsets of each `__iomem`, in text order (a subset of annotations). */
  iomem: number[];
}

const isIdStart = (c: number) => REWRITE_WORD[c] === 1;
const isIdChar = (c: number) => REWRITE_WORD[c] !== 0;

/** 'record': a struct or union body (fields, not statements). */
type Bracket = '(' | '[' | 'block' | 'init' | 'record';

// The rewrite's state, for the text being rewritten. It lives here, not in `prepare`,
// so that the functions below are made once: made per call (closures over the call's
// locals) they were new call targets for every file, and V8 threw away and recompiled
// `prepare` and `handleWord` again and again ("wrong call target"; BENCHMARKS.md 15.3,
// helper-v8). One rewrite runs at a time in a thread: `prepare` is not re-entered.
let src = '';
let blanks: BlankSpans | undefined;
// The rewritten text as code units (textUnits.ts), copied on the first change: a
// string of single characters per source character (split('')) cost 6 % of a
// scan and a pointer per character of memory.
const UNITS = new TextUnits();
/** The copy of `src` being rewritten (UNITS' array), or undefined while nothing changed. */
let out: Units | undefined;
/** Writes the character `ch` at `k` of the rewritten text: ASCII, as every rewrite writes (it fits a one-byte copy). */
function put(k: number, ch: string): void {
  if (!out) out = UNITS.copy(src);
  out[k] = ch.charCodeAt(0);
  changed = true;
}
let changed = false;
let annotations: Annotation[] = [];
let iomem: number[] = [];
const stack: Bracket[] = [];
/** How many 'block' entries the stack holds (asked for every word in a call's arguments). */
let blocksOpen = 0;
/** For each '(' on the stack: whether it opens a call's arguments (a word, not a keyword, before it). */
const callParens: boolean[] = [];
/** For each '(' on the stack: offset of that '(' or of the last top-level ',' after it. */
const argStart: number[] = [];
/**
 * For each '(' on the stack: a macro call at file scope, its name with no type before it
 * (after `;`, `}`, the file's start, or a `static` alone): not a prototype's parameter list.
 */
const fileCall: boolean[] = [];
/** Stack depths whose top is an enum's list. */
const enumLevels = new Set<number>();
/** The significant character before the last word, and where the current struct member starts. */
let sigBeforeWord = '';
let memberStart = -1;
let n = 0;
let lastSig = ''; // last significant non-space character outside comments
let lastWord = '';
/** Whether lastWord may be in one of the sets (LOOKED_UP): else no lookup of it is needed. */
let lastLookedUp = false;
let prevWord = '';
let atLineStart = true;

function blank(from: number, to: number): void {
  for (let k = from; k < to; k++) {
    // Newlines are never rewritten, so the source tells where they are.
    const ch = src[k];
    if (ch === '\n' || ch === '\r') continue;
    // Nor is a directive's line continuation: a blanked `\` would end a #define early
    // (in code a continuation is only space, and blanked with what it joins).
    if (inDirective && ch === '\\' && (src[k + 1] === '\n' || (src[k + 1] === '\r' && src[k + 2] === '\n'))) continue;
    put(k, ' ');
  }
  changed = true;
}
/** `)` of macros unwrapStatements() took apart: not brackets any more. */
const ignoreClose = new Set<number>();
/** The `)` of the last statement macro read as a loop (a run of them follows each other). */
let chainClose = -1;
/** Set when a whole macro call was blanked: the significant character before it still holds. */
let dropped = false;
/** While a preprocessor directive's own text is rewritten. */
let inDirective = false;
const definesAccessor = new Map<string, boolean>();
let functionMacros: Set<string> | undefined;
/** Whether this file #defines `name` as a function-like macro (one pass over the file, on first use). */
function definesFunctionMacro(name: string): boolean {
  functionMacros ??= functionMacroNames(src);
  return functionMacros.has(name);
}
/**
 * Whether this file #defines `name` with a body that calls something accessor-like:
 * its file-scope invocations may be wrapper sites (BCM_SYSPORT_IO_MACRO), never blanked.
 */
function definesAccessorMacro(name: string): boolean {
  let r = definesAccessor.get(name);
  if (r === undefined) {
    const m = new RegExp(`#[ \\t]*define[ \\t]+${name}\\b`).exec(src);
    if (!m) r = false;
    else {
      let e = m.index;
      do e = src.indexOf('\n', e + 1); while (e > 0 && /\\\r?$/.test(src.slice(Math.max(0, e - 2), e)));
      r = ACCESSOR_LIKE_CALL_RE.test(src.slice(m.index, e < 0 ? n : e).replace(/^#[ \t]*define[ \t]+\w+/, ''));
    }
    definesAccessor.set(name, r);
  }
  return r;
}

/** Directive lines (`#else`, `#endif`) of a group splitsStatement() decided to blank. */
const blankDirectives = new Set<number>();
/** Dead branches of a constant `#if 0`/`#if 1` group splitsStatement() blanked: start -> end, not scanned. */
const deadCode = new Map<number, number>();

/**
 * A conditional group in a function body that splits an if/else (`}` then `#ifdef X`
 * then `else {`, or `if (a) x; else` before `#endif`): tree-sitter-c wants each
 * branch to hold whole statements, and every such file had its first ERROR there.
 * When every branch is balanced in braces and parentheses, the directive lines are
 * blanked (both branches stay, as code) and the group parses as the statements it
 * joins. Records the later directives of the group for blanking; returns whether
 * the group at `at` is one.
 */
function splitsStatement(at: number, afterHeader = false): boolean {
  const directives: number[] = [];
  const branches: [number, number][] = [];
  let depth = 0;
  let k = at;
  let branchStart = -1;
  for (let guard = 0; guard < 2000 && k < n; guard++) {
    const lineEnd = lineEndOf(k);
    const m = /^[ \t]*#[ \t]*(\w+)/.exec(src.slice(k, Math.min(lineEnd, k + 40)));
    if (m) {
      const d = m[1]!;
      if (d === 'if' || d === 'ifdef' || d === 'ifndef') {
        if (depth === 0) {
          directives.push(k);
          branchStart = lineEnd;
        }
        depth++;
      } else if ((d === 'else' || d === 'elif') && depth === 1) {
        branches.push([branchStart, k]);
        directives.push(k);
        branchStart = lineEnd;
      } else if (d === 'endif') {
        if (--depth === 0) {
          branches.push([branchStart, k]);
          directives.push(k);
          break;
        }
      }
    }
    k = lineEnd + 1;
  }
  if (depth !== 0 || !branches.length) return false;
  let split = false;
  const constant = /^[ \t]*#[ \t]*if[ \t]+([01])[ \t]*(?:\/\*.*\*\/)?[ \t]*$/.exec(src.slice(at, lineEndOf(at)))?.[1];
  for (const [a, b] of branches) {
    const t = codeTokens(a, b);
    if (t === null) {
      // `#if 1` / `if (x) {` / `#else` / `if (1) {` / `#endif`: each branch opens the
      // block (sym_hipd.c). With a constant condition the compiler reads one branch:
      // the other is blanked, as dead code, and the group parses as the live one.
      if (constant === undefined || branches.length > 2 || /#[ \t]*elif/.test(src.slice(at, directives[directives.length - 1]!))) return false;
      const dead = constant === '1' ? branches[1] : branches[0];
      if (dead) {
        blank(dead[0], dead[1]);
        deadCode.set(dead[0], dead[1]);
      }
      for (const d of directives.slice(1)) blankDirectives.add(d);
      annotations.push({ name: 'constant conditional group', index: at, length: lineEndOf(directives[directives.length - 1]!) - at });
      return true;
    }
    if (t.first === 'else' || t.first === '}' || t.last === 'else') split = true;
    // `#if X` / `if (cond)` / `#endif` then the statement it guards.
    if ((t.first === 'if' || t.first === 'while' || t.first === 'for') && t.last === ')') split = true;
  }
  const endifEnd = lineEndOf(directives[directives.length - 1]!);
  const after = nextSignificant(endifEnd);
  if (after >= 0 && /^else\b/.test(src.slice(after, after + 5))) split = true;
  // `while (length--)` then `#ifdef X` / one statement / `#else` / another / `#endif`:
  // each branch is the body; joined, the first is and the second follows it.
  if (afterHeader && branches.length <= 2) split = true;
  if (!split) return false;
  for (const d of directives.slice(1)) blankDirectives.add(d);
  annotations.push({ name: 'conditional group in a statement', index: at, length: endifEnd - at });
  return true;
}

/**
 * `src.indexOf('/*', from)`, remembered: every #define asked it, and in a file with
 * no `/*` after its last #defines each search ran to the end of the file (quadratic:
 * 8 MB of generated code spent most of its rewrite here). The main loop's offsets
 * only grow, so the last answer holds until `from` passes it.
 */
let commentOpenFrom = -1;
let commentOpenAt = -1;
function nextCommentOpen(from: number): number {
  if (commentOpenFrom < 0 || from < commentOpenFrom || (commentOpenAt >= 0 && from > commentOpenAt)) {
    commentOpenFrom = from;
    commentOpenAt = src.indexOf('/*', from);
  }
  return commentOpenAt;
}

/** Offset of the newline ending the (backslash-continued) line holding `k`, or n. */
function lineEndOf(k: number): number {
  let e = src.indexOf('\n', k);
  while (e > 0 && (src[e - 1] === '\\' || (src[e - 1] === '\r' && src[e - 2] === '\\'))) e = src.indexOf('\n', e + 1);
  return e < 0 ? n : e;
}

/**
 * First and last significant token (a word or one character) of [a, b), skipping
 * comments, strings and directive lines; null when braces or parentheses do not balance.
 */
function codeTokens(a: number, b: number): { first: string; last: string } | null {
  let braces = 0;
  let parens = 0;
  let first = '';
  let last = '';
  let lineStart = true;
  for (let k = a; k < b; k++) {
    const c = src[k]!;
    if (c === '\n') {
      lineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    if (c === '#' && lineStart) {
      k = lineEndOf(k) - 1;
      continue;
    }
    lineStart = false;
    if (c === '/' && src[k + 1] === '*') {
      const e = src.indexOf('*/', k + 2);
      k = e < 0 ? b : e + 1;
      continue;
    }
    if (c === '/' && src[k + 1] === '/') {
      k = src.indexOf('\n', k) - 1;
      if (k < 0) k = b;
      continue;
    }
    let tok = c;
    if (c === '"' || c === "'") {
      let j = k + 1;
      while (j < b && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      k = j;
    } else if (isIdChar(c.charCodeAt(0))) {
      let j = k + 1;
      while (j < b && isIdChar(src.charCodeAt(j))) j++;
      tok = src.slice(k, j);
      k = j - 1;
    } else if (c === '{') braces++;
    else if (c === '}') braces--;
    else if (c === '(') parens++;
    else if (c === ')') parens--;
    if (!first) first = tok;
    last = tok;
  }
  return braces === 0 && parens === 0 ? { first, last } : null;
}

// The blank insides the caller vouches for (see BlankSpans): jumped over, not read.
let blankAt = 0;
let nextBlank = 0;
/** At a blank character `i` at or past `nextBlank`: where to go on from (the span's end when `i` is in one). */
function pastBlank(i: number): number {
  const b = blanks!;
  while (blankAt < b.length && b[blankAt + 1]! <= i) blankAt += 2;
  let to = i;
  if (blankAt < b.length && b[blankAt]! <= i) {
    to = b[blankAt + 1]!;
    // What the loop would have read: a line end leaves the next character at a line start.
    if (src.lastIndexOf('\n', to - 1) >= i) atLineStart = true;
    blankAt += 2;
  }
  nextBlank = blankAt < b.length ? b[blankAt]! : n;
  return to;
}

/**
 * One pass over the text that skips comments, strings and character literals and:
 * blanks known annotations; rewrites iterator macros into `while`; blanks
 * preprocessor conditionals that stand inside an expression or initializer, where
 * tree-sitter-c cannot place them (both branches are kept, as text).
 */
export function prepare(text: string, spans?: BlankSpans): Prepared {
  begin(text, spans);
  rewrite(src, n);
  const rewritten = changed && out ? UNITS.read(out, n) : src;
  const result = { text: rewritten, annotations, iomem };
  end();
  return result;
}

/** The state for a rewrite of `text` (see above): every field as a fresh `prepare` would have it. */
function begin(text: string, spans: BlankSpans | undefined): void {
  src = text;
  n = text.length;
  blanks = spans;
  out = undefined;
  changed = false;
  annotations = [];
  iomem = [];
  stack.length = 0;
  blocksOpen = 0;
  callParens.length = 0;
  argStart.length = 0;
  fileCall.length = 0;
  enumLevels.clear();
  sigBeforeWord = '';
  memberStart = -1;
  lastSig = '';
  lastWord = '';
  lastLookedUp = false;
  prevWord = '';
  atLineStart = true;
  ignoreClose.clear();
  chainClose = -1;
  dropped = false;
  inDirective = false;
  definesAccessor.clear();
  functionMacros = undefined;
  blankDirectives.clear();
  deadCode.clear();
  commentOpenFrom = -1;
  commentOpenAt = -1;
  blankAt = 0;
  nextBlank = spans && spans.length ? spans[0]! : n;
}

/**
 * Lets go of the text and of everything read from it (a thread keeps this module for its
 * whole life): the state of an empty text. A word kept over from the text (`lastWord`, a
 * macro's name) may be a slice of it, and would keep the whole text alive until the next.
 */
function end(): void {
  begin('', undefined);
}

/**
 * The main loop: one pass over `src`. The text and its length come as parameters (the
 * same values as the module's): the loop reads them at every character, and locals are
 * kept in registers where the module's variables are read from memory after every call.
 */
function rewrite(src: string, n: number): void {
  let i = 0;
  while (i < n) {
    const c = src.charCodeAt(i);
    // Newlines and whitespace.
    if (c === 10 || c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
      // A dead branch (splitsStatement) starts at the line end of its directive. Most
      // files have none: a Map lookup per character was the rewrite's dearest line
      // (drivers/ profile, 0.6 s of 8 s); one per line end while there is one.
      if (c === 10 && deadCode.size) {
        const skip = deadCode.get(i);
        if (skip !== undefined) {
          i = skip;
          atLineStart = true;
          continue;
        }
      }
      if (i >= nextBlank) {
        const to = pastBlank(i);
        if (to > i) {
          i = to;
          continue;
        }
      }
      if (c === 10) atLineStart = true;
      i++;
      continue;
    }
    // Comments.
    if (c === 47 /* / */ && src.charCodeAt(i + 1) === 42 /* * */) {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (c === 47 && src.charCodeAt(i + 1) === 47) {
      while (i < n && src.charCodeAt(i) !== 10) {
        // A line comment continues over a backslash-newline, as in the preprocessor.
        if (src.charCodeAt(i) === 92 && src.charCodeAt(i + 1) === 10) i++;
        i++;
      }
      continue;
    }
    // Preprocessor lines.
    if (c === 35 /* # */ && atLineStart) {
      i = directiveLine(i);
      continue;
    }
    atLineStart = false;
    // Strings and character literals.
    if (c === 34 || c === 39) {
      let j = i + 1;
      while (j < n) {
        const d = src.charCodeAt(j);
        if (d === 92) {
          j += 2;
          continue;
        }
        if (d === c || d === 10) break;
        j++;
      }
      i = j + 1;
      lastSig = c === 34 ? '"' : "'";
      continue;
    }
    if (REWRITE_WORD[c] === 1) {
      // The word's hash (words.ts wordHash) as it is read: the sets are asked only on its bit.
      let h = c;
      let j = i + 1;
      for (let d = 0; j < n && REWRITE_WORD[(d = src.charCodeAt(j))] !== 0; j++) h = (Math.imul(h, 31) + d) | 0;
      const word = src.slice(i, j);
      const ws = i;
      const lookedUp = LOOKED_UP.mayHold(h);
      dropped = false;
      i = handleWord(word, i, j, n, lookedUp);
      // A macro call blanked whole (an initializer's `DW_BLOCK(...)`) leaves the
      // significant character before it in place for the next one.
      if (dropped) continue;
      if (stack[stack.length - 1] === 'record' && (lastSig === ';' || lastSig === '{')) memberStart = ws;
      sigBeforeWord = lastSig;
      lastSig = 'a';
      prevWord = lastWord;
      lastWord = word;
      lastLookedUp = lookedUp;
      continue;
    }
    if (c >= 48 && c <= 57) {
      // A number. `10000baseT_Full` (a pasted link-mode name: `ETHTOOL_LINK_MODE_ ## x ## _BIT`)
      // is no number literal: its first digit becomes `_`, an identifier of the same length.
      // Only a token with a letter or `_` in it can be one: the rest (`0`, `100`, `1.5`)
      // are not sliced and tested.
      let j = i + 1;
      let letter = false;
      for (let d = 0; j < n && (REWRITE_WORD[(d = src.charCodeAt(j))] !== 0 || d === 46 /* . */); j++) if (REWRITE_WORD[d] === 1) letter = true;
      const tok = letter ? src.slice(i, j) : '';
      if (letter && /^\d+[A-Za-z_]\w*$/.test(tok) && !NUMBER_RE.test(tok) && !(/[eEpP]$/.test(tok) && (src[j] === '+' || src[j] === '-'))) {
        put(i, '_');
        changed = true;
        annotations.push({ name: 'pasted name starting with a digit', index: i, length: j - i });
        lastSig = 'a';
        prevWord = lastWord;
        lastWord = tok;
        lastLookedUp = true;
        i = j;
        continue;
      }
    }
    i = punctuation(i);
  }
}

/**
 * Any other character at `i` (brackets, `;`, `,`, operators): the stack of open brackets
 * and the shapes that stand at a bracket or a comma. Returns where to go on from.
 */
function punctuation(i: number): number {
  const ch = src[i];
  if (ignoreClose.size && ignoreClose.has(i)) {
    return i + 1;
  }
  if (ch === ';' && stack[stack.length - 1] === '(' && callParens[callParens.length - 1] && blocksOpen > 0) {
    // A statement's `;` inside a macro's arguments (`nvkm_msec(d, 2000, tmp = rd(d); if (tmp) break;)`):
    // a comma joins the statements as expressions; the last one before `)` goes.
    const nx = nextSignificant(i + 1);
    const last = nx >= 0 && src[nx] === ')';
    put(i, last ? ' ' : ',');
    annotations.push({ name: 'statement in a macro argument', index: i, length: 1 });
    changed = true;
    lastSig = ',';
    if (!last) argStart[argStart.length - 1] = i;
    return i + 1;
  }
  const inCall = stack[stack.length - 1] === '(' && callParens[callParens.length - 1];
  if (inCall && (lastSig === ',' || lastSig === '(')) {
    // An operator as an argument (nouveau's `NVBO_TD32(bo, o, R, F, ==, V)`,
    // `V4L2_FRACT_COMPARE(a, <, b)`): the macro pastes it; a 0 stands in (no site there).
    const m = mayStartOperatorArg(src.charCodeAt(i)) ? OPERATOR_ARG_RE.exec(src.slice(i, i + 3)) : null;
    if (m) {
      blank(i, i + m[0].length);
      put(i, '0');
      annotations.push({ name: 'operator as a macro argument', index: i, length: m[0].length });
      lastSig = 'a';
      return i + m[0].length;
    }
  }
  if (inCall && (ch === ',' || ch === ')')) {
    // An empty macro argument (`PP_ASSERT_WITH_CODE(c, "msg", )`, `CONFIGFS_ATTR(, enabled)`,
    // `GROUP(a, b, /* RESERVED */ )`) is MISSING to the grammar: a 0 stands in, in its
    // space (or over the comma and the space after it), so the arguments keep their places.
    const from = argStart[argStart.length - 1]!;
    if (!(ch === ')' && src[from] === '(')) {
      const moved = emptyArgument(from + 1, i, ch);
      if (moved) {
        argStart[argStart.length - 1] = i + 1;
        lastSig = ',';
        return i + 2;
      }
    }
    if (ch === ',') argStart[argStart.length - 1] = i;
  }
  if (ch === ':' && stack[stack.length - 1] === 'record' && lastSig === 'a' && BITFIELD_TYPE_RE.test(lastWord) && memberStart >= 0) {
    // An unnamed bit-field (`u16 :10;`, padding) has no place in tree-sitter-c's grammar:
    // the member goes (it holds no site).
    const semi = src.indexOf(';', i);
    if (semi > 0 && semi - i < 80 && !/[{}()]/.test(src.slice(i, semi))) {
      blank(memberStart, semi + 1);
      annotations.push({ name: 'unnamed bit-field', index: memberStart, length: semi + 1 - memberStart });
      memberStart = -1;
      lastSig = ';';
      return semi + 1;
    }
  }
  if (ch === '(') {
    const call = lastSig === 'a' && !(lastLookedUp && NOT_CALL.has(lastWord));
    fileCall.push(call && ((stack.length === 0 && (sigBeforeWord === ';' || sigBeforeWord === '}' || sigBeforeWord === '' || (prevWord === 'static' && isCaps(lastWord)))) || fileCall.includes(true)));
    stack.push('(');
    callParens.push(call);
    argStart.push(i);
  } else if (ch === '[') stack.push('[');
  else if (ch === '{') {
    const top = stack[stack.length - 1];
    // Inside an initializer every brace is one (a compound literal's `(struct s) {`).
    const init = lastSig === '=' || lastSig === ',' || top === 'init' || top === '(';
    const record = !init && lastSig === 'a' && (lastWord === 'struct' || lastWord === 'union' || prevWord === 'struct' || prevWord === 'union');
    // An enum's list is read like an initializer (directives in it are blanked).
    const enumList = !init && lastSig === 'a' && (lastWord === 'enum' || prevWord === 'enum');
    const kind = init || enumList ? 'init' : record ? 'record' : 'block';
    stack.push(kind);
    if (kind === 'block') blocksOpen++;
    if (enumList) enumLevels.add(stack.length);
  } else if (ch === ')' || ch === ']' || ch === '}') {
    if (enumLevels.size) enumLevels.delete(stack.length);
    const popped = stack.pop();
    if (popped === 'block') blocksOpen--;
    if (popped === '(') {
      callParens.pop();
      argStart.pop();
      fileCall.pop();
    }
  }
  lastSig = ch;
  return i + 1;
}

/**
 * A preprocessor line starting at `i` (its `#`, at a line's start): blanked where the
 * grammar has no place for it, else its own text rewritten. Returns its end.
 */
function directiveLine(i: number): number {
  let end = i;
  while (end < n) {
    const e = src.charCodeAt(end);
    if (e === 10) {
      // Continuation: backslash (possibly followed by \r) before the newline.
      let b = end - 1;
      if (b >= 0 && src.charCodeAt(b) === 13) b--;
      if (b >= 0 && src.charCodeAt(b) === 92) {
        end++;
        continue;
      }
      break;
    }
    if (e === 47 && src.charCodeAt(end + 1) === 42) {
      const ce = src.indexOf('*/', end + 2);
      end = ce < 0 ? n : ce + 2;
      continue;
    }
    end++;
  }
  const top = stack[stack.length - 1];
  const directive = /^#\s*(\w+)/.exec(src.slice(i, Math.min(end, i + 40)))?.[1] ?? '';
  if ((top === '(' || top === '[' || top === 'init') && directive !== 'define') {
    blank(i, end);
  } else if (top === 'init' && directive === 'define' && !ACCESSOR_LIKE_CALL_RE.test(src.slice(i, end))) {
    // `#define DMUB_SR(reg) REG_OFFSET(reg),` inside an initializer or an enum: the
    // grammar has no place for it; a macro over no accessor holds no site.
    blank(i, end);
  } else if (blankDirectives.has(i)) {
    blank(i, end);
  } else if (top === 'block' && (directive === 'if' || directive === 'ifdef' || directive === 'ifndef') && splitsStatement(i, lastSig === ')' || (lastSig === 'a' && lastWord === 'else'))) {
    blank(i, end);
  } else if (top === 'block' && /^[=+\-*/%&|^<>?!~,]$/.test(lastSig) && directive !== 'define' && directive !== 'undef') {
    // `*rx_buf_pgcnt =` then `#if (PAGE_SIZE < 8192)` / `page_count(p);` / `#else` / `0;`
    // (igb, i40e, igc, ixgbe): a conditional inside an expression; its directives go,
    // both branches stay as code (the calls in each are seen).
    blank(i, end);
    annotations.push({ name: 'conditional in an expression', index: i, length: end - i });
  } else {
    inDirective = true;
    if (directive === 'define') {
      // GNU named variadic parameters, `#define dbg(fmt, args...)`, are not in the
      // grammar (539 files' first ERROR in drivers/): the name goes, `...` stays.
      const head = /^#\s*define\s+\w+\(([^)\n]*)\)/.exec(src.slice(i, Math.min(end, i + 400)));
      const named = head && /(\w+)(\s*)\.\.\.\s*$/.exec(head[1]!);
      if (head && named) {
        const at = i + head[0].length - 1 - (head[1]!.length - named.index!);
        blank(at, at + named[1]!.length);
        annotations.push({ name: 'named variadic parameter', index: at, length: named[1]!.length });
      }
    }
    if (directive === 'define') {
      // A comment inside a #define body followed by more of the body (`X /* c */ + \`)
      // ends tree-sitter-c's macro value early: a one-line comment there is only space.
      for (let k = nextCommentOpen(i); k >= 0 && k < end; k = src.indexOf('/*', k + 2)) {
        const e = src.indexOf('*/', k + 2);
        if (e < 0 || e >= end) break;
        if (!src.slice(k, e).includes('\n') && /\S/.test(src.slice(e + 2, lineEndOf(e)).replace(/\\\r?$/, '') + (src[lineEndOf(e) - 1] === '\\' ? 'x' : ''))) {
          blank(k, e + 2);
        }
        k = e;
      }
    }
    // Scan the directive's own text (e.g. a #define body) for annotations.
    scanWords(i + 1, end);
  }
  inDirective = false;
  return end;
}

/**
 * [a, b) is one macro argument ending at the `,` or `)` at b: when it holds only space
 * and comments, a 0 goes in its first space (comments blanked), or, with no space in
 * it, over the `,` at b with that `,` moved one to the right (returns true then).
 */
function emptyArgument(a: number, b: number, endCh: string): boolean {
  // `"msg",);`, `NAND_OP_PARSER_PAT_WAITRDY_ELEM(true)),` then `);` on the next line:
  // a trailing empty argument with no space for a 0 loses its comma instead.
  if (endCh === ')' && src[a - 1] === ',' && /^[\r\n]*$/.test(src.slice(a, b))) {
    put(a - 1, ' ');
    changed = true;
    annotations.push({ name: 'empty macro argument', index: a - 1, length: 1 });
    return false;
  }
  let spaceAt = -1;
  for (let k = a; k < b; k++) {
    const c = src[k]!;
    if (c === '/' && src[k + 1] === '*') {
      const e = src.indexOf('*/', k + 2);
      if (e < 0 || e >= b) return false;
      k = e + 1;
      continue;
    }
    if (c === ' ' || c === '\t') {
      if (spaceAt < 0) spaceAt = k;
      continue;
    }
    if (c === '\n' || c === '\r') continue;
    return false;
  }
  if (spaceAt < 0) {
    // `(, x)`: `,` then a space becomes `0,`.
    if (endCh !== ',' || (src[b + 1] !== ' ' && src[b + 1] !== '\t')) return false;
    if (a < b) blank(a, b);
    put(b, '0');
    put(b + 1, ',');
    changed = true;
    annotations.push({ name: 'empty macro argument', index: b, length: 2 });
    return true;
  }
  blank(a, b);
  put(spaceAt, '0');
  annotations.push({ name: 'empty macro argument', index: spaceAt, length: 1 });
  return false;
}

// Words inside a directive body (a #define) are handled like code.
function scanWords(from: number, to: number) {
  let k = from;
  while (k < to) {
    const c = src.charCodeAt(k);
    if (c === 47 && src.charCodeAt(k + 1) === 42) {
      const e = src.indexOf('*/', k + 2);
      k = e < 0 ? to : e + 2;
      continue;
    }
    if (c === 34 || c === 39) {
      let j = k + 1;
      while (j < to && src.charCodeAt(j) !== c && src.charCodeAt(j) !== 10) j += src.charCodeAt(j) === 92 ? 2 : 1;
      k = j + 1;
      continue;
    }
    if (isIdStart(c)) {
      let j = k + 1;
      while (j < to && isIdChar(src.charCodeAt(j))) j++;
      const w = src.slice(k, j);
      k = Math.max(j, handleWord(w, k, j, to, LOOKED_UP.mayHold(wordHash(w))));
      continue;
    }
    k++;
  }
}

/**
 * Kernel macro shapes tree-sitter-c cannot place, each blanked (same length and
 * lines), measured on Debian 6.1's drivers/ (files whose first ERROR they were):
 *   - `case 1 ... 3:`: GNU case ranges (138): the `... 3` goes;
 *   - `printk(KERN_ERR DRV_NAME ": x")`: capitalised macros pasted before a string (100+): they go;
 *   - `module_init(f)` / `EXPORT_SYMBOL(f)` / `static DEFINE_PER_CPU(T, v);` at file scope
 *     with or without the `;` (380+): the call goes (it holds no site);
 *   - `SET_SYSTEM_SLEEP_PM_OPS(s, r)` inside an initializer with no comma after (250+): it goes;
 *   - `DECLARE_BITMAP(m, N);` as a struct member (100+): it goes.
 * Returns the offset to go on from (or `end` when nothing applies).
 */
/** Whether `[ \t]*:` starts at `k` (and stands within the 300 characters the label pattern reads). */
function colonFollows(k: number): boolean {
  for (let j = k; j < n && j < k + 300; j++) {
    const c = src.charCodeAt(j);
    if (c === 58) return true;
    if (c !== 32 && c !== 9) return false;
  }
  return false;
}

function kernelMacroShape(word: string, caps: boolean, start: number, end: number): number {
  const top = stack[stack.length - 1];
  if (top === 'block' && (lastSig === ';' || lastSig === '{' || lastSig === '}') && word !== 'default') {
    // `out:` as the last thing in a block (`out:\n}`) needs a statement after it in
    // the grammar (MISSING); `out;` parses and keeps every position.
    // The same for a label just before a directive line (`out:` then `#ifdef X`).
    // Only a word followed by `:` can be one: most statements' first words are
    // passed over without slicing the text after them for the pattern.
    const m = colonFollows(end) ? /^[ \t]*:(?!:)(?:\s|\/\*[\s\S]*?\*\/)*(?:\}|\n[ \t]*#[ \t]*(?:if|ifdef|ifndef|endif|else|elif)\b)/.exec(src.slice(end, end + 300)) : null;
    if (m) {
      const colon = src.indexOf(':', end);
      put(colon, ';');
      changed = true;
      annotations.push({ name: 'label before }', index: start, length: colon + 1 - start });
      return colon + 1;
    }
  }
  if (word === 'case') {
    const colon = src.indexOf(':', end);
    if (colon < 0 || colon - end > 200) return end;
    // Only between the label and its colon: a search to the end of the file for every
    // `case` was quadratic in a switch-heavy file without GNU case ranges.
    const rel = src.slice(end, colon).indexOf('...');
    const dots = rel < 0 ? -1 : end + rel;
    if (dots > 0) {
      blank(dots, colon);
      annotations.push({ name: 'case range', index: dots, length: colon - dots });
      return colon;
    }
    return end;
  }
  // A lower-case macro this file defines, called alone at file scope (`show_in_reg(in)`,
  // `fc_enum_name_search(...)`: generators of functions), reads like a capitalised one.
  const localGenerator = stack.length === 0 && (lastSig === ';' || lastSig === '}' || lastSig === '') && /^[ \t]*\(/.test(src.slice(end, end + 20)) &&
    !caps && definesFunctionMacro(word);
  if (!caps && !localGenerator && !(stack.length === 0 && FILE_SCOPE_CALL_RE.test(word))) return end;
  // CAPS words then a string literal: `KERN_ERR DRV_NAME ": ..."`.
  if (caps && (top !== undefined || lastSig === '=') && mayStartStringTail(src, end, 200)) {
    const m = /^(?:\s+[A-Z][A-Z0-9_]*)*\s*(?:"|(?:pr_fmt|__stringify)\s*\()/.exec(src.slice(end, end + 200));
    if (m) {
      blank(start, end);
      annotations.push({ name: 'string prefix macro', index: start, length: end - start });
      return end;
    }
  }
  let k = afterBlanks(end, n);
  if (src.charCodeAt(k) !== 40 /* ( */) {
    // An initializer list of macros without commas (rtlwifi's `RTL8188EE_TRANS_CARDEMU_TO_ACT`
    // then `RTL8188EE_TRANS_END` on the next line, spi-nor's `PARSE_SFDP` then
    // `FIXUP_FLAGS(...)`): each expands to its own list items; all but the last go.
    // The same in a macro's arguments (pinctrl's `GROUP(` then `IP0_31_28` / `IP0_27_24` ...,
    // each expanding to `x,`), and after a list's last `}` (floppy.c's `EXTRA_FLOPPY_PARAMS`).
    const list = top === 'init' || (top === '(' && callParens[callParens.length - 1]);
    if (list && (lastSig === '{' || lastSig === ',' || lastSig === '(' || lastSig === '}') && caps) {
      const nx = nextSignificant(end);
      if (nx > 0 && lineEndBetween(end, nx) && (lastSig === '}' ? src[nx] === '}' && top === 'init' : isIdStart(src.charCodeAt(nx)))) {
        blank(start, end);
        dropped = true;
        annotations.push({ name: 'initializer macro', index: start, length: end - start });
      }
    }
    return end;
  }
  // Every shape of a call below stands at file scope, in an initializer or in a
  // struct: a macro call in a function body (`BIT(3)`, `WARN_ON(x)`) is none of them.
  if (stack.length > 0 && top !== 'init' && top !== 'record') return end;
  const close = matchParen(src, k, n);
  if (close < 0) return end;
  let after = nextSignificant(close + 1);
  if (after < 0) after = n;
  const next = src[after] ?? '';
  const lineStart = src.lastIndexOf('\n', start - 1) + 1;
  const atLineStart = /^\s*(?:static\s+)?$/.test(src.slice(lineStart, start));
  const args = src.slice(k, close);
  const drop = (to: number, name: string) => {
    blank(start, to);
    dropped = true;
    annotations.push({ name, index: start, length: to - start });
    return to;
  };
  // Only the kernel's own declaring macros: a driver's file-scope macro call may
  // define accessors (BCM_SYSPORT_IO_MACRO, OCX_DEBUGFS_ATTR) and is a site.
  const declaring = FILE_SCOPE_CALL_RE.test(word) || KERNEL_DECL_MACRO_RE.test(word);
  if (declaring && stack.length === 0 && atLineStart && next !== '{' && !/^\s*[;=]/.test(src.slice(close + 1, close + 3)) && /^[ \t]*\r?\n/.test(src.slice(close + 1, close + 40))) {
    return drop(close + 1, 'file-scope macro');
  }
  if (declaring && stack.length === 0 && atLineStart && next === ';' && !args.includes('{')) {
    return drop(after + 1, 'file-scope macro');
  }
  // Any capitalised macro call alone on its lines at file scope with no `;` after it
  // (`DEF_SCSI_QCMD(hptiop_queuecommand)`, `EPF_NTB_R(spad_count)`, `ACPI_EXPORT_SYMBOL(f)`):
  // it defines something; a `static` before it goes with it. Not when this file
  // defines the macro over an accessor (its invocation may be a wrapper site).
  if (stack.length === 0 && atLineStart && caps && next === ';' && args.includes('{') && !ACCESSOR_LIKE_CALL_RE.test(args) && !definesAccessorMacro(word) &&
    (lastSig === ';' || lastSig === '}' || lastSig === '')) {
    // `SSAM_DEFINE_SYNC_REQUEST_N(name, { .target_category = ... });`: a braced initializer
    // as an argument at file scope (a declaration to the grammar, which has no place for it).
    return drop(after + 1, 'file-scope macro');
  }
  if (stack.length === 0 && atLineStart && (caps || localGenerator) && (after >= n || isIdStart(next.charCodeAt(0)) || src[after] === '#' || next === '}') &&
    /^[ \t]*(?:\/\*.*?\*\/[ \t]*|\/\/.*)?\r?\n/.test(src.slice(close + 1, close + 200)) && !definesAccessorMacro(word)) {
    const st = /static\s+$/.exec(src.slice(lineStart, start));
    const from = st ? lineStart + st.index : start;
    blank(from, close + 1);
    dropped = true;
    annotations.push({ name: 'file-scope macro', index: from, length: close + 1 - from });
    return close + 1;
  }
  if (top === 'init' && (lastSig === '{' || lastSig === ',') && next !== ',' && next !== '}' && (isIdStart(next.charCodeAt(0)) || next === '.' || next === '[' || (next === '{' && !ACCESSOR_LIKE_CALL_RE.test(args)))) {
    return drop(close + 1, 'initializer macro');
  }
  if (top === 'record' && atLineStart && next === ';' && !args.includes(';') && !args.includes('{')) {
    return drop(after + 1, 'member macro');
  }
  return end;
}

/**
 * A macro used as a statement without a semicolon, at the start of a statement in a
 * function body (after `;`, `{` or `}`), then another statement:
 *   - `skb_queue_walk(&q, skb) {` / `FOO(x) writel(...)`: a call followed by a name or
 *     a block is a loop-like macro: its name becomes `while` (or `if` when shorter),
 *     the arguments stay an expression (their calls are still seen), the statement
 *     after it its body;
 *   - `NVRAM_CLR_CE` alone on its line, then a statement: a capitalised word
 *     becomes an empty statement `;`.
 * Returns whether the shape applied.
 */
function statementMacro(word: string, caps: boolean, start: number, end: number): boolean {
  let k = afterBlanks(end, n);
  if (src.charCodeAt(k) === 40 /* ( */) {
    if (word.length < 2) return false;
    const close = matchParen(src, k, n);
    if (close < 0) return false;
    const next = nextSignificant(close + 1);
    if (next < 0) return false;
    const c = src.charCodeAt(next);
    if (c === 61 /* = */ && caps && /^DECLARE_/.test(word)) {
      // `DECLARE_BITMAP(ids, 64) = { ... };`: the initializer goes (a bitmap's zeros hold no site).
      const open = nextSignificant(next + 1);
      if (open < 0 || src[open] !== '{') return false;
      const shut = matchBrace(src, open, n);
      if (shut < 0) return false;
      blank(next, shut + 1);
      annotations.push({ name: 'macro declaration initializer', index: next, length: shut + 1 - next });
      return true;
    }
    if (c === 125 /* } */) return caps && semicolonAfter(close, next);
    if (!(isIdStart(c) || c === 123 /* { */)) return false;
    // `FOO(x) else`, `FOO(x) const`: not a statement after it.
    if (isIdStart(c)) {
      let j = next + 1;
      while (j < n && isIdChar(src.charCodeAt(j))) j++;
      const w = src.slice(next, j);
      if (w === 'else') return caps && semicolonAfter(close, next);
      // `MACRO(a) b;`: a declaration of b with a macro type (`DECLARE_X(a) b`) reads
      // the same way; only a name followed by `(`, `=`, `->`, `.`, `[` or `++` is a statement.
      let m = j;
      while (m < n && /\s/.test(src[m]!)) m++;
      const bareCapsLine = isCaps(w) && /^[ \t]*(?:\/\*.*?\*\/[ \t]*|\/\/.*)?\r?\n/.test(src.slice(j, j + 200));
      if (!STATEMENT_KEYWORDS.has(w) && !bareCapsLine && !/^(?:\(|=[^=]|->|\.|\[|\+\+|--|[-+*/|&^]=)/.test(src.slice(m, m + 2))) return false;
    }
    const kw = word.length >= 5 ? 'while' : 'if';
    chainClose = close;
    for (let q = 0; q < kw.length; q++) put(start + q, kw[q]!);
    for (let q = start + kw.length; q < end; q++) put(q, ' ');
    changed = true;
    annotations.push({ name: 'statement macro', index: start, length: end - start });
    return true;
  }
  if (!caps) return false;
  // The rest of the line is empty (or a comment), and a statement, `}` or a directive
  // (octeontx2's `MBOX_MESSAGES` then `#undef M`) follows.
  if (!/^[ \t]*(?:\/\*.*?\*\/[ \t]*|\/\/.*)?\r?\n/.test(src.slice(end, end + 200))) return false;
  const next = nextSignificant(end);
  if (next < 0 && !/^[^\n]*\n\s*#/.test(src.slice(end, end + 400))) return false;
  const c = next < 0 ? 35 : src.charCodeAt(next);
  if (!(isIdStart(c) || c === 123 || c === 125 || c === 35)) return false;
  blank(start, end);
  put(start, ';');
  annotations.push({ name: 'statement macro', index: start, length: end - start });
  // What follows starts a statement (the next macro of a run is one too).
  lastSig = ';';
  dropped = true;
  return true;
}

/**
 * `DEB(const char *stp;)`, `IF_CBR(printk("...");)` at the start of a statement (or as
 * an if's body): a macro whose argument is whole statements, ending in `;`. Its name
 * and parentheses go; the statements inside stay, as statements (their calls seen).
 * Returns the offset to go on from, or -1.
 */
function unwrapStatements(word: string, caps: boolean, start: number, end: number): number {
  if (!caps) return -1;
  let k = afterBlanks(end, n);
  if (src.charCodeAt(k) !== 40 /* ( */) return -1;
  const close = matchParen(src, k, n);
  if (close < 0) return -1;
  let b = close - 1;
  while (b > k && /\s/.test(src[b]!)) b--;
  // One argument only: `PP_ASSERT_WITH_CODE(c, "msg", return r;)` is an expression's macro.
  if (src[b] !== ';' || src.slice(k, close).includes('\n#') || argumentSpan(src, k, close, 1)) return -1;
  blank(start, k + 1);
  blank(close, close + 1);
  ignoreClose.add(close);
  annotations.push({ name: 'statement macro', index: start, length: close + 1 - start });
  lastSig = ';';
  dropped = true;
  return k + 1;
}

/**
 * `TW_PRINTK(h, d, 0x13, "msg")` then `else` or `}`: a statement macro whose own
 * expansion ends in `;` (the call reads as an expression statement missing its `;`).
 * A `;` goes in the first space between the `)` at `close` and `next`, when that is
 * space only. Returns whether it did.
 */
function semicolonAfter(close: number, next: number): boolean {
  for (let q = close + 1; q < next; q++) {
    const c = src[q];
    if (c === ' ' || c === '\t') {
      put(q, ';');
      changed = true;
      annotations.push({ name: 'statement macro without a semicolon', index: q, length: 1 });
      return true;
    }
    if (c !== '\n' && c !== '\r') return false;
  }
  return false;
}

/**
 * Shapes around types and strings the grammar does not know (each the first ERROR of
 * files in Debian 6.1's drivers/), none holding a site:
 *   - `__alignof__(*p)`: read as `sizeof`;
 *   - `typeof(x->f) v;`, `(typeof(p->m))~0U`: on one line, one type name `typeof_x__f_`
 *     (typeof's operand is not evaluated: no call in it runs);
 *   - `"a" __stringify(N) "b"`, `pr_fmt("x") " y"`: a string literal `""` and space;
 *   - `GP_ALL(DATA),` in an enum list: the enumerator's name stays, its arguments go;
 *   - `static DEFINE_PER_CPU(struct crng, crngs) = {`: read as `struct crng crngs = {`;
 *   - `struct_group(cdb, u8 a[16]; u8 b;);` in a struct: the members stay, as members.
 * Returns the offset to go on from (`end` when nothing applies).
 */
function typedShapes(word: string, caps: boolean, start: number, end: number, limit: number): number {
  if (word === '__alignof__' || word === '__alignof') {
    blank(start, end);
    for (let q = 0; q < 6; q++) put(start + q, 'sizeof'[q]!);
    annotations.push({ name: 'alignof as sizeof', index: start, length: end - start });
    return end;
  }
  let k = afterBlanks(end, limit);
  if (src.charCodeAt(k) !== 40 /* ( */) return end;
  if (word === 'typeof' || word === '__typeof__' || word === '__typeof') {
    const close = matchParen(src, k, limit);
    if (close < 0 || src.slice(start, close).includes('\n') || (out && out[start] !== src.charCodeAt(start))) return end;
    for (let q = end; q <= close; q++) if (!isIdChar(src.charCodeAt(q))) put(q, '_');
    changed = true;
    annotations.push({ name: 'typeof as a type name', index: start, length: close + 1 - start });
    return close + 1;
  }
  if ((word === '__stringify' || word === 'pr_fmt') && !/#[ \t]*define[ \t]+$/.test(src.slice(Math.max(0, start - 40), start))) {
    const close = matchParen(src, k, limit);
    if (close < 0) return end;
    if (word === 'pr_fmt') {
      const a = nextSignificant(k + 1);
      const b = nextSignificant(close + 1);
      if (!(a > 0 && src[a] === '"') && !(b > 0 && src[b] === '"')) return end;
    }
    blank(start, close + 1);
    put(start, '"');
    put(start + 1, '"');
    annotations.push({ name: 'string macro as a string', index: start, length: close + 1 - start });
    return close + 1;
  }
  if (limit !== n) return end;
  const top = stack[stack.length - 1];
  if (top === 'init' && enumLevels.has(stack.length) && (lastSig === '{' || lastSig === ',')) {
    const close = matchParen(src, k, n);
    if (close < 0) return end;
    const nx = nextSignificant(close + 1);
    if (nx < 0 || src[nx] === '=') return end;
    blank(k, close + 1);
    if (isIdStart(src.charCodeAt(nx))) put(k, ',');
    annotations.push({ name: 'enumerator macro call', index: start, length: close + 1 - start });
    if (isIdStart(src.charCodeAt(nx))) {
      lastSig = ',';
      dropped = true;
    }
    return close + 1;
  }
  if (stack.length === 0 && /^DEFINE_PER_CPU\w*$/.test(word)) {
    const close = matchParen(src, k, n);
    if (close < 0) return end;
    const nx = nextSignificant(close + 1);
    const type = argumentSpan(src, k, close, 0);
    const name = argumentSpan(src, k, close, 1);
    if (nx < 0 || src[nx] !== '=' || !type || !name || argumentSpan(src, k, close, 2) || /[[(]/.test(src.slice(type[0], type[1]))) return end;
    blank(start, k + 1);
    blank(type[1], name[0]);
    blank(close, close + 1);
    annotations.push({ name: 'per-cpu definition as a declaration', index: start, length: close + 1 - start });
    return close + 1;
  }
  const group = top === 'record' ? STRUCT_GROUP.get(word) : undefined;
  if (group !== undefined) {
    const close = matchParen(src, k, n);
    const members = close > 0 ? argumentSpan(src, k, close, group) : null;
    if (!members) return end;
    blank(start, members[0]);
    const nx = nextSignificant(close + 1);
    blank(close, nx > 0 && src[nx] === ';' ? nx + 1 : close + 1);
    annotations.push({ name: 'struct group', index: start, length: close + 1 - start });
    return end;
  }
  if (top === 'block' && (lastSig === ')' || (lastSig === 'a' && lastWord === 'else'))) {
    // `if (entries < 1)` then `IF_CBR(printk("...");)`.
    const inner = unwrapStatements(word, caps, start, end);
    if (inner >= 0) return inner;
  }
  if (top === 'block' && lastSig === ')' && caps) {
    // `if (x)` then `TW_PRINTK(...)` then `else`.
    const close = matchParen(src, k, n);
    const nx = close > 0 ? nextSignificant(close + 1) : -1;
    if (nx > 0 && /^else\b/.test(src.slice(nx, nx + 5))) semicolonAfter(close, nx);
  }
  return end;
}

/** Whether a `\n` stands in [a, b) (no slice of the text between). */
function lineEndBetween(a: number, b: number): boolean {
  const e = src.indexOf('\n', a);
  return e >= 0 && e < b;
}

/** The first offset from `k` (before `limit`) that is not a space or a tab. */
function afterBlanks(k: number, limit: number): number {
  while (k < limit) {
    const c = src.charCodeAt(k);
    if (c !== 32 && c !== 9) break;
    k++;
  }
  return k;
}

/** Offset of the next character that is not space or comment (-1 at the end). */
function nextSignificant(from: number): number {
  let k = from;
  while (k < n) {
    const c = src.charCodeAt(k);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11) k++;
    else if (c === 47 && src.charCodeAt(k + 1) === 42) {
      const e = src.indexOf('*/', k + 2);
      if (e < 0) return -1;
      k = e + 2;
    } else if (c === 47 && src.charCodeAt(k + 1) === 47) {
      const e = src.indexOf('\n', k);
      if (e < 0) return -1;
      k = e;
    } else if (c === 35 /* # */) return -1; // a directive: leave the shape alone
    else return k;
  }
  return -1;
}

/** Returns the offset to continue scanning from. */
/** `lookedUp`: whether the word may be in the sets (LOOKED_UP); when not, they are not asked. */
function handleWord(word: string, start: number, end: number, limit: number, lookedUp: boolean): number {
  // Capitalised like a macro's name: asked by most of the shapes below, once here.
  const caps = isCaps(word);
  if (lookedUp) {
    const to = annotationWord(word, start, end, limit);
    if (to >= 0) return to;
  }
  const to = typedShapes(word, caps, start, end, limit);
  if (to > end) return to;
  if (limit === n) {
    const to = kernelMacroShape(word, caps, start, end);
    if (to > end) return to;
  }
  if ((word === 'struct' || word === 'union' || word === 'enum') && limit === n && (lastSig === '(' || lastSig === ',') && stack[stack.length - 1] === '(' && callParens[callParens.length - 1] &&
    (blocksOpen > 0 || stack.includes('init') || fileCall[fileCall.length - 1])) {
    const to = typeArgument(word, start, end);
    if (to >= 0) return to;
  }
  if (word === 'static' && (stack.length === 0 || (stack[stack.length - 1] === 'block' && (lastSig === ';' || lastSig === '{' || lastSig === '}')))) {
    staticMacro(start, end, limit);
    return end;
  }
  if (limit === n && stack[stack.length - 1] === 'block' && (lastSig === ';' || lastSig === '{' || lastSig === '}' || lastSig === ':' || (lastSig === 'a' && lastWord === 'else') ||
    // `PHY_STATE_STR(DOWN)` then `PHY_STATE_STR(READY)` ...: the next of a run of statement macros.
    (lastSig === ')' && chainClose >= 0 && nextSignificant(chainClose + 1) === start)) && !(lookedUp && (NOT_CALL.has(word) || C_KEYWORDS.has(word)))) {
    const inner = unwrapStatements(word, caps, start, end);
    if (inner >= 0) return inner;
    if (statementMacro(word, caps, start, end)) return end;
  }
  if (limit === n && stack[stack.length - 1] === '(' && callParens[callParens.length - 1] && blocksOpen > 0) {
    const to = statementInArguments(word, caps, start, end, lookedUp);
    if (to >= 0) return to;
  }
  if ((word === 'offsetof' || word === '__builtin_offsetof') && limit === n) {
    offsetofArguments(end);
    return end;
  }
  if (word.length > 8 && word.includes('for_each') && ITERATOR_RE.test(word)) {
    iteratorMacro(word, start, end, limit);
  }
  return end;
}

/**
 * A word of one of the sets (BARE, WITH_ARGS, TYPE_ARG) at [start, end): blanked with
 * its arguments, or its type argument made a 0. Returns where to go on from, or -1
 * when the word is in none of them.
 */
function annotationWord(word: string, start: number, end: number, limit: number): number {
  if (BARE.has(word)) {
    annotations.push({ name: word, index: start, length: end - start });
    if (word === '__iomem') iomem.push(start);
    blank(start, end);
    return end;
  }
  if (WITH_ARGS.has(word)) {
    let k = end;
    while (k < limit && /\s/.test(src[k])) k++;
    if (src[k] !== '(') return end;
    const close = matchParen(src, k, limit);
    if (close < 0) return end;
    annotations.push({ name: word, index: start, length: close + 1 - start });
    blank(start, close + 1);
    return close + 1;
  }
  const typeArg = TYPE_ARG.get(word);
  if (typeArg !== undefined && typeArg >= 0) {
    // `container_of(p, struct foo, member)`: a type is no expression; stand a 0 in for it.
    let k = end;
    while (k < limit && /\s/.test(src[k])) k++;
    const close = src[k] === '(' ? matchParen(src, k, limit) : -1;
    const arg = close > 0 ? argumentSpan(src, k, close, typeArg) : null;
    if (arg) {
      blank(arg[0], arg[1]);
      put(arg[0], '0');
    }
    return end;
  }
  return -1;
}

/** `struct x` standing alone as a macro's argument at [start, end) (see handleWord): a 0 stands in. Returns where to go on from, or -1. */
function typeArgument(word: string, start: number, end: number): number {
  // `virtio_cread_le(vdev, struct virtio_balloon_config, num_pages, &v)` in a
  // function body, `UVERBS_ATTR_TYPE(struct x)` / `enum x` in an initializer,
  // `INTERVAL_TREE_DEFINE(struct s, ...)` at file scope: a type standing alone as a
  // macro argument is no expression; a 0 stands in. Not in a prototype's parameters
  // (file scope with a type before the name).
  const m = /^\s+[A-Za-z_]\w*(?:\s*\*)*\s*(?=[,)])/.exec(src.slice(end, end + 120));
  if (m) {
    const to = end + m[0].trimEnd().length;
    annotations.push({ name: `${word} type argument`, index: start, length: to - start });
    blank(start, to);
    put(start, '0');
    return to;
  }
  return -1;
}

/** `static` at [start, end) before a capitalised macro call standing alone (see handleWord): `static` goes. */
function staticMacro(start: number, end: number, limit: number): void {
  // `static DEVICE_ATTR(x, ...);` at file scope, `static DEFINE_RATELIMIT_STATE(rs, HZ, 2);`
  // in a function body: the macro call stands alone.
  const m = /^\s+(?:__\w+\s+)*(const\s+)?([A-Z][A-Z0-9_]*)\s*\(/.exec(src.slice(end, end + 120));
  if (m) {
    const open = src.indexOf('(', end + m[0].length - 1);
    const close = matchParen(src, open, limit);
    if (close > 0 && /^\s*;/.test(src.slice(close + 1, close + 10))) {
      // `static const DECLARE_TLV_DB_SCALE(s, -3450, 150, 0);`: `const` goes too.
      blank(start, m[1] ? end + m[0].lastIndexOf(m[2]!) : end);
    }
  }
}

/**
 * A word at [start, end) inside a macro call's arguments in a function body: statements
 * there (`if`, `goto`, `return`, `break`, a declaration) and pasted string macros.
 * Returns where to go on from, or -1 when none applies.
 */
function statementInArguments(word: string, caps: boolean, start: number, end: number, lookedUp: boolean): number {
  // Statements as a macro argument (nouveau's `nvkm_msec(device, 2000, if (!(nvkm_rd32(d, R) & 1)) break;)`):
  // `if` and `break;` go, the condition stays an argument expression (its calls seen).
  if (word === 'if' && /^\s*\(/.test(src.slice(end, end + 20)) && (lastSig === ',' || lastSig === ';')) {
    blank(start, end);
    annotations.push({ name: 'statement in a macro argument', index: start, length: end - start });
    return end;
  }
  if (word === 'goto' && (lastSig === ',' || lastSig === ';') && /^\s+[A-Za-z_]\w*\s*[;,)]/.test(src.slice(end, end + 80))) {
    // `PP_ASSERT_WITH_CODE(c, "msg", goto error);`: the label stays, as a name.
    blank(start, end);
    annotations.push({ name: 'statement in a macro argument', index: start, length: end - start });
    return end;
  }
  if (word === 'return' && lastSig === ',') {
    // `PP_ASSERT_WITH_CODE(cond, "msg", return result);`: the value stays an argument.
    blank(start, end);
    annotations.push({ name: 'statement in a macro argument', index: start, length: end - start });
    return end;
  }
  if ((lastSig === ',' || lastSig === ';') && maySpace(src.charCodeAt(end)) && /^\s+[A-Za-z_]\w*\s*=[^=]/.test(src.slice(end, end + 80)) && !(lookedUp && C_KEYWORDS.has(word))) {
    // `nvkm_msec(d, 2000, u32 tmp = nvkm_rd32(d, R); if (tmp & 1) break;)`: a
    // declaration there becomes its assignment.
    blank(start, end);
    annotations.push({ name: 'declaration in a macro argument', index: start, length: end - start });
    return end;
  }
  if (caps && (src.charCodeAt(end) === 32 || src.charCodeAt(end) === 9) && /^[ \t]+[A-Z][A-Z0-9_]*[A-Z0-9]\s*[,)]/.test(src.slice(end, end + 80))) {
    // `printk(KERN_INFO PMC551_VERSION)`, `request_module(MDIO_MODULE_PREFIX MDIO_ID_FMT, ...)`:
    // string macros pasted together; the last one stays.
    blank(start, end);
    annotations.push({ name: 'pasted string macro in an argument', index: start, length: end - start });
    return end;
  }
  if (word === 'break' || word === 'continue') {
    // The word goes; its `;` is read like any statement's there (a `,` before the
    // next statement, space before the `)`).
    if (/^\s*;/.test(src.slice(end, end + 20))) {
      blank(start, end);
      annotations.push({ name: 'statement in a macro argument', index: start, length: end - start });
      return end;
    }
  }
  return -1;
}

/** The arguments of an `offsetof` whose name ends at `end` (see handleWord). */
function offsetofArguments(end: number): void {
  // tree-sitter-c's offsetof takes a type and one field name: `offsetof(struct s, a[i].b)`
  // keeps `a`, `offsetof(typeof(*p), f)` gets `int` for its type (neither holds a site).
  let k = end;
  while (k < n && /\s/.test(src[k]!)) k++;
  const close = src[k] === '(' ? matchParen(src, k, n) : -1;
  if (close > 0) {
    const t = argumentSpan(src, k, close, 0);
    const f = argumentSpan(src, k, close, 1);
    if (t && /^(?:typeof|__typeof__|__typeof)\s*\(/.test(src.slice(t[0], t[1]))) {
      blank(t[0], t[1]);
      for (let q = 0; q < 3; q++) put(t[0] + q, 'int'[q]!);
      annotations.push({ name: 'offsetof typeof', index: t[0], length: t[1] - t[0] });
    }
    if (f) {
      const m = /^[A-Za-z_]\w*/.exec(src.slice(f[0], f[1]));
      if (m && m[0].length < f[1] - f[0] && !src.slice(f[0], f[1]).includes('\n#')) {
        blank(f[0] + m[0].length, f[1]);
        annotations.push({ name: 'offsetof member designator', index: f[0], length: f[1] - f[0] });
      }
    }
  }
}

/** An iterator macro's name at [start, end) (see handleWord): `while` when a statement follows its call. */
function iteratorMacro(word: string, start: number, end: number, limit: number): void {
  // `list_for_each_entry(a, b, c) stmt` -> `while              (a, b, c) stmt`:
  // a comma expression in a while condition keeps the arguments' calls visible.
  let k = afterBlanks(end, limit);
  if (src.charCodeAt(k) === 40 /* ( */) {
    const close = matchParen(src, k, limit);
    if (close > 0) {
      let m = close + 1;
      while (m < limit && /\s/.test(src[m])) m++;
      if (src[m] !== ';' && src[m] !== ',' && src[m] !== ')') {
        for (let q = 0; q < 5; q++) put(start + q, 'while'[q]!);
        for (let q = start + 5; q < end; q++) put(q, ' ');
        changed = true;
        annotations.push({ name: word, index: start, length: end - start });
      }
    }
  }
}

/** [start, end) of the nth top-level argument between `open` and `close`, trimmed. */
function argumentSpan(src: string, open: number, close: number, nth: number): [number, number] | null {
  let depth = 0;
  let index = 0;
  let from = open + 1;
  for (let k = open + 1; k <= close; k++) {
    const ch = src[k];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if ((ch === ')' || ch === ']' || ch === '}') && k < close) depth--;
    else if ((ch === ',' && depth === 0) || k === close) {
      if (index === nth) {
        let a = from;
        let b = k;
        // A line continuation (`, \` then the argument on the next line of a #define) is space.
        const space = (q: number) => /\s/.test(src[q]!) || (src[q] === '\\' && /^\\\r?\n/.test(src.slice(q, q + 3)));
        while (a < b && space(a)) a++;
        while (b > a && /\s/.test(src[b - 1]!)) b--;
        return a < b ? [a, b] : null;
      }
      index++;
      from = k + 1;
    }
  }
  return null;
}

/** Index of the bracket closing the `openCh` at `open` (its pair `closeCh`), skipping strings; -1 if none. */
function matchPair(src: string, open: number, limit: number, openCh: string, closeCh: string): number {
  let depth = 0;
  for (let k = open; k < limit; k++) {
    const ch = src[k];
    if (ch === '"' || ch === "'") {
      k++;
      while (k < limit && src[k] !== ch && src[k] !== '\n') k += src[k] === '\\' ? 2 : 1;
      continue;
    }
    if (ch === openCh) depth++;
    else if (ch === closeCh && --depth === 0) return k;
  }
  return -1;
}

/** Index of the brace closing the one at `open`, skipping strings; -1 if none. */
function matchBrace(src: string, open: number, limit: number): number {
  return matchPair(src, open, limit, '{', '}');
}

/** Index of the parenthesis closing the one at `open`, skipping strings; -1 if none. */
export function matchParen(src: string, open: number, limit = src.length): number {
  return matchPair(src, open, limit, '(', ')');
}
