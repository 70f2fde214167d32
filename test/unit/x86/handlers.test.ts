// x86/handlers.ts: one record per instruction and exit, for TDX and SEV-ES, per
// kernel version. Each HANDLER_ROWS row is reached by at least one case here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessorInstruction, handle, handleOnce, handlerView, HANDLER_ROWS, hypercallText, registerText, ripText, summaryText, type HandlerRecord } from '../../../server/src/x86/handlers';
import { cpuDecode } from '../../../server/src/x86/iced';
import { decodeRecord } from '../../../server/src/x86/decodeCli';
import { emulate, patternRegs } from '../../../server/src/x86/emulate';
import { parseHex } from '../../../server/src/x86/decodeCli';
import type { Profile } from '../../../server/src/x86/profiles';

const seen = new Set<string>();
function h(hex: string, profile: Profile): HandlerRecord {
  const r = handle(parseHex(hex), profile);
  for (const row of r.rows) seen.add(row.id);
  return r;
}

test('MMIO under TDX: the TDVMCALL, the register effect and RIP come with the record', () => {
  const r = h('8b 07', 'tdx-linux-6.12+');
  assert.equal(r.exit.kind, 'mmio');
  assert.deepEqual(r.exit.tdxReason, { code: 48, name: 'EXIT_REASON_EPT_VIOLATION' });
  assert.equal(r.exit.svmExit, null);
  assert.equal(r.class, 'READ');
  assert.equal(r.kernelEnum, 'INSN_MMIO_READ');
  assert.equal(r.size, 4);
  assert.deepEqual(r.hypercall, { kind: 'tdvmcall', r10: 0, r11: 48, r12: 4, r13: 0, r14: 've->gpa (from the #VE info)', r15: 0, returns: 'R11: the value read' });
  assert.equal(r.registers[0].reg, 'eax');
  assert.match(r.registers[0].kernel, /zero-extended/);
  assert.deepEqual(r.rip, { advance: 'insn.length', bytes: 2 });
  assert.equal(r.verdict, 'emulated');
  assert.equal(r.outcome.result, 'handled');
  assert.equal(r.outcome.runtimeChecks.length, 2, 'user-half and page-split');
  assert.deepEqual(r.rows.map((x) => x.id), ['tdx-mmio', 'tdx-mmio-read']);
  assert.equal(r.mmio?.class, 'READ');

  const w = h('89 07', 'tdx-linux-6.1');
  assert.equal(w.kernelEnum, 'MMIO_WRITE');
  assert.equal((w.hypercall as { r13: number }).r13, 1);
  assert.deepEqual(w.rows.map((x) => x.id), ['tdx-mmio', 'tdx-mmio-write']);

  const leak = h('8b 07', 'tdx-linux-5.19');
  assert.match(String((leak.hypercall as { r15: string }).r15), /uninitialised/);
  assert.equal(leak.outcome.runtimeChecks.length, 0, '5.19-rc1: neither check');
});

test('MMIO failures: decode failure (WARN under TDX only), MOVS rejected under TDX', () => {
  const t = h('83 0f 01', 'tdx-linux-6.12+');
  assert.equal(t.verdict, 'decode-failed');
  assert.deepEqual([t.outcome.result, t.outcome.code, t.outcome.warn], ['fails', '-EINVAL', true]);
  assert.match(t.outcome.consequence!, /VE fault/);
  assert.deepEqual(t.rows.map((x) => x.id), ['tdx-mmio', 'tdx-mmio-decode-failed']);
  assert.deepEqual(t.rip, { advance: 'none', bytes: null });

  const s = h('83 0f 01', 'sev-es');
  assert.deepEqual([s.verdict, s.outcome.code, s.outcome.warn], ['decode-failed', 'ES_DECODE_FAILED', false]);
  assert.match(s.outcome.consequence!, /terminated/);
  assert.deepEqual(s.exit.svmExit, { code: 0x400, name: 'SVM_EXIT_NPF' });

  const m = h('f3 a5', 'tdx-linux-6.12+');
  assert.deepEqual([m.verdict, m.outcome.code, m.outcome.warn], ['rejected-movs', '-EINVAL', false]);
  assert.ok(m.rows.some((x) => x.id === 'tdx-mmio-movs'));
});

