import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { classifyMmio } from '../../../server/src/x86/classify';
import type { FileAudit } from '../../../server/src/audit/engine';
import type { Site } from '../../../server/src/c/types';
import { engineWith, locate } from './helpers';
import { GCC_FLAGS, gcc, hasGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures/drivers/provenance');
const HEADERS = [join(FIX, 'prov_io.h'), resolve(FIX, '../tdx_io.h')];
const disk = Object.fromEntries(HEADERS.map((p) => [p, readFileSync(p, 'utf8')]));

async function auditFixture(name: string): Promise<{ src: string; audit: FileAudit; untyped: Site[] }> {
  const path = join(FIX, name);
  const src = readFileSync(path, 'utf8');
  const audit = (await engineWith(disk)).auditOnce(path, src);
  return { src, audit, untyped: audit.analysis.sites.filter((s) => s.kind === 'untyped-deref') };
}

async function untypedIn(src: string, files: Record<string, string> = {}) {
  const a = (await engineWith(files)).auditOnce('/p/x.c', src);
  return { audit: a, untyped: a.analysis.sites.filter((s) => s.kind === 'untyped-deref') };
}

const line = (src: string, needle: string) => locate(src, needle).line;
const brief = (s: Site) => [s.function, s.accessor, s.width, s.accessorKind, s.shape ?? ''];

test('cast-away overlay: |= and &= are RMW writes, a masked field in a condition a TEST, a u16 field a widening load', async () => {
  const { src, audit, untyped } = await auditFixture('overlay.c');
  assert.deepEqual(untyped.map(brief), [
    ['ovl_enable', 'read-modify-write', 4, 'mmio-write', 'rmw'],
    ['ovl_disable', 'read-modify-write', 4, 'mmio-write', 'rmw'],
    ['ovl_poll', 'load', 4, 'mmio-read', 'test'],
    ['ovl_revision', 'load', 2, 'mmio-read', 'widening'],
    ['ovl_kick', 'read-modify-write', 4, 'mmio-write', 'rmw'],
    ['ovl_store', 'store', 4, 'mmio-write', ''],
  ]);
  const enable = untyped[0];
  assert.deepEqual(enable.range.start, locate(src, 'ovl->ctrl |= CTRL_EN'));
  assert.deepEqual(enable.callRange.end, { line: enable.range.end.line, character: locate(src, 'ovl->ctrl |= CTRL_EN').character + 'ovl->ctrl |= CTRL_EN'.length });
  // declaredAt is the mapping call, and the path names each store on the way.
  assert.equal(enable.declaredAt!.name, 'ioremap');
  assert.deepEqual(enable.declaredAt!.range.start, locate(src, 'ioremap(phys, 0x100)'));
  assert.deepEqual(enable.path!.map((p) => p.message), ['stored in `base`', 'stored in `ovl`']);
  assert.equal(enable.path![1].range.start.line, line(src, 'ovl = (struct ovl_regs __force *)base'));
  // The macro is expanded at its use: the site is the macro call.
  assert.deepEqual(untyped[4].range.start, locate(src, 'OVL_REG(ovl, 0x10)'));
  assert.equal(untyped[4].address, 'OVL_REG(ovl, 0x10)');

  const f = audit.findings.find((x) => x.site === enable)!;
  assert.equal(f.rule, 'tdx-mmio-untyped-deref');
  assert.equal(f.severity, 'warning');
  assert.match(f.message, /RMW/);
  assert.match(f.message, /ioremap\(\) \(line \d+\)/);
  assert.deepEqual(f.related.map((r) => r.message), ['MMIO mapped by ioremap() here', 'stored in `base`', 'stored in `ovl`']);
  assert.match(audit.findings.find((x) => x.site === untyped[2])!.message, /`test` on memory/);
});

test('a pointer kept in a global by probe (via a static helper) is MMIO in the interrupt handler', async () => {
  const { src, untyped } = await auditFixture('global_irq.c');
  assert.deepEqual(untyped.map(brief), [
    ['gi_irq', 'load', 4, 'mmio-read', 'test'],
    ['gi_irq', 'read-modify-write', 4, 'mmio-write', 'rmw'],
    ['gi_load_fw', 'memcpy', 0, 'mmio-write', 'copy'],
  ]);
  assert.equal(untyped[0].declaredAt!.name, 'pci_iomap');
  assert.deepEqual(untyped[0].path!.map((p) => p.message), ['returned by map_regs()', 'stored in `g_regs`']);
  assert.equal(untyped[0].address, '*(u32 *)(g_regs + REG_STATUS)');
  assert.deepEqual(untyped[2].range.start, locate(src, 'memcpy(g_regs'));
});

test('struct members across functions, pcim_iomap_table()[BAR], and a static helper handed the pointer', async () => {
  const { src, untyped } = await auditFixture('member.c');
  assert.deepEqual(untyped.map(brief), [
    ['mb_start', 'read-modify-write', 4, 'mmio-write', 'rmw'],
    ['mb_set_mode', 'read-modify-write', 1, 'mmio-write', 'rmw'],
    ['mb_set_mode', 'store', 1, 'mmio-write', ''],
  ]);
  assert.equal(untyped[0].declaredAt!.name, 'devm_ioremap');
  assert.deepEqual(untyped[0].path!.map((p) => p.message), ['stored in `priv->regs`']);
  assert.equal(untyped[1].declaredAt!.name, 'pcim_iomap_table');
  assert.deepEqual(untyped[1].path!.map((p) => p.message), ['stored in `priv->bar2`', 'passed as parameter bar of mb_set_mode()']);
  assert.equal(untyped[1].path![1].range.start.line, line(src, 'mb_set_mode(priv->bar2, 3)'));
});

test('memremap memory is not MMIO, and an __iomem-typed value is reported once, by tdx-iomem-deref', async () => {
  const { src, audit, untyped } = await auditFixture('negative.c');
  assert.deepEqual(untyped, []);
  const derefs = audit.analysis.sites.filter((s) => s.kind !== 'call');
  assert.deepEqual(derefs.map((s) => [s.kind, s.range.start.line]), [['iomem-deref', line(src, '*(u32 __iomem *)(base + 8) |= 1')]]);
  assert.deepEqual(audit.analysis.sites.filter((s) => s.kind === 'call').map((s) => s.accessor), ['writel', 'readl']);
});

test('an __iomem value copied into a plain pointer is followed from its declaration', async () => {
  const src = `struct hw { void __iomem *mmio; };
struct blk { unsigned int ctl; unsigned char st; };
void go(struct hw *h)
{
\tstruct blk *b = (struct blk *)h->mmio;
\tb->ctl |= 4;
\tif (b->st & 0x80)
\t\tb->ctl = 0;
}
`;
  const { untyped } = await untypedIn(src);
  assert.deepEqual(untyped.map(brief), [
    ['go', 'read-modify-write', 4, 'mmio-write', 'rmw'],
    ['go', 'load', 1, 'mmio-read', 'test'],
    ['go', 'store', 4, 'mmio-write', ''],
  ]);
  assert.equal(untyped[0].declaredAt!.name, 'mmio');
  assert.equal(untyped[0].declaredAt!.range.start.line, 0);
});

test('pointer arithmetic, &field, array indexing and a pass-through macro keep the provenance', async () => {
  const src = `#define REGS(p) ((struct r *)(p))
struct r { unsigned int a; unsigned int b[8]; };
void f(unsigned long phys, int i)
{
\tchar *base = (char *)ioremap(phys, 64);
\tunsigned int *pa = &REGS(base + 0x40)->a;
\tunsigned int *q = (unsigned int *)base + 2;
\t*pa = 1;
\tq[i]++;
\tREGS(base)->b[i] &= 3;
}
`;
  const { untyped } = await untypedIn(src);
  assert.deepEqual(untyped.map((s) => [s.address, s.accessor, s.width]), [
    ['*pa', 'store', 4],
    ['q[i]', 'read-modify-write', 4],
    ['REGS(base)->b[i]', 'read-modify-write', 4],
  ]);
});

test('no finding without MMIO provenance: sizeof, addresses, shadowing locals, RAM from kmalloc, NULL stores', async () => {
  const src = `struct s { unsigned int *regs; };
static unsigned int *regs;
void *kmalloc(unsigned long n, int f);
void a(void) { regs = (unsigned int *)ioremap(0xfee00000, 4096); }
unsigned long b(struct s *p)
{
\tunsigned int *regs = kmalloc(64, 0);
\tunsigned int *addr = (unsigned int *)(regs + 1);
\tp->regs = 0;
\tregs[0] |= 1;
\treturn sizeof(*addr) + (unsigned long)&regs[2] + p->regs[1];
}
`;
  const { untyped } = await untypedIn(src);
  assert.deepEqual(untyped, []);
});

test('a field name is matched through an untyped base only when nothing else is stored in it', async () => {
  const base = `struct a { void *base; };
struct b { void *base; };
void *kzalloc(unsigned long n, int f);
void pa(struct a *x) { x->base = (void *)ioremap(0xfed00000, 64); }
void use(void *p) { ((struct a *)p)->base = 0; *(unsigned int *)((struct a *)p)->base |= 1; }
unsigned int any(void *q) { return *(unsigned int *)lookup(q)->base; }
`;
  const only = await untypedIn(base);
  assert.deepEqual(only.untyped.map((s) => s.function), ['use', 'any']);
  const mixed = await untypedIn(base + 'void pb(struct b *y) { y->base = kzalloc(64, 0); }\n');
  // struct a's field is still MMIO where the base's type is known; the untyped base is ambiguous now.
  assert.deepEqual(mixed.untyped.map((s) => s.function), ['use']);
});

test('acpi_os_map_memory is memory (ACPI tables) except in the SystemMemory operation-region handler; ioremap_encrypted and memremap are memory', async () => {
  const src = `void *acpi_os_map_memory(unsigned long a, unsigned long n);
unsigned int table_sum(unsigned long a) { unsigned char *t = acpi_os_map_memory(a, 36); return t[9]; }
int acpi_ex_system_memory_space_handler(unsigned long a, unsigned int *v)
{
\tunsigned char *p = acpi_os_map_memory(a, 4);
\t*v = *(unsigned int *)p;
\treturn 0;
}
unsigned long secrets(unsigned long pa)
{
	struct layout *l;
	void __iomem *mem = ioremap_encrypted(pa, 4096);
	l = (struct layout *)mem;
	return l->jump_table_pa;
}
struct sec { void __iomem *secret_data; };
unsigned int secret_len(struct sec *s)
{
	unsigned int *p = (void __force *)s->secret_data;
	return p[1];
}
void sec_map(struct sec *s, unsigned long pa) { s->secret_data = ioremap_encrypted(pa, 4096); }
void *buf_of(unsigned long a) { return memremap(a, 64, 1); }
void z(unsigned long a) { ((unsigned int *)buf_of(a))[0] |= 1; }
`;
  const { untyped } = await untypedIn(src);
  assert.deepEqual(untyped.map((s) => [s.function, s.declaredAt!.name]), [['acpi_ex_system_memory_space_handler', 'acpi_os_map_memory']]);
});

test('a static helper returning the mapping is followed into its callers', async () => {
  const src = `struct ctl { unsigned short id; unsigned int go; };
static struct ctl *ctl_map(unsigned long pa) { return (struct ctl *)pci_iomap(0, 0, 0); }
unsigned int probe(unsigned long pa) { struct ctl *c = ctl_map(pa); c->go = 1; return c->id; }
`;
  const { untyped } = await untypedIn(src);
  assert.deepEqual(untyped.map(brief), [
    ['probe', 'store', 4, 'mmio-write', ''],
    ['probe', 'load', 2, 'mmio-read', 'widening'],
  ]);
  assert.deepEqual(untyped[0].path!.map((p) => p.message), ['returned by ctl_map()', 'stored in `c`']);
});

// ---------------------------------------------------------------------------------
// What gcc really emits for each fixture pattern, and what the #VE handler does with
// it. The end-to-end verdict join reuses these fixtures.

interface Insn {
  fn: string;
  line: number;
  bytes: string;
  text: string;
}

function disassemble(obj: string, source: string): Insn[] {
  const out = execFileSync('objdump', ['-d', '-l', '--insn-width=16', obj], { encoding: 'utf8' });
  const insns: Insn[] = [];
  let fn = '';
  let cur = 0;
  for (const l of out.split('\n')) {
    const head = /^[0-9a-f]+ <([^>]+)>:$/.exec(l);
    if (head) {
      fn = head[1].replace(/\..*$/, ''); // mb_set_mode.constprop.0 -> mb_set_mode
      continue;
    }
    const loc = /^(\/.*):(\d+)(?: \(discriminator \d+\))?$/.exec(l);
    if (loc) {
      cur = basename(loc[1]) === basename(source) ? Number(loc[2]) : 0;
      continue;
    }
    const ins = /^\s+[0-9a-f]+:\t([0-9a-f ]+?)\s*\t(.*)$/.exec(l);
    if (ins) insns.push({ fn, line: cur, bytes: ins[1].trim(), text: ins[2].replace(/\s+#.*$/, '').replace(/\s+/g, ' ').trim() });
  }
  return insns;
}

const haveGcc = hasGcc && spawnSync('objdump', ['--version']).status === 0;

test('gcc -O2 compiles each untyped pattern to the instruction the #VE handler rejects (or mis-emulates)', { skip: haveGcc ? false : 'gcc/objdump not installed: cannot check the compiled forms of the provenance fixtures' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-prov-'));
  try {
    // For each site (file, line of the site), a memory instruction gcc attributes to that
    // line, and the verdict the kernel's decoder gives it.
    const expected: [file: string, needle: string, insn: RegExp, verdict: string][] = [
      ['overlay.c', 'ovl->ctrl |= CTRL_EN', /^orl \$0x1,\(%r\w+\)$/, 'decode-failed'],
      ['overlay.c', 'ovl->ctrl &= ~CTRL_EN', /^andl \$0xfffffffe,\(%r\w+\)$/, 'decode-failed'],
      ['overlay.c', 'ovl->status & ST_READY', /^testb \$0x8,0x4\(%r\w+\)$/, 'decode-failed'],
      ['overlay.c', 'return ovl->rev', /^movzwl 0x8\(%r\w+\),%e\w+$/, 'misemulated'],
      ['overlay.c', 'OVL_REG(ovl, 0x10) |= 2', /^orl \$0x2,0x10\(%r\w+\)$/, 'decode-failed'],
      ['overlay.c', 'ovl->data[1] = v', /^mov %e\w+,0x10\(%r\w+\)$/, 'emulated'],
      ['global_irq.c', 'g_regs + REG_STATUS) & IRQ_PENDING', /^testb \$0x8,0x4\(%r\w+\)$/, 'decode-failed'],
      ['global_irq.c', 'g_regs + REG_ACK) |= IRQ_PENDING', /^orl \$0x8,0x8\(%r\w+\)$/, 'decode-failed'],
      ['global_irq.c', 'memcpy(g_regs + 0x100', /^movups %xmm\d,0x1[0-3]0\(%r\w+\)$/, 'decode-failed'],
      ['member.c', 'priv->regs[4] |= 0x10', /^orl \$0x10,0x10\(%r\w+\)$/, 'decode-failed'],
      ['member.c', 'bar[0x40] &= 0xf0', /^andb \$0xf0,0x40\(%r\w+\)$/, 'decode-failed'],
      ['member.c', 'bar[0x41] = mode', /^movb \$0x3,0x41\(%r\w+\)$/, 'emulated'],
    ];
    const rows: string[] = [];
    const byFile = new Map<string, Insn[]>();
    for (const name of ['overlay.c', 'global_irq.c', 'member.c']) {
      const obj = join(dir, name.replace(/\.c$/, '.o'));
      gcc([...GCC_FLAGS.plain, '-c', '-o', obj, join(FIX, name)], FIX);
      byFile.set(name, disassemble(obj, name));
    }
    for (const [file, needle, re, verdict] of expected) {
      const { src, untyped } = await auditFixture(file);
      const at = locate(src, needle);
      const site = untyped.find((s) => s.callRange.start.line <= at.line && s.callRange.end.line >= at.line);
      assert.ok(site, `${file}: a site on the line of ${needle}`);
      const insns = byFile.get(file)!.filter((i) => i.line === site.range.start.line + 1 && /\(/.test(i.text));
      const hit = insns.find((i) => re.test(i.text));
      assert.ok(hit, `${file}:${site.range.start.line + 1} (${needle}): expected ${re}, gcc emitted ${JSON.stringify(insns.map((i) => i.text))}`);
      const bytes = Uint8Array.from(hit.bytes.split(' ').map((b) => parseInt(b, 16)));
      const v = classifyMmio(bytes, 'tdx-linux-6.1');
      assert.equal(v.verdict, verdict, `${hit.text}: ${v.kernelEnum}`);
      rows.push(`${file}:${site.range.start.line + 1} ${site.accessor.padEnd(17)} ${hit.text.padEnd(28)} ${v.kernelEnum} -> ${v.verdict}`);
    }
    t.diagnostic(`compiled forms (gcc ${execFileSync('gcc', ['-dumpversion'], { encoding: 'utf8' }).trim()} -O2):\n${rows.join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a value flows through a variable whose name is not ASCII (`régs`): words are read as C identifiers, not split', async () => {
  const src = `void f(resource_size_t start)
{
	u32 *régs = ioremap(start, 16);
	u32 *p = régs;
	*p = 1;
}
`;
  const { untyped } = await untypedIn(src);
  assert.deepEqual(untyped.map((s) => [s.function, s.accessor, s.range.start.line]), [['f', 'store', 4]]);
});
