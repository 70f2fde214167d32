// Walks the opcode space and checks the kernel-decoder + rule model against an
// expectation written straight from docs/tdx-ve-rules.md section 3 and "Where
// the kernel's decoder differs from the CPU", without calling the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyMmio } from '../../../server/src/x86/classify';
import { kernelDecode } from '../../../server/src/x86/kernelDecoder';
import { matchMmioRule, MMIO_RULES } from '../../../server/src/x86/rules';

type Expect = { cls: string; size: number };
const FAILED: Expect = { cls: 'DECODE_FAILED', size: 0 };
const LEGACY = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3];
const isRex = (b: number) => b >= 0x40 && b <= 0x4f;

/** The doc's table and prefix rules, re-derived independently. */
function expected(bytes: number[]): Expect {
  let i = 0;
  const seen: number[] = [];
  while (i < bytes.length && LEGACY.includes(bytes[i])) {
    if (!seen.includes(bytes[i])) {
      if (seen.length === 4) break; // fifth distinct prefix becomes the opcode
      seen.push(bytes[i]);
    }
    i++;
  }
  let rexW = false;
  if (isRex(bytes[i])) { rexW = (bytes[i] & 8) !== 0; i++; }
  const opSize = rexW ? 8 : seen.includes(0x66) ? 2 : 4;
  const op = bytes[i];
  if (op === 0xc5 || op === 0xc4 || op === 0x62) return expectedVex(bytes.slice(i));
  switch (op) {
    case 0x88: return { cls: 'WRITE', size: 1 };
    case 0x89: return { cls: 'WRITE', size: opSize };
    case 0xc6: return { cls: 'WRITE_IMM', size: 1 };
    case 0xc7: return { cls: 'WRITE_IMM', size: opSize };
    case 0x8a: return { cls: 'READ', size: 1 };
    case 0x8b: return { cls: 'READ', size: opSize };
    case 0xa4: return { cls: 'MOVS', size: 1 };
    case 0xa5: return { cls: 'MOVS', size: opSize };
    case 0x0f:
      switch (bytes[i + 1]) {
        case 0xb6: return { cls: 'READ_ZERO_EXTEND', size: 1 };
        case 0xb7: return { cls: 'READ_ZERO_EXTEND', size: 2 };
        case 0xbe: return { cls: 'READ_SIGN_EXTEND', size: 1 };
        case 0xbf: return { cls: 'READ_SIGN_EXTEND', size: 2 };
        default: return FAILED;
      }
    default: return FAILED;
  }
}

/** Doc: VEX 0F C6 (VSHUFPS/PD) is taken as WRITE_IMM; EVEX.66 0F38 88-8B as MOV; the rest fails. */
function expectedVex(v: number[]): Expect {
  if (v[0] === 0xc5) {
    const pp = v[1] & 3;
    return v[2] === 0xc6 && pp <= 1 ? { cls: 'WRITE_IMM', size: 1 } : FAILED;
  }
  if (v[0] === 0x62) {
    const map = v[1] & 7, pp = v[2] & 3, op = v[4];
    // The kernel takes bit 7 of the fourth EVEX byte as W.
    const size = v[3] & 0x80 ? 8 : 4;
    // EVEX.0F C6 is VSHUFPS/PD too, and EVEX counts as a VEX form to the kernel.
    if (map === 1 && op === 0xc6 && pp <= 1) return { cls: 'WRITE_IMM', size: 1 };
    if (map === 2 && pp === 1) {
      if (op === 0x88) return { cls: 'WRITE', size: 1 };
      if (op === 0x89) return { cls: 'WRITE', size };
      if (op === 0x8a) return { cls: 'READ', size: 1 };
      if (op === 0x8b) return { cls: 'READ', size };
    }
    return FAILED;
  }
  return FAILED;
}

