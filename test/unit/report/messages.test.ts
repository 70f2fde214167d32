// Finding messages lead with the verdict: the first words say what happens to the
// guest and where (Problems cuts the rest off), then the site's expression; the
// explanation follows. Source text is quoted as written, without the blanks the
// parser's annotation rewrite leaves where `__iomem` stood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompiledInstruction, FileCompiled } from '../../../server/src/audit/compiled';
import { AuditEngine, type Finding } from '../../../server/src/audit/engine';
import { codeText, withoutVerdict } from '../../../server/src/audit/findings';
import { applyCompiled } from '../../../server/src/audit/verdicts';
import { headline } from '../../../server/src/audit/report/sections';

const DRIVER = `#include "ahci.h"
static void ahci_kick(struct ahci_host_priv *hpriv, void __iomem *port_mmio, u32 *buf)
{
	u32 v = *(u32 __force __iomem *)port_mmio;
	*(u32 __force __iomem *)port_mmio = v | 1;
	writel(v,
	       port_mmio +
	       0x18);
	__iowrite32_copy(port_mmio + 0x100, buf, 16);
	iosubmit_cmds512(port_mmio, buf, 1);
	memcpy(port_mmio, buf, 64);
	u16 *tbl = (u16 *)hpriv->vc_table;
	tbl[2] |= 0x10;
	inb(0x60);
}
`;
const HEADER = `struct ahci_host_priv {
	int flags;
	void __iomem *vc_table;
};
`;

async function audit() {
  const e = await AuditEngine.create({ readFile: (p) => (p === '/d/ahci.h' ? HEADER : undefined) });
  return e.auditOnce('/d/ahci.c', DRIVER);
}

