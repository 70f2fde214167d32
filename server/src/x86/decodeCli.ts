// `tdx-audit decode <hex...> [--profile P] [--format text|json|jsonl]`
// server/src/cli.ts dispatches the verb here.
//
// Output shapes:
//   text  - one block per hex argument.
//   jsonl - one JSON object per hex argument, one per line.
//   json  - always a JSON array, even for a single argument, so a consumer
//           never has to check which shape it got.
// Exit codes: 0 success, 2 usage error or bad hex.
import { classifyMmio, type MmioVerdict } from './classify';
import { DEFAULT_PROFILE, isProfile, PROFILE_IDS, type Profile } from './profiles';
import { handle, type HandlerRecord } from './handlers';

type Format = 'text' | 'json' | 'jsonl';

export interface DecodeRecord {
  input: string;
  bytes: string;
  length: number;
  text: string;
  class: MmioVerdict['class'];
  kernelEnum: string;
  size: number;
  direction: MmioVerdict['direction'];
  verdict: MmioVerdict['verdict'];
  misemulation: MmioVerdict['misemulation'];
  flags: MmioVerdict['flags'];
  warn: boolean;
  regSlot: string | null;
  profile: Profile;
  consequence: string | null;
  runtimeChecks: MmioVerdict['runtimeChecks'];
  tdvmcall: MmioVerdict['tdvmcall'];
  /** A check the bytes alone make fail (0x67 under the user-half check, two segment overrides). */
  decidedFailure: MmioVerdict['decidedFailure'];
  /** x86/handlers.ts's record for the exit this instruction raises (port I/O, CPUID, MSR, HLT too), without the MMIO view repeated. */
  handler: Omit<HandlerRecord, 'mmio'>;
  notes: string[];
}

export class HexError extends Error {}

/** Accepts "8b 07", "8b07", "0x8b,0x07", "\\x8b\\x07"; whitespace/commas separate bytes. */
export function parseHex(s: string): Uint8Array {
  const trimmed = s.trim();
  if (!trimmed) throw new HexError('empty hex string');
  const tokens = trimmed.split(/[\s,]+/).filter(Boolean);
  const out: number[] = [];
  for (const tok0 of tokens) {
    let tok = tok0.replace(/\\x/gi, '');
    if (/^0x/i.test(tok)) {
      tok = tok.slice(2);
      if (tok.length === 1) tok = '0' + tok;
    }
    if (!/^[0-9a-fA-F]+$/.test(tok)) throw new HexError(`not a hex byte string: "${tok0}"`);
    if (tok.length % 2 !== 0) throw new HexError(`odd number of hex digits in "${tok0}"`);
    for (let i = 0; i < tok.length; i += 2) out.push(parseInt(tok.slice(i, i + 2), 16));
  }
  if (out.length > 15) throw new HexError(`an x86 instruction is at most 15 bytes; got ${out.length} in "${s}"`);
  return Uint8Array.from(out);
}

export function decodeRecord(input: string, profile: Profile): DecodeRecord {
  const bytes = parseHex(input);
  // handle() already ran the MMIO classification for an MMIO exit: not analysed twice.
  const { mmio, ...handler } = handle(bytes, profile);
  const v = mmio ?? classifyMmio(bytes, profile);
  return {
    input,
    bytes: v.bytes,
    length: v.length,
    text: v.text,
    class: v.class,
    kernelEnum: v.kernelEnum,
    size: v.size,
    direction: v.direction,
    verdict: v.verdict,
    misemulation: v.misemulation,
    flags: v.flags,
    warn: v.warn,
    regSlot: v.regSlot,
    profile: v.profile,
    consequence: v.consequence,
    runtimeChecks: v.runtimeChecks,
    tdvmcall: v.tdvmcall,
    decidedFailure: v.decidedFailure,
    handler,
    notes: v.notes,
  };
}

const USAGE = `usage: tdx-audit decode <hex...> [--profile ${PROFILE_IDS.join('|')}] [--format text|json|jsonl]`;

function textOf(r: DecodeRecord): string {
  const lines = [
    `${r.bytes}  ${r.text}  (${r.length} byte${r.length === 1 ? '' : 's'})`,
    `  class ${r.kernelEnum}  size ${r.size}  verdict ${r.verdict}` +
      (r.misemulation.length ? `  misemulation ${r.misemulation.join(',')}` : '') +
      (r.flags.length ? `  flags ${r.flags.join(',')}` : ''),
  ];
  if (r.regSlot) lines.push(`  register slot ${r.regSlot}`);
  if (r.tdvmcall) {
    const t = r.tdvmcall;
    lines.push(`  TDVMCALL r10=${t.r10} r11=${t.r11} r12=${t.r12} r13=${t.r13} r14=${t.r14} r15=${t.r15}`);
  }
  if (r.consequence) lines.push(`  ${r.consequence}`);
  const hr = r.handler;
  if (hr.exit.kind !== 'mmio' || hr.verdict !== r.verdict) {
    lines.push(`  handler ${hr.exit.handler}: ${hr.class}${hr.size ? `/${hr.size}` : ''} verdict ${hr.verdict}` +
      (hr.misemulation.length ? `  misemulation ${hr.misemulation.join(',')}` : '') +
      `  outcome ${hr.outcome.result}${hr.outcome.code ? ` (${hr.outcome.code})` : ''}`);
  }
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

export function runDecode(argv: string[], write: (s: string) => void): number {
  let profile: Profile = DEFAULT_PROFILE;
  let format: Format = 'text';
  const hexArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = (name: string): string | null => {
      if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
      if (i + 1 >= argv.length) return null;
      return argv[++i];
    };
    if (a === '--help' || a === '-h') {
      write(USAGE + '\n');
      return 0;
    } else if (a === '--profile' || a.startsWith('--profile=')) {
      const v = takeValue('--profile');
      if (v === null || !isProfile(v)) {
        write(`error: unknown profile ${v === null ? '(missing)' : `"${v}"`}; expected one of ${PROFILE_IDS.join(', ')}\n`);
        return 2;
      }
      profile = v;
    } else if (a === '--format' || a.startsWith('--format=')) {
      const v = takeValue('--format');
      if (v !== 'text' && v !== 'json' && v !== 'jsonl') {
        write(`error: unknown format ${v === null ? '(missing)' : `"${v}"`}; expected text, json or jsonl\n`);
        return 2;
      }
      format = v;
    } else if (a.startsWith('--')) {
      write(`error: unknown option ${a}\n${USAGE}\n`);
      return 2;
    } else {
      hexArgs.push(a);
    }
  }
  if (hexArgs.length === 0) {
    write(`error: no instruction bytes given\n${USAGE}\n`);
    return 2;
  }
  const records: DecodeRecord[] = [];
  for (const h of hexArgs) {
    try {
      records.push(decodeRecord(h, profile));
    } catch (e) {
      if (e instanceof HexError) {
        write(`error: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  }
  const json = (x: unknown): string => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  if (format === 'json') write(json(records) + '\n');
  else if (format === 'jsonl') for (const r of records) write(json(r) + '\n');
  else write(records.map(textOf).join('\n\n') + '\n');
  return 0;
}