test('SEV (a): an 8-byte mov qword [m], imm32 sends the insn_field bytes in the upper half', () => {
  const s = h('48 c7 07 11 22 33 44', 'sev-es');
  assert.equal(s.class, 'WRITE_IMM');
  assert.equal(s.size, 8);
  assert.equal(s.verdict, 'misemulated');
  assert.deepEqual(s.misemulation, ['write-imm-upper-garbage']);
  assert.ok(s.rows.some((x) => x.id === 'sev-mmio-write-imm'));
  const g = s.hypercall as { kind: string; exitName: string; exitInfo2: number; fields: Record<string, string> };
  assert.equal(g.kind, 'ghcb');
  assert.equal(g.exitName, 'SVM_VMGEXIT_MMIO_WRITE');
  assert.equal(g.exitInfo2, 8);
  assert.match(g.fields.shared_buffer, /got\/nbytes/);

  // The value, as the issue measured with the real code: 0x0000040144332211 (the CPU: 0x44332211).
  const e = emulate(parseHex('48 c7 07 11 22 33 44'), { regs: patternRegs(), profile: 'sev-es', gla: 0xffffc90000001000n });
  assert.equal(e.kernel.access?.value, 0x0000040144332211n);
  assert.equal(e.native.access?.value, 0x44332211n);
  assert.ok(e.differences.some((d) => /value written/.test(d)));
  const neg = emulate(parseHex('48 c7 07 ff ff ff ff'), { regs: patternRegs(), profile: 'sev-es', gla: 0xffffc90000001000n });
  assert.equal(neg.kernel.access?.value, 0x00000401ffffffffn);
  assert.equal(neg.native.access?.value, 0xffffffffffffffffn);

  const rd = h('8b 07', 'sev-es');
  assert.deepEqual([rd.verdict, (rd.hypercall as { exitName: string }).exitName], ['emulated', 'SVM_VMGEXIT_MMIO_READ']);
  assert.deepEqual(rd.rows.map((x) => x.id), ['sev-decode', 'sev-mmio', 'sev-mmio-read', 'sev-mmio-do']);
  assert.equal(h('89 07', 'sev-es').rows[2].id, 'sev-mmio-write');

  // TDX uses insn.immediate.value (sign-extended): right.
  const t = h('48 c7 07 11 22 33 44', 'tdx-linux-6.12+');
  assert.equal(t.verdict, 'emulated');
  assert.equal(emulate(parseHex('48 c7 07 ff ff ff ff'), { regs: patternRegs(), profile: 'tdx-linux-6.12+', gla: 0xffffc90000001000n }).kernel.access?.value, 0xffffffffffffffffn);
  // Immediates as wide as the access are copied whole.
  for (const hex of ['c6 07 11', '66 c7 07 11 22', 'c7 07 11 22 33 44']) assert.equal(h(hex, 'sev-es').verdict, 'emulated', hex);
});

test('SEV (b, c): MOVS ignores an FS/GS source override and uses 64-bit RSI/RDI under 0x67', () => {
  for (const hex of ['64 a5', '65 a4', '65 f3 a5']) {
    const r = h(hex, 'sev-es');
    assert.equal(r.verdict, 'misemulated', hex);
    assert.deepEqual(r.misemulation, ['movs-segment-override'], hex);
    assert.ok(r.rows.some((x) => x.id === 'sev-mmio-movs'));
  }
  // CS/DS/ES/SS overrides are ignored by the CPU in 64-bit mode too.
  for (const hex of ['2e a5', '3e a5', 'a5']) assert.equal(h(hex, 'sev-es').verdict, 'emulated', hex);
  const a = h('67 a5', 'sev-es');
  assert.deepEqual(a.misemulation, ['movs-addr32']);
  assert.match(a.registers[0].cpu, /^esi/);
  const rep = h('67 f3 a5', 'sev-es');
  assert.deepEqual([rep.outcome.result, rep.outcome.code, rep.rip.advance], ['retried', 'ES_RETRY', 'retry']);
  assert.ok(rep.registers.some((r) => r.reg === 'rcx'));
  assert.equal(h('65 a5', 'tdx-linux-6.12+').verdict, 'rejected-movs');
});

