// The editor's incremental re-analysis (audit/incremental.ts) against a full audit of
// the same text: for random edit sequences on driver-shaped fixtures (inside
// function bodies, in macros, in declarations, adding and removing wrappers,
// `__iomem` fields, MMIO stored in fields and globals, returned, passed to static
// functions, several ranges at once), every version's findings (rule, severity,
// message, positions, related locations), sites, function view and triage
// fingerprints must equal what a fresh engine finds in that text. A wrong shift, or
// a fact one function hands another that the incremental path misses, shows as a
// difference at the first edit that exercises it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AuditEngine, type FileAudit } from '../../../server/src/audit/engine';
import { FingerprintMemo, findingFingerprints } from '../../../server/src/audit/report/fingerprint';
import { toDiagnostics } from '../../../server/src/lsp/diagnostics';
import { typeTableReads } from '../../../server/src/c/ctypes';
import { generate } from '../../bench/bigfile';
import { CParser } from '../../../server/src/c/parser';
import { analyzeFile, nestingHint } from '../../../server/src/c/analyze';
import { emptyKnowledge } from '../../../server/src/c/knowledge';
import { analyseEdit, compacted, editOf, emptyTrace, hintAfter, memoryOf, startsAfter, warmingText } from '../../../server/src/audit/incremental';
import { mulberry32 as rng } from '../../fuzz/prng';

/** Offsets at which each line of `t` starts (what fingerprint.ts scans for). */
function lineStartsOfText(t: string): number[] {
  const out = [0];
  for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

/** Functions that hand MMIO to each other through every kind of fact provenance.ts follows. */
const CROSS = `#include <linux/io.h>
#define REG_A 0x10
#define rd(p, o) readl((p)->base + (o))

struct priv {
\tvoid __iomem *base;
\tu32 *regs;
\tvoid *shadow;
\tint irq;
};

static u8 *gmap;
void __iomem *gbase;

static inline u32 priv_read(struct priv *p, unsigned int off)
{
\treturn ioread32(p->base + off);
}

static u32 *map_regs(resource_size_t start)
{
\tu32 *r = (u32 __force *)ioremap(start, 0x100);
\treturn r;
}

static void poke(u32 *where, u32 v)
{
\tint i;
\tfor (i = 0; i < 4; i++)
\t\twhere[i] = v;
}

static int probe(struct priv *p, resource_size_t start)
{
\tu32 v = 0;
\tint i;
\tp->regs = map_regs(start);
\tgmap = (u8 *)ioremap(start + 0x1000, 16);
\tp->shadow = kmalloc(64, GFP_KERNEL);
\tfor (i = 0; i < 16; i++)
\t\tv += priv_read(p, i * 4);
\tpoke(p->regs, v);
\treturn v ? 0 : -EIO;
}

static void irq_handler(struct priv *p)
{
\tu32 s = p->regs[2];
\tgmap[3] = 1;
\tp->regs[4] |= 8;
\t*(u32 *)p->shadow = s;
\twritel(s, gbase + REG_A);
\ts = rd(p, 4);
}

static void one(u32 *q) { int n = 16; q[n] = 0; } static void two(struct priv *p) { writel(2, gbase); gmap[1] = 3; }

static void remove(struct priv *p)
{
\tmemcpy(p->shadow, p->regs, 16);
\tiounmap(p->regs);
}
`;

/**
 * CROSS with parse errors the edits mostly leave alone, as real drivers have them
 * (ixgbe_main.c): an `#ifdef` giving a function two headers (two MISSING `;` outside
 * any body, the body then a bare compound statement), an `#ifdef` in a body that
 * leaves an `if` without its statement (a MISSING `;` inside a body), a top-level
 * declaration tree-sitter cannot finish (an ERROR node), a body holding one (no
 * directive in it: only the error keeps it out of the blanking), and a table without
 * its `;`.
 */
const CROSS_ERR = CROSS.replace(
  'static void irq_handler',
  `#ifdef CONFIG_DCB
void set_drop(struct priv *p)
#else
static void set_drop(struct priv *p)
#endif
{
\twritel(1, p->base);
\tp->regs[1] = 0;
}

static int setup(struct priv *p)
{
\tint err;
#ifdef CONFIG_FCOE
\terr = probe(p, 0);
\tif (!err)
#endif
\t\treturn 0;
\twritel(0, p->base);
\treturn err;
}

static int xv = readl(gbase) + ;

static void half(struct priv *p)
{
\tu32 v = readl(p->base) + ;
\twritel(v, p->base + 4);
}

static const struct pci_device_id ids[] = {
\t{ PCI_VDEVICE(INTEL, 0x1234), 7 },
\t{ 0, }
}

static void irq_handler`,
);

/**
 * CROSS with functions that name no fact (so an edit in one analyses it without the
 * functions that set facts), one reading a fact only through a macro of the file, and
 * bodies holding a `#define` (blanked but for it), one with a comment whose line
 * starts with `#`.
 */
const ALONE = CROSS.replace(
  'static u8 *gmap;',
  'static u8 *gmap;\nstatic u32 *gnew;\n#define FIRST(q) ((q)->regs[0])\nstatic void remove(struct priv *p);\nstatic const int sizes[] = { 1, 2, 4 };\nstatic const int *size_tab = sizes;\nstatic struct priv *gp;',
).replace(
  'static void remove',
  `/**
 * count - a kernel-doc comment, alone on its lines: left out of the slice
 */
static int count(struct priv *p, int n) /* a comment after code: kept */
{
\tint s = 0;
\ts += n * 3;
\ts += size_tab[1];
\tp->irq = s;
\treturn s;
}

static u32 via_macro(struct priv *p)
{
\tu32 s = 0;
\ts = FIRST(p);
\treturn s + 1;
}

static void use_new(void)
{
\tgnew[1] = 5;
}

static void defines(struct priv *p)
{
\tint k = 2;
#define HALF(x) ((x) / 2)
\t/*
# not a directive
\t */
\tk = HALF(k) + 7;
\twritel(k, p->base + 0x50);
}

static void remove`,
);

const IN_BODY = [
  '\tv = readl(p->base);\n',
  '\tp->shadow = ioremap(0, 16);\n',
  '\tp->regs = kmalloc(4, GFP_KERNEL);\n',
  '\tgmap = kzalloc(8, GFP_KERNEL);\n',
  '\treturn ioremap(0, 8);\n',
  '\tpoke(p->shadow, 1);\n',
  '\tpoke(gmap, 2);\n',
  '\tx = 1;\n',
  '\tmemcpy(p->shadow, p->base, 4);\n',
  '\t*((u32 *)p->regs) = 5;\n',
  '\tvoid __iomem *q = p->base;\n\t*(u32 *)q = 1;\n',
  '\toutb(1, 0x80);\n',
  '\tu8 *m = ioremap(0, 4);\n\tm[1] = 2;\n',
  '}\n',
  '{\n',
  '/* ',
  '#define WR(p) writel(0, p)\n',
  // Branches stay in the body for the edits after (an edit outside them keeps the incremental path).
  '#ifdef CONFIG_PM\n\tv = readl(p->base);\n#endif\n',
  '#if 0\n\tgmap[2] = 1;\n#else\n\tx = 2;\n#endif\n',
  '#define RDX(p) \\\n\treadl(p)\n',
  '"',
  '\n\n',
  // A body's directives are kept alone when it is blanked: a comment's `#` line is none, a comment may continue one.
  '/*\n# not a directive\n*/\n',
  '#define TWO(x) (x) /* two\n lines */ + 2\n',
  '\ts = FIRST(p);\n',
  '\tgnew = (u32 *)ioremap(0, 4);\n',
  '\tgp->regs[1] = 2;\n',
  '\tv = sizes[2];\n',
];
const OUTSIDE = [
  'void __iomem *gextra;\n',
  'struct other { void __iomem *shadow; };\n',
  'static inline void poke(u32 *where, u32 v) { writel(v, where); }\n',
  '#define rd(p, o) inl(o)\n',
  'static inline u32 gread(void) { return readl(gbase); }\n',
  'static void *shadow_of(struct priv *p) { return p->regs; }\n',
  '/* a comment */\n',
  'static int count(struct priv *p, int n);\n',
  'static struct priv *gp2 = NULL, *gp3;\n',
];

/** Offsets of the lines of `text` that stand inside a function body (after a `{` line, before its `}`). */
function bodyLineStarts(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let at = 0;
  for (const line of text.split('\n')) {
    if (depth > 0 && !line.startsWith('}')) out.push(at);
    for (const c of line) {
      if (c === '{') depth++;
      else if (c === '}') depth = Math.max(0, depth - 1);
    }
    at += line.length + 1;
  }
  return out;
}

function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') out.push(i + 1);
  return out;
}

