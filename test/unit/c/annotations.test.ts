import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepare } from '../../../server/src/c/annotations';
import { CParser, countErrors } from '../../../server/src/c/parser';

const KERNEL_SNIPPET = `static void __iomem *base __read_mostly;
static int __init __maybe_unused foo_init(struct foo __iomem *r, void __user *u)
{
\tstruct bar *b __free(kfree) = NULL;
\tlist_for_each_entry(b, &head, node) {
\t\twritel(1, r);
\t}
\treturn 0;
}
static noinline __cold void __attribute__((unused)) slow(void) { }
static const struct baz tbl[] = {
\t{ .a = 1,
#ifdef CONFIG_FOO
\t  .b = 2,
#endif
\t},
};
`;

test('blanking keeps length and line structure so positions stay exact', () => {
  const p = prepare(KERNEL_SNIPPET);
  assert.equal(p.text.length, KERNEL_SNIPPET.length);
  assert.deepEqual(p.text.split('\n').map((l) => l.length), KERNEL_SNIPPET.split('\n').map((l) => l.length));
  assert.ok(!p.text.includes('__iomem'));
  assert.ok(!p.text.includes('__attribute__'));
  assert.ok(p.text.includes('while'), 'iterator macro becomes a while loop');
});

test('every __iomem offset is remembered', () => {
  const p = prepare(KERNEL_SNIPPET);
  const expected = [...KERNEL_SNIPPET.matchAll(/__iomem/g)].map((m) => m.index);
  assert.deepEqual(p.iomem, expected);
});

test('annotations inside comments and strings are left alone', () => {
  const src = '/* __iomem */ char *s = "__user"; // __force\n';
  const p = prepare(src);
  assert.equal(p.text, src);
  assert.deepEqual(p.iomem, []);
});

test('a conditional directive inside an initializer is blanked, one in a function body kept', () => {
  const p = prepare(KERNEL_SNIPPET);
  assert.ok(!p.text.includes('#ifdef CONFIG_FOO'));
  const body = 'void f(void)\n{\n#ifdef X\n\tg();\n#endif\n}\n';
  assert.ok(prepare(body).text.includes('#ifdef X'));
});

test('the rewrite turns a kernel snippet with parse errors into one without', async () => {
  const parser = await CParser.create();
  const raw = parser.parseOnce(KERNEL_SNIPPET);
  const rawErrors = countErrors(raw);
  raw.delete();
  const prepared = parser.parse(undefined, KERNEL_SNIPPET);
  const errors = countErrors(prepared.tree);
  prepared.tree.delete();
  assert.ok(rawErrors > 0, `expected the raw parse to fail somewhere, got ${rawErrors}`);
  assert.equal(errors, 0);
});

test('a lone struct type as a macro argument in a body parses (virtio_cread_le), offsetof is left to the grammar, prototypes and casts are untouched', async () => {
  const p = await CParser.create();
  const errors = (t: string) => {
    const r = p.parse(undefined, t);
    try {
      return countErrors(r.tree);
    } finally {
      r.tree.delete();
    }
  };
  // Debian 6.1 drivers/virtio/virtio_balloon.c:396 and virtio_pci_modern_dev.c:31.
  assert.equal(errors('void f(struct vb *vb)\n{\n\tvirtio_cread_le(vb->vdev, struct virtio_balloon_config, num_pages,\n\t\t\t&num_pages);\n}\n'), 0);
  assert.equal(errors('void f(void)\n{\n\tpci_read_config_byte(dev, off + offsetof(struct virtio_pci_cap,\n\t\t\t\t\t\t bar),\n\t\t\t     &bar);\n}\n'), 0);
  assert.equal(prepare('int g(struct foo *, int);\n').text, 'int g(struct foo *, int);\n');
  const casts = 'void h(void) { x = (struct foo *)p; z = f((struct a)b); return (struct bar)y; }\n';
  assert.equal(prepare(casts).text, casts);
});

