// What the #VE handler does with one compiled instruction, and which instructions
// an accessor's inlined body performs its access with: the description every
// matched instruction gets (where it is, and x86/handlers.ts's record of what the
// profile's handler does with it, which class, size, verdict and summary are read from).
import type { Site } from '../../c/types';
import { handleOnce } from '../../x86/handlers';
import { hexBytes, type MemoryAccess, type WalkedInstruction } from '../../x86/iced';
import { profileData, type Profile } from '../../x86/profiles';
import type { AddressRange } from '../../binary/index';
import type { FunctionCode } from '../code';
import type { CompiledInstruction, MatchKind } from '../compiled';
import type { OpenedObject } from '../objects';
import { STRING_INSN } from './strings';

const SP = /^(rsp|esp|sp)$/i;
const BP = /^(rbp|ebp|bp)$/i;

/**
 * Memory operands that can be device memory. RSP-based slots are the stack;
 * RBP is the frame pointer only in functions that set one up; the kernel's
 * default (ORC unwinder) leaves RBP a general register that often holds the
 * ioremap()ed base.
 */
export function deviceAccesses(insn: WalkedInstruction, framePointer: boolean): MemoryAccess[] {
  return insn.memory.filter((m) => {
    if (m.ripRelative || m.string) return false;
    const regs = [m.base, m.index].filter((r): r is string => !!r);
    if (regs.some((r) => SP.test(r))) return false;
    if (framePointer && regs.some((r) => BP.test(r))) return false;
    return true;
  });
}

export { STRING_INSN };

/**
 * The side of a string accessor that is device memory: writesX/iowriteX_rep/memcpy_toio
 * write it and read an ordinary buffer; readsX/ioreadX_rep/memcpy_fromio the reverse.
 */
function stringDirection(name: string | undefined): 'R' | 'W' | undefined {
  if (!name) return undefined;
  const n = name.replace(/^_+/, '');
  if (/^(writes|iowrite|memcpy_toio|memset_io|outs)/.test(n)) return 'W';
  if (/^(reads|ioread|memcpy_fromio|ins)/.test(n)) return 'R';
  return undefined;
}

export function performs(site: { accessorKind: Site['accessorKind']; width: number; name?: string }, insn: WalkedInstruction, framePointer: boolean): boolean {
  if (!insn.valid) return false;
  const m = insn.mnemonic;
  switch (site.accessorKind) {
    case 'mmio-read':
    case 'mmio-write': {
      const want = site.accessorKind === 'mmio-read' ? 'R' : 'W';
      return deviceAccesses(insn, framePointer).some((a) => (a.access === want || a.access === 'RW') && (site.width === 0 || a.width === site.width));
    }
    case 'mmio-string': {
      // MOVDIR64B's accessor: the pointer loads gcc schedules into its range are not the access.
      if (site.name && /cmds512$/.test(site.name)) return m === 'movdir64b';
      const dir = stringDirection(site.name);
      if (dir) return deviceAccesses(insn, framePointer).some((a) => a.access === dir || a.access === 'RW') || STRING_INSN.test(insn.text) || m === 'movdir64b';
      return deviceAccesses(insn, framePointer).length > 0 || insn.memory.some((a) => a.string) || m === 'movdir64b';
    }
    case 'port-in':
    case 'port-out':
    case 'port-string':
      return m === 'in' || m === 'out' || m.startsWith('ins') || m.startsWith('outs');
    case 'msr-read':
      return m === 'rdmsr';
    case 'msr-write':
      return m === 'wrmsr';
    case 'cpuid':
      return m === 'cpuid';
    case 'hlt':
      return m === 'hlt';
  }
  return false;
}

export function describe(
  o: OpenedObject,
  fn: FunctionCode,
  insn: WalkedInstruction,
  profile: Profile,
  match: MatchKind,
): CompiledInstruction {
  const h = handleOnce(insn.bytes, profile);
  return {
    ...located(o, fn, insn, match),
    class: h.view.class, size: h.view.size, verdict: h.view.verdict, misemulation: h.view.misemulation, flags: h.flags,
    summary: h.summary, handler: h.view,
  };
}

