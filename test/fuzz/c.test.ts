// Hostile C input to the parser and site finder (AuditEngine): exact UTF-16
// columns, CRLF/tabs/non-ASCII before a site, deep nesting, and a bounded run
// of the C fuzzer (the long one is `npm run fuzz`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditEngine, type FileAudit } from '../../server/src/audit/engine';
import { exerciseC, ownCSeeds } from './cinputs';
import { runFuzz, summary } from './runner';

let engine: AuditEngine | undefined;
async function eng(): Promise<AuditEngine> {
  engine ??= await AuditEngine.create({ readFile: () => undefined });
  return engine;
}

const ranges = (a: FileAudit) => a.findings.map((f) => `${f.site.accessor}@${f.site.range.start.line}:${f.site.range.start.character}-${f.site.range.end.line}:${f.site.range.end.character}`);

test('columns are UTF-16 code units: CJK and astral characters before writel( on the same line', async () => {
  const e = await eng();
  const cases: Array<[string, number]> = [
    // prefix on the line before `writel(`, and the UTF-16 column where writel starts
    ['\t/* 中文 */ ', 10], // each CJK character is one UTF-16 unit (three UTF-8 bytes)
    ['\t/* 😀 */ ', 10], // the astral emoji is a surrogate pair: two units (four UTF-8 bytes)
    ['\t/* 𝔘𝔘𝔘 */ ', 14], // three astral letters: six units
    ['\tx = "日本語😀"; ', 14],
    ['\t\t', 2],
    ['  \t  ', 5],
    ['\t/* e\u0301 */ ', 10], // e + combining accent: two units
  ];
  for (const [prefix, col] of cases) {
    assert.equal(prefix.length, col, `test table: ${JSON.stringify(prefix)}`);
    if (/[^\x00-\x7f]/.test(prefix)) assert.notEqual(Buffer.byteLength(prefix), col, 'the case tells UTF-16 units from UTF-8 bytes');
    const text = `void f(void __iomem *b)\n{\n\tu32 x;\n${prefix}writel(1, b);\n}\n`;
    const a = exerciseC(e, text, '/fuzz/utf16.c');
    assert.deepEqual(ranges(a), [`writel@3:${col}-3:${col + 6}`], JSON.stringify(prefix));
  }
});

test('CRLF line ends, a BOM and tabs: lines and columns of every site exact', async () => {
  const e = await eng();
  const lf = '\ufeffvoid f(void __iomem *b)\n{\n\t/* 😀 */ writel(1, b);\n\tu8 s = inb(0x60);\n}\n';
  const crlf = lf.replace(/\n/g, '\r\n');
  for (const text of [lf, crlf]) {
    const a = exerciseC(e, text, '/fuzz/crlf.c');
    assert.deepEqual(ranges(a).sort(), ['inb@3:8-3:11', 'writel@2:10-2:16']);
  }
});

test('lone CR line ends: site ranges are in LSP lines', async () => {
  const e = await eng();
  const text = 'void f(void __iomem *b)\r{\r\twritel(1, b);\r}\r';
  const a = e.auditOnce('/fuzz/cr.c', text);
  assert.deepEqual(ranges(a), ['writel@2:1-2:7']);
});

const DEEP_PARENS = (n: number) => `void f(void __iomem *b) { u32 x = ${'('.repeat(n)}readl(b)${')'.repeat(n)}; }\n`;
const DEEP_STARS = (n: number) => `void f(void __iomem *b) { u32 *p = ${'*'.repeat(n)}b; }\n`;

test('nesting 2,000 deep (parens, braces, pointer stars, binary operators) gives an analysis', async () => {
  const e = await eng();
  const n = 2000;
  const parens = DEEP_PARENS(n);
  const at = parens.indexOf('readl');
  assert.deepEqual(ranges(exerciseC(e, parens)), [`readl@0:${at}-0:${at + 5}`]);
  exerciseC(e, DEEP_STARS(n));
  assert.equal(exerciseC(e, `void f(void __iomem *b) ${'{'.repeat(n)} writel(1, b); ${'}'.repeat(n)}\n`).findings.length, 1);
  assert.equal(exerciseC(e, `void f(void __iomem *b) { writel(${'a + '.repeat(n)}1, b); }\n`).findings.length, 1);
});

test('parenthesised expression 20,000 deep gives an analysis, not a stack overflow', async () => {
  const e = await eng();
  exerciseC(e, DEEP_PARENS(20000));
});

test('pointer dereference chain 20,000 deep gives an analysis, not a stack overflow', async () => {
  const e = await eng();
  exerciseC(e, DEEP_STARS(20000));
});

test('unterminated comment, string and char literal, binary junk and invalid UTF-8 give an analysis', async () => {
  const e = await eng();
  const base = 'void f(void __iomem *b)\n{\n\twritel(1, b);\n}\n';
  for (const tail of ['/* never closed', '"never closed', "'x", '#define X(a, \\\n', '\\', 'R"(', '#if 1\n']) {
    exerciseC(e, base + tail);
    exerciseC(e, tail + base);
  }
  const bytes = Buffer.alloc(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  exerciseC(e, bytes.toString('utf8'));
  exerciseC(e, bytes.toString('latin1'));
  exerciseC(e, Buffer.concat([Buffer.from(base), Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from(base)]).toString('utf8'));
  // Lone surrogates (possible in a JS string from a broken editor buffer).
  const a = exerciseC(e, 'void f(void __iomem *b)\n{\n\t/* \ud800 */ writel(1, b);\n}\n');
  assert.deepEqual(ranges(a), ['writel@2:9-2:15']);
});

test('bounded C fuzz: 1,000 mutated inputs and a 512 KB file, no exception, no hang, ranges inside the text', { timeout: 240_000 }, async () => {
  const seed = Number(process.env.TDX_AUDIT_FUZZ_SEED ?? 0x5eed) >>> 0;
  console.log(`# C fuzz seed ${seed} (TDX_AUDIT_FUZZ_SEED=${seed} to rerun)`);
  const r = await runFuzz({
    kind: 'c', seed, inputs: 1000, workers: 1, budgetMs: 20_000,
    payload: { texts: ownCSeeds(), bigFileBytes: 512 * 1024, maxDepth: 20000 },
    log: (l) => console.log(`# ${l}`),
  });
  console.log(`# ${summary(r)}`);
  assert.equal(r.tried, 1000);
  assert.deepEqual(r.crashes.map((c) => `${c.index}: ${c.message.split('\n')[0]}`), []);
  assert.deepEqual(r.hangs.map((c) => `${c.index}: ${c.message}`), []);
});
