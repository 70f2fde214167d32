// From compiled forms to what the user sees: a site whose instruction the #VE
// handler rejects becomes an Error naming the instruction, a decoded-but-
// mis-emulated one a Warning, and the rest keep their source severity with the
// instruction named in the message.

import type { Site } from '../c/types';
import type { CompiledInstruction, FileCompiled } from './compiled';
import type { Finding, Severity } from './engine';
import { withoutVerdict } from './findings';

const RANK: Record<Severity, number> = { hint: 0, information: 1, warning: 2, error: 3 };

export function isRejected(i: CompiledInstruction): boolean {
  return !i.unreached && (i.verdict === 'decode-failed' || i.verdict === 'rejected-movs' || i.verdict === 'rejected-string-io');
}

const where = (i: CompiledInstruction) => `${i.function}+0x${i.offset.toString(16)}`;

/** What the handler does with a rejected instruction, in the words of an oops. */
const REJECTED: Partial<Record<CompiledInstruction['verdict'], string>> = {
  'decode-failed': 'cannot be decoded',
  'rejected-movs': 'is rejected (MOVS)',
  'rejected-string-io': 'is rejected (string I/O)',
};

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
    // The message leads with the instruction's verdict and where it lands; the
    // source message follows without its own (now superseded) verdict.
    const rest = withoutVerdict(f.message);
    if (rejected.length) {
      raise('error');
      const r = rejected[0]!;
      const more = rejected.length > 1 ? ` (and ${rejected.length - 1} more such instruction${rejected.length > 2 ? 's' : ''})` : '';
      f.message = `oops: \`${r.text}\` ${REJECTED[r.verdict] ?? 'is rejected'} — ${where(r)}${more}. ${rest} Handler: ${r.summary.replace(/\.$/, '')}.`;
    } else if (mis.length) {
      raise('warning');
      const m = mis[0]!;
      f.message = `mis-emulated: \`${m.text}\` — ${where(m)} (${m.misemulation.join(', ')}). ${rest}`;
    } else if (sc.instructions.every((i) => i.verdict === 'out-of-line')) {
      // The #VE is taken in the callee: what the source says about it still leads.
      const names = [...new Set(sc.instructions.map((i) => `\`${i.text}\``))].slice(0, 3).join(', ');
      f.message = `${f.message} Compiled: ${names} (out of line).`;
    } else {
      const first = sc.instructions.find((i) => i.verdict === 'emulated') ?? sc.instructions[0]!;
      const others = new Set(sc.instructions.map((i) => i.text)).size - 1;
      f.message = `emulated #VE: \`${first.text}\` — ${where(first)}${others > 0 ? ` (and ${others} more)` : ''}. ${rest}`;
    }
  }
}
