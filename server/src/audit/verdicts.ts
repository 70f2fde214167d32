// From compiled forms to what the user sees: a site whose instruction the #VE
// handler rejects becomes an Error naming the instruction, a decoded-but-
// mis-emulated one a Warning, and the rest keep their source severity with the
// instruction named in the message. Every verdict and every clause about the
// handler is read off the instruction's handler record (x86/handlers.ts via
// CompiledInstruction.handler); an instruction without one (a CALL, or one built
// by hand) falls back to its verdict and summary.

import type { Site } from '../c/types';
import type { CompiledInstruction, FileCompiled } from './compiled';
import type { Finding } from './engine';
import { handlerName } from '../x86/handlers';
import { atLeast, severityOfVerdict, withoutVerdict } from './findings';

/** The handler fails for these bytes (the guest oopses or is terminated), on a path the profile's kernel runs. */
export function isRejected(i: CompiledInstruction): boolean {
  return !i.unreached && i.verdict !== 'out-of-line' && severityOfVerdict(i.verdict) === 'error';
}

const where = (i: CompiledInstruction) => `${i.function}+0x${i.offset.toString(16)}`;

/** What the handler does with a rejected instruction, in the words of an oops. */
const REJECTED: Partial<Record<CompiledInstruction['verdict'], string>> = {
  'decode-failed': 'cannot be decoded',
  rejected: 'fails a handler check',
  'rejected-movs': 'is rejected (MOVS)',
  'rejected-string-io': 'is rejected (string I/O)',
};

/** The exception the instruction takes under its profile. */
const exceptionOf = (i: CompiledInstruction) => (i.handler?.platform === 'sev-es' ? '#VC' : '#VE');

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
    // The message leads with the instruction's verdict and where it lands; the
    // source message follows without its own (now superseded) verdict.
    const rest = withoutVerdict(f.message);
    const handler = (i: CompiledInstruction) => ` Handler: ${i.summary.replace(/\.$/, '')}.`;
    if (rejected.length) {
      f.severity = atLeast(f.severity, 'error');
      const r = rejected[0]!;
      const more = rejected.length > 1 ? ` (and ${rejected.length - 1} more such instruction${rejected.length > 2 ? 's' : ''})` : '';
      const fate = r.verdict === 'rejected' && r.handler ? `fails ${handlerName(r.handler)}()'s check (${r.handler.outcome.code ?? 'error'})` : REJECTED[r.verdict] ?? 'is rejected';
      const lead = r.handler?.platform === 'sev-es' ? 'terminates' : 'oops';
      f.message = `${lead}: \`${r.text}\` ${fate} — ${where(r)}${more}. ${rest}${handler(r)}`;
    } else if (mis.length) {
      f.severity = atLeast(f.severity, 'warning');
      const m = mis[0]!;
      f.message = `mis-emulated: \`${m.text}\` — ${where(m)} (${m.misemulation.join(', ')}). ${rest}${m.handler ? handler(m) : ''}`;
    } else if (sc.instructions.every((i) => i.verdict === 'out-of-line')) {
      // The #VE is taken in the callee: what the source says about it still leads.
      const names = [...new Set(sc.instructions.map((i) => `\`${i.text}\``))].slice(0, 3).join(', ');
      f.message = `${f.message} Compiled: ${names} (out of line).`;
    } else if (sc.instructions.every((i) => i.verdict === 'not-intercepted' || i.verdict === 'out-of-line')) {
      const n = sc.instructions.find((i) => i.verdict === 'not-intercepted')!;
      f.message = `no ${exceptionOf(n)}: \`${n.text}\` — ${where(n)}. ${rest}`;
    } else {
      const first = sc.instructions.find((i) => i.verdict === 'emulated') ?? sc.instructions[0]!;
      const others = new Set(sc.instructions.map((i) => i.text)).size - 1;
      f.message = `emulated ${exceptionOf(first)}: \`${first.text}\` — ${where(first)}${others > 0 ? ` (and ${others} more)` : ''}. ${rest}`;
    }
  }
}
