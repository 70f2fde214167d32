// From compiled forms to what the user sees: a site whose instruction the #VE
// handler rejects becomes an Error naming the instruction, a decoded-but-
// mis-emulated one a Warning, and the rest keep their source severity with the
// instruction named in the message.

import type { Site } from '../c/types';
import type { CompiledInstruction, FileCompiled } from './compiled';
import type { Finding, Severity } from './engine';

const RANK: Record<Severity, number> = { hint: 0, information: 1, warning: 2, error: 3 };

export function isRejected(i: CompiledInstruction): boolean {
  return !i.unreached && (i.verdict === 'decode-failed' || i.verdict === 'rejected-movs' || i.verdict === 'rejected-string-io');
}

function at(i: CompiledInstruction): string {
  return `\`${i.text}\` (${i.function}+0x${i.offset.toString(16)})`;
}

export function applyCompiled(compiled: FileCompiled, sites: readonly Site[], bySite: Map<Site, Finding>): void {
  for (const sc of compiled.sites) {
    const site = sites[sc.siteIndex];
    const f = site && bySite.get(site);
    if (!f) continue;
    if (sc.note) f.compiledNote = sc.note;
    if (!sc.instructions.length) continue;
    f.instructions = sc.instructions;
    const rejected = sc.instructions.filter(isRejected);
    const mis = sc.instructions.filter((i) => i.verdict === 'misemulated');
    const raise = (s: Severity) => {
      if (RANK[s] > RANK[f.severity]) f.severity = s;
    };
    if (rejected.length) {
      raise('error');
      const r = rejected[0]!;
      f.message = `Compiled to ${at(r)}, which the #VE handler cannot emulate: ${r.summary}${rejected.length > 1 ? ` (${rejected.length} such instructions)` : ''}. ${f.message}`;
    } else if (mis.length) {
      raise('warning');
      const m = mis[0]!;
      f.message = `Compiled to ${at(m)}: the #VE handler emulates it wrongly (${m.misemulation.join(', ')}). ${f.message}`;
    } else {
      const names = [...new Set(sc.instructions.map((i) => `\`${i.text}\``))].slice(0, 3).join(', ');
      const verdict = sc.instructions.every((i) => i.verdict === 'out-of-line') ? 'out of line' : 'emulated';
      f.message = `${f.message} Compiled: ${names} (${verdict}).`;
    }
  }
}