test('0x67 under TDX fails the user-half check wherever it points (6.12, 6.1.113+), not before', () => {
  const r = h('67 89 07', 'tdx-linux-6.12+');
  assert.equal(r.verdict, 'rejected');
  assert.deepEqual([r.outcome.result, r.outcome.code, r.outcome.warn], ['fails', '-EINVAL', true]);
  assert.equal(r.hypercall, null);
  assert.ok(r.rows.some((x) => x.id === 'tdx-mmio-user-half'));
  assert.equal(r.mmio?.verdict, 'emulated', 'classify keeps its verdict; the record says rejected');
  assert.equal(r.mmio?.decidedFailure?.check, 'user-half');
  assert.equal(h('67 89 07', 'tdx-linux-6.1.113').verdict, 'rejected');
  assert.equal(h('67 89 07', 'tdx-linux-6.1.112').verdict, 'emulated');
  assert.equal(h('67 8b 07', 'tdx-linux-5.19').verdict, 'emulated');
  assert.equal(h('67 89 07', 'sev-es').verdict, 'emulated', 'SEV checks user_mode(regs) only');
  const e = emulate(parseHex('67 89 07'), { regs: patternRegs(), profile: 'tdx-linux-6.12+', gla: 0xffffc90000001000n });
  assert.deepEqual([e.kernel.status, e.kernel.errno, e.kernel.warn], ['fault', '-EINVAL', true]);
});

test('two different segment overrides: -EFAULT from the page-split check (size >= 2), ES_UNSUPPORTED under SEV', () => {
  const t = h('64 65 89 07', 'tdx-linux-6.12+');
  assert.deepEqual([t.verdict, t.outcome.code, t.outcome.warn], ['rejected', '-EFAULT', false]);
  assert.ok(t.rows.some((x) => x.id === 'tdx-mmio-page-split'));
  assert.equal(h('2e 3e 8b 07', 'tdx-linux-6.1').outcome.code, '-EFAULT', 'the kernel counts overrides the CPU ignores');
  assert.equal(h('64 65 88 07', 'tdx-linux-6.12+').verdict, 'emulated', 'size 1: -1L + 0 stays on its page');
  assert.equal(h('65 65 89 07', 'tdx-linux-6.12+').verdict, 'emulated', 'the same override twice is one');
  assert.equal(h('64 65 89 07', 'tdx-linux-5.19').verdict, 'emulated', '5.19-rc1 never computes the address');
  for (const hex of ['64 65 89 07', '64 65 88 07', '26 64 c7 07 01 00 00 00']) {
    const s = h(hex, 'sev-es');
    assert.deepEqual([s.verdict, s.outcome.code], ['rejected', 'ES_UNSUPPORTED'], hex);
    assert.match(s.outcome.consequence!, /terminated/);
  }
  assert.equal(h('64 65 a5', 'sev-es').verdict, 'misemulated', 'MOVS never calls vc_do_mmio()');
  const e = emulate(parseHex('64 65 89 07'), { regs: patternRegs(), profile: 'sev-es' });
  assert.deepEqual([e.kernel.status, e.kernel.errno], ['fault', 'ES_UNSUPPORTED']);
});

