// The object's side of the cross-check (issue 14): accessors the compiled code
// performs at lines of the file where the source analysis found no site, because a
// macro, a parse error or a wrapper it could not see hid the call. DWARF says
// where: an inlined instance's DW_AT_call_file/line, or the line row of a call to
// an out-of-line accessor. These are reported as "seen in the object only"
// instead of being dropped.

import type { InlinedInstance } from '../../binary/index';
import type { Site } from '../../c/types';
import { CATALOGUE, accessorFor, inlineAccessorFor } from '../../c/catalogue';
import { profileData } from '../../x86/profiles';
import type { Profile } from '../../x86/profiles';
import type { OpenedObject } from '../objects';
import type { CompiledInstruction, FileCompiled, ObjectOnlySite, SiteCompiled } from '../compiled';
import type { FunctionView } from '../../c/types';
import { callEntry, performedIn } from './describe';
import { sameFile } from './facts';
import { openCallStart, utf16Column } from './sourceLines';
import type { FunctionCode } from '../code';

export interface ObjectOnlyInput {
  o: OpenedObject;
  /** The file's functions (the dataflow's, not a whole vmlinux). */
  functions: readonly FunctionCode[];
  /** Inlined instances of the file's units. */
  instances: readonly InlinedInstance[];
  sites: readonly Site[];
  lines: readonly string[];
  source: string;
  profile: Profile;
}

export function objectOnlySites(input: ObjectOnlyInput): ObjectOnlySite[] {
  const { o, functions, instances, sites, lines, source, profile } = input;
  // As the profile's kernel builds each accessor (__iowrite32_copy: inline since 6.10).
  const kernel = profileData(profile).kernel;
  // Lines a site covers, and the line its enclosing macro call starts on (gcc records that one).
  const covered = new Set<number>();
  for (const s of sites) {
    for (let l = s.range.start.line; l <= s.range.end.line; l++) covered.add(l + 1);
    const start = openCallStart(lines, s.range.start.line, s.range.start.character);
    if (start !== undefined) covered.add(start + 1);
  }
  const out = new Map<string, ObjectOnlySite>();
  const add = (line: number, column: number, accessor: string, how: ObjectOnlySite['how'], ins: CompiledInstruction[]) => {
    const k = `${line}:${column}:${accessor}`;
    const hit = out.get(k);
    if (hit) hit.instructions.push(...ins.filter((i) => !hit.instructions.some((j) => j.address === i.address)));
    else out.set(k, { line, column, accessor, how, instructions: ins });
  };

  for (const inst of instances) {
    const acc = inlineAccessorFor(inst.name, kernel);
    if (!acc || !inst.callLine || !sameFile(inst.callFile, source) || covered.has(inst.callLine)) continue;
    const performer = { accessorKind: acc.kind, width: acc.width, name: inst.name! };
    const ins = [...performedIn(o, inst.ranges, performer, profile, 'inlined-accessor')].map((p) => p.described());
    if (ins.length) add(inst.callLine, inst.callColumn ?? 0, inst.name!, 'inlined', ins);
  }

  // Calls to out-of-line accessors (ioread32, memcpy_toio...) in the file's own functions.
  for (const fn of functions) {
    for (const insn of o.code.instructions(fn)) {
      if (insn.mnemonic !== 'call' && insn.mnemonic !== 'jmp') continue;
      const callee = o.code.callTarget(fn, insn);
      const acc = callee ? accessorFor(callee, kernel) : undefined;
      if (!callee || !acc || acc.inline) continue;
      const c = callEntry(o, fn, insn, callee, acc.compiles ?? 'out of line');
      if (!c.file || !sameFile(c.file, source) || !c.line || covered.has(c.line)) continue;
      add(c.line, c.column, callee, 'call', [c]);
    }
  }
  return [...out.values()].sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * The object-only accessors as sites of the file, each with its compiled form, so
 * that findings, hover, diagnostics, counts and reports treat them like any other
 * site (marked `objectOnly`). Indices continue after the source's own sites.
 */
export function objectOnlyAsSites(compiled: FileCompiled, firstIndex: number, functions: readonly FunctionView[], lines: readonly string[]): { site: Site; compiled: SiteCompiled }[] {
  const out: { site: Site; compiled: SiteCompiled }[] = [];
  for (const x of compiled.objectOnly ?? []) {
    const acc = CATALOGUE.get(x.accessor);
    if (!acc) continue;
    const line = x.line - 1;
    const text = lines[line] ?? '';
    // DWARF's column is 1-based bytes; the token there (a macro's name, usually) is the range.
    let col = x.column > 0 ? utf16Column(text, x.column) : text.search(/\S/);
    if (col < 0 || col > text.length) col = 0;
    const word = /^[A-Za-z_]\w*/.exec(text.slice(col))?.[0] ?? text.slice(col).trimEnd();
    const range = { start: { line, character: col }, end: { line, character: col + Math.max(1, word.length) } };
    const fn = functions.find((f) => f.range.start.line <= line && line <= f.range.end.line);
    const site: Site = {
      kind: 'call', accessor: x.accessor, base: x.accessor, accessorKind: acc.kind, width: acc.width, rule: acc.rule,
      function: fn?.name ?? null, range, callRange: range, address: '', via: [], objectOnly: { how: x.how },
    };
    out.push({ site, compiled: { siteIndex: firstIndex + out.length, instructions: x.instructions } });
  }
  return out;
}
