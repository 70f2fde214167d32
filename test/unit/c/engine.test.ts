import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hoverMarkdown } from '../../../server/src/audit/engine';
import { engineWith, locate } from './helpers';

const SRC = 'void f(void __iomem *b)\n{\n\twritel(1, b);\n\tinb(0x60);\n}\n';

test('an incremental reparse gives the same sites as a fresh parse', async () => {
  const e = await engineWith();
  e.audit('/d/a.c', SRC, 1);
  const edited = SRC.replace('\tinb(0x60);\n', '\tinb(0x60);\n\treadq(b + 8);\n');
  const inc = e.audit('/d/a.c', edited, 2);
  const fresh = (await engineWith()).auditOnce('/d/b.c', edited);
  assert.deepEqual(inc.analysis.sites, fresh.analysis.sites);
  assert.equal(inc.analysis.sites.length, 3);
});

test('severity overrides apply per rule, and off drops the finding', async () => {
  const e = await engineWith();
  e.configure({ severity: { 'tdx-ve-mmio': 'off', 'tdx-ve-port-io': 'error' } });
  const a = e.auditOnce('/d/c.c', SRC);
  assert.deepEqual(a.findings.map((f) => [f.site.accessor, f.severity]), [['inb', 'error']]);
});

test('plain io.h sites default to information, not warnings', async () => {
  const e = await engineWith();
  const a = e.auditOnce('/d/d.c', SRC);
  assert.equal(a.findings.find((f) => f.site.accessor === 'writel')!.severity, 'information');
});

test('hover names the accessor, exit reason, TDVMCALL registers and says the compiled form is unknown', async () => {
  const e = await engineWith();
  const a = e.auditOnce('/d/e.c', SRC);
  const md = hoverMarkdown(a, locate(SRC, 'writel'))!;
  assert.match(md, /`writel`/);
  assert.match(md, /\| #VE \| exit reason 48 \(EPT_VIOLATION\) → arch\/x86\/coco\/tdx\/tdx\.c handle_mmio\(\)/);
  assert.match(md, /TDVMCALL R10=0 R11=48 \(EXIT_REASON_EPT_VIOLATION\) R12=4 R13=1 /);
  assert.match(md, /not known/);
  assert.equal(hoverMarkdown(a, { line: 0, character: 0 }), null);
});

test('junk input gives an analysis, not an exception', async () => {
  const e = await engineWith();
  const junk = '\u0000\u0001}}}{{{ writel( ;; #if \n' + String.fromCharCode(...Array.from({ length: 500 }, (_, i) => (i * 37) % 256));
  const a = e.auditOnce('/d/junk.c', junk);
  assert.ok(a.analysis.parseErrors > 0);
});

test('a document with a non-file URI reads no includes relative to the working directory', async () => {
  const read: string[] = [];
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const e = await AuditEngine.create({ readFile: (p) => (read.push(p), undefined) });
  e.auditOnce('untitled:Untitled-1', '#include "hw.h"\nvoid f(void) { inb(1); }\n');
  assert.deepEqual(read, []);
  e.auditOnce('/abs/dir/x.c', '#include "hw.h"\n');
  // Besides the header, only the folders' Makefiles (is this a kernel tree?).
  assert.deepEqual((read as string[]).filter((p) => !p.endsWith('/Makefile')), ['/abs/dir/hw.h']);
});

test('a header reached second in an include diamond keeps what it includes: the sites of a file do not depend on which files were audited before', async () => {
  // a.c includes b.h and c.h; both include d.h, which defines the wrapper. Before,
  // c.h was cached without d.h's knowledge (d.h was already "seen" through b.h), so
  // e.c, including only c.h, lost its site when audited after a.c.
  const files: Record<string, string> = {
    '/t/d.h': '#define rd(p) readl(p)\n',
    '/t/b.h': '#include "d.h"\n',
    '/t/c.h': '#include "d.h"\nstatic inline unsigned int get(void __iomem *p) { return rd(p); }\n',
    '/t/a.c': '#include "b.h"\n#include "c.h"\nvoid fa(void __iomem *p) { get(p); }\n',
    '/t/e.c': '#include "c.h"\nvoid fe(void __iomem *p) { rd(p + 4); }\n',
  };
  const fresh = (await engineWith(files)).auditOnce('/t/e.c', files['/t/e.c']!);
  const e = await engineWith(files);
  e.auditOnce('/t/a.c', files['/t/a.c']!);
  const after = e.auditOnce('/t/e.c', files['/t/e.c']!);
  assert.equal(fresh.analysis.sites.length, 1);
  assert.deepEqual(after.analysis.sites, fresh.analysis.sites);
});

test('include cycles end, and what a cycle cut is not cached for other files', async () => {
  const files: Record<string, string> = {
    '/t/x.h': '#include "y.h"\n#define wx(v, p) writel(v, p)\n',
    '/t/y.h': '#include "x.h"\n#define wy(v, p) wx(v, p)\n',
    '/t/f.c': '#include "x.h"\nvoid f(void __iomem *p) { wy(1, p); }\n',
    '/t/g.c': '#include "y.h"\nvoid g(void __iomem *p) { wy(1, p); }\n',
  };
  const e = await engineWith(files);
  const f1 = e.auditOnce('/t/f.c', files['/t/f.c']!);
  const g1 = e.auditOnce('/t/g.c', files['/t/g.c']!);
  const g0 = (await engineWith(files)).auditOnce('/t/g.c', files['/t/g.c']!);
  const f0 = (await engineWith(files)).auditOnce('/t/f.c', files['/t/f.c']!);
  assert.deepEqual(g1.analysis.sites, g0.analysis.sites);
  assert.deepEqual(f1.analysis.sites, f0.analysis.sites);
});

test('an edit to a header two includes away reaches the includer (the cache checks every header its knowledge came from)', async () => {
  const files: Record<string, string> = {
    '/t/d.h': '#define rd(p) readl(p)\n',
    '/t/b.h': '#include "d.h"\n',
    '/t/a.c': '#include "b.h"\nvoid f(void __iomem *p) { rd(p); wr(1, p); }\n',
  };
  const e = await engineWith(files);
  assert.equal(e.auditOnce('/t/a.c', files['/t/a.c']!).analysis.sites.length, 1);
  files['/t/d.h'] += '#define wr(v, p) writel(v, p)\n';
  assert.equal(e.auditOnce('/t/a.c', files['/t/a.c']!).analysis.sites.length, 2);
});
