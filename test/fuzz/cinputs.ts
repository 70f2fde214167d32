/**
 * C input fuzzing for the parser and site finder (AuditEngine): mutated
 * driver sources, binary junk, deep nesting, unterminated comments and
 * strings, invalid UTF-8, CRLF / lone CR, tabs and non-ASCII before sites,
 * and one very large file. Besides "no exception", every site's range must
 * lie inside the text and cover the accessor it names.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AuditEngine, FileAudit } from '../../server/src/audit/engine';
import { hoverMarkdown } from '../../server/src/audit/engine';
import { Pick, type Rand } from './prng';
import { KERNEL_DIR } from './objects';
import { walkFiles } from './files';

const REPO = resolve(__dirname, '..', '..');

export interface CSeed {
  label: string;
  own: boolean;
  text: string;
}

/** Our C fixtures and examples. */
export function ownCSeeds(): CSeed[] {
  const out: CSeed[] = [];
  for (const dir of ['test/fixtures/drivers', 'test/fixtures/binary', 'examples/acme_wdt']) {
    const d = join(REPO, dir);
    if (!existsSync(d)) continue;
    for (const n of readdirSync(d).sort()) {
      if (n.endsWith('.c') || n.endsWith('.h')) out.push({ label: `${dir}/${n}`, own: true, text: readFileSync(join(d, n), 'utf8') });
    }
  }
  return out;
}