test('kernel macro shapes from Debian 6.1 drivers/ parse without ERROR: case ranges, KERN_* string prefixes, file-scope module_init/EXPORT_SYMBOL/static DEFINE_PER_CPU, PM-ops initializers, DECLARE_BITMAP members; a K&R-style definition and sites stay', async () => {
  const p = await CParser.create();
  const text = [
    'static DEFINE_PER_CPU(struct cpc_desc *, cpc_desc_ptr);',
    'static DEFINE_RATELIMIT_STATE(ratelimit_corrected, 5*HZ, 2);',
    'struct s {',
    '\tint a;',
    '\tDECLARE_BITMAP(bitmap, MAP_SZ);',
    '\tvoid __iomem *regs;',
    '};',
    'static const struct dev_pm_ops o = {',
    '\tSET_SYSTEM_SLEEP_PM_OPS(a_suspend, a_resume)',
    '\tSET_RUNTIME_PM_OPS(c, d, e)',
    '};',
    'int',
    'FOO_READ(struct s *s, int x)',
    '{',
    '\tswitch (x) {',
    "\tcase 'a' ... 'z':",
    '\t\tprintk(KERN_ERR DRV_NAME ": bad %d\\n", x);',
    '\t\treturn readl(s->regs + x);',
    '\t}',
    '\treturn 0;',
    '}',
    'module_init(aten_init)',
    'EXPORT_SYMBOL_GPL(FOO_READ);',
    '',
  ].join('\n');
  const r = p.parse(undefined, text);
  try {
    assert.equal(countErrors(r.tree), 0, r.prepared.text);
    assert.equal(r.prepared.text.length, text.length);
    assert.deepEqual(r.prepared.text.split('\n').map((l) => l.length), text.split('\n').map((l) => l.length));
    assert.ok(r.tree.rootNode.descendantsOfType('function_definition').length === 1, 'FOO_READ is still a function');
    assert.ok(r.prepared.text.includes('readl(s->regs + x)'));
  } finally {
    r.tree.delete();
  }
});

test('named variadic macro parameters and a label closing a block parse, and a wrapper macro keeps its parameter indices', async () => {
  const p = await CParser.create();
  const text = '#define dbg(dev, fmt, args...) dev_printk(KERN_DEBUG, dev, fmt, ##args)\n#define rd(base, off, rest...) readl((base) + (off))\nint f(void __iomem *b)\n{\n\tif (!b)\n\t\tgoto out;\n\trd(b, 4, 1, 2);\nout:\n}\n';
  const r = p.parse(undefined, text);
  try {
    assert.equal(countErrors(r.tree), 0, r.prepared.text);
  } finally {
    r.tree.delete();
  }
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const e = await AuditEngine.create({ readFile: () => undefined });
  const a = e.auditOnce('/t/v.c', text);
  // The macro body's own readl is a site too (file scope), as for any wrapper macro.
  assert.deepEqual(a.analysis.sites.map((s) => [s.accessor, s.base, s.address]), [
    ['readl', 'readl', '(base) + (off)'],
    ['rd', 'readl', 'b'],
  ]);
});

test('a rewrite starts afresh: nothing of the text before it carries over', () => {
  // The rewrite's state lives beside `prepare` (made once, not per call): each text must
  // be rewritten as if it were the first. Each earlier text leaves something behind that
  // would change the later one's rewrite: open brackets (a directive inside them is
  // blanked), a function-like macro (a lower-case call at file scope would be one of its
  // generators), a dead `#if 0` branch and a taken-apart statement macro's `)`, spans.
  const later = 'int a;\n#ifdef X\nint b;\n#endif\nfoo_gen(bar)\nint c;\nstatic int f(void) { g(1); return 0; }\n';
  const earlier: [string, number[]?][] = [
    ['void f(void) { g(a, {'],
    ['struct s { int a : 3; enum { A = (1'],
    ['#define foo_gen(x) int x##_v;\nfoo_gen(a)\n'],
    ['void f(void)\n{\n\tif (a) {\n#if 0\n\t} else {\n#endif\n\t\tx();\n\t}\n\tDEB(int y;)\n}\n'],
    ['int x;\n      \n', [6, 12]],
  ];
  const fresh = prepare(later);
  for (const [text, spans] of earlier) {
    prepare(text, spans);
    assert.deepEqual(prepare(later), fresh, JSON.stringify(text));
  }
  // And the earlier texts' own rewrites did what this test relies on.
  assert.match(prepare(earlier[2]![0]).text, /\n {10}\n/, 'foo_gen(a) blanked where the file defines foo_gen');
  assert.doesNotMatch(fresh.text, /\n {12}\n/, "foo_gen(bar) kept where the file does not define it");
  assert.ok(fresh.text.includes('#ifdef X'), 'a directive at file scope is kept');
});
