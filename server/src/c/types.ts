// Types at the boundary between the C side (parsing, sites) and its consumers
// (audit engine, LSP server, CLI). Positions are 0-based; columns count UTF-16
// code units, which is what LSP speaks and what web-tree-sitter reports for a
// JavaScript string.

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** What an accessor does, as the #VE handler sees it. */
export type AccessorKind =
  | 'mmio-read'
  | 'mmio-write'
  | 'mmio-string'
  | 'port-in'
  | 'port-out'
  | 'port-string'
  | 'msr-read'
  | 'msr-write'
  | 'cpuid'
  | 'hlt';

/** Stable diagnostic codes. Users key severity overrides and triage on these. */
export type RuleCode =
  | 'tdx-ve-mmio'
  | 'tdx-ve-mmio-string'
  | 'tdx-ve-port-io'
  | 'tdx-ve-port-string'
  | 'tdx-ve-msr'
  | 'tdx-ve-cpuid'
  | 'tdx-ve-hlt'
  | 'tdx-iomem-deref'
  | 'tdx-iomem-libc'
  | 'tdx-mmio-untyped-deref'
  | 'tdx-movs-copy'
  | 'tdx-movdir64b';

export type SiteKind =
  /** A call of a catalogued accessor (or of a derived wrapper). */
  | 'call'
  /** `*p`, `p[i]`, `p->f` where p is declared `__iomem`. */
  | 'iomem-deref'
  /** An `__iomem` pointer handed to plain memcpy/memset/memcmp/str*. */
  | 'iomem-libc'
  /**
   * A dereference (or plain memcpy/memset/str* call) of a pointer that is not declared
   * `__iomem` where it is used but whose value comes from a mapping API (ioremap...) or
   * an `__iomem` declaration: the annotation was cast away or never written.
   */
  | 'untyped-deref';

/** One step of indirection between a site and the accessor that really does the access. */
export interface ViaStep {
  /** The wrapper or helper called at this step. */
  name: string;
  /** Where the wrapper is defined (file URI or path as given). */
  file: string;
  /** Range of the accessor call (or deeper wrapper call) inside the wrapper's body. */
  range: Range;
  /** The callee named at that inner call. */
  callee: string;
}

export interface Site {
  kind: SiteKind;
  /** Callee name as written (`writel`, `foo_writel`), or the dereference operator for derefs. */
  accessor: string;
  /** The catalogued accessor this resolves to (same as accessor unless via a wrapper). */
  base: string;
  accessorKind: AccessorKind;
  /** Access width in bytes; 0 when it depends on a runtime length (string/copy forms). */
  width: number;
  rule: RuleCode;
  /** Enclosing function definition, or null at file scope (macro bodies). */
  function: string | null;
  /** Range of the callee name, or of the dereferenced expression for a deref. */
  range: Range;
  /** Range of the whole call or dereference expression. */
  callRange: Range;
  /** Source text of the address (or port/MSR number) argument; '' when none. */
  address: string;
  /** Wrapper chain, outermost first, when the site calls a derived accessor. */
  via: ViaStep[];
  /** For derefs: the __iomem declaration that makes this an MMIO pointer. */
  declaredAt?: { file: string; range: Range; name: string };
  /**
   * For untyped derefs: how the MMIO value got from `declaredAt` to the use, in order
   * (stored in a variable or field, returned by a helper, passed as an argument).
   */
  path?: { file: string; range: Range; message: string }[];
  /** For untyped derefs: the instruction shape gcc is expected to pick, when the source says. */
  shape?: 'rmw' | 'test' | 'widening' | 'copy';
  /**
   * Not found in the source: the object performs this accessor here (an inlined
   * instance's call line, or a call's line row) where the source analysis saw no
   * call, because a macro or a parse error hid it (audit/compiled/objectOnly.ts).
   */
  objectOnly?: { how: 'inlined' | 'call' };
  /**
   * The site stands in code tree-sitter could not fully read (an ERROR region of the
   * parse): the call is unambiguous from its tokens (c/errorRegions.ts), the statement
   * around it is not.
   */
  inParseError?: true;
}

/** Function-level view: where a #VE lands once static helpers are inlined. */
export interface FunctionView {
  name: string;
  range: Range;
  /** Sites in this function's own body. */
  direct: number;
  /** Same-file static/inline helpers through which it reaches further sites. */
  via: string[];
  /** Sites reached through those helpers (transitively). */
  reached: number;
  isStatic: boolean;
  isInline: boolean;
}

export interface SourceAnalysis {
  sites: Site[];
  functions: FunctionView[];
  /** ERROR and MISSING nodes left after annotation handling: a parse-quality signal. */
  parseErrors: number;
}
