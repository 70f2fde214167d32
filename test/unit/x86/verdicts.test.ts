import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyMmio } from '../../../server/src/x86/classify';
import { parseHex } from '../../../server/src/x86/decodeCli';

const c = (hex: string, profile?: Parameters<typeof classifyMmio>[1]) => classifyMmio(parseHex(hex), profile);

test('readl form mov eax,[rdi] is a 4-byte READ, emulated, issuing TDVMCALL<EPT_VIOLATION> read', () => {
  const v = c('8b 07');
  assert.equal(v.text, 'mov eax,[rdi]');
  assert.equal(v.length, 2);
  assert.equal(v.class, 'READ');
  assert.equal(v.size, 4);
  assert.equal(v.verdict, 'emulated');
  assert.deepEqual(v.misemulation, []);
  assert.equal(v.regSlot, 'rax');
  assert.deepEqual(v.tdvmcall, { r10: 0, r11: 48, r12: 4, r13: 0, r14: 'gpa', r15: 0 });
});

test('mov [rdi],ah is a high-byte misemulation: the kernel stores from the RSP slot', () => {
  const v = c('88 27');
  assert.equal(v.class, 'WRITE');
  assert.equal(v.size, 1);
  assert.equal(v.verdict, 'misemulated');
  assert.deepEqual(v.misemulation, ['high-byte']);
  assert.equal(v.regSlot, 'rsp');
});

test('any REX prefix turns reg 4-7 into SPL..DIL, which the kernel resolves correctly', () => {
  const v = c('40 88 27');
  assert.equal(v.text, 'mov [rdi],spl');
  assert.equal(v.verdict, 'emulated');
  assert.equal(c('8a 3f').regSlot, 'rdi'); // mov bh,[rdi]
  assert.deepEqual(c('8a 3f').misemulation, ['high-byte']);
});

test('movzx eax,byte [rdi] is READ_ZERO_EXTEND size 1 and misemulated (upper half kept)', () => {
  const v = c('0f b6 07');
  assert.equal(v.class, 'READ_ZERO_EXTEND');
  assert.equal(v.size, 1);
  assert.deepEqual(v.misemulation, ['movzx32-upper']);
  assert.equal(c('0f bf 07').class, 'READ_SIGN_EXTEND');
  assert.equal(c('0f bf 07').size, 2);
  assert.deepEqual(c('0f bf 07').misemulation, ['movzx32-upper']);
});

test('movzx with a 64-bit or 16-bit destination is emulated faithfully', () => {
  assert.equal(c('48 0f b6 07').verdict, 'emulated');
  assert.equal(c('66 0f b6 07').verdict, 'emulated');
  assert.equal(c('48 0f be 07').verdict, 'emulated');
});

test('or dword [rdi],1 is not in the table: decode-failed with the WARN', () => {
  const v = c('83 0f 01');
  assert.equal(v.class, 'DECODE_FAILED');
  assert.equal(v.size, 0);
  assert.equal(v.verdict, 'decode-failed');
  assert.equal(v.warn, true);
  assert.equal(v.tdvmcall, null);
  assert.match(v.consequence!, /oops/);
});

test('rep movsd is recognised then rejected under TDX, emulated under SEV-ES', () => {
  const t = c('f3 a5');
  assert.equal(t.class, 'MOVS');
  assert.equal(t.size, 4);
  assert.equal(t.verdict, 'rejected-movs');
  assert.equal(t.warn, false);
  const s = c('f3 a5', 'sev-es');
  assert.equal(s.verdict, 'emulated');
  assert.equal(c('a4').size, 1);
  assert.equal(c('48 a5').size, 8);
});

