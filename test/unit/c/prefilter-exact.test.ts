// The pre-filter is exact: a file it skips would have had no site. Checked by
// running the filter and the full audit side by side over every C fixture of the
// repository and over a generated kernel-like corpus whose files mix what can make
// a site (accessor names, wrappers from quoted and kernel headers, __iomem fields
// and globals, mapping APIs, libc copies) with what cannot (plain fields with the
// same spelling elsewhere, comments, headers that name __iomem the file never uses).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { SiteFilter, textDecision } from '../../../server/src/audit/sources';

const ROOT = resolve(__dirname, '../../..');
const MAKEFILE = 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\nEXTRAVERSION =\n';

/** Headers of a kernel-like tree under /k: what a driver can learn from them. */
const HEADERS: Record<string, string> = {
  '/k/Makefile': MAKEFILE,
  '/k/include/linux/types.h': 'typedef unsigned int u32;\ntypedef unsigned short u16;\ntypedef unsigned char u8;\n',
  '/k/include/linux/io.h': '#include <linux/types.h>\nvoid __iomem *ioremap(unsigned long a, unsigned long n);\n',
  '/k/include/linux/vpwrap.h': [
    '#include <linux/types.h>',
    'static inline u16 vp_ioread16(const u16 __iomem *addr)',
    '{',
    '\treturn ioread16(addr);',
    '}',
    '#define vp_poke(v, a) iowrite32((v), (a))',
    'extern void __iomem *vp_global_base;',
    'struct vp_dev { void __iomem *kregs; int plain; };',
    '',
  ].join('\n'),
  '/k/include/linux/plain.h': '#include <linux/types.h>\nstruct plain_dev { u32 regs; u32 count; };\nstatic inline int plain_fn(int x) { return x + 1; }\n',
  '/k/drivers/foo/foo_regs.h': [
    '#include <linux/types.h>',
    '#define foo_rd(p, o) readl((p)->regs + (o))',
    'struct foo_dev { void __iomem *regs; u32 __iomem *db; int irq; };',
    'static inline void foo_kick(struct foo_dev *f) { writel(1, f->db); }',
    '',
  ].join('\n'),
  // Names __iomem, so a quoted include of it let every file through before; what it
  // declares is a field few files touch.
  '/k/drivers/foo/foo_hw.h': '#include "foo_regs.h"\nstruct foo_hw { void __iomem *mmio; };\n',
  '/k/drivers/foo/foo_plain.h': '#include <linux/plain.h>\nstruct foo_cfg { int mode; };\n',
};

const INCLUDES = [
  '#include <linux/io.h>', '#include <linux/vpwrap.h>', '#include <linux/plain.h>',
  '#include "foo_regs.h"', '#include "foo_hw.h"', '#include "foo_plain.h"', '#include "missing.h"',
];

/** Statements a function body draws from: some can make a site, most cannot. */
const STATEMENTS = [
  'x += plain_fn(x);',
  'x = c->mode;',
  'p->count = x;',
  'p->regs = x;', // a plain field spelled like foo_dev's __iomem one
  '/* readl would go here */',
  'x = vp_ioread16(a);',
  'vp_poke(x, a);',
  'x = *(u32 *)vp_global_base;',
  'x = foo_rd(f, 4);',
  'foo_kick(f);',
  'x = *f->db;',
  'f->db[2] = x;',
  'x = h->mmio != 0;',
  '*(volatile u32 *)(h->mmio + 8) = x;',
  'q = ioremap(0xfed00000, 4096); x = *(u32 *)q;',
  'memcpy(buf, f->regs, 16);',
  'memcpy(buf, c, 16);',
  'x = inl(0xcf8);',
  'x = k->plain;',
  'x = *(u32 *)k->kregs;',
  'x = irq_of(f->irq);',
];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function generated(n: number, seed: number): Record<string, string> {
  const r = rng(seed);
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const inc = INCLUDES.filter(() => r() < 0.3);
    const body: string[] = [];
    // Most files use only statements that cannot make a site (the common case on a tree).
    const pool = r() < 0.5 ? STATEMENTS.slice(0, 5) : STATEMENTS;
    const k = 1 + Math.floor(r() * 4);
    for (let j = 0; j < k; j++) body.push('\t' + pool[Math.floor(r() * pool.length)]!);
    out[`/k/drivers/foo/gen${i}.c`] = [
      ...inc,
      '',
      `int gen${i}(struct foo_dev *f, struct foo_hw *h, struct plain_dev *p, struct foo_cfg *c, struct vp_dev *k, u16 *a, char *buf)`,
      '{',
      '\tint x = 0;',
      '\tvoid *q;',
      ...body,
      '\treturn x;',
      '}',
      '',
    ].join('\n');
  }
  return out;
}