/** The verdict words a message may open with. */
const LEADS = /^(?:oops|likely oops|mis-emulated|likely mis-emulated|emulated #VE|emulated, one #VE per [\w -]*element|compiler-dependent|#VE unless [\w ]+|#VE for hypervisor leaves): /;

test('every message opens with the verdict, then the site in backticks, within its first sentence', async () => {
  const a = await audit();
  assert.ok(a.findings.length >= 8, `${a.findings.length} findings`);
  for (const f of a.findings) {
    const h = headline(f.message);
    assert.match(h, LEADS, f.message);
    assert.match(h, /`[^`]+`/, `the site is named in the first sentence: ${f.message}`);
    assert.ok(h.length < 160, `a headline Problems shows whole (${h.length}): ${h}`);
  }
  const by = (rule: string) => a.findings.filter((f) => f.rule === rule).map((f) => headline(f.message));
  assert.deepEqual(by('tdx-movs-copy'), ['oops: `__iowrite32_copy` on `port_mmio + 0x100` copies with `rep movsl`, which handle_mmio rejects.']);
  assert.deepEqual(by('tdx-movdir64b'), ['oops: `iosubmit_cmds512` on `port_mmio` is MOVDIR64B, which cannot be decoded.']);
  assert.deepEqual(by('tdx-ve-port-io'), ['emulated #VE: `inb` on `0x60`.']);
});

test('the __iomem rewrite does not leak: no padded blanks, no line breaks in quoted source', async () => {
  const a = await audit();
  for (const f of a.findings) {
    assert.doesNotMatch(f.message, / {2,}|\n|\t/, f.message);
  }
  const deref = a.findings.filter((f) => f.rule === 'tdx-iomem-deref').map((f) => headline(f.message));
  assert.deepEqual(deref, ['compiler-dependent: load of `*(u32 *)port_mmio`.', 'compiler-dependent: store to `*(u32 *)port_mmio`.']);
  const w = a.findings.find((f) => f.rule === 'tdx-ve-mmio')!;
  assert.equal(headline(w.message), 'emulated #VE: `writel` on `port_mmio + 0x18`.');
  assert.equal(codeText('*(u32         *)port_mmio'), '*(u32 *)port_mmio');
  assert.equal(codeText('( a +\n\t\t b )'), '(a + b)');
});

test('a declaration in a header is named by the header, not by a bare line number', async () => {
  const a = await audit();
  const rmw = a.findings.find((f) => f.rule === 'tdx-mmio-untyped-deref' && f.site.accessor === 'read-modify-write');
  assert.ok(rmw, a.findings.map((f) => `${f.rule} ${f.message}`).join('\n'));
  assert.match(rmw.message, /^likely oops: read-modify-write of `tbl\[2\]` \(MMIO not declared __iomem\)/);
  assert.match(rmw.message, /__iomem `vc_table` \(ahci\.h:3\)/);
  assert.doesNotMatch(rmw.message, /\(line \d+\)/);
});

function insn(over: Partial<CompiledInstruction>): CompiledInstruction {
  return {
    object: '/o/extlog.o', function: 'extlog_init', offset: 0x2dd, section: '.init.text', address: '0x2dd', bytes: '83 48 20 01', text: 'or dword ptr [rax+20h],1',
    class: 'DECODE_FAILED', size: 0, verdict: 'decode-failed', misemulation: [], flags: [], summary: 'INSN_MMIO_DECODE_FAILED: handle_mmio returns -EINVAL: "VE fault" oops.',
    file: undefined, line: 5, column: 2, inlineChain: ['extlog_init'], match: 'dataflow', ...over,
  };
}

/** The findings of the audit after the compiled forms given per site index. */
function compiledMessages(a: Awaited<ReturnType<typeof audit>>, forms: Record<number, CompiledInstruction[]>): Finding[] {
  const bySite = new Map(a.findings.map((f) => [f.site, f]));
  const compiled: FileCompiled = {
    object: { path: '/o/ahci.o', state: 'fresh', message: '' },
    sites: Object.entries(forms).map(([i, instructions]) => ({ siteIndex: Number(i), instructions })),
    functions: [],
  };
  applyCompiled(compiled, a.analysis.sites, bySite);
  return a.findings;
}

test('with the compiled form the message leads with the instruction, its fate and where it lands; the expression follows', async () => {
  const a = await audit();
  const store = a.analysis.sites.findIndex((s) => s.rule === 'tdx-iomem-deref' && s.accessor === 'store');
  const load = a.analysis.sites.findIndex((s) => s.rule === 'tdx-iomem-deref' && s.accessor === 'load');
  const wr = a.analysis.sites.findIndex((s) => s.rule === 'tdx-ve-mmio');
  const fs = compiledMessages(a, {
    [store]: [insn({})],
    [load]: [insn({ text: 'movzx eax,word ptr [rdi]', verdict: 'misemulated', misemulation: ['movzx32-upper'], offset: 0x10 })],
    [wr]: [insn({ text: 'mov [rdi+18h],eax', verdict: 'emulated', offset: 0x20 })],
  });
  const at = (i: number) => fs.find((f) => f.site === a.analysis.sites[i])!;
  assert.equal(at(store).severity, 'error');
  assert.equal(headline(at(store).message), 'oops: `or dword ptr [rax+20h],1` cannot be decoded — extlog_init+0x2dd.');
  // Then the expression, without the source's own (superseded) verdict; the handler's words last.
  assert.match(at(store).message, /— extlog_init\+0x2dd\. Store to `\*\(u32 \*\)port_mmio`\. .* Handler: INSN_MMIO_DECODE_FAILED: handle_mmio returns -EINVAL: "VE fault" oops\.$/);
  assert.doesNotMatch(at(store).message, /compiler-dependent:/);
  assert.equal(headline(at(load).message), 'mis-emulated: `movzx eax,word ptr [rdi]` — extlog_init+0x10 (movzx32-upper).');
  assert.equal(headline(at(wr).message), 'emulated #VE: `mov [rdi+18h],eax` — extlog_init+0x20.');
  assert.match(at(wr).message, /extlog_init\+0x20\. `writel` on `port_mmio \+ 0x18`\./);
});

test('withoutVerdict drops only the leading verdict', () => {
  assert.equal(withoutVerdict('likely oops: read-modify-write of `a: b`.'), 'Read-modify-write of `a: b`.');
  assert.equal(withoutVerdict('emulated #VE: `readl` on `x`.'), '`readl` on `x`.');
  assert.equal(withoutVerdict('`memcpy: x` on y'), '`memcpy: x` on y');
});
