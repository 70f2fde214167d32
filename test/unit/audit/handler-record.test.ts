// The handler record (x86/handlers.ts) is computed once, where a finding or a
// compiled instruction is made, under the audit's profile, and everything
// downstream words that record: hover, finding messages, compiled-form verdicts and
// the report model. Each test either changes the profile (TDX 6.1.150, before the
// port-I/O fixes of 6.1.188, against 6.1.192; SEV-ES against TDX) or changes the
// record itself, and checks that the text follows.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine, hoverMarkdown, type FileAudit, type Finding } from '../../../server/src/audit/engine';
import { compiledMarkdown } from '../../../server/src/audit/hover';
import { applyCompiled } from '../../../server/src/audit/verdicts';
import { instructionJson, type CompiledInstruction, type FileCompiled } from '../../../server/src/audit/compiled';
import { headline } from '../../../server/src/audit/findings';
import { buildReportModel } from '../../../server/src/audit/report/model';
import { collectProvenance } from '../../../server/src/audit/report/provenance';
import { handle, handleOnce, summaryText, type HandlerView } from '../../../server/src/x86/handlers';
import { parseHex } from '../../../server/src/x86/decodeCli';
import type { Profile } from '../../../server/src/x86/profiles';
import { locate } from '../c/helpers';

const SRC = `void f(void __iomem *p, unsigned short port)
{
	writel(1, p + 4);
	inb(port);
	native_halt();
	__iowrite32_copy(p + 0x100, p, 4);
}
`;

async function auditUnder(profile: Profile, text = SRC): Promise<FileAudit> {
  const e = await AuditEngine.create({ readFile: () => undefined });
  e.configure({ profile });
  return e.auditOnce('/d/f.c', text);
}

const at = (a: FileAudit, needle: string): Finding => {
  const line = locate(SRC, needle).line;
  const f = a.findings.find((x) => x.site.range.start.line === line);
  assert.ok(f, `no finding at ${needle}`);
  return f;
};
const hoverAt = (a: FileAudit, needle: string): string => {
  const p = locate(SRC, needle);
  return hoverMarkdown(a, { line: p.line, character: p.character + 1 })!;
};

