import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledInstruction, FileCompiled } from '../../../server/src/audit/compiled';
import {
  TOOL_VERSION,
  collectProvenance,
  findTreeRoot,
  objectStateText,
  parseKernelConfig,
  scopeLabels,
  parseKernelMakefile,
  subsystemOf,
} from '../../../server/src/audit/report/provenance';
import { DRIVER, KERNEL_MAKEFILE, makeTree, modelOf } from './helpers';

test('kernel version comes from the top-level Makefile; a kbuild Makefile is not one', () => {
  assert.deepEqual(parseKernelMakefile(KERNEL_MAKEFILE, 'M'), { version: '6.1.55-rc2', name: 'Curry Ramen', makefile: 'M' });
  assert.equal(parseKernelMakefile('VERSION = 6\nPATCHLEVEL = 8\nSUBLEVEL = 0\nEXTRAVERSION =\n', 'M')!.version, '6.8.0');
  assert.equal(parseKernelMakefile('obj-$(CONFIG_ACME) += acme.o\n', 'M'), undefined);
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/Makefile': 'obj-y += acme.o\n', 'drivers/acme/acme.c': DRIVER });
  const found = findTreeRoot([join(root, 'drivers/acme/acme.c')]);
  assert.equal(found.root, root);
  assert.equal(found.kernel?.version, '6.1.55-rc2');
  // Outside a kernel tree the common directory is the root.
  const loose = makeTree({ 'a/x.c': '', 'a/b/y.c': '' });
  assert.equal(findTreeRoot([join(loose, 'a/x.c'), join(loose, 'a/b/y.c')]).root, join(loose, 'a'));
});

test('.config: the TDX options, set, unset, or absent', () => {
  const c = parseKernelConfig('CONFIG_X86_64=y\nCONFIG_INTEL_TDX_GUEST=y\nCONFIG_TDX_GUEST_DRIVER=m\n# CONFIG_AMD_MEM_ENCRYPT is not set\nCONFIG_X86_MEM_ENCRYPT=y\n', '.config');
  assert.deepEqual(c.options, { CONFIG_INTEL_TDX_GUEST: 'y', CONFIG_TDX_GUEST_DRIVER: 'm', CONFIG_AMD_MEM_ENCRYPT: 'not set', CONFIG_X86_MEM_ENCRYPT: 'y' });
});

test('provenance: tool version from package.json, config found, object states and compilers counted', () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, '.config': 'CONFIG_INTEL_TDX_GUEST=y\n' });
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  const p = collectProvenance({
    root,
    scope: [join(root, 'drivers')],
    profile: 'tdx-linux-6.1',
    objects: [
      { source: join(root, 'drivers/a.c'), info: { path: join(root, 'drivers/a.o'), state: 'fresh', message: '', producer: 'GNU C11 12.2.0 -O2' } },
      { source: join(root, 'drivers/b.c'), info: { path: join(root, 'drivers/b.o'), state: 'older-than-source', message: 'b.o is 2 h older', producer: 'GNU C11 12.2.0 -O2' } },
      { source: join(root, 'drivers/c.c'), info: { path: undefined, state: 'missing', message: 'no object' } },
    ],
  });
  assert.equal(p.tool.version, pkg.version);
  assert.equal(TOOL_VERSION, pkg.version);
  assert.equal(p.kernel?.version, '6.1.55-rc2');
  assert.deepEqual(p.config?.options, { CONFIG_INTEL_TDX_GUEST: 'y' });
  assert.deepEqual(p.scope, ['drivers']);
  assert.deepEqual(p.objectStates, { fresh: 1, 'older-than-source': 1, missing: 1 });
  assert.deepEqual(p.compilers, ['GNU C11 12.2.0 -O2']);
  assert.equal(p.objects[1].source, 'drivers/b.c');
});