test('TDX port I/O before and after the 2026 fixes (6.1.188, 6.6.157, 6.12.109)', () => {
  const inb = h('ec', 'tdx-linux-6.1.187');
  assert.equal(inb.exit.kind, 'port-io');
  assert.deepEqual(inb.exit.tdxReason, { code: 30, name: 'EXIT_REASON_IO_INSTRUCTION' });
  assert.equal(inb.class, 'PORT_IN');
  assert.equal(inb.size, 1);
  assert.deepEqual(inb.hypercall, { kind: 'tdvmcall', r10: 0, r11: 30, r12: 1, r13: 0, r14: 'DX', r15: null, returns: 'R11: the value read' });
  assert.deepEqual([inb.verdict, inb.misemulation], ['misemulated', ['port-mask-extra-bit']]);
  assert.match(inb.registers[0].kernel, /GENMASK\(8, 0\)/);
  assert.deepEqual(inb.rip, { advance: 've->instr_len', bytes: 1 });
  assert.deepEqual(inb.rows.map((x) => x.id), ['tdx-io', 'tdx-io-in']);

  assert.deepEqual(h('ed', 'tdx-linux-6.6.156').misemulation, ['port-mask-extra-bit', 'port-inl-upper-kept']);
  assert.deepEqual(h('66 ed', 'tdx-linux-6.12.108').misemulation, ['port-mask-extra-bit']);
  assert.equal(h('66 ed', 'tdx-linux-6.12.108').size, 2);
  for (const p of ['tdx-linux-6.1.188', 'tdx-linux-6.6.157', 'tdx-linux-6.12.109', 'tdx-linux-6.12+'] as Profile[]) {
    for (const hex of ['ec', 'ed', '66 ed', 'e4 80', 'ee', 'ef']) assert.equal(h(hex, p).verdict, 'emulated', `${hex} ${p}`);
  }
  const ed = h('ed', 'tdx-linux-6.1');
  assert.match(ed.registers[0].kernel, /insn_assign_reg.*zero-extended/);
  assert.equal(h('48 ed', 'tdx-linux-6.1').size, 4, 'REX.W does not make IN 64-bit');
  assert.equal((h('e4 80', 'tdx-linux-6.1').hypercall as { r14: string }).r14, '0x80');

  const out = h('ee', 'tdx-linux-6.1.100');
  assert.equal(out.class, 'PORT_OUT');
  assert.deepEqual(out.misemulation, ['port-mask-extra-bit']);
  assert.equal((out.hypercall as { r15: string }).r15, 'RAX & GENMASK(8, 0)');
  assert.equal((h('ef', 'tdx-linux-6.1').hypercall as { r15: string }).r15, 'RAX & GENMASK(31, 0)');
  assert.ok(h('ee', 'tdx-linux-6.1').rows.some((x) => x.id === 'tdx-io-out'));

  for (const hex of ['6c', '6f', 'f3 6e', 'f3 66 6d']) {
    const s = h(hex, 'tdx-linux-6.12+');
    assert.deepEqual([s.class, s.verdict, s.outcome.code], ['PORT_STRING', 'rejected-string-io', '-EIO'], hex);
  }
});

test('SEV port I/O: IN clears the RAX bits above a narrow access; string I/O is emulated and retried', () => {
  const inb = h('ec', 'sev-es');
  assert.deepEqual(inb.exit.svmExit, { code: 0x7b, name: 'SVM_EXIT_IOIO' });
  assert.deepEqual([inb.verdict, inb.misemulation], ['misemulated', ['port-in-upper-cleared']]);
  assert.match((inb.hypercall as { exitInfo1: string }).exitInfo1, /IOIO_TYPE_IN \| IOIO_DATA_8/);
  assert.deepEqual(inb.rows.map((x) => x.id), ['sev-decode', 'sev-ioio']);
  assert.deepEqual(inb.rip, { advance: 'insn.length', bytes: 1 });
  assert.deepEqual(h('66 ed', 'sev-es').misemulation, ['port-in-upper-cleared']);
  assert.equal(h('ed', 'sev-es').verdict, 'emulated');
  assert.equal(h('ee', 'sev-es').verdict, 'emulated');
  assert.equal((h('ee', 'sev-es').hypercall as { fields: Record<string, string> }).fields.rax, 'lower_bits(RAX, 8)');

  const rep = h('f3 6c', 'sev-es');
  assert.deepEqual([rep.class, rep.verdict, rep.outcome.result], ['PORT_STRING', 'emulated', 'retried']);
  assert.equal(h('f3 6c', 'tdx-linux-6.12+').verdict, 'rejected-string-io');
  assert.ok(rep.rows.some((x) => x.id === 'sev-ioio-string'));
  // Without REP: `ret = regs->cx ? ES_RETRY : ES_OK` and RCX never changes: executed again and again.
  const once = h('6e', 'sev-es');
  assert.deepEqual([once.verdict, once.misemulation, once.outcome.result], ['misemulated', ['string-io-retry-without-rep'], 'retried']);
  assert.deepEqual(h('65 6e', 'sev-es').misemulation, ['string-io-retry-without-rep', 'string-io-segment-or-addr32']);
  assert.deepEqual(h('67 f3 6d', 'sev-es').misemulation, ['string-io-segment-or-addr32']);
});