const PREFIX_SETS: number[][] = [
  [], [0x66], [0x48], [0x40], [0x44], [0x4c], [0x66, 0x48], [0x66, 0x40], [0xf3], [0xf2], [0xf0], [0x2e], [0x3e], [0x64], [0x65], [0x67],
  [0x66, 0xf3, 0x2e, 0x64], [0x66, 0x66, 0x66, 0x48], [0xf0, 0x66, 0x49],
  // Kernel-specific failures: REX then a legacy prefix, two REX, five distinct legacy prefixes.
  [0x48, 0x66], [0x40, 0xf3], [0x48, 0x48], [0x41, 0x48], [0x66, 0x67, 0x2e, 0x64, 0xf3],
];
const TAIL = [0x07, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
const NOT_OPCODES = new Set([...LEGACY, 0xc4, 0xc5, 0x62, ...Array.from({ length: 16 }, (_, i) => 0x40 + i)]);

function check(bytes: number[]) {
  const k = kernelDecode(Uint8Array.from(bytes));
  const got = matchMmioRule(k);
  const want = expected(bytes);
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
  assert.deepEqual({ cls: got.cls, size: got.size }, want, `bytes ${hex}`);
}

test('every one-byte opcode under every prefix combination gets the class and size of the kernel table', () => {
  let n = 0;
  for (const pre of PREFIX_SETS) {
    for (let op = 0; op < 256; op++) {
      if (NOT_OPCODES.has(op)) continue;
      check([...pre, op, ...TAIL]);
      n++;
    }
  }
  assert.ok(n > 5000);
});

test('every 0F xx two-byte opcode under every prefix combination gets the class and size of the kernel table', () => {
  for (const pre of PREFIX_SETS) for (let op = 0; op < 256; op++) check([...pre, 0x0f, op, ...TAIL]);
});

test('VEX2 map 0F, every opcode and SIMD prefix: only VSHUFPS/VSHUFPD (C6) alias a MOV class', () => {
  for (const pp of [0, 1, 2, 3]) for (let op = 0; op < 256; op++) check([0xc5, 0xf8 | pp, op, ...TAIL]);
});

test('VEX3 forms of map 0F behave like VEX2 and maps 0F38/0F3A alias nothing', () => {
  for (let op = 0; op < 256; op++) {
    for (const map of [1, 2, 3]) {
      const bytes = [0xc4, 0xe0 | map, 0x79, op, ...TAIL];
      const k = kernelDecode(Uint8Array.from(bytes));
      const got = matchMmioRule(k);
      const want = map === 1 && op === 0xc6 ? { cls: 'WRITE_IMM', size: 1 } : FAILED;
      assert.deepEqual({ cls: got.cls, size: got.size }, want, `c4 map ${map} op ${op.toString(16)}`);
    }
  }
});

test('EVEX maps 0F/0F38/0F3A with each SIMD prefix: only EVEX.66.0F38 88-8B (and EVEX.0F C6) alias MOV classes', () => {
  for (const map of [1, 2, 3]) for (const pp of [0, 1, 2, 3]) for (let op = 0; op < 256; op++) {
    check([0x62, 0xf0 | map, 0x7c | pp, 0x48, op, ...TAIL]);
  }
});

test('EVEX operand size comes from bit 7 of the fourth prefix byte (EVEX.z), not from EVEX.W', () => {
  // 62 f2 fd 48 89 07: EVEX.W=1, z=0 -> the kernel still says 4 bytes.
  assert.equal(classifyMmio(Uint8Array.of(0x62, 0xf2, 0xfd, 0x48, 0x89, 0x07)).size, 4);
  // 62 f2 7d c8 89 07: EVEX.W=0, z=1 -> 8 bytes.
  assert.equal(classifyMmio(Uint8Array.of(0x62, 0xf2, 0x7d, 0xc8, 0x89, 0x07)).size, 8);
  check([0x62, 0xf2, 0x7d, 0xc8, 0x8b, 0x07]);
});

test('doc special cases: REX before 66 fails, 66 before REX.W is an 8-byte write', () => {
  const a = classifyMmio(Uint8Array.of(0x48, 0x66, 0x89, 0x27));
  assert.equal(a.class, 'DECODE_FAILED');
  assert.equal(a.size, 0);
  assert.equal(a.verdict, 'decode-failed');
  assert.equal(a.text, 'mov [rdi],sp'); // the CPU ignores the misplaced REX and runs a MOV
  assert.ok(a.flags.includes('kernel-misdecode'));
  const b = classifyMmio(Uint8Array.of(0x66, 0x48, 0x89, 0x27));
  assert.equal(b.class, 'WRITE');
  assert.equal(b.size, 8);
  assert.equal(b.verdict, 'emulated');
});

test('the kernel skips its ud2+"xen"/"kvm" emulate prefix and classifies what follows', () => {
  for (const sig of [[0x78, 0x65, 0x6e], [0x6b, 0x76, 0x6d]]) {
    const v = classifyMmio(Uint8Array.of(0x0f, 0x0b, ...sig, 0x8b, 0x07));
    assert.equal(v.class, 'READ');
    assert.equal(v.size, 4);
    assert.ok(v.flags.includes('emulate-prefix'));
    assert.equal(v.length, 2, 'the CPU stops at the 2-byte ud2');
  }
  assert.equal(classifyMmio(Uint8Array.of(0x0f, 0x0b, 0x78, 0x65, 0x6f, 0x8b, 0x07)).class, 'DECODE_FAILED');
});

test('every table row cites insn_decode_mmio in arch/x86/lib/insn-eval.c', () => {
  assert.equal(MMIO_RULES.length, 12);
  for (const r of MMIO_RULES) assert.match(r.source, /arch\/x86\/lib\/insn-eval\.c insn_decode_mmio\(\)/);
});

test('truncated input fails in insn_decode itself, without the WARN', () => {
  for (const bytes of [[0x8b], [0x66], [0xc7, 0x07, 0x01], [0x62, 0xf2]]) {
    const v = classifyMmio(Uint8Array.from(bytes));
    assert.equal(v.class, 'DECODE_FAILED');
    assert.equal(v.warn, false, bytes.join(','));
  }
});