test('provenance: a header without an object is not a missing object; the whole tree is named by its folder', () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE });
  const p = collectProvenance({
    root,
    scope: [root, join(root, 'drivers/atm')],
    profile: 'tdx-linux-6.1',
    objects: [
      { source: join(root, 'drivers/atm/iphase.c'), info: { path: undefined, state: 'missing', message: 'no object found for iphase.c (looked for iphase.o beside it)' } },
      { source: join(root, 'drivers/atm/iphase.h'), info: { path: undefined, state: 'missing', message: 'no object found for iphase.h (looked for iphase.o beside it)' } },
      { source: join(root, 'drivers/atm/arcdevice.h'), info: { path: undefined, state: 'missing', message: 'no object found for arcdevice.h (looked for arcdevice.o beside it)' } },
      // A header whose code was found (vmlinux's DWARF names it) is an object like any other.
      { source: join(root, 'include/linux/io.h'), info: { path: '/b/vmlinux', state: 'fresh', message: '' } },
    ],
  });
  assert.deepEqual(p.objectStates, { missing: 1, fresh: 1 });
  assert.equal(p.headersWithoutObject, 2);
  assert.ok(!p.objects.some((o) => /looked for \w+\.o beside \w+\.h|beside it/.test(o.message) && o.source.endsWith('.h')));
  assert.equal(objectStateText(p), "1 missing, 1 fresh; 2 headers (their code is in the including files' objects)");
  assert.deepEqual(p.scope, ['.', 'drivers/atm']);
  assert.deepEqual(scopeLabels(p), [`${root.split('/').pop()}/`, 'drivers/atm']);
});

test('subsystem is the first two components of the path', () => {
  assert.equal(subsystemOf('drivers/ata/libata-core.c'), 'drivers/ata');
  assert.equal(subsystemOf('drivers/net/ethernet/intel/e1000/e1000_main.c'), 'drivers/net');
  assert.equal(subsystemOf('init/main.c'), 'init');
  assert.equal(subsystemOf('top.c'), '.');
});

test('counts by verdict and by subsystem; a related location points at the io.h definition', async () => {
  const ioh = 'static inline void x(void) {}\n\nbuild_mmio_read(readl, "l", unsigned int, "=r", :"memory")\nbuild_mmio_write(writel, "l", unsigned int, "r", :"memory")\n';
  const root = makeTree({
    Makefile: KERNEL_MAKEFILE,
    'arch/x86/include/asm/io.h': ioh,
    'drivers/acme/acme.c': DRIVER,
    'drivers/ata/pata.c': 'void p(void __iomem *b) { writel(1, b); iosubmit_cmds512(b, 0, 1); }\n',
  });
  const m = await modelOf(root, ['drivers/acme/acme.c', 'drivers/ata/pata.c']);
  assert.deepEqual(m.counts.byVerdict, { emulated: 5, 'rejected-movs': 1, 'compiler-dependent': 1, 'decode-failed': 1 });
  assert.deepEqual(
    m.counts.bySubsystem.map((s) => [s.subsystem, s.total]),
    [['drivers/acme', 6], ['drivers/ata', 2]],
  );
  assert.deepEqual(m.counts.bySubsystem[1].byVerdict, { emulated: 1, 'decode-failed': 1 });
  const w = m.findings.find((f) => f.accessor === 'writel' && f.file === 'drivers/ata/pata.c')!;
  const def = w.related.find((r) => r.file === 'arch/x86/include/asm/io.h');
  assert.ok(def, JSON.stringify(w.related));
  assert.equal(def.range.start.line, 3);
  assert.equal(def.message, 'writel defined here');
  // The source-only verdicts say where they come from.
  assert.ok(m.findings.every((f) => f.verdictFrom === 'source' && f.compiled === undefined));
});

function insn(over: Partial<CompiledInstruction>): CompiledInstruction {
  return {
    object: '/o/acme.o',
    function: 'acme_probe',
    offset: 0x10,
    section: '.text',
    address: '0x10',
    bytes: '8b 07',
    text: 'mov eax,[rdi]',
    class: 'READ',
    size: 4,
    verdict: 'emulated',
    misemulation: [],
    flags: [],
    summary: 'emulated',
    file: undefined,
    line: 0,
    column: 0,
    inlineChain: ['readl', 'acme_probe'],
    match: 'inlined-accessor',
    ...over,
  };
}