test('CPUID, RDMSR/WRMSR and HLT under both platforms', () => {
  const c = h('0f a2', 'tdx-linux-6.12+');
  assert.deepEqual([c.exit.kind, c.class, c.verdict], ['cpuid', 'CPUID', 'emulated']);
  assert.deepEqual(c.exit.tdxReason, { code: 10, name: 'EXIT_REASON_CPUID' });
  assert.equal((c.hypercall as { r12: string }).r12, 'RAX');
  assert.equal(c.caveats.length, 1, 'no zero-extension of R12-R15');
  assert.equal(c.registers.length, 4);
  const sc = h('0f a2', 'sev-es');
  assert.deepEqual(sc.exit.svmExit, { code: 0x72, name: 'SVM_EXIT_CPUID' });
  assert.deepEqual(sc.rows.map((x) => x.id), ['sev-decode', 'sev-cpuid']);

  const rd = h('0f 32', 'tdx-linux-6.1');
  assert.deepEqual([rd.class, (rd.hypercall as { r11: number }).r11, rd.caveats.length], ['RDMSR', 31, 0]);
  assert.equal(rd.registers[0].kernel, 'lower_32_bits(R11)');
  const wr = h('0f 30', 'tdx-linux-6.1');
  assert.deepEqual([wr.class, (wr.hypercall as { r13: string }).r13], ['WRMSR', '(u64)RDX << 32 | RAX']);
  assert.ok(wr.rows.some((x) => x.id === 'tdx-msr-write'));
  const srd = h('0f 32', 'sev-es');
  assert.deepEqual([(srd.hypercall as { exitInfo1: number }).exitInfo1, srd.caveats.length], [0, 1]);
  assert.equal((h('0f 30', 'sev-es').hypercall as { exitInfo1: number }).exitInfo1, 1);

  const t = h('f4', 'tdx-linux-6.12+');
  assert.deepEqual([t.class, t.verdict, (t.hypercall as { r11: number }).r11], ['HLT', 'emulated', 12]);
  const s = h('f4', 'sev-es');
  assert.deepEqual([s.verdict, s.outcome.result, s.hypercall], ['not-intercepted', 'not-intercepted', null]);
});

test('the caller can say which exit happened', () => {
  const r = handle(parseHex('ec'), 'tdx-linux-6.12+', { exit: 'mmio' });
  assert.equal(r.exit.kind, 'mmio');
  assert.equal(r.verdict, 'decode-failed');
});

test('every row cites a kernel file and function, and every row is exercised above', () => {
  for (const r of HANDLER_ROWS) {
    assert.match(r.source, /^arch\/x86\/\S+\.c .*\w\(\)/, r.id);
    assert.ok(seen.has(r.id), `row ${r.id} has no test`);
  }
  assert.equal(new Set(HANDLER_ROWS.map((r) => r.id)).size, HANDLER_ROWS.length);
});

test('handle() never throws and always names a handler row', () => {
  let seed = 0x2545f491;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const profiles: Profile[] = ['tdx-linux-6.12+', 'tdx-linux-6.1.100', 'tdx-linux-5.19', 'sev-es'];
  for (let i = 0; i < 1500; i++) {
    const n = 1 + (rnd() % 15);
    const bytes = Uint8Array.from({ length: n }, rnd);
    for (const p of profiles) {
      const r = handle(bytes, p);
      assert.ok(r.rows.length > 0);
      assert.ok(r.outcome.result === 'fails' ? r.outcome.code !== null : true);
    }
  }
});

