import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emulate, patternRegs } from '../../../server/src/x86/emulate';
import { parseHex } from '../../../server/src/x86/decodeCli';

const MMIO = 0xffffc90000001000n; // an ioremap()-style kernel-half address, page aligned
const GPA = 0xfebf0000n;
const regs = () => { const r = patternRegs(); r[7] = MMIO; return r; };
const run = (hex: string, extra: Partial<Parameters<typeof emulate>[1]> = {}) =>
  emulate(parseHex(hex), { regs: regs(), deviceValue: 0x8899aabbccddeef0n, gpa: GPA, ...extra });

test('io.h accessor forms (readb/w/l/q, writeb/w/l/q) emulate exactly like the CPU', () => {
  for (const hex of ['8a 07', '66 8b 07', '8b 07', '48 8b 07', '88 07', '66 89 07', '89 07', '48 89 07', '44 8b 07', '4c 89 07']) {
    const r = run(hex);
    assert.equal(r.verdict.verdict, 'emulated', hex);
    assert.deepEqual(r.differences, [], hex);
    assert.equal(r.equal, true, hex);
    assert.equal(r.kernel.ripAdvance, r.native.ripAdvance, hex);
  }
});

test('readl zero-extends into the full register in both the kernel and the CPU', () => {
  const r = run('8b 07');
  assert.equal(r.kernel.regs[0], 0xccddeef0n);
  assert.equal(r.native.regs[0], 0xccddeef0n);
});

test('high-byte store: the kernel sends RSP\'s low byte where the CPU sends AH', () => {
  const r = run('88 27');
  assert.equal(r.verdict.verdict, 'misemulated');
  assert.equal(r.equal, false);
  const rax = regs()[0], rsp = regs()[4];
  assert.equal(r.native.access!.value, (rax >> 8n) & 0xffn);
  assert.equal(r.kernel.access!.value, rsp & 0xffn);
  assert.notEqual(r.kernel.access!.value, r.native.access!.value);
  assert.equal(r.kernel.tdvmcall!.r15, rsp & 0xffn);
});

test('high-byte load: the kernel overwrites RBP\'s low byte and leaves CH stale', () => {
  const r = run('8a 2f');
  assert.equal(r.equal, false);
  const before = regs();
  assert.equal(r.kernel.regs[5], (before[5] & ~0xffn) | 0xf0n);
  assert.equal(r.kernel.regs[1], before[1]);
  assert.equal(r.native.regs[1], (before[1] & ~0xff00n) | 0xf000n);
  assert.equal(r.native.regs[5], before[5]);
});

test('movzx/movsx to a 32-bit register: the kernel keeps bits 63:32 that the CPU clears', () => {
  for (const hex of ['0f b6 07', '0f b7 07', '0f be 07', '0f bf 07']) {
    const r = run(hex);
    assert.equal(r.verdict.verdict, 'misemulated', hex);
    assert.equal(r.equal, false, hex);
    assert.equal(r.native.regs[0] >> 32n, 0n, hex);
    assert.equal(r.kernel.regs[0] >> 32n, regs()[0] >> 32n, hex);
  }
  // 64-bit destination: faithful, including the sign fill.
  const s = run('48 0f be 07');
  assert.equal(s.equal, true);
  assert.equal(s.kernel.regs[0], 0xfffffffffffffff0n);
});

test('VEX/EVEX aliases: the kernel does the wrong access where the CPU does a vector one', () => {
  const a = run('c5 f8 c6 07 01');
  assert.equal(a.equal, false);
  assert.equal(a.kernel.access!.direction, 'write');
  assert.equal(a.native.access!.direction, 'read');
  assert.equal(a.native.access!.size, 16);
  const b = run('62 f2 7d 48 8a 07');
  assert.equal(b.equal, false);
  assert.equal(b.kernel.access!.direction, 'read');
  assert.equal(b.native.access!.direction, 'write');
  assert.notEqual(b.kernel.regs[0], b.native.regs[0]);
});

test('the TDVMCALL carries R10=0, R11=48, R12=size, R13=direction, R14=GPA, R15=value', () => {
  const w = run('c7 07 78 56 34 12');
  assert.deepEqual({ ...w.kernel.tdvmcall }, { r10: 0n, r11: 48n, r12: 4n, r13: 1n, r14: GPA, r15: 0x12345678n, r15UpperUndefined: false });
  const r = run('48 8b 07');
  assert.equal(r.kernel.tdvmcall!.r12, 8n);
  assert.equal(r.kernel.tdvmcall!.r13, 0n);
  assert.equal(r.kernel.tdvmcall!.r15, 0n);
  assert.equal(run('89 07').kernel.tdvmcall!.r15UpperUndefined, true);
});

test('WRITE_IMM sends the sign-extended immediate in R15 and the device sees size bytes', () => {
  const r = run('c6 07 80');
  assert.equal(r.kernel.tdvmcall!.r15, 0xffffffffffffff80n);
  assert.equal(r.kernel.access!.value, 0x80n);
  assert.equal(r.equal, true);
  assert.equal(run('48 c7 07 ff ff ff ff').kernel.access!.value, 0xffffffffffffffffn);
});

test('RIP advances by the decoded length, displacement and immediate included', () => {
  const r = run('c7 87 10 00 00 00 01 00 00 00');
  assert.equal(r.kernel.ripAdvance, 10);
  assert.equal(r.native.ripAdvance, 10);
});

test('before 6.11-rc7 a read leaked an uninitialised R15 to the host', () => {
  assert.equal(run('8b 07', { profile: 'tdx-linux-5.19' }).kernel.tdvmcall!.r15, 'uninitialised');
  assert.equal(run('8b 07', { profile: 'tdx-linux-6.12+' }).kernel.tdvmcall!.r15, 0n);
});

test('a user-half linear address is refused with a WARN from 6.12 (and stable), not in 5.19', () => {
  const low = regs(); low[7] = 0x7f0000001000n;
  const a = emulate(parseHex('8b 07'), { regs: low, gpa: GPA, deviceValue: 1n });
  assert.equal(a.kernel.status, 'fault');
  assert.equal(a.kernel.errno, '-EINVAL');
  assert.equal(a.kernel.warn, true);
  const b = emulate(parseHex('8b 07'), { regs: low, gpa: GPA, deviceValue: 1n, profile: 'tdx-linux-5.19' });
  assert.equal(b.kernel.status, 'ok');
});

test('a page-splitting access fails with -EFAULT except in 5.19-rc1', () => {
  const r = regs(); r[7] = MMIO + 0xffen;
  const a = emulate(parseHex('8b 07'), { regs: r, gpa: GPA });
  assert.equal(a.kernel.errno, '-EFAULT');
  const b = emulate(parseHex('8b 07'), { regs: r, gpa: GPA, profile: 'tdx-linux-5.19' });
  assert.equal(b.kernel.status, 'ok');
});

test('decode failures and MOVS fail in the kernel; #UD forms never reach it', () => {
  const d = run('83 0f 01');
  assert.equal(d.kernel.status, 'fault');
  assert.equal(d.kernel.warn, true);
  const m = run('f3 a5');
  assert.equal(m.kernel.errno, '-EINVAL');
  assert.equal(m.kernel.warn, false);
  assert.equal(run('f3 a5', { profile: 'sev-es' }).kernel.status, 'not-modelled');
  const u = run('c6 4f 01 05');
  assert.equal(u.native.status, 'ud');
  assert.equal(u.equal, false);
});