test('compiled forms: the worst instruction is the verdict, and the landing table comes from the object', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  const plain = await modelOf(root, ['drivers/acme/acme.c']);
  // Site indexes follow audit.analysis.sites; find the deref's index through the same audit.
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const e = await AuditEngine.create({ readFile: () => undefined });
  const a = e.auditOnce(join(root, 'drivers/acme/acme.c'), DRIVER);
  const derefIdx = a.analysis.sites.findIndex((s) => s.rule === 'tdx-iomem-deref');
  const readIdx = a.analysis.sites.findIndex((s) => s.accessor === 'readl');
  const compiled: FileCompiled = {
    object: { path: '/o/acme.o', state: 'fresh', message: '', producer: 'GNU C11 12.2.0' },
    sites: [
      { siteIndex: derefIdx, instructions: [insn({ function: 'acme_peek', bytes: '83 0f 01', text: 'or dword ptr [rdi],1', class: 'DECODE_FAILED', verdict: 'decode-failed' }), insn({ function: 'acme_peek' })] },
      { siteIndex: readIdx, instructions: [insn({})] },
    ],
    functions: [
      { name: 'acme_probe', instructions: 3, verdicts: { emulated: 3 } },
      { name: 'acme_peek', instructions: 2, verdicts: { emulated: 1, 'decode-failed': 1 } },
    ],
  };
  const m = await modelOf(root, ['drivers/acme/acme.c'], { compiled: { 'drivers/acme/acme.c': compiled } });
  const deref = m.findings.find((f) => f.rule === 'tdx-iomem-deref')!;
  assert.equal(deref.verdict, 'decode-failed');
  assert.equal(deref.verdictFrom, 'compiled');
  assert.equal(deref.compiled?.instructions.length, 2);
  const writes = m.findings.filter((f) => f.accessor === 'writel');
  assert.ok(writes.every((f) => f.verdictFrom === 'source' && f.compiled?.instructions.length === 0), 'no instructions joined: source verdict');
  assert.deepEqual(
    m.functions.map((r) => [r.function, r.from, r.line, r.instructions, r.via]),
    [
      ['acme_probe', 'object', 9, 3, ['acme_kick']],
      ['acme_peek', 'object', 19, 2, []],
    ],
  );
  assert.equal(m.files[0].object?.state, 'fresh');
  // Fingerprints do not depend on whether objects were read.
  assert.deepEqual(m.findings.map((f) => f.fingerprint), plain.findings.map((f) => f.fingerprint));
});

test('outside a kernel tree the root is where .tdx-audit/ or .git is, whichever part of the tree is scanned', () => {
  const t = makeTree({ 'proj/.git/HEAD': 'ref: x\n', 'proj/drv/a/x.c': '', 'proj/drv/b/y.c': '' });
  const proj = join(t, 'proj');
  assert.equal(findTreeRoot([join(proj, 'drv/a/x.c')]).root, proj);
  assert.equal(findTreeRoot([join(proj, 'drv')]).root, proj);
  // A triage folder nearer than .git wins: that is where the decisions live.
  const t2 = makeTree({ 'proj/.git/HEAD': '', 'proj/sub/.tdx-audit/triage.json': '{"version":1,"entries":{}}', 'proj/sub/d/x.c': '' });
  assert.equal(findTreeRoot([join(t2, 'proj/sub/d/x.c')]).root, join(t2, 'proj/sub'));
  // A kernel tree wins over both.
  const t3 = makeTree({ '.git/HEAD': '', 'linux/Makefile': KERNEL_MAKEFILE, 'linux/.tdx-audit/x': '', 'linux/drivers/x.c': '' });
  assert.equal(findTreeRoot([join(t3, 'linux/drivers/x.c')]).root, join(t3, 'linux'));
});

test('a site read from an ERROR region is marked inParseError in the JSON and SARIF, and the mark survives a merge', async () => {
  const { jsonFinding } = await import('../../../server/src/audit/report/json');
  const { findingOf } = await import('../../../server/src/audit/report/merge');
  const { toSarif } = await import('../../../server/src/audit/report/sarif');
  const broken = ['static void g(void __iomem *base)', '{', '\twritel(2, base);', '}', 'static void f(void __iomem *base)', '{', '\tint x;', '\tx = foo(1, ;', '\twritel(1, base + 4);', '}', ''].join('\n');
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/broken.c': broken });
  const model = await modelOf(root, ['drivers/acme/broken.c']);
  const byLine = (line: number) => model.findings.find((f) => f.range.start.line === line)!;
  assert.equal(byLine(8).inParseError, true, 'writel after the broken statement');
  assert.equal(byLine(2).inParseError, undefined, 'writel in a function that parsed');
  const json = jsonFinding(byLine(8));
  assert.equal(json.inParseError, true);
  assert.equal(findingOf(json).inParseError, true, 'merge keeps the mark');
  assert.equal(jsonFinding(byLine(2)).inParseError, undefined);
  const sarif = toSarif(model);
  const props = sarif.runs[0]!.results!.map((r) => r.properties as { inParseError?: boolean } | undefined);
  assert.deepEqual(props.map((p) => p?.inParseError ?? false).sort(), [false, true]);
});