test('one wording for renderers, and decode carries the record', () => {
  assert.equal(hypercallText(handle(parseHex('89 07'), 'tdx-linux-6.12+')), 'TDVMCALL R10=0 R11=48 (EXIT_REASON_EPT_VIOLATION) R12=4 R13=1 R14=ve->gpa (from the #VE info) R15=rax (low 4 bytes; the rest of the local is uninitialised)');
  assert.match(hypercallText(handle(parseHex('8b 07'), 'sev-es')), /^VMGEXIT SVM_VMGEXIT_MMIO_READ \(0x80000001\) exit_info_1=GPA .* exit_info_2=4 .*returns shared_buffer/);
  assert.match(hypercallText(handle(parseHex('67 89 07'), 'tdx-linux-6.12+')), /fails before calling the host/);
  assert.match(hypercallText(handle(parseHex('f4'), 'sev-es')), /not intercepted/);
  assert.deepEqual(registerText(handle(parseHex('ed'), 'tdx-linux-6.1.187')), ['eax: kernel RAX &= ~GENMASK(32, 0); RAX |= R11 & GENMASK(32, 0); bits 63:33 kept; CPU RAX := zero-extended value']);
  assert.equal(ripText(handle(parseHex('8b 07'), 'tdx-linux-6.12+')), '+2 (the decoded length)');
  assert.match(ripText(handle(parseHex('f3 a5'), 'sev-es')), /ES_RETRY/);
  const d = decodeRecord('67 89 07', 'tdx-linux-6.12+');
  assert.equal(d.verdict, 'emulated', 'the decode interface keeps its verdict values');
  assert.equal(d.decidedFailure?.code, '-EINVAL');
  assert.equal(d.tdvmcall, null);
  assert.equal(d.handler.verdict, 'rejected');
  assert.equal('mmio' in d.handler, false);
});

test('accessorInstruction is the instruction io.h, msr.h, processor.h and irqflags.h emit for each kind and width', () => {
  const text = (kind: string, w: number) => {
    const b = accessorInstruction(kind, w);
    return b ? cpuDecode(b).text : null;
  };
  assert.deepEqual([1, 2, 4, 8].map((w) => text('mmio-read', w)), ['mov al,[rdi]', 'mov ax,[rdi]', 'mov eax,[rdi]', 'mov rax,[rdi]']);
  assert.deepEqual([1, 2, 4, 8].map((w) => text('mmio-write', w)), ['mov [rdi],al', 'mov [rdi],ax', 'mov [rdi],eax', 'mov [rdi],rax']);
  assert.deepEqual([1, 2, 4, 8].map((w) => text('port-in', w)), ['in al,dx', 'in ax,dx', 'in eax,dx', null]);
  assert.deepEqual([1, 2, 4].map((w) => text('port-out', w)), ['out dx,al', 'out dx,ax', 'out dx,eax']);
  assert.deepEqual(['msr-read', 'msr-write', 'cpuid', 'hlt'].map((k) => text(k, 0)), ['rdmsr', 'wrmsr', 'cpuid', 'hlt']);
  assert.equal(accessorInstruction('mmio-string', 4), null, 'a copy is a loop, not one instruction');
  assert.equal(accessorInstruction('mmio-read', 3), null);
});

test('handleOnce: one view per encoding and profile, shared; the view is the record without classify\'s MMIO view', () => {
  const a = handleOnce(parseHex('ec'), 'tdx-linux-6.1.150');
  assert.equal(handleOnce(parseHex('ec'), 'tdx-linux-6.1.150'), a, 'the same object for the same bytes and profile');
  assert.notEqual(handleOnce(parseHex('ec'), 'tdx-linux-6.1.192').view.verdict, a.view.verdict, 'another kernel version, another record');
  const r = handle(parseHex('ec'), 'tdx-linux-6.1.150');
  assert.deepEqual(a.view, handlerView(r));
  assert.equal(a.summary, summaryText(r));
  assert.deepEqual(handleOnce(parseHex('88 27'), 'tdx-linux-6.12+').flags, handle(parseHex('88 27'), 'tdx-linux-6.12+').mmio!.flags);
});

test('SEV MOVS calls no host itself: the hypercall row says so instead of claiming the handler failed', () => {
  const r = handle(parseHex('f3 a5'), 'sev-es');
  assert.equal(r.hypercall, null);
  assert.match(hypercallText(r), /^none of its own: vc_read_mem\(\)\/vc_write_mem\(\) take a nested #VC/);
  assert.match(summaryText(r), /^INSN_MMIO_MOVS, 4 bytes: emulated by vc_handle_mmio\(\), repeated \(ES_RETRY\) until RCX is 0$/);
});