/** Driver sources of the Debian kernel tree, when present (a few, small). */
export function kernelCSeeds(limit = 40, maxBytes = 16 * 1024): CSeed[] {
  const root = join(KERNEL_DIR, 'drivers');
  if (!existsSync(root)) return [];
  const out: CSeed[] = [];
  walkFiles(root, 6, (p, n, size) => {
    if (n.endsWith('.c') && size <= maxBytes) {
      const text = readFileSync(p, 'utf8');
      if (/\b(?:readl|writel|ioread32|iowrite32|inb|outb)\s*\(/.test(text)) out.push({ label: `kernel:${p.slice(KERNEL_DIR.length + 1)}`, own: false, text });
    }
    return out.length < limit;
  });
  return out;
}

const TOKENS = [
  '__iomem', 'writel(', 'readl(', 'ioread32(', 'iowrite32_rep(', 'inb(', 'outb(', 'memcpy(', '__iowrite32_copy(', '#define ', '#if ', '#ifdef X\n', '#endif\n',
  '#else\n', '#include "x.h"\n', '{', '}', '(', ')', '[', ']', ';', ',', '->', '*', '&', '"', "'", '/*', '*/', '//', '\\\n', '##', '#', '\n',
  '\t', ' ', 'static inline ', 'void ', 'u32 ', 'struct s { void __iomem *p; };\n', 'sizeof(', 'typeof(', '__attribute__((', 'asm volatile("',
];
const UNICODE = ['é', 'ü', '中文', '日本語', '한', '😀', '𝔘', '\u{10FFFF}', '\u200b', '\ufeff', '\u00a0', '\ud800', '\udc00', '\u2028', '\uFFFD'];

/** A statement with one site, to be preceded by awkward characters on its line. */
const SITE_LINES = ['writel(1, base + 4);', 'u32 v = readl(base);', 'outb(0x1, 0x80);', 'iowrite32(v, base);', 'memcpy(base, buf, 16);'];

function junk(p: Pick, n: number): string {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = p.int(256);
  return p.chance(0.5) ? b.toString('utf8') : b.toString('latin1');
}

function deep(p: Pick, maxDepth: number): string {
  const n = Math.min(maxDepth, p.one([50, 200, 1000, 5000, 20000]));
  switch (p.int(7)) {
    case 0: return `void f(void __iomem *b) { u32 x = ${'('.repeat(n)}readl(b)${')'.repeat(n)}; }\n`;
    case 1: return `void f(void __iomem *b) ${'{'.repeat(n)} writel(1, b); ${'}'.repeat(n)}\n`;
    case 2: { // macros defined from each other
      let s = '#define M0(x) writel(1, (x))\n';
      const m = Math.min(n, 2000);
      for (let i = 1; i < m; i++) s += `#define M${i}(x) M${i - 1}(M${i - 1}(x))\n`;
      return s + `void f(void __iomem *b) { M${m - 1}(b); }\n`;
    }
    case 3: return `${'#if 1\n'.repeat(Math.min(n, 5000))}void f(void __iomem *b) { writel(1, b); }\n${'#endif\n'.repeat(Math.min(n, 5000))}`;
    case 4: return `void f(void __iomem *b) { writel(${'a + '.repeat(n)}1, b); }\n`;
    case 5: return `void f(void __iomem *b) { u32 *p = ${'*'.repeat(n)}b; ${'if (x) '.repeat(Math.min(n, 5000))}writel(1, b); }\n`;
    default: return `#define W(x) ${'('.repeat(n)}writel(1, x)${')'.repeat(n)}\nvoid f(void __iomem *b) { W(b); }\n`;
  }
}

/** Seed text with lines edited: insert/delete/duplicate lines, insert tokens and characters. */
function mutateText(text: string, p: Pick, other: string): string {
  let s = text;
  const n = p.chance(0.6) ? p.range(1, 3) : p.range(4, 20);
  for (let k = 0; k < n; k++) {
    const at = p.int(s.length + 1);
    switch (p.int(10)) {
      case 0: s = s.slice(0, at) + p.one(TOKENS) + s.slice(at); break;
      case 1: s = s.slice(0, at) + s.slice(Math.min(s.length, at + p.range(1, 40))); break;
      case 2: s = s.slice(0, at) + p.one(UNICODE).repeat(p.range(1, 4)) + s.slice(at); break;
      case 3: { // splice a chunk of another file
        const from = p.int(other.length + 1);
        s = s.slice(0, at) + other.slice(from, from + p.range(1, 400)) + s.slice(at);
        break;
      }
      case 4: { // duplicate a chunk
        const len = p.range(1, 300);
        s = s.slice(0, at + len) + s.slice(at, at + len) + s.slice(at + len);
        break;
      }
      case 5: s = s.slice(0, at) + junk(p, p.range(1, 16)) + s.slice(at); break;
      case 6: s = s.slice(0, at) + p.one(['/*', '"', "'", '//', '#if 0\n', 'R"(', '\\']) + s.slice(at); break; // unterminated
      case 7: s = s.replace(/\n/g, p.one(['\r\n', '\r', '\n\r', '\n'])); break;
      case 8: s = s.replace(/^/gm, () => (p.chance(0.2) ? p.one(['\t', '  ', p.one(UNICODE), '/* é */ ', '\t\t😀 ']) : '')); break;
      default: { // awkward characters before a site, on the same line
        const pre = Array.from({ length: p.range(1, 5) }, () => p.one([...UNICODE, '\t', ' ', '/* x */'])).join('');
        const line = `\t${pre}${p.one(SITE_LINES)}\n`;
        const nl = s.indexOf('\n', at);
        const pos = nl < 0 ? s.length : nl + 1;
        s = s.slice(0, pos) + line + s.slice(pos);
      }
    }
  }
  return s;
}

export interface CGenerated {
  text: string;
  label: string;
  ops: string;
  own: boolean;
  budgetMs?: number;
}

/** One C input; `bigBytes` > 0 makes it a file of about that size built from the seeds. */
export function cInput(seeds: readonly CSeed[], r: Rand, bigBytes = 0, maxDepth = Infinity): CGenerated {
  const p = new Pick(r);
  if (bigBytes > 0) {
    const own = seeds.filter((s) => s.own);
    const parts: string[] = [];
    let len = 0;
    for (let i = 0; len < bigBytes; i++) {
      const t = own[i % own.length]!.text.replace(/\b(foo|acme)_/g, `$1${i}_`);
      parts.push(t);
      len += t.length;
    }
    return { text: parts.join('\n'), label: `${(len / 1e6).toFixed(1)} MB of fixtures`, ops: 'big-file', own: true, budgetMs: Math.max(60_000, (len / 1e6) * 30_000) };
  }
  const seed = p.one(seeds);
  const other = p.one(seeds);
  const kind = p.weighted([70, 8, 10, 6, 6]);
  const own = seed.own && other.own;
  switch (kind) {
    case 1: return { text: junk(p, p.one([16, 256, 4096, 16384])), label: 'junk', ops: 'junk', own: true };
    case 2: return { text: deep(p, maxDepth), label: 'generated', ops: 'deep', own: true };
    case 3: { // cut anywhere: unterminated everything
      const cut = p.int(seed.text.length + 1);
      return { text: seed.text.slice(0, cut) + p.one(['/*', '"', "'", '(', '{', '#define X(', '\\', '']), label: seed.label, ops: 'cut', own: seed.own };
    }
    case 4: { // raw bytes of the file with flips, decoded as UTF-8 (invalid sequences) or Latin-1
      const b = Buffer.from(seed.text, 'utf8');
      for (let i = p.range(1, 32); i > 0; i--) b[p.int(b.length)] = p.int(256);
      return { text: p.chance(0.7) ? b.toString('utf8') : b.toString('latin1'), label: seed.label, ops: 'bytes', own: seed.own };
    }
    default: return { text: mutateText(seed.text, p, other.text), label: seed.label, ops: 'text', own };
  }
}

/** Lines as LSP counts them (and the engine reports them): CRLF, LF or a lone CR ends a line. */
function rows(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

export class RangeMismatch extends Error {
  override name = 'RangeMismatch';
}

/**
 * Audits `text` once and checks the result: every site range inside the text,
 * start <= end, and a call site's range covering the callee it names.
 */
export function exerciseC(engine: AuditEngine, text: string, path = '/fuzz/input.c'): FileAudit {
  const audit = engine.auditOnce(path, text);
  const lines = rows(text);
  for (const f of audit.findings) {
    const r = f.site.range;
    const where = `${f.rule} ${f.site.accessor} at ${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character}`;
    if (r.start.line < 0 || r.end.line >= lines.length || r.start.line > r.end.line) throw new RangeMismatch(`${where}: line outside the text (${lines.length} lines)`);
    if (r.start.line === r.end.line && r.start.character > r.end.character) throw new RangeMismatch(`${where}: start after end`);
    if (r.start.character > lines[r.start.line]!.length || r.end.character > lines[r.end.line]!.length) throw new RangeMismatch(`${where}: column past the end of its line`);
    if (f.site.kind === 'call' && r.start.line === r.end.line) {
      const covered = lines[r.start.line]!.slice(r.start.character, r.end.character);
      if (covered !== f.site.accessor) throw new RangeMismatch(`${where}: range covers ${JSON.stringify(covered)}`);
    }
  }
  for (const f of audit.findings.slice(0, 3)) hoverMarkdown(audit, f.site.range.start);
  return audit;
}