/** Where an instruction is: object, symbol+offset, bytes, text, and DWARF's file/line/inline chain. */
export function located(o: OpenedObject, fn: FunctionCode, insn: WalkedInstruction, match: MatchKind) {
  const chain = o.bin.dwarf.inlineChain(insn.ip);
  return {
    object: o.path,
    function: fn.name,
    offset: Number(insn.ip - fn.start),
    section: fn.section,
    address: '0x' + insn.ip.toString(16),
    bytes: hexBytes(insn.bytes),
    text: insn.text,
    match,
    inlineChain: chain.map((f) => f.function ?? '?'),
    file: chain[0]?.file,
    line: chain[0]?.line ?? 0,
    column: chain[0]?.column ?? 0,
  };
}

export function callEntry(o: OpenedObject, fn: FunctionCode, insn: WalkedInstruction, callee: string, note: string): CompiledInstruction {
  return {
    ...located(o, fn, insn, 'call'),
    // In a .o the rel32 is still 0 and iced prints the synthetic address: name the target.
    text: `${insn.mnemonic} ${callee}`,
    class: 'CALL',
    size: 0,
    verdict: 'out-of-line',
    misemulation: [],
    flags: [],
    summary: `calls ${callee}; the #VE lands in ${callee}: ${note}`,
    callee,
    calleeNote: note,
  };
}

/**
 * Under TDX, insX/outsX and memcpy_fromio/toio/memset_io take an unrolled
 * branch (cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO), v5.18+;
 * arch/x86/include/asm/io.h BUILDIO, arch/x86/lib/iomem.c). Their `rep ins/outs/movs`
 * branch is in the binary but never runs in a TDX guest: not a failure.
 */
export function markUnrolled(i: CompiledInstruction, kind: Site['accessorKind'] | 'string-helper', profile: Profile, accessor?: string): CompiledInstruction {
  if (!profileData(profile).unrollsStringIo) return i;
  // __iowrite32_copy's `rep movsl` has no cc_platform_has() branch: it runs in a TDX guest.
  if (accessor === '__iowrite32_copy') return i;
  const stringInsn = i.class === 'MOVS' || i.class === 'PORT_STRING' || STRING_INSN.test(i.text);
  if (!stringInsn || (kind !== 'port-string' && kind !== 'mmio-string' && kind !== 'string-helper')) return i;
  return {
    ...i,
    unreached: 'TDX guests take the unrolled branch (cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO), since v5.18); this string instruction runs only outside TDX',
  };
}

/** What an accessor is to `performs`: its kind, width and name. */
export type Performer = { accessorKind: Site['accessorKind']; width: number; name: string };

/**
 * The instructions of an accessor's inlined instance (its address ranges) that perform
 * its access, described as `match` and marked when TDX takes the unrolled branch: what
 * the site join, the object-only sites and the inventory each say of an instance.
 * `once`: decode each range from its start and keep nothing (a pass that visits each
 * range once, as the whole-image inventory does); otherwise functions' decodes are kept.
 */
export function* performedIn(
  o: OpenedObject,
  ranges: readonly AddressRange[],
  acc: Performer,
  profile: Profile,
  match: MatchKind,
  opts: { once?: boolean } = {},
): Generator<{ insn: WalkedInstruction; described: () => CompiledInstruction }> {
  for (const r of ranges) {
    const insns = opts.once ? o.code.instructionsInRange(r.lo, r.hi) : o.code.instructionsIn(r.lo, r.hi);
    for (const { fn, insn } of insns) {
      if (!performs(acc, insn, o.code.framePointer(fn))) continue;
      yield { insn, described: () => markUnrolled(describe(o, fn, insn, profile, match), acc.accessorKind, profile, acc.name) };
    }
  }
}