function fixtureSources(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.[ch]$/.test(n)) out[p] = readFileSync(p, 'utf8');
    }
  };
  for (const d of ['test/fixtures', 'examples']) walk(join(ROOT, d));
  return out;
}

/** Each file's filter decision and site count, with the same engine for both. */
async function sideBySide(disk: Record<string, string>, files: string[]) {
  const engine = await AuditEngine.create({ readFile: (p) => disk[p] ?? (p.startsWith(ROOT) ? tryRead(p) : undefined), snapshot: true });
  const filter = new SiteFilter((p) => disk[p], (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
  return files.map((path) => {
    const text = disk[path]!;
    const passes = filter.mayHoldSites(path, text);
    const sites = engine.auditOnce(path, text).analysis.sites.length;
    return { path, passes, sites };
  });
}

function tryRead(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

test('no file the pre-filter skips has a site: every C fixture of the repository', async () => {
  const disk = fixtureSources();
  const rows = await sideBySide(disk, Object.keys(disk).sort());
  assert.ok(rows.length >= 5, `fixtures found: ${rows.length}`);
  const lost = rows.filter((r) => !r.passes && r.sites > 0);
  assert.deepEqual(lost, [], 'skipped files with sites');
  assert.ok(rows.some((r) => r.sites > 0), 'the fixtures hold sites');
});

test('no file the pre-filter skips has a site: a generated kernel-like corpus, and it skips what names __iomem only through a header', async () => {
  const gen = generated(400, 15);
  const disk = { ...HEADERS, ...gen };
  const rows = await sideBySide(disk, Object.keys(gen));
  const lost = rows.filter((r) => !r.passes && r.sites > 0);
  assert.deepEqual(lost, [], 'skipped files with sites');
  const withSites = rows.filter((r) => r.sites > 0).length;
  const skipped = rows.filter((r) => !r.passes).length;
  const passedEmpty = rows.filter((r) => r.passes && r.sites === 0).length;
  // The corpus exercises both sides: files with sites, and files the filter skips.
  assert.ok(withSites >= 100 && skipped >= 100, `with sites ${withSites}, skipped ${skipped}`);
  // A quoted include of a header that names __iomem no longer lets a file through by itself.
  const quotedOnly = rows.filter((r) => !r.passes && /#include "foo_hw\.h"/.test(disk[r.path]!));
  assert.ok(quotedOnly.length > 0, 'some files including foo_hw.h are skipped');
  // Against the quoted-include chain alone (the filter without the engine's look):
  // it skips fewer files, none of which has a site either.
  const chain = new SiteFilter((p) => disk[p]);
  const chainSkipped = rows.filter((r) => !chain.mayHoldSites(r.path, disk[r.path]!)).length;
  assert.ok(skipped > chainSkipped, `skipped ${skipped}, by the quoted chain ${chainSkipped}`);
  assert.ok(passedEmpty + withSites + skipped === rows.length);
});

test('a wrapper, global or field whose name is not ASCII or holds `$` (`rd_régs`, `g$base`) still lets its file through', async () => {
  const disk: Record<string, string> = {
    '/k/régs.h': '#define rd_régs(p) readl(p)\nextern void __iomem *g$base;\nstruct d { void __iomem *régs; };\n',
    '/k/a.c': '#include "régs.h"\nunsigned int f(void *p) { return rd_régs(p); }\n',
    '/k/b.c': '#include "régs.h"\nvoid g(void) { *(volatile unsigned int *)g$base = 1; }\n',
    '/k/c.c': '#include "régs.h"\nunsigned int h(struct d *x) { return *(unsigned int *)x->régs; }\n',
  };
  const rows = await sideBySide(disk, ['/k/a.c', '/k/b.c', '/k/c.c']);
  assert.deepEqual(rows.map((r) => [r.path, r.passes, r.sites > 0]), [['/k/a.c', true, true], ['/k/b.c', true, true], ['/k/c.c', true, true]]);
});

test('the text decision: names pass, no include and no name is skipped, the rest asks the headers', () => {
  assert.equal(textDecision('int f(void) { return readl(p); }'), 'parse');
  assert.equal(textDecision('/* __iomem */ int x;'), 'parse');
  assert.equal(textDecision('int f(void) { return vp_ioread16(p); }'), 'skip');
  assert.equal(textDecision('#include "foo_hw.h"\nint f(void) { return 0; }'), 'headers');
  assert.equal(textDecision('  #  include <linux/vpwrap.h>\nint f(void) { return vp_ioread16(p); }'), 'headers');
});