test('movdir64b and vmovdqa are not decodable by handle_mmio', () => {
  const a = c('66 0f 38 f8 07');
  assert.equal(a.text, 'movdir64b rax,[rdi]');
  assert.equal(a.verdict, 'decode-failed');
  const b = c('c5 fd 6f 07');
  assert.equal(b.text, 'vmovdqa ymm0,[rdi]');
  assert.equal(b.verdict, 'decode-failed');
  assert.equal(b.warn, true, 'VEX 0F 6F is valid in the kernel tables, so insn_decode_mmio is reached');
});

test('mov dword [rdi],1 is a 4-byte WRITE_IMM, emulated', () => {
  const v = c('c7 07 01 00 00 00');
  assert.equal(v.class, 'WRITE_IMM');
  assert.equal(v.size, 4);
  assert.equal(v.verdict, 'emulated');
  assert.equal(v.regSlot, null);
  assert.equal(c('66 c7 07 01 00').size, 2);
  assert.equal(c('48 c7 07 01 00 00 00').size, 8);
});

test('VEX.0F C6 (vshufps) is aliased to WRITE_IMM', () => {
  const v = c('c5 f8 c6 07 01');
  assert.equal(v.text, 'vshufps xmm0,xmm0,[rdi],1');
  assert.equal(v.class, 'WRITE_IMM');
  assert.deepEqual(v.misemulation, ['vex-alias']);
  assert.equal(c('c5 fa c6 07 01').verdict, 'decode-failed', 'VEX.F3.0F C6 has no kernel table entry');
  assert.equal(c('c5 fa c6 07 01').warn, false);
});

test('EVEX.66.0F38 8A (vcompressps, a store) is taken as a 1-byte READ', () => {
  const v = c('62 f2 7d 48 8a 07');
  assert.equal(v.text, 'vcompressps [rdi],zmm0');
  assert.equal(v.class, 'READ');
  assert.equal(v.verdict, 'misemulated');
  assert.deepEqual(v.misemulation, ['vex-alias']);
});

test('VEX.R and EVEX.R/R\' are ignored when resolving the register slot', () => {
  // 62 72 7d 48 89 3f: EVEX.R=0 (inverted) selects zmm15 for the CPU; the kernel uses slot 7.
  const v = c('62 72 7d 48 89 3f');
  assert.equal(v.regSlot, 'rdi');
});

test('C6/C7 with a non-zero /digit and LOCK MOV are flagged as #UD, not verdicts', () => {
  const a = c('c6 4f 01 01');
  assert.equal(a.class, 'WRITE_IMM');
  assert.ok(a.flags.includes('ud-c6c7-reg'));
  assert.equal(a.text, '(bad)');
  const b = c('f0 89 0f');
  assert.equal(b.class, 'WRITE');
  assert.ok(b.flags.includes('ud-lock'));
  assert.ok(c('f0 0f b6 07').flags.includes('ud-lock'));
});

test('a register-to-register MOV is flagged as unable to take an MMIO #VE', () => {
  assert.ok(c('89 c8').flags.includes('no-memory-operand'));
  assert.deepEqual(c('89 07').flags, []);
});

test('profiles differ in enum names and runtime checks, not in the table', () => {
  assert.equal(c('8b 07', 'tdx-linux-6.12+').kernelEnum, 'INSN_MMIO_READ');
  assert.equal(c('8b 07', 'tdx-linux-5.19').kernelEnum, 'MMIO_READ');
  assert.equal(c('8b 07', 'tdx-linux-6.1').kernelEnum, 'MMIO_READ');
  assert.deepEqual(c('8b 07', 'tdx-linux-6.12+').runtimeChecks, ['user-half', 'page-split']);
  assert.deepEqual(c('8b 07', 'tdx-linux-5.19').runtimeChecks, []);
  assert.equal(c('8b 07', 'tdx-linux-5.19').tdvmcall!.r15, 'uninitialised');
  assert.equal(c('8b 07', 'sev-es').tdvmcall, null);
  assert.match(c('83 0f 01', 'sev-es').consequence!, /terminated/);
  assert.equal(c('83 0f 01', 'sev-es').warn, false);
});
