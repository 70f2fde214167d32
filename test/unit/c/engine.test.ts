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
  assert.match(md, /exit reason 48 \(EPT_VIOLATION\)/);
  assert.match(md, /R12=4 \(size\), R13=1 \(write\)/);
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
  assert.deepEqual(read, ['/abs/dir/hw.h']);
});
