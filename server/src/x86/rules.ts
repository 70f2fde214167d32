// The MMIO instruction table, row for row the switch in insn_decode_mmio()
// (arch/x86/lib/insn-eval.c). It classifies on insn->opcode.bytes[] only, as
// the kernel decoder (kernelDecoder.ts) filled them: it never looks at
// ModRM.mod, at the /digit of C6/C7, at LOCK/REP, or at whether the opcode
// came after a VEX/EVEX prefix.
import type { KernelInsn } from './kernelDecoder';

export type MmioClass =
  | 'WRITE'
  | 'WRITE_IMM'
  | 'READ'
  | 'READ_ZERO_EXTEND'
  | 'READ_SIGN_EXTEND'
  | 'MOVS'
  | 'DECODE_FAILED';

/** 'fixed:N' sets *bytes = N; 'opnd' takes insn->opnd_bytes (the fallthrough arm). */
export type SizeRule = { kind: 'fixed'; bytes: number } | { kind: 'opnd' };

export interface MmioRule {
  /** insn->opcode.bytes[0], and bytes[1] for the two-byte rows. */
  opcode: readonly number[];
  cls: MmioClass;
  size: SizeRule;
  mnemonic: string;
  /** Where the row comes from. */
  source: string;
}

const SRC = 'arch/x86/lib/insn-eval.c insn_decode_mmio()';
const fixed = (bytes: number): SizeRule => ({ kind: 'fixed', bytes });
const opnd: SizeRule = { kind: 'opnd' };

export const MMIO_RULES: readonly MmioRule[] = [
  { opcode: [0x88], cls: 'WRITE', size: fixed(1), mnemonic: 'MOV m8,r8', source: `${SRC}: case 0x88` },
  { opcode: [0x89], cls: 'WRITE', size: opnd, mnemonic: 'MOV m16/m32/m64,r16/r32/r64', source: `${SRC}: case 0x89` },
  { opcode: [0xc6], cls: 'WRITE_IMM', size: fixed(1), mnemonic: 'MOV m8,imm8', source: `${SRC}: case 0xc6` },
  { opcode: [0xc7], cls: 'WRITE_IMM', size: opnd, mnemonic: 'MOV m16/m32/m64,imm16/imm32', source: `${SRC}: case 0xc7` },
  { opcode: [0x8a], cls: 'READ', size: fixed(1), mnemonic: 'MOV r8,m8', source: `${SRC}: case 0x8a` },
  { opcode: [0x8b], cls: 'READ', size: opnd, mnemonic: 'MOV r16/r32/r64,m16/m32/m64', source: `${SRC}: case 0x8b` },
  { opcode: [0xa4], cls: 'MOVS', size: fixed(1), mnemonic: 'MOVS m8,m8', source: `${SRC}: case 0xa4` },
  { opcode: [0xa5], cls: 'MOVS', size: opnd, mnemonic: 'MOVS m16/m32/m64', source: `${SRC}: case 0xa5` },
  { opcode: [0x0f, 0xb6], cls: 'READ_ZERO_EXTEND', size: fixed(1), mnemonic: 'MOVZX r16/r32/r64,m8', source: `${SRC}: case 0x0f / case 0xb6` },
  { opcode: [0x0f, 0xb7], cls: 'READ_ZERO_EXTEND', size: fixed(2), mnemonic: 'MOVZX r16/r32/r64,m16', source: `${SRC}: case 0x0f / case 0xb7` },
  { opcode: [0x0f, 0xbe], cls: 'READ_SIGN_EXTEND', size: fixed(1), mnemonic: 'MOVSX r16/r32/r64,m8', source: `${SRC}: case 0x0f / case 0xbe` },
  { opcode: [0x0f, 0xbf], cls: 'READ_SIGN_EXTEND', size: fixed(2), mnemonic: 'MOVSX r16/r32/r64,m16', source: `${SRC}: case 0x0f / case 0xbf` },
];

const ONE_BYTE = new Map<number, MmioRule>();
const TWO_BYTE = new Map<number, MmioRule>();
for (const r of MMIO_RULES) (r.opcode.length === 1 ? ONE_BYTE : TWO_BYTE).set(r.opcode[r.opcode.length - 1], r);

export interface RuleMatch {
  cls: MmioClass;
  /** *bytes as insn_decode_mmio() leaves it: 0 on DECODE_FAILED. */
  size: number;
  rule: MmioRule | null;
}

/**
 * insn_decode_mmio(): the switch on opcode.bytes[0], with the nested switch on
 * opcode.bytes[1] for 0x0f. For a VEX/EVEX instruction the kernel stores one
 * opcode byte, so bytes[1] is 0 and a 0x0f there falls to the default arm.
 */
export function matchMmioRule(insn: KernelInsn): RuleMatch {
  if (!insn.ok || insn.opcode.length === 0) return { cls: 'DECODE_FAILED', size: 0, rule: null };
  const b0 = insn.opcode[0];
  let rule: MmioRule | undefined;
  if (b0 === 0x0f) {
    const b1 = insn.vex ? 0 : insn.opcode[1] ?? 0;
    rule = TWO_BYTE.get(b1);
  } else {
    rule = ONE_BYTE.get(b0);
  }
  if (!rule) return { cls: 'DECODE_FAILED', size: 0, rule: null };
  const size = rule.size.kind === 'fixed' ? rule.size.bytes : insn.opndBytes;
  return { cls: rule.cls, size, rule };
}

/** The kernel's spelling of a class under a profile's enum naming. */
export function kernelEnumName(cls: MmioClass, prefix: 'MMIO_' | 'INSN_MMIO_'): string {
  return prefix + cls;
}