/** One random edit of `text`. */
function editOnce(text: string, r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const body = bodyLineStarts(text);
  const kind = r();
  if (kind < 0.3 && body.length) {
    // A digit or character change (typing), the bench's edit: in a body line, or at any
    // digit (one-line functions, macros, array sizes).
    const digits = [...text.matchAll(/\d/g)].map((m) => m.index!);
    const at = r() < 0.35 ? pick(digits) : pick(body) + 1 + Math.floor(r() * 12);
    if (at >= text.length) return text;
    const ch = pick(['7', '6', 'x', ' ', '', '(', ';', '*', 'v']);
    return text.slice(0, at) + ch + text.slice(at + (r() < 0.7 ? 1 : 0));
  }
  if (kind < 0.6 && body.length) return insertAt(text, pick(body), pick(IN_BODY));
  if (kind < 0.72) {
    // Delete a whole line anywhere (a declaration, a brace, a macro, a statement).
    const starts = lineStarts(text);
    const i = Math.floor(r() * (starts.length - 1));
    return text.slice(0, starts[i]) + text.slice(starts[i + 1]);
  }
  if (kind < 0.85) return insertAt(text, pick(lineStarts(text).filter((o) => !body.includes(o))), pick(OUTSIDE));
  if (kind < 0.92) {
    // Make a function a wrapper candidate, or stop it being one.
    return text.includes('static u32 *map_regs') ? text.replace('static u32 *map_regs', 'static inline u32 *map_regs') : text.replace('static inline u32 *map_regs', 'static u32 *map_regs');
  }
  // Deleting a few characters anywhere.
  const at = Math.floor(r() * text.length);
  return text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 4));
}

function insertAt(text: string, at: number, s: string): string {
  return text.slice(0, at) + s + text.slice(at);
}

/**
 * What a client sees of an audit: everything positions, messages and fingerprints
 * depend on, and the diagnostics the language server publishes. `memo`: the
 * document's fingerprint memo, as the server keeps one across versions (without it,
 * every fingerprint is computed afresh). Diagnostics go through toDiagnostics's reuse
 * of a site's previous diagnostic; the reference side's sites are all new objects.
 */
function view(a: FileAudit, text: string, memo?: FingerprintMemo): unknown {
  const fingerprints = findingFingerprints('drivers/x/driver.c', text, a, memo);
  return {
    findings: a.findings.map((f) => ({ rule: f.rule, severity: f.severity, message: f.message, site: f.site, related: f.related })),
    sites: a.analysis.sites,
    functions: a.analysis.functions,
    parseErrors: a.analysis.parseErrors,
    fingerprints,
    diagnostics: toDiagnostics(a, { relatedInformation: true }, fingerprints.map((fingerprint) => ({ fingerprint, deemphasised: false }))),
  };
}

/** warm: made-up keystrokes (AuditEngine.warmEdit, the server's warm-up after an open) analysed between some of the edits. */
async function compareSequences(name: string, start: string, seeds: number, steps: number, opts: { warm?: boolean; engine?: (e: AuditEngine) => void } = {}): Promise<AuditEngine['auditCounts']> {
  const inc = await AuditEngine.create({ readFile: () => undefined });
  opts.engine?.(inc);
  const ref = await AuditEngine.create({ readFile: () => undefined });
  ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
  const file = `/nonexistent/tdx-incremental/${name}.c`;
  // The start's own parse errors are not a broken text (CROSS_ERR).
  const startErrors = ref.auditOnce(file, start).analysis.parseErrors;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = rng(seed * 7919);
    let text = start;
    let clean = start;
    let broken = false;
    inc.forget(file);
    const memo = new FingerprintMemo();
    view(inc.audit(file, text, 0), text, memo);
    for (let step = 1; step <= steps; step++) {
      // A text that does not parse is audited whole; the typist fixes it soon, as a
      // typist does (else one stray quote would leave every later edit on the full path).
      if (broken && r() < 0.9) text = clean;
      // Sometimes two edits between audits (a burst, or a multi-range change).
      text = editOnce(text, r);
      if (r() < 0.15) text = editOnce(text, r);
      if (opts.warm && r() < 0.5) {
        const of = 1 + Math.floor(r() * 6);
        for (let k = 0; k < of; k++) inc.warmEdit(file, k, of);
      }
      const got = inc.audit(file, text, step);
      const want = ref.auditOnce(file, text);
      assert.deepStrictEqual(view(got, text, memo), view(want, text), `${name}, seed ${seed}, edit ${step}: the incremental audit differs from a full one`);
      broken = want.analysis.parseErrors !== startErrors;
      if (!broken) clean = text;
    }
  }
  return inc.auditCounts;
}