test('TDX 6.1.150 (before the 6.1.188 port-I/O fixes): an inb site is mis-emulated, in the finding, its severity and its hover', async () => {
  const a = await auditUnder('tdx-linux-6.1.150');
  const f = at(a, 'inb(port)');
  assert.equal(f.handler?.verdict, 'misemulated');
  assert.deepEqual(f.handler?.misemulation, ['port-mask-extra-bit']);
  assert.equal(headline(f.message), 'mis-emulated: `inb` on `port`.');
  assert.match(f.message, /handle_io\(\) emulates `in al,dx` wrongly \(port-mask-extra-bit\): GENMASK\(8, 0\) is 9 bits/);
  assert.equal(f.severity, 'warning', 'a mis-emulated accessor is at least a Warning, as a mis-emulated compiled instruction is');
  const md = hoverAt(a, 'inb(port)');
  assert.match(md, /\| #VE \| exit reason 30 \(IO_INSTRUCTION\) → arch\/x86\/coco\/tdx\/tdx\.c handle_io\(\) \(Linux 6\.1\.150, profile tdx-linux-6\.1\.150\) \|/);
  assert.match(md, /\| TDVMCALL \| TDVMCALL R10=0 R11=30 \(EXIT_REASON_IO_INSTRUCTION\) R12=1 R13=0 R14=DX; returns R11: the value read \|/);
  assert.match(md, /\| registers \| al: kernel RAX &= ~GENMASK\(8, 0\); RAX \\\|= R11 & GENMASK\(8, 0\); CPU al := value, the rest of RAX kept \|/);
  assert.match(md, /\| mis-emulation \| port-mask-extra-bit: /);
});

test('TDX 6.1.192 (after the fixes): the same inb site is emulated, with insn_assign_reg(), and stays informational', async () => {
  const a = await auditUnder('tdx-linux-6.1.192');
  const f = at(a, 'inb(port)');
  assert.equal(f.handler?.verdict, 'emulated');
  assert.deepEqual(f.handler?.misemulation, []);
  assert.equal(headline(f.message), 'emulated #VE: `inb` on `port`.');
  assert.match(f.message, /handle_io\(\) emulates `in al,dx` with TDVMCALL IO_INSTRUCTION \(30\)/);
  assert.equal(f.severity, 'information');
  const md = hoverAt(a, 'inb(port)');
  assert.match(md, /\| registers \| al: kernel insn_assign_reg\(&regs->ax, R11, 1\): al := value, the rest kept; CPU al := value, the rest of RAX kept \|/);
  assert.doesNotMatch(md, /mis-emulation|GENMASK\(8, 0\)/);
});

test('SEV-ES: the hover shows the #VC exit and the GHCB fields, not TDVMCALL registers', async () => {
  const a = await auditUnder('sev-es');
  const md = hoverAt(a, 'writel(1');
  assert.match(md, /^emulated #VC: `writel` on `p \+ 4`\./m);
  assert.match(md, /\| #VC \| exit code 0x400 \(SVM_EXIT_NPF\) → arch\/x86\/coco\/sev\/core\.c .*vc_handle_mmio\(\) \(Linux 6\.12\.118, profile sev-es\) \|/);
  assert.match(md, /\| GHCB \| VMGEXIT SVM_VMGEXIT_MMIO_WRITE \(0x80000002\) exit_info_1=GPA of insn_get_addr_ref\(\) \(vc_slow_virt_to_phys\) exit_info_2=4 sw_scratch=GPA of ghcb->shared_buffer shared_buffer=rax \(low 4 bytes\) \|/);
  // (The rule's title keeps its TDX wording: rules are named per site, not per platform.)
  assert.doesNotMatch(md.replace(/^\| rule \|.*$/m, ''), /TDVMCALL|R11=48|TDG\.VP\.VEINFO/);
  // The same site under TDX has the TDVMCALL, and no GHCB.
  const t = hoverAt(await auditUnder('tdx-linux-6.12+'), 'writel(1');
  assert.match(t, /\| TDVMCALL \| TDVMCALL R10=0 R11=48 \(EXIT_REASON_EPT_VIOLATION\) R12=4 R13=1 R14=ve->gpa/);
  assert.doesNotMatch(t, /GHCB|VMGEXIT/);
});

test('SEV-ES: HLT is not intercepted and __iowrite32_copy\'s rep movsl is emulated; TDX rejects the rep movsl', async () => {
  const s = await auditUnder('sev-es');
  const hlt = at(s, 'native_halt');
  assert.equal(hlt.handler?.verdict, 'not-intercepted');
  assert.equal(headline(hlt.message), 'no #VC: `native_halt`.');
  assert.match(hoverAt(s, 'native_halt'), /\| GHCB \| no #VE\/#VC: not intercepted \|/);
  const copy = at(s, '__iowrite32_copy');
  assert.equal(copy.handler?.verdict, 'emulated');
  assert.equal(copy.severity, 'information', 'the rule is an error for what TDX does; SEV-ES emulates it');
  assert.match(copy.message, /^emulated, one #VC exit per element: .*vc_handle_mmio\(\) emulates `rep movsd \[rdi\],\[rsi\]`, one element per exception until RCX is 0 \(ES_RETRY\)/);
  const t = at(await auditUnder('tdx-linux-6.12+'), '__iowrite32_copy');
  assert.equal(t.handler?.verdict, 'rejected-movs');
  assert.equal(t.severity, 'error');
  assert.match(t.message, /^oops: .* copies with `rep movsl`, which handle_mmio rejects\. .*handle_mmio\(\) recognises `rep movsd \[rdi\],\[rsi\]` as MOVS and rejects it \(-EINVAL\): "VE fault"/);
});

test('an out-of-line accessor whose compiled form is only the CALL keeps the record of the instruction in the callee', async () => {
  const a = await auditUnder('tdx-linux-6.12+');
  const f = at(a, '__iowrite32_copy');
  const call: CompiledInstruction = {
    object: '/o/f.o', function: 'f', offset: 0x1b, section: '.text', address: '0x1b', bytes: 'e8 00 00 00 00', text: 'call __iowrite32_copy',
    class: 'CALL', size: 0, verdict: 'out-of-line', misemulation: [], flags: [], summary: 'calls __iowrite32_copy', file: '/d/f.c', line: 6, column: 2,
    inlineChain: ['f'], match: 'call', callee: '__iowrite32_copy', calleeNote: 'rep movsl',
  };
  withCompiled(a, '__iowrite32_copy', [call]);
  assert.equal(f.instructions?.length, 1);
  const md = hoverAt(a, '__iowrite32_copy');
  assert.match(md, /\| #VE \| exit reason 48 \(EPT_VIOLATION\) → arch\/x86\/coco\/tdx\/tdx\.c handle_mmio\(\)/);
  assert.match(md, /\| judged on \| `rep movsd \[rdi\],\[rsi\]`/);
});

test('hover words the record it is given: a changed record changes the hover, nothing is rebuilt from class and size', async () => {
  const a = await auditUnder('tdx-linux-6.1.192');
  const f = at(a, 'inb(port)');
  const forged: HandlerView = {
    ...f.handler!,
    hypercall: { kind: 'tdvmcall', r10: 0, r11: 30, r12: 'SENTINEL-SIZE', r13: 0, r14: 'SENTINEL-PORT', r15: null, returns: null },
    registers: [{ reg: 'al', kernel: 'SENTINEL-KERNEL', cpu: 'SENTINEL-CPU' }],
    rip: { advance: 've->instr_len', bytes: 77 },
  };
  f.handler = forged;
  const md = hoverAt(a, 'inb(port)');
  assert.match(md, /R12=SENTINEL-SIZE R13=0 R14=SENTINEL-PORT/);
  assert.match(md, /al: kernel SENTINEL-KERNEL; CPU SENTINEL-CPU/);
  assert.match(md, /\| RIP \| \+77 \(ve->instr_len from the TDX module\) \|/);
});

/** A compiled instruction as describe() makes one, for bytes and a profile (no object needed). */
function insn(hex: string, profile: Profile, over: Partial<CompiledInstruction> = {}): CompiledInstruction {
  const h = handleOnce(parseHex(hex), profile);
  return {
    object: '/o/f.o', function: 'f', offset: 0x10, section: '.text', address: '0x10', bytes: hex, text: h.view.text,
    class: h.view.class, size: h.view.size, verdict: h.view.verdict, misemulation: h.view.misemulation, flags: h.flags, summary: h.summary, handler: h.view,
    file: '/d/f.c', line: 4, column: 2, inlineChain: ['inb', 'f'], match: 'inlined-accessor', ...over,
  };
}

function withCompiled(a: FileAudit, needle: string, instructions: CompiledInstruction[]): Finding {
  const f = at(a, needle);
  const idx = a.analysis.sites.indexOf(f.site);
  const compiled: FileCompiled = { object: { path: '/o/f.o', state: 'fresh', message: '' }, sites: [{ siteIndex: idx, instructions }], functions: [] };
  applyCompiled(compiled, a.analysis.sites, new Map([[f.site, f]]));
  return f;
}

test('compiled form: the instruction\'s verdict, summary and hover rows are its record\'s, per kernel version', async () => {
  const old = withCompiled(await auditUnder('tdx-linux-6.1.150'), 'inb(port)', [insn('ec', 'tdx-linux-6.1.150')]);
  assert.equal(old.instructions![0]!.verdict, 'misemulated');
  assert.equal(headline(old.message), 'mis-emulated: `in al,dx` — f+0x10 (port-mask-extra-bit).');
  assert.match(old.message, /Handler: IN of 1 byte: emulated wrongly by handle_io\(\) \(port-mask-extra-bit\): GENMASK\(8, 0\) is 9 bits/);
  const fixed = withCompiled(await auditUnder('tdx-linux-6.1.192'), 'inb(port)', [insn('ec', 'tdx-linux-6.1.192')]);
  assert.equal(headline(fixed.message), 'emulated #VE: `in al,dx` — f+0x10.');
  const obj = { path: '/o/f.o', state: 'fresh' as const, message: '' };
  assert.match(compiledMarkdown(old.instructions!, obj), /\| verdict \| ⚠️ emulated wrongly: IN of 1 byte: emulated wrongly by handle_io\(\)/);
  assert.match(compiledMarkdown(fixed.instructions!, obj), /\| verdict \| ✅ emulated: IN of 1 byte: emulated by handle_io\(\) with TDVMCALL IO_INSTRUCTION \(30\), RIP \+= 1 \|/);
  // SEV-ES: the compiled instruction's hover has the GHCB exit_info_1 the kernel builds.
  const sev = compiledMarkdown([insn('ec', 'sev-es')], obj);
  assert.match(sev, /\| GHCB \| VMGEXIT SVM_EXIT_IOIO \(0x7b\) exit_info_1=port DX << 16 \\\| IOIO_TYPE_IN \\\| IOIO_DATA_8 \\\| IOIO_ADDR_64 /);
  assert.match(sev, /\| class, size \| PORT_IN, 1 byte · mis-emulation: port-in-upper-cleared \|/);
});

test('compiled form: a record that says rejected (0x67 under the user-half check) makes an Error naming the handler\'s check; under SEV a failure terminates', async () => {
  const a = await auditUnder('tdx-linux-6.12+');
  const f = withCompiled(a, 'writel(1', [insn('67 89 07', 'tdx-linux-6.12+')]);
  assert.equal(f.instructions![0]!.verdict, 'rejected', 'the record\'s verdict, not classify\'s (which keeps "emulated" for decode)');
  assert.equal(f.severity, 'error');
  assert.equal(headline(f.message), 'oops: `mov [edi],eax` fails handle_mmio()\'s check (-EINVAL) — f+0x10.');
  const s = withCompiled(await auditUnder('sev-es'), 'writel(1', [insn('83 0f 01', 'sev-es')]);
  assert.equal(headline(s.message), 'terminates: `or dword ptr [rdi],1` cannot be decoded — f+0x10.');
  assert.match(s.message, /Handler: INSN_MMIO_DECODE_FAILED: vc_handle_mmio\(\) returns ES_DECODE_FAILED: .*the guest is terminated\.$/);
});

test('the summary and the JSON form of an instruction come from its record', () => {
  const i = insn('ed', 'tdx-linux-6.1.150');
  assert.equal(i.summary, summaryText(handle(parseHex('ed'), 'tdx-linux-6.1.150')));
  const j = instructionJson(i);
  assert.equal(j.handler?.verdict, 'misemulated');
  assert.deepEqual(j.handler?.misemulation, ['port-mask-extra-bit', 'port-inl-upper-kept']);
  assert.deepEqual(j.handler?.rows, ['tdx-io', 'tdx-io-in']);
  assert.equal('mmio' in (j.handler as object), false, 'classify\'s MMIO view is not carried');
  assert.deepEqual(JSON.parse(JSON.stringify(j.handler)), j.handler, 'plain data');
});

test('report model: without objects the source verdict is the record\'s, and the record travels with the finding', async () => {
  const model = async (profile: Profile) => {
    const a = await auditUnder(profile);
    const provenance = collectProvenance({ root: '/d', scope: ['/d'], profile, kernel: undefined, objects: [], now: new Date('2026-01-01T00:00:00Z') });
    return buildReportModel({ files: [{ path: '/d/f.c', text: SRC, audit: a }], provenance });
  };
  const by = (m: Awaited<ReturnType<typeof model>>, accessor: string) => m.findings.find((f) => f.accessor === accessor)!;
  const old = await model('tdx-linux-6.1.150');
  assert.equal(by(old, 'inb').verdict, 'misemulated');
  assert.equal(by(old, 'inb').verdictFrom, 'source');
  assert.equal(by(old, 'inb').handler?.profile, 'tdx-linux-6.1.150');
  assert.equal(by(await model('tdx-linux-6.1.192'), 'inb').verdict, 'emulated');
  const sev = await model('sev-es');
  assert.equal(by(sev, 'native_halt').verdict, 'not-intercepted');
  assert.equal(by(sev, '__iowrite32_copy').verdict, 'emulated');
  assert.equal(by(await model('tdx-linux-6.12+'), '__iowrite32_copy').verdict, 'rejected-movs');
});

// The real join: gcc builds the NIC fixture, and the engine's profile decides the record describe() attaches.
const FIX = resolve(__dirname, '../../fixtures');
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

describe('compiled instructions get the record of the engine\'s profile (gcc fixture)', { skip: hasGcc ? false : 'gcc is not installed' }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-handler-'));
    for (const f of ['tdx_io.h', 'foo_nic.c']) copyFileSync(join(FIX, 'drivers', f), join(dir, f));
    const r = spawnSync('gcc', ['-O2', '-g', '-c', 'foo_nic.c', '-o', 'foo_nic.o'], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function inbOf(profile: Profile): Promise<{ f: Finding; md: string }> {
    const e = await AuditEngine.create({ readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } } });
    e.configure({ profile, objects: {} });
    const p = join(dir, 'foo_nic.c');
    const text = readFileSync(p, 'utf8');
    const a = e.audit(p, text, 1);
    const pos = locate(text, 'inb(fp->io_port + 1)');
    const f = a.findings.find((x) => x.site.range.start.line === pos.line)!;
    return { f, md: hoverMarkdown(a, { line: pos.line, character: pos.character + 1 })! };
  }

  test('in al,dx: mis-emulated under 6.1.150, emulated under 6.1.192, GHCB under SEV-ES', async () => {
    const old = await inbOf('tdx-linux-6.1.150');
    const i = old.f.instructions?.[0];
    assert.equal(i?.text, 'in al,dx');
    assert.equal(i?.handler?.profile, 'tdx-linux-6.1.150');
    assert.equal(i?.verdict, 'misemulated');
    assert.deepEqual(i?.misemulation, ['port-mask-extra-bit']);
    assert.equal(old.f.severity, 'warning');
    assert.match(old.md, /\*\*Compiled form\*\*[\s\S]*\| registers \| al: kernel RAX &= ~GENMASK\(8, 0\)/);

    const fixed = await inbOf('tdx-linux-6.1.192');
    assert.equal(fixed.f.instructions?.[0]?.verdict, 'emulated');
    assert.equal(fixed.f.severity, 'information');
    assert.match(fixed.md, /\| registers \| al: kernel insn_assign_reg\(&regs->ax, R11, 1\)/);

    const sev = await inbOf('sev-es');
    assert.equal(sev.f.instructions?.[0]?.handler?.platform, 'sev-es');
    assert.match(sev.md, /\| GHCB \| VMGEXIT SVM_EXIT_IOIO \(0x7b\) exit_info_1=port DX << 16/);
    assert.doesNotMatch(sev.md, /\| TDVMCALL \|/);
  });
});

test('the message says where the rep movsl runs in the profile\'s kernel: the out-of-line callee up to 6.9, the caller since 6.10', async () => {
  const old = at(await auditUnder('tdx-linux-6.1'), '__iowrite32_copy');
  const now = at(await auditUnder('tdx-linux-6.12+'), '__iowrite32_copy');
  assert.match(old.message, /in the out-of-line callee/);
  assert.doesNotMatch(now.message, /in the out-of-line callee/);
});
