// Types of the compiled form of a site: which object was used, which
// instructions the compiler emitted for the site, and what the #VE handler does
// with each. Shared by the join (compiled/match.ts), the LSP server, the CLI, the report
// writers and the disassembly view; keep it stable.

import type { Flag } from '../x86/classify';
import type { HandlerClass, HandlerMisemulation, HandlerVerdict, HandlerView } from '../x86/handlers';

export type InstructionClass = HandlerClass | 'CALL';

/**
 * x86/handlers.ts's verdict (emulated, misemulated, rejected-movs, decode-failed,
 * rejected-string-io, and since the handler model: 'rejected' for a check the bytes
 * alone fail, 'not-intercepted' for HLT under SEV-ES), or 'out-of-line' for a CALL.
 */
export type InstructionVerdict = HandlerVerdict | 'out-of-line';

/** How an instruction was tied to its source site. */
export type MatchKind =
  /** Inside an inlined instance of the accessor whose call_file/line/column is the site. */
  | 'inlined-accessor'
  /**
   * The MMIO dataflow (compiled/dataflow.ts) says its address derives from MMIO, and
   * DWARF's line rows put it at the site (or, for a load gcc fused into the next
   * line's test, just after it).
   */
  | 'dataflow'
  /**
   * Only the line table ties it to the site, by width and direction: the dataflow had
   * nothing to start from in this function (no DWARF type, an MMIO pointer from
   * another object), so this is a guess.
   */
  | 'line-fallback'
  /** The site calls an out-of-line accessor: this is the CALL; the #VE lands in the callee. */
  | 'call'
  /** Binary-only inventory (no source): an inlined accessor instance found in the DWARF. */
  | 'inventory';

export interface CompiledInstruction {
  /** Object file the instruction was read from (absolute path). */
  object: string;
  /** Symbol holding the instruction: where a #VE would land. */
  function: string;
  /** Offset from the start of that symbol. */
  offset: number;
  /** Section name (.text, .text.unlikely, .init.text ...). */
  section: string;
  /** Address as DWARF sees it, hex (synthetic section<<32|offset for a .o). */
  address: string;
  /** Hex bytes, space separated. */
  bytes: string;
  /** Intel syntax. */
  text: string;
  /** insn_decode_mmio class for MMIO; the exit kind for port I/O, MSR, CPUID, HLT. Equals handler.class. */
  class: InstructionClass;
  size: number;
  /** Equals handler.verdict (out-of-line for a CALL). */
  verdict: InstructionVerdict;
  misemulation: HandlerMisemulation[];
  flags: Flag[];
  /** One-line explanation of the verdict: summaryText(handler) (x86/handlers.ts). */
  summary: string;
  /**
   * What the profile's #VE/#VC handler does with the instruction (x86/handlers.ts,
   * computed once where the instruction is described): exit, hypercall registers or
   * GHCB fields, register effect, RIP advance, verdict, mis-emulation, outcome.
   * Hover, findings and reports render it; absent for a CALL.
   */
  handler?: HandlerView;
  /** Where DWARF puts it: innermost frame file:line:column. */
  file: string | undefined;
  line: number;
  column: number;
  /** Inline chain outermost-last, e.g. ['writel', 'foo_write', 'foo_probe']. */
  inlineChain: string[];
  match: MatchKind;
  /**
   * Set when the instruction exists but the profile's kernel never runs it, e.g.
   * memcpy_fromio's `rep movs` branch, which TDX guests skip
   * (CC_ATTR_GUEST_UNROLL_STRING_IO): says why. Not a failure.
   */
  unreached?: string;
  /** For a CALL: the callee, and what it does under the profile. */
  callee?: string;
  calleeNote?: string;
}

export type ObjectState =
  | 'fresh'
  /** Object older than the source file. */
  | 'older-than-source'
  /** The source's lines no longer match what DWARF records for it (edited, unsaved, or other version). */
  | 'lines-differ'
  /** No object found where we looked. */
  | 'missing'
  /** Object present but unusable: no DWARF, wrong architecture, malformed. */
  | 'unusable';

export interface ObjectInfo {
  /** Path of the object used, or undefined when none was found. */
  path: string | undefined;
  state: ObjectState;
  /** Human-readable reason for a non-fresh state (shown to the user). */
  message: string;
  /** Object modification time (ms since epoch) and age relative to the source. */
  mtimeMs?: number;
  sourceMtimeMs?: number;
  /** Where it came from. */
  origin?: 'beside-source' | 'build-dir' | 'module' | 'vmlinux' | 'explicit' | 'compiled';
  /** DW_AT_producer of the unit (compiler and flags). */
  producer?: string;
}

/** Compiled form of one source site. */
export interface SiteCompiled {
  /** Index into FileAudit.analysis.sites. */
  siteIndex: number;
  instructions: CompiledInstruction[];
  /** Set when nothing was found for the site, saying why (optimised out, no object...). */
  note?: string;
}

/** Compiled form of a whole file. */
export interface FileCompiled {
  object: ObjectInfo;
  sites: SiteCompiled[];
  /** Object-based function view: symbol -> number of MMIO/port instructions it holds. */
  functions: { name: string; instructions: number; verdicts: Partial<Record<InstructionVerdict, number>> }[];
  /**
   * Accessors the object performs at lines of this file where the source analysis
   * found no site (a macro or parse error hid it): missed sites, "seen in the object only".
   */
  objectOnly?: ObjectOnlySite[];
}

/** An accessor the object shows at a source line the source analysis has no site for. */
export interface ObjectOnlySite {
  /** 1-based line and column, as DWARF gives the call. */
  line: number;
  column: number;
  accessor: string;
  /** How the object shows it: an inlined instance, or a call to the out-of-line accessor. */
  how: 'inlined' | 'call';
  instructions: CompiledInstruction[];
}

/** The stable JSON form of an instruction (CLI scan, report JSON, SARIF properties). */
export function instructionJson(i: CompiledInstruction) {
  return {
    object: i.object,
    function: i.function,
    offset: i.offset,
    section: i.section,
    address: i.address,
    bytes: i.bytes,
    text: i.text,
    class: i.class,
    size: i.size,
    verdict: i.verdict,
    misemulation: [...i.misemulation],
    flags: [...i.flags],
    summary: i.summary,
    file: i.file ?? null,
    line: i.line,
    column: i.column,
    inlineChain: [...i.inlineChain],
    match: i.match,
    ...(i.unreached !== undefined ? { unreached: i.unreached } : {}),
    ...(i.callee !== undefined ? { callee: i.callee } : {}),
    ...(i.calleeNote !== undefined ? { calleeNote: i.calleeNote } : {}),
    ...(i.handler !== undefined ? { handler: i.handler } : {}),
  };
}
