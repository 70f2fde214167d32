import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineWith, locate } from './helpers';

async function derefs(src: string, files: Record<string, string> = {}) {
  const e = await engineWith(files);
  const a = e.auditOnce('/w/d.c', src);
  return a.analysis.sites.filter((s) => s.kind !== 'call');
}

test('*p, p[i] and p->f of an __iomem pointer are MMIO dereferences; &p->f and sizeof are not', async () => {
  const src = `struct regs { unsigned int ctrl; unsigned int data[4]; };
unsigned int f(struct regs __iomem *r, unsigned int __iomem *p, int i)
{
\tunsigned int a = *p;
\tunsigned int b = p[i];
\tunsigned int c = r->ctrl;
\tunsigned int *q = (unsigned int *)&r->ctrl;
\tunsigned long n = sizeof(*p) + sizeof(r->data);
\treturn a + b + c + r->data[2] + (q != 0) + n;
}
`;
  const d = await derefs(src);
  assert.deepEqual(d.map((s) => s.address), ['*p', 'p[i]', 'r->ctrl', 'r->data[2]']);
  assert.deepEqual(d[0].range.start, locate(src, '*p;'));
  assert.ok(d.every((s) => s.rule === 'tdx-iomem-deref' && s.declaredAt));
});

test('a compound assignment on an __iomem struct field is a read-modify-write', async () => {
  const src = `struct ovl { unsigned int flags; };
struct dev { struct ovl __iomem *ovl; int n; };
void kick(struct dev *d) { d->ovl->flags |= 1; d->ovl->flags = 0; d->ovl->flags++; }
`;
  const d = await derefs(src);
  assert.deepEqual(d.map((s) => s.accessor), ['read-modify-write', 'store', 'read-modify-write']);
  assert.equal(d[0].declaredAt!.name, 'ovl');
});

test('an __iomem field declared in an included header is known', async () => {
  const hdr = 'struct hw { void __iomem *regs; };\n';
  const src = '#include "hw.h"\nvoid f(struct hw *h) { *(unsigned int *)h->regs = 1; }\n';
  const d = await derefs(src, { '/w/hw.h': hdr });
  assert.equal(d.length, 1);
  assert.equal(d[0].declaredAt!.file, '/w/hw.h');
});

test('a plain local that shadows an __iomem global is not MMIO', async () => {
  const src = `static unsigned int __iomem *base;
unsigned int g(void) { return *base; }
unsigned int h(void) { unsigned int *base = 0; return *base; }
`;
  const d = await derefs(src);
  assert.deepEqual(d.map((s) => s.function), ['g']);
});

test('an array of __iomem pointers needs two dereferences to reach MMIO', async () => {
  const src = `void __iomem **tbl;
void f(int i) { void __iomem *p = tbl[i]; *(unsigned char *)tbl[i] = 1; (void)p; }
`;
  const d = await derefs(src);
  assert.deepEqual(d.map((s) => s.address), ['*(unsigned char *)tbl[i]']);
});

test('memcpy on an __iomem pointer is a libc MMIO site, memcpy_toio is not', async () => {
  const src = `void f(void __iomem *dst, const void *src)
{
\tmemcpy(dst + 4, src, 64);
\tmemcpy_toio(dst, src, 64);
}
`;
  const e = await engineWith();
  const a = e.auditOnce('/w/m.c', src);
  const libc = a.findings.filter((f) => f.rule === 'tdx-iomem-libc');
  assert.equal(libc.length, 1);
  assert.equal(libc[0].site.address, 'dst + 4');
  assert.equal(libc[0].severity, 'error');
  assert.ok(a.findings.some((f) => f.site.accessor === 'memcpy_toio'));
});

test('*p++ and *++p through an __iomem pointer are MMIO stores and loads (the pointer advances, the target stays MMIO)', async () => {
  const src = `void f(unsigned int __iomem *p, const unsigned int *v, int n)
{
\twhile (n--)
\t\t*p++ = *v++;
\tunsigned int x = *++p;
\t(void)x;
}
`;
  const d = await derefs(src);
  assert.deepEqual(d.map((s) => [s.address, s.accessor]), [['*p++', 'store'], ['*++p', 'load']]);
});

test('the lexical pass-over of dereferences naming no __iomem name keeps identifiers tree-sitter reads whole (Unicode, $)', async () => {
  // Derefs whose text names no __iomem variable or field are passed over before any
  // tree query (iomem.ts findDerefs); the words are C's, not [A-Za-z_]\w*, so
  // `régs` is not read as `r` + `gs` and its accesses stay sites.
  const src = `struct dev { unsigned int __iomem *régs; unsigned int plain; };
unsigned int f(struct dev *d, unsigned int __iomem *a$b, unsigned int *q)
{
\tunsigned int x = *d->régs;
\tunsigned int y = a$b[1];
\treturn x + y + *q + d->plain;
}
`;
  const d = await derefs(src);
  assert.deepEqual(d.map((s) => s.address), ['*d->régs', 'a$b[1]']);
});