describe('incremental audit of an edited document equals a full audit', () => {
  test('random edits of functions handing MMIO to each other (fields, globals, returns, static parameters)', async () => {
    const counts = await compareSequences('cross', CROSS, 12, 30);
    // Edits in irq_handler, remove and poke name facts they do not set: the writers' events are replayed.
    assert.ok((counts.paths.get('replayed') ?? 0) >= 5, `replayed: ${JSON.stringify([...counts.paths])}`);
    // Both paths ran: a comparison that never took the incremental one proves nothing.
    assert.ok(counts.incremental >= 40, `incremental audits: ${counts.incremental}; full: ${JSON.stringify([...counts.why])}`);
    assert.ok(counts.full >= 100, `full audits: ${counts.full}`);
  });

  test('random edits of a driver with parse errors outside the edited function (an #ifdef giving a function two headers, an if left without its statement)', async () => {
    const counts = await compareSequences('errors', CROSS_ERR, 12, 30);
    // Fewer than on CROSS: an edit that breaks the text more leaves memory too, and
    // the typist's fix then spans the two edits (a full audit).
    assert.ok(counts.incremental >= 25, `incremental audits: ${counts.incremental}; full: ${JSON.stringify([...counts.why])}`);
  });

  test('made-up keystrokes (the warm-up after an open) analysed between random edits change no audit', async () => {
    let engine: AuditEngine | undefined;
    const cross = await compareSequences('warm-cross', CROSS, 6, 30, { warm: true, engine: (e) => (engine = e) });
    const warmed = engine!.warmCount;
    const alone = await compareSequences('warm-alone', ALONE, 6, 30, { warm: true, engine: (e) => (engine = e) });
    // The warm-ups ran, on memories the next real edits then used.
    assert.ok(warmed >= 100 && engine!.warmCount >= 100, `made-up keystrokes: ${warmed}, ${engine!.warmCount}`);
    assert.ok(cross.incremental >= 20 && alone.incremental >= 20, `incremental audits: ${cross.incremental}, ${alone.incremental}`);
  });

  test('random edits of functions that name no fact, read one through a macro, or hold a #define', async () => {
    const counts = await compareSequences('alone', ALONE, 10, 30);
    assert.ok(counts.incremental >= 20, `incremental audits: ${counts.incremental}; full: ${JSON.stringify([...counts.why])}`);
  });

  test('an edit in a function that names no fact is analysed without the functions that set facts (naming one, through a macro too, or setting one is not), and without the declarations nothing kept names', async () => {
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/alone.c';
    const parsed = parser.parse(file, ALONE);
    const trace = emptyTrace();
    const result = analyzeFile(parser, parsed, file, emptyKnowledge(), { trace });
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    // A function naming a fact is analysed without the writers too: their events are replayed.
    const steps: [string, string, 'alone' | 'replayed' | 'full'][] = [
      ['a digit in count', ALONE.replace('n * 3', 'n * 30'), 'alone'],
      ['count reads gmap (a fact)', ALONE.replace('\ts += n * 3;', '\ts += n * 3 + gmap[1];'), 'replayed'],
      ['a digit in via_macro (FIRST names regs, a fact)', ALONE.replace('s + 1;', 's + 10;'), 'replayed'],
      ['count sets a new fact (gnew given MMIO)', ALONE.replace('\ts += n * 3;', '\ts += n * 3;\n\tgnew = (u32 *)ioremap(0, 4);'), 'full'],
      ['count passes MMIO to a static function (it sets that parameter now)', ALONE.replace('\ts += n * 3;', '\ts += n * 3;\n\tpoke((u32 *)ioremap(0, 4), 1);'), 'full'],
    ];
    for (const [what, next, path] of steps) {
      const mem = memoryOf(ALONE, parsed, result, trace, '')!;
      const r = analyseEdit(parser, mem, next, file, emptyKnowledge(), '');
      if (path === 'full') {
        assert.ok('fallback' in r, what);
        continue;
      }
      assert.ok(!('fallback' in r), `${what}: ${JSON.stringify(r)}`);
      assert.equal(r.path, path, what);
      // probe sets the facts: its statements are never in the slice here.
      assert.ok(!r.slice.includes('p->regs = map_regs(start)'), what);
      assert.ok(r.slice.includes('#define HALF(x) ((x) / 2)'), `${what}: the #define of a blanked body stays`);
      assert.ok(!r.slice.includes('k = HALF(k)'), `${what}: a blanked body's statements go`);
      assert.ok(!/^# not a directive/m.test(r.slice), `${what}: a comment's line is not kept as a directive`);
      // Top-level declarations: one the kept text names stays, with what its initialiser names; others go.
      if (what.includes('count')) assert.ok(r.slice.includes('size_tab = sizes;') && r.slice.includes('sizes[] = { 1, 2, 4 };'), `${what}: a named declaration and the one it names stay`);
      else assert.ok(!r.slice.includes('size_tab = sizes;'), `${what}: a declaration nothing kept names goes`);
      assert.ok(!r.slice.includes('static void remove(struct priv *p);'), `${what}: a prototype nothing kept names goes`);
      assert.ok(!r.slice.includes('a kernel-doc comment'), `${what}: a top-level comment alone on its lines goes`);
      assert.ok(!what.includes('count') || r.slice.includes('/* a comment after code: kept */'), `${what}: a comment after code stays`);
      const want = ref.auditOnce(file, next);
      assert.deepStrictEqual(r.analysis.sites, want.analysis.sites, what);
      assert.deepStrictEqual(r.analysis.functions, want.analysis.functions, what);
    }
  });

  test('an edit in a function that reads facts replays their writers\' events: a writer changed, removed or moved derives them again, and the next edit replays the new ones', async () => {
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/replayed.c';
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false });
    // reader reads glate before late_writer sets it: in a full run its first flow finds
    // nothing in round 0 and x takes the second store's origin (first wins); replayed at
    // the start of the run instead of where late_writer set it, x would take glate's.
    const start = CROSS.replace('static void remove', `static u32 *glate;
static void reader(void)
{
\tu32 *x = glate;
\tx = (u32 *)ioremap(0x2000, 4);
\tx[1] = 7;
}

static void late_writer(void)
{
\tglate = (u32 *)ioremap(0x1000, 4);
}

static void remove`);
    const full = (text: string) => {
      const trace = emptyTrace();
      const parsed = parser.parse(file, text);
      return memoryOf(text, parsed, analyzeFile(parser, parsed, file, emptyKnowledge(), { trace }), trace, '')!;
    };
    let mem = full(start);
    let text = start;
    const steps: [string, (t: string) => string, 'alone' | 'replayed' | 'writers' | 'full', string?][] = [
      ['a digit in irq_handler (reads regs and gmap)', (t) => t.replace('|= 8', '|= 9'), 'replayed', 'gmap = (u8 *)ioremap'],
      ['a digit in reader (reads glate, set later in the file)', (t) => t.replace('x[1] = 7', 'x[1] = 8'), 'replayed', 'glate = (u32 *)ioremap'],
      ['a digit in poke (its parameter is a fact its caller sets)', (t) => t.replace('where[i] = v;', 'where[i] = v + 1;'), 'replayed', 'poke(p->regs, v)'],
      ['probe no longer maps gmap (the writer changed)', (t) => t.replace('gmap = (u8 *)ioremap(start + 0x1000, 16);', 'gmap = (u8 *)kzalloc(16, GFP_KERNEL);'), 'full'],
      ['a digit in irq_handler again: gmap[3] is no access now', (t) => t.replace('|= 9', '|= 10'), 'replayed'],
      ['late_writer removed (its store gone)', (t) => t.replace('\tglate = (u32 *)ioremap(0x1000, 4);\n', ''), 'full'],
      ['a digit in reader again: glate is no fact now, so reader names none', (t) => t.replace('x[1] = 8', 'x[1] = 9'), 'alone'],
      ['late_writer back, two lines longer (the writer moved too)', (t) => t.replace('static void late_writer(void)\n{\n', 'static void late_writer(void)\n{\n\tint pad = 0;\n\tpad++;\n\tglate = (u32 *)ioremap(0x1000, 4);\n'), 'full'],
      ['a line added in probe (every event after it moves)', (t) => t.replace('\tu32 v = 0;\n\tint i;\n\tp->regs', '\tu32 v = 0;\n\tint i;\n\n\tp->regs'), 'writers'],
      ['a digit in reader: glate\'s origin is where late_writer now maps it', (t) => t.replace('x[1] = 9', 'x[1] = 11'), 'replayed', 'glate = (u32 *)ioremap'],
      ['a digit in poke again', (t) => t.replace('where[i] = v + 1;', 'where[i] = v + 2;'), 'replayed'],
    ];
    for (const [what, edit, path, writer] of steps) {
      const next = edit(text);
      assert.notEqual(next, text, what);
      const r = analyseEdit(parser, mem, next, file, emptyKnowledge(), '');
      const want = ref.auditOnce(file, next);
      if (path === 'full') {
        assert.ok('fallback' in r, `${what}: ${'fallback' in r ? '' : r.path}`);
        mem = full(next);
      } else {
        assert.ok(!('fallback' in r), `${what}: ${JSON.stringify('fallback' in r && r.fallback)}`);
        assert.equal(r.path, path, what);
        if (writer) assert.ok(!r.slice.includes(writer), `${what}: the writer's statement is not in the slice`);
        assert.deepStrictEqual(r.analysis.sites, want.analysis.sites, what);
        assert.deepStrictEqual(r.analysis.functions, want.analysis.functions, what);
        mem = r.memory;
      }
      // The memory's facts and events are what a full run of the same text records.
      const fresh = full(next);
      assert.deepStrictEqual([...mem.trace.facts].sort(), [...fresh.trace.facts].sort(), `${what}: facts`);
      assert.deepStrictEqual(mem.trace.events, fresh.trace.events, `${what}: events`);
      text = next;
    }
    // reader's x: the glate-less origin while late_writer was gone, glate's never (it comes later in round 0).
    const sites = ref.auditOnce(file, text).analysis.sites.filter((s) => s.function === 'reader');
    assert.ok(sites.length > 0 && sites.every((s) => JSON.stringify(s).includes('0x2000') || !JSON.stringify(s).includes('0x1000')), JSON.stringify(sites));
  });

  test('an edit in a function that reads facts takes the writers\' path when a writer stays in the slice anyway (never blanked: `__iomem` in its body)', async () => {
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/kept-writer.c';
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false });
    const start = CROSS.replace('\tu32 v = 0;\n\tint i;\n\tp->regs', '\tu32 v = 0;\n\tvoid __iomem *unused = NULL;\n\tint i;\n\tp->regs');
    assert.notEqual(start, CROSS);
    const trace = emptyTrace();
    const parsed = parser.parse(file, start);
    const mem = memoryOf(start, parsed, analyzeFile(parser, parsed, file, emptyKnowledge(), { trace }), trace, '')!;
    const next = start.replace('|= 8', '|= 9');
    const r = analyseEdit(parser, mem, next, file, emptyKnowledge(), '');
    assert.ok(!('fallback' in r), JSON.stringify('fallback' in r && r.fallback));
    assert.equal(r.path, 'writers');
    assert.deepStrictEqual(r.analysis.sites, ref.auditOnce(file, next).analysis.sites);
  });

  test('an edit that renames a variable of its own holding MMIO is audited whole: what other functions read depends on the names the run made live', async () => {
    // fn_local's `hw` makes plain_w's `p->regs = hw` live in round 0, before writer gives
    // regs MMIO, so regs is a plain field name when reader reads `o->regs` (an unknown
    // type: only a field name holding MMIO and nothing else counts); renamed, plain_w's
    // flow waits for regs to be live (round 1) and reader's x holds MMIO. fn_local names
    // no fact: its path kept reader's sites as they were.
    const start = `#include <linux/io.h>
struct priv { u32 *regs; };
static void fn_local(void)
{
\tu32 *hw = (u32 *)ioremap(0, 4);
\thw[0] = 1;
}
static void plain_w(struct priv *p)
{
\tu32 *hw = kmalloc(4, GFP_KERNEL);
\tp->regs = hw;
}
static void writer(struct priv *p)
{
\tp->regs = (u32 *)ioremap(0x100, 4);
}
static void reader(unknown_t *o)
{
\tu32 *x = o->regs;
\tx[1] = 2;
}
`;
    const renamed = start.replace('u32 *hw = (u32 *)ioremap', 'u32 *hk = (u32 *)ioremap').replace('hw[0]', 'hk[0]');
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false });
    const file = '/nonexistent/tdx-incremental/live.c';
    const readerSites = (t: string) => ref.auditOnce(file, t).analysis.sites.filter((x) => x.function === 'reader').length;
    assert.deepEqual([readerSites(start), readerSites(renamed)], [0, 1]);
    for (const [from, to] of [[start, renamed], [renamed, start]] as const) {
      const inc = await AuditEngine.create({ readFile: () => undefined });
      inc.audit(file, from, 1);
      const a = inc.audit(file, to, 2);
      assert.deepStrictEqual(view(a, to), view(ref.auditOnce(file, to), to));
      assert.equal(inc.auditCounts.why.get('what the edited function hands on changed'), 1, JSON.stringify([...inc.auditCounts.why]));
      // A digit after it: the function's variables as before, the incremental path again.
      const b = inc.audit(file, to.replace('[0] = 1', '[0] = 3'), 3);
      assert.deepStrictEqual(view(b, to), view(ref.auditOnce(file, to.replace('[0] = 1', '[0] = 3')), to));
      assert.equal(inc.auditCounts.incremental, 1, JSON.stringify([...inc.auditCounts.why]));
    }
  });

  test('a function pasted into another body (definitions one inside the other) leaves no memory: the next edit is audited whole', async () => {
    // Found by the random sequences: the inner definition, named by no kept body, was
    // blanked inside the edited function kept around it, and its site was lost.
    const nested = CROSS.replace('\treturn v ? 0 : -EIO;\n', '\treturn v ? 0 : -EIO;\nstatic inline void wpoke(u32 *where, u32 v) { writel(v, where); }\n');
    const next = nested.replace('i < 16', 'i < 160');
    const inc = await AuditEngine.create({ readFile: () => undefined });
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    const file = '/nonexistent/tdx-incremental/nested.c';
    inc.audit(file, nested, 1);
    const a = inc.audit(file, next, 2);
    assert.equal(inc.auditCounts.incremental, 0, JSON.stringify([...inc.auditCounts.why]));
    assert.ok(a.analysis.sites.some((x) => x.function === 'wpoke' && x.accessor === 'writel'));
    assert.deepStrictEqual(view(a, next), view(ref.auditOnce(file, next), next));
  });

  test('random edits of a driver with CRLF line ends (the compacted slice keeps each line end whole)', async () => {
    const counts = await compareSequences('crlf', CROSS.replace(/\n/g, '\r\n'), 5, 25); // a fifth seed: the fourth's edit adding a variable holding MMIO is audited whole now
    assert.ok(counts.incremental >= 10, `incremental audits: ${counts.incremental}; full: ${JSON.stringify([...counts.why])}`);
  });

  test('an edit in a body away from the parse errors takes the incremental path; one in the function holding an error does not', async () => {
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    const file = '/nonexistent/tdx-incremental/errors.c';
    assert.equal(ref.auditOnce(file, CROSS_ERR).analysis.parseErrors, 6);
    const steps: [string, string, number][] = [
      ['a digit in probe', CROSS_ERR.replace('i < 16', 'i < 160'), 1],
      ['a line in irq_handler, after the errors', CROSS_ERR.replace('\tgmap[3] = 1;\n', '\tgmap[3] = 1;\n\tgmap[4] = 2;\n'), 1],
      ['a digit in setup (it holds an error)', CROSS_ERR.replace('writel(0, p->base)', 'writel(10, p->base)'), 0],
      ['a digit in the body of set_drop (no definition: its headers do not parse)', CROSS_ERR.replace('p->regs[1] = 0', 'p->regs[1] = 10'), 0],
      ['a fix of an error', CROSS_ERR.replace('readl(gbase) + ;', 'readl(gbase) + 1;'), 0],
      ['a digit in half (its body holds an error)', CROSS_ERR.replace('p->base + 4', 'p->base + 40'), 0],
      // An error of the edited function's own: the whole file is audited (the slice must fail where the file failed before).
      ['a new error in probe', CROSS_ERR.replace('\tpoke(p->regs, v);', '\tpoke(p->regs, v) + ;'), 0],
    ];
    for (const [what, next, incremental] of steps) {
      const inc = await AuditEngine.create({ readFile: () => undefined });
      inc.audit(file, CROSS_ERR, 1);
      const a = inc.audit(file, next, 2);
      assert.equal(inc.auditCounts.incremental, incremental, `${what}: ${JSON.stringify([...inc.auditCounts.why])}`);
      assert.deepStrictEqual(view(a, next), view(ref.auditOnce(file, next), next), what);
    }
  });

  test('random edits of a generated driver (macro and inline wrappers, __iomem fields, ioremap)', async () => {
    const counts = await compareSequences('generated', generate(6000), 4, 20);
    assert.ok(counts.incremental >= 10, `incremental audits: ${counts.incremental}; full: ${JSON.stringify([...counts.why])}`);
  });

  test('a digit typed in a loop bound re-analyses that function only and moves nothing else', async () => {
    const inc = await AuditEngine.create({ readFile: () => undefined });
    const file = '/nonexistent/tdx-incremental/digit.c';
    inc.audit(file, CROSS, 1);
    const next = CROSS.replace('i < 16', 'i < 160');
    const a = inc.audit(file, next, 2);
    assert.deepEqual([inc.auditCounts.incremental, inc.auditCounts.full], [1, 1]);
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    assert.deepStrictEqual(view(a, next), view(ref.auditOnce(file, next), next));
  });

  test('edits alternating between the function that stores MMIO (or normal memory) and one that reads it all take the incremental path', async () => {
    // probe sets p->regs, gmap (MMIO) and p->shadow (normal memory) for irq_handler: the
    // memory must name probe as their writer at its file offset (the slice's differ).
    const inc = await AuditEngine.create({ readFile: () => undefined });
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    const file = '/nonexistent/tdx-incremental/writers.c';
    inc.audit(file, CROSS, 1);
    const texts = [CROSS.replace('i < 16', 'i < 160'), CROSS.replace('i < 16', 'i < 160').replace('p->regs[4] |= 8', 'p->regs[4] |= 9'), CROSS.replace('i < 16', 'i < 16').replace('p->regs[4] |= 8', 'p->regs[4] |= 9'), CROSS];
    texts.forEach((t, i) => assert.deepStrictEqual(view(inc.audit(file, t, i + 2), t), view(ref.auditOnce(file, t), t), `edit ${i + 1}`));
    assert.equal(inc.auditCounts.incremental, texts.length, JSON.stringify([...inc.auditCounts.why]));
    // A function that only gives a field normal memory (no MMIO): kept for the reader as its first producer.
    const plain = CROSS.replace('\tp->shadow = kmalloc(64, GFP_KERNEL);\n', '').replace('static int probe', 'static void init_shadow(struct priv *p)\n{\n\tp->shadow = kmalloc(64, GFP_KERNEL);\n}\n\nstatic int probe').replace('static void remove', 'static void remap(struct priv *p)\n{\n\tp->shadow = ioremap(0, 16);\n}\n\nstatic void remove');
    const inc2 = await AuditEngine.create({ readFile: () => undefined });
    inc2.audit(file, plain, 1);
    const e1 = plain.replace('kmalloc(64', 'kmalloc(640');
    const e2 = e1.replace('p->regs[4] |= 8', 'p->regs[4] |= 9');
    const texts2 = [e1, e2, e2.replace('kmalloc(640', 'kmalloc(64'), plain];
    texts2.forEach((t, i) => assert.deepStrictEqual(view(inc2.audit(file, t, i + 2), t), view(ref.auditOnce(file, t), t), `plain, edit ${i + 1}`));
    assert.equal(inc2.auditCounts.incremental, texts2.length, JSON.stringify([...inc2.auditCounts.why]));
  });

  test('a body with #ifdef branches or a #define the edit leaves alone takes the incremental path (the macro body keeps its site); a changed branch or #define line, or another directive, does not', async () => {
    const withBranch = CROSS.replace('\tfor (i = 0; i < 16; i++)\n', '#ifdef CONFIG_PM\n\tgmap[5] = 2;\n#else\n\twritel(1, gbase);\n#endif\n\tfor (i = 0; i < 16; i++)\n');
    const withDefine = withBranch.replace('#else\n', '#else\n#define WR(p) writel(0, p)\n');
    const withPragma = withBranch.replace('#else\n', '#else\n#pragma once\n');

    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    // The macro body's site is there, inside the function: what the incremental path must keep.
    const defineLine = withDefine.split('\n').findIndex((l) => l.startsWith('#define WR'));
    assert.ok(ref.auditOnce('/nonexistent/tdx-incremental/branch.c', withDefine).analysis.sites.some((s) => s.range.start.line === defineLine), 'the #define holds a site');
    const steps: [string, string, number][] = [
      ['a digit outside the branches', withBranch.replace('i < 16', 'i < 160'), 1],
      ['a digit inside a branch', withBranch.replace('gmap[5] = 2', 'gmap[5] = 27'), 1],
      ['a branch line changed', withBranch.replace('#ifdef CONFIG_PM', '#ifdef CONFIG_PM_SLEEP'), 0],
      // The macro's body holds a site (writel): the previous audit's, moved by the edit.
      ['a #define in the body, a digit after it', withDefine.replace('i < 16', 'i < 160'), 1],
      ['a #define in the body, a line added before it', withDefine.replace('\tgmap[5] = 2;\n', '\tgmap[5] = 2;\n\tgmap[6] = 3;\n'), 1],
      ['a #define in the body, a character typed before it on its line', withDefine.replace('#else\n', '#else\n '), 0],
      ['a #define line changed', withDefine.replace('writel(0, p)', 'writel(1, p)'), 0],
      ['an #undef added', withDefine.replace('\tfor (i = 0; i < 16; i++)\n', '#undef WR\n\tfor (i = 0; i < 16; i++)\n'), 0],
      ['a #pragma in the body', withPragma.replace('i < 16', 'i < 160'), 0],
    ];
    for (const [what, next, incremental] of steps) {
      const inc = await AuditEngine.create({ readFile: () => undefined });
      const file = '/nonexistent/tdx-incremental/branch.c';
      const base = /#define|#undef/.test(what) ? withDefine : /#pragma/.test(what) ? withPragma : withBranch;
      inc.audit(file, base, 1);
      const a = inc.audit(file, next, 2);
      assert.equal(inc.auditCounts.incremental, incremental, `${what}: ${JSON.stringify([...inc.auditCounts.why])}`);
      assert.deepStrictEqual(view(a, next), view(ref.auditOnce(file, next), next), what);
    }
  });

  test('keystrokes in a body holding a #define do not parse it alone (what blanking it needs is read once it is blanked)', async () => {
    const withDefine = CROSS.replace('\tfor (i = 0; i < 16; i++)\n', '#ifdef CONFIG_PM\n\tgmap[5] = 2;\n#else\n#define WR(p) writel(0, p)\n\twritel(1, gbase);\n#endif\n\tfor (i = 0; i < 16; i++)\n');
    const file = '/nonexistent/tdx-incremental/define-memo.c';
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false });
    const inc = await AuditEngine.create({ readFile: () => undefined });
    inc.audit(file, withDefine, 1);
    // keptDirectives parses a definition alone (parseOnce); the slice's own run does not.
    let alone = 0;
    const parseOnce = CParser.prototype.parseOnce;
    CParser.prototype.parseOnce = function (this: CParser, text: string) {
      alone++;
      return parseOnce.call(this, text);
    };
    try {
      const inBody = [withDefine.replace('i < 16', 'i < 160'), withDefine.replace('i < 16', 'i < 16'), withDefine.replace('gmap[5] = 2', 'gmap[5] = 27')];
      let v = 2;
      for (const t of inBody) {
        const a = inc.audit(file, t, v++);
        assert.deepStrictEqual(view(a, t), view(ref.auditOnce(file, t), t));
      }
      assert.equal(inc.auditCounts.incremental, 3, JSON.stringify([...inc.auditCounts.why]));
      assert.equal(alone, 0, 'the edited (kept) body holding the #define was parsed alone');
      // An edit in a function that names no fact blanks it: its directives are read then
      // (and the audit is still a full one's).
      const elsewhere = inBody[2]!.replace('int n = 16;', 'int n = 17;');
      assert.notEqual(elsewhere, inBody[2]);
      const a = inc.audit(file, elsewhere, v++);
      assert.deepStrictEqual(view(a, elsewhere), view(ref.auditOnce(file, elsewhere), elsewhere));
      assert.equal(inc.auditCounts.incremental, 4, JSON.stringify([...inc.auditCounts.why]));
      assert.ok(alone > 0, 'blanking the body holding the #define reads its directives (keptDirectives)');
    } finally {
      CParser.prototype.parseOnce = parseOnce;
    }
  });

  test('an edit in a static inline function that is no wrapper takes the incremental path; one that makes it a wrapper, or one in a wrapper, does not', async () => {
    // next_slot is static inline and no wrapper; kick calls it with MMIO (a site once it writes through its parameter).
    const base = CROSS + '\nstatic inline int next_slot(void __iomem *where, int i)\n{\n\treturn i + 1;\n}\n\nstatic void kick(struct priv *p)\n{\n\tnext_slot(p->base, 3);\n}\n';
    const ref = await AuditEngine.create({ readFile: () => undefined });
    const steps: [string, string, number][] = [
      ['a digit in a static inline function that is no wrapper', base.replace('return i + 1;', 'return i + 12;'), 1],
      ['a writel through its parameter: it becomes a wrapper', base.replace('\treturn i + 1;', '\twritel(i, where);\n\treturn i + 1;'), 0],
      ['an edit in a wrapper (priv_read)', base.replace('p->base + off', 'p->base + off + 4'), 0],
    ];
    const file = '/nonexistent/tdx-incremental/inline.c';
    const becomes = steps[1]![1];
    assert.ok(ref.auditOnce(file, becomes).analysis.sites.some((x) => x.function === 'kick'), 'the call in kick is a site once next_slot is a wrapper');
    for (const [what, next, incremental] of steps) {
      const inc = await AuditEngine.create({ readFile: () => undefined });
      inc.audit(file, base, 1);
      const a = inc.audit(file, next, 2);
      assert.equal(inc.auditCounts.incremental, incremental, `${what}: ${JSON.stringify([...inc.auditCounts.why])}`);
      assert.deepStrictEqual(view(a, next), view(ref.auditOnce(file, next), next), what);
    }
  });

  test('another body holding only #if branches is blanked in the slice (its inner lines emptied, every line and column kept); one holding a #define keeps that line alone', async () => {
    const text = CROSS.replace(
      'static void remove',
      'static void pm(struct priv *p)\n{\n#ifdef CONFIG_PM\n\twritel(1, p->base + 0x44);\n#else\n\tp->irq = 2;\n#endif\n}\n\n' +
        'static void defs(struct priv *p)\n{\n#define WR2(p) writel(0, p)\n\tp->irq = 1;\n\tioread8(p->base + 0x48);\n}\n\nstatic void remove',
    );
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/blank.c';
    const parsed = parser.parse(file, text);
    const trace = emptyTrace();
    const result = analyzeFile(parser, parsed, file, emptyKnowledge(), { trace });
    const mem = memoryOf(text, parsed, result, trace, '')!;
    const next = text.replace('i < 16', 'i < 160');
    const r = analyseEdit(parser, mem, next, file, emptyKnowledge(), '');
    assert.ok(!('fallback' in r), JSON.stringify(r));
    // Blanked lines are emptied, so the slice is shorter; every line keeps its number,
    // and a line keeping any text keeps its columns (blanked parts are spaces).
    const [sl, fl] = [r.slice.split('\n'), next.split('\n')];
    assert.equal(sl.length, fl.length);
    assert.ok(r.slice.length < next.length * 0.9, `${r.slice.length} of ${next.length}`);
    sl.forEach((line, i) => assert.ok(line === fl[i] || line.trim() === '' || line.length === fl[i]!.length, `line ${i + 1}: ${JSON.stringify(line)}`));
    assert.ok(!r.slice.includes('p->base + 0x44') && !r.slice.includes('CONFIG_PM'), 'the body with branches only is blanked');
    assert.ok(r.slice.includes('#define WR2(p) writel(0, p)') && !r.slice.includes('p->base + 0x48'), 'the body with a #define keeps the #define, not its statements');
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    assert.deepStrictEqual(r.analysis.sites, ref.auditOnce(file, next).analysis.sites);
  });

  test('the nesting bound kept across edits is never below the nesting a fresh count gives', () => {
    const r = rng(4242);
    let checked = 0;
    for (const start of [CROSS, CROSS_ERR, generate(3000)]) {
      let text = start;
      let bound = nestingHint(text);
      for (let step = 0; step < 400; step++) {
        // Typing: single characters of every kind the count reads, at random places.
        const at = Math.floor(r() * text.length);
        const ch = ['(', '*', '-', ';', '{', '}', '\n', '#', '\\', ' ', 'x', '7', '?', '(('][Math.floor(r() * 14)]!;
        const next = r() < 0.5 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 3));
        const e = editOf(text, next);
        if (!e) continue;
        bound = hintAfter(bound, text, next, e);
        const exact = nestingHint(next);
        assert.ok(bound >= exact, `step ${step}: bound ${bound} below ${exact}`);
        checked++;
        text = next;
      }
    }
    assert.ok(checked > 1000);
    // A directive line made code by a character typed before its `#`: its count joins the next statement's.
    const d = '#define A ((((\nint y = ((((1))));\n';
    const typed = `x${d}`;
    assert.ok(hintAfter(nestingHint(d), d, typed, editOf(d, typed)!) >= nestingHint(typed));
    assert.ok(nestingHint(typed) > nestingHint(d));
  });

  test('the edit and the line starts kept across edits are those of a fresh comparison and a fresh count', () => {
    const r = rng(777);
    let text = generate(4000);
    let starts = lineStarts(text);
    for (let step = 0; step < 300; step++) {
      const at = Math.floor(r() * text.length);
      const ins = ['\n', 'x', '\n\n\tv = 1;\n', '', '\r\n', '}'][Math.floor(r() * 6)]!;
      // Replacements, insertions and deletions, some near the ends and across 2 KiB blocks.
      const cut = r() < 0.1 ? Math.floor(r() * 5000) : Math.floor(r() * 4);
      const from = r() < 0.05 ? Math.floor(r() * 3) : r() < 0.05 ? text.length - Math.floor(r() * 3) : at;
      const next = text.slice(0, from) + ins + text.slice(Math.min(text.length, from + cut));
      const fast = editOf(text, next, starts);
      assert.deepEqual(fast, editOf(text, next), `step ${step}`);
      if (fast) starts = startsAfter(starts, fast, next);
      assert.deepEqual(starts, lineStarts(next), `step ${step}: line starts`);
      text = next;
    }
    // Repeated text: the common prefix and suffix must not overlap.
    for (const [a, b] of [['x'.repeat(5000), 'x'.repeat(5001)], ['ab\n'.repeat(3000), 'ab\n'.repeat(2990)], ['q'.repeat(4100), 'q'.repeat(2000)]] as const) {
      assert.deepEqual(editOf(a, b, lineStarts(a)), editOf(a, b), `${a.length} -> ${b.length}`);
    }
  });

  test('what the slice kept of a definition is read again once an edit lands in it', async () => {
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/blank-memo.c';
    const parsed = parser.parse(file, CROSS);
    const trace = emptyTrace();
    let mem = memoryOf(CROSS, parsed, analyzeFile(parser, parsed, file, emptyKnowledge(), { trace }), trace, '')!;
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false }); // a whole parse, as the editor's full audit (auditOnce parses only the bodies that matter)
    // probe, then poke (blanked by the first: its body is remembered), then probe again.
    const t1 = CROSS.replace('i < 16', 'i < 160');
    const t2 = t1.replace('\tint i;\n\tfor (i = 0; i < 4', '\tint i;\n\tvoid __iomem *q = 0;\n\tfor (i = 0; i < 4');
    const t3 = t2.replace('i < 160', 'i < 16');
    let slice = '';
    for (const t of [t1, t2, t3]) {
      const r = analyseEdit(parser, mem, t, file, emptyKnowledge(), '');
      assert.ok(!('fallback' in r), JSON.stringify(r));
      assert.deepStrictEqual(r.analysis.sites, ref.auditOnce(file, t).analysis.sites);
      mem = r.memory;
      slice = r.slice;
    }
    assert.ok(slice.includes('void __iomem *q = 0;'), 'poke now holds __iomem: kept whole');
  });

  test('a blanked span keeps its line ends alone, and spaces for its last line only when text follows it there: every kept character stays at its file line and column', async () => {
    assert.equal(compacted('int f(void)\n{\n\treturn 1;\n}', '\n'), '\n\n\n');
    assert.equal(compacted('int f(void)\n{\n\treturn 1;\n}', undefined), '\n\n\n');
    assert.equal(compacted('int f(void)\n{\n}', ' '), '\n\n ', 'text after the span on its last line keeps its column');
    assert.equal(compacted('static int x;', '\n'), '');
    assert.equal(compacted('static int x;', 'i'), ' '.repeat(13));
    assert.equal(compacted('a();\r\n\tb();\r', '\n'), '\r\n\r', 'a CRLF split by the span keeps its CR');
    // In slices of a generated driver: a character kept is the file's at the same line and column.
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/columns.c';
    const text0 = generate(20_000);
    const parsed = parser.parse(file, text0);
    const trace = emptyTrace();
    let mem = memoryOf(text0, parsed, analyzeFile(parser, parsed, file, emptyKnowledge(), { trace }), trace, '')!;
    const r = rng(4242);
    let checked = 0;
    for (let step = 0; step < 12; step++) {
      const bodies = mem.table.filter((d) => d.bodyStart >= 0 && !(d.isStatic && d.isInline));
      const d = bodies[Math.floor(r() * bodies.length)]!;
      const text = `${mem.text.slice(0, d.bodyStart + 1)}\n\tx = ${step};${mem.text.slice(d.bodyStart + 1)}`;
      const res = analyseEdit(parser, mem, text, file, emptyKnowledge(), '');
      if ('fallback' in res) continue;
      const fileLines = text.split('\n');
      const sliceLines = res.slice.split('\n');
      assert.equal(sliceLines.length, fileLines.length, 'every line kept');
      assert.ok(res.slice.length < text.length / 2, `the slice is a fraction of the file: ${res.slice.length} of ${text.length}`);
      sliceLines.forEach((l, i) => {
        for (let c = 0; c < l.length; c++) {
          if (l[c] === ' ' || l[c] === '\r') continue;
          checked++;
          if (fileLines[i]![c] !== l[c]) assert.fail(`step ${step}, line ${i + 1}, column ${c + 1}: ${JSON.stringify(l)} against ${JSON.stringify(fileLines[i])}`);
        }
      });
      mem = res.memory;
    }
    assert.ok(checked > 1000, `characters checked: ${checked}`);
  });

  test('a made-up keystroke (warmingText) leaves the memory it was analysed from unchanged but for what it read of the other definitions', async () => {
    const parser = await CParser.create();
    const file = '/nonexistent/tdx-incremental/warm.c';
    const parsed = parser.parse(file, CROSS);
    const trace = emptyTrace();
    const mem = memoryOf(CROSS, parsed, analyzeFile(parser, parsed, file, emptyKnowledge(), { trace }), trace, '')!;
    const before = { text: mem.text, sites: mem.sites, table: mem.table, trace: mem.trace, functions: mem.functions, lineStarts: mem.lineStarts };
    assert.equal(mem.blanks.filter(Boolean).length, 0, 'a full analysis has read no definition for a slice');
    const of = 3;
    for (let k = 0; k < of; k++) {
      const text = warmingText(mem, k, of)!;
      assert.equal(text.length, CROSS.length + 1);
      const read = [...mem.blanks];
      const r = analyseEdit(parser, mem, text, file, emptyKnowledge(), '');
      assert.ok(!('fallback' in r), JSON.stringify(r));
      // The edited definition: the one whose body's first character is the space typed.
      const e = editOf(CROSS, text)!;
      const edited = mem.table.findIndex((d) => d.bodyStart >= 0 && d.bodyStart < e.start && e.start < d.bodyEnd);
      assert.ok(edited >= 0);
      assert.equal(mem.blanks[edited], read[edited], `k ${k}: what was read of the edited definition is the made-up text's, never the memory's`);
      assert.ok(mem.table.every((_, i) => i === edited || mem.blanks[i] !== undefined), `k ${k}: what was read of the others is the memory's too`);
      assert.deepStrictEqual({ text: mem.text, sites: mem.sites, table: mem.table, trace: mem.trace, functions: mem.functions, lineStarts: mem.lineStarts }, before);
    }
    // What the made-up keystrokes read serves a real edit: the same sites as a full audit.
    const ref = await AuditEngine.create({ readFile: () => undefined });
    ref.configure({ regions: false });
    const real = CROSS.replace('i < 16', 'i < 160');
    const r = analyseEdit(parser, mem, real, file, emptyKnowledge(), '');
    assert.ok(!('fallback' in r), JSON.stringify(r));
    assert.deepStrictEqual(r.analysis.sites, ref.auditOnce(file, real).analysis.sites);
  });

  test('an edit in one function hashes only that function\'s fingerprints again; the others come from the memo', async () => {
    const inc = await AuditEngine.create({ readFile: () => undefined });
    const file = '/nonexistent/tdx-incremental/memo.c';
    const text = generate(6000);
    const memo = new FingerprintMemo();
    const first = findingFingerprints('drivers/x/driver.c', text, inc.audit(file, text, 1), memo);
    assert.equal(memo.misses.hashes, first.length, 'the first version hashes every finding');
    // A second statement in one function, the copy of one of its own sites: the copy
    // and every later identical expression of that function take the next ordinals.
    const at = text.indexOf('\t*d->doorbell = v;\n', text.length >> 1);
    assert.ok(at > 0);
    const next = `${text.slice(0, at)}\t*d->doorbell = v;\n${text.slice(at)}`;
    const a = inc.audit(file, next, 2);
    const got = findingFingerprints('drivers/x/driver.c', next, a, memo);
    assert.deepEqual(got, findingFingerprints('drivers/x/driver.c', next, a), 'the memo gives what a fresh computation gives');
    assert.ok(memo.misses.hashes >= 1 && memo.misses.hashes < 20, `hashed again: ${memo.misses.hashes} of ${got.length}`);
    assert.equal(new Set(got).size, got.length, 'the copy has its own fingerprint (its ordinal)');
    // The same text again: nothing is hashed.
    findingFingerprints('drivers/x/driver.c', next, inc.audit(file, next, 3), memo);
    assert.deepEqual(memo.misses, { expressions: 0, hashes: 0 });
  });

  test('a changed expression, a moved site and another file each get the fingerprint a fresh computation gives, memo or not', async () => {
    const eng = await AuditEngine.create({ readFile: () => undefined });
    const file = '/nonexistent/tdx-incremental/memo2.c';
    const memo = new FingerprintMemo();
    const key = (t: string, rel = 'drivers/x/driver.c') => {
      const a = eng.audit(file, t, 0);
      const got = findingFingerprints(rel, t, a, memo);
      assert.deepEqual(got, findingFingerprints(rel, t, a), `memo against fresh for ${rel}`);
      return got;
    };
    const before = key(CROSS);
    // Another register in irq_handler's writel: a new fingerprint for that finding only.
    const changed = key(CROSS.replace('writel(s, gbase + REG_A);', 'writel(s, gbase + REG_A + 4);'));
    assert.equal(changed.length, before.length);
    assert.equal(changed.filter((f, i) => f !== before[i]).length, 1);
    // Lines inserted above everything: the same fingerprints (they name no line).
    assert.deepEqual(key(CROSS.replace('#define REG_A', '/* moved */\n\n#define REG_A')), before);
    // Another file: every fingerprint differs (the file is part of the key).
    const other = key(CROSS, 'drivers/y/driver.c');
    assert.ok(other.every((f, i) => f !== before[i]));
  });

  test('fingerprints read the line starts the engine kept for the text it audited, and only for that text', async () => {
    const eng = await AuditEngine.create({ readFile: () => undefined });
    const file = '/nonexistent/tdx-incremental/lines.c';
    const rel = 'drivers/x/lines.c';
    const fresh = (t: string, a: FileAudit) => findingFingerprints(rel, t, { analysis: a.analysis, findings: a.findings });
    const open = eng.audit(file, CROSS, 1);
    const edits = [CROSS.replace('i < 16', 'i < 17'), CROSS.replace('|= 8;', '|= 8;\n\tp->regs[5] |= 1;'), CROSS.replace('#define REG_A', '/* moved */\n#define REG_A')];
    for (const [i, t] of [[0, CROSS] as const, ...edits.map((t, i) => [i + 1, t] as const)]) {
      const a = i === 0 ? open : eng.audit(file, t, i + 1);
      assert.ok(a.lines && a.lines.text === t, `${i}: the engine's line starts come with the audit`);
      assert.deepEqual([...a.lines.starts], lineStartsOfText(t), `${i}: they are the text's`);
      assert.deepEqual(findingFingerprints(rel, t, a), fresh(t, a), `${i}`);
      // They are read: wrong ones for the same text give other keys.
      const wrong = { ...a, lines: { text: t, starts: a.lines.starts.map((x) => x + 1) } };
      assert.notDeepEqual(findingFingerprints(rel, t, wrong), fresh(t, a), `${i}: the line starts are read`);
    }
    // A lone CR: the engine audits a copy with a line end there, whose line starts are
    // not the caller's text's (the same length: only the text tells them apart).
    const cr = CROSS.replace('static u8 *gmap;\n', 'static u8 *gmap;\r');
    eng.audit(file, CROSS, 8);
    const c = eng.audit(file, cr, 9);
    assert.ok(c.lines && c.lines.text !== cr && c.lines.starts.length === lineStartsOfText(cr).length + 1);
    assert.deepEqual(findingFingerprints(rel, cr, c), fresh(cr, c));
    // A batch audit keeps no memory: no line starts.
    assert.equal(eng.auditOnce('/nonexistent/tdx-incremental/once.c', CROSS).lines, undefined);
  });

  test('a character replaced by another moves no site: every site outside the edited function keeps its object', async () => {
    const inc = await AuditEngine.create({ readFile: () => undefined });
    const file = '/nonexistent/tdx-incremental/same-length.c';
    const a = inc.audit(file, CROSS, 1);
    const next = CROSS.replace('i < 16', 'i < 17');
    const b = inc.audit(file, next, 2);
    assert.equal(inc.auditCounts.incremental, 1);
    const outside = (x: FileAudit) => x.analysis.sites.filter((s) => s.function !== 'probe');
    assert.ok(outside(a).length >= 8);
    assert.deepEqual(outside(b).map((s) => outside(a).includes(s)), outside(a).map(() => true), 'the same site objects (their findings and diagnostics are reused)');
    // A line inserted above moves every later site: new objects with the new lines.
    const c = inc.audit(file, next.replace('static void irq_handler', '\nstatic void irq_handler'), 3);
    const moved = c.analysis.sites.find((s) => s.function === 'irq_handler')!;
    assert.ok(!outside(b).includes(moved));
    assert.deepEqual(view(c, next.replace('static void irq_handler', '\nstatic void irq_handler')), view((await AuditEngine.create({ readFile: () => undefined })).auditOnce(file, next.replace('static void irq_handler', '\nstatic void irq_handler')), next.replace('static void irq_handler', '\nstatic void irq_handler')));
  });

  test('the struct and typedef tables are kept across an edit in a body and read again when a declaration changes', async () => {
    const inc = await AuditEngine.create({ readFile: () => undefined });
    const file = '/nonexistent/tdx-incremental/types.c';
    // The access width of `p->regs[2]` comes from struct priv's `regs` field type.
    const width = (text: string, v: number) => inc.audit(file, text, v).analysis.sites.find((s) => /regs\[2\]/.test(s.address) || /regs\[2\]/.test(s.accessor))?.width;
    const u16 = CROSS.replace('\tu32 *regs;', '\tu16 *regs;');
    assert.equal(width(CROSS, 1), 4);
    const reads = typeTableReads.count;
    assert.equal(width(CROSS.replace('i < 16', 'i < 17'), 2), 4);
    assert.equal(typeTableReads.count, reads, 'an edit inside a body reads no declaration again');
    assert.equal(width(u16, 3), 2, 'the field declared u16: its width');
    assert.ok(typeTableReads.count > reads);
    assert.equal(width(CROSS, 4), 4, 'back to u32');
    assert.equal(width(CROSS.replace('struct priv {', 'struct privx {'), 5), 0, 'no struct priv: no width');
    assert.equal(width(u16.replace('struct priv {', 'typedef struct {').replace('\n};\n', '\n} priv_t;\n').replace(/struct priv \*/g, 'priv_t *'), 6), 2, 'an untagged struct named by its typedef');
  });
});
