// Fix-its: the edit that turns a raw or untyped MMIO dereference into the io.h
// accessor of its width, so the compiler must emit the MOV the #VE handler
// emulates: a load `x = p->f` becomes `x = readl(&p->f)`, a store `p->f = v`
// becomes `writel(v, &p->f)`, a read-modify-write `p->f |= v` becomes
// `writel(readl(&p->f) | v, &p->f)`, and memcpy/memset on MMIO become
// memcpy_toio/memcpy_fromio/memset_io. Text in, one edit (or the reason there is
// none) out; the LSP quick fix and `tdx-audit fix --diff` share it.
import { pointAt } from '../c/parser';
import type { Range, Site } from '../c/types';
import type { CompiledInstruction } from './compiled';

export interface Fix {
  title: string;
  /** Replace this range of the text (0-based lines, UTF-16 columns) with `newText`. */
  range: Range;
  newText: string;
}

const READ: Record<number, string> = { 1: 'readb', 2: 'readw', 4: 'readl', 8: 'readq' };
const WRITE: Record<number, string> = { 1: 'writeb', 2: 'writew', 4: 'writel', 8: 'writeq' };

function offsetAt(text: string, line: number, character: number): number {
  let off = 0;
  for (let l = 0; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return off + character;
}

function positionAt(text: string, offset: number): { line: number; character: number } {
  const p = pointAt(text, offset);
  return { line: p.row, character: p.column };
}

/** The access width: the site's own, else the one width every compiled access of it has. */
export function accessWidth(site: Site, instructions: readonly CompiledInstruction[] = []): number {
  if (site.width) return site.width;
  // The handler's size, or (for a form it rejects, size 0) the operand size iced prints.
  const PTR: Record<string, number> = { byte: 1, word: 2, dword: 4, qword: 8 };
  const sizeOf = (i: CompiledInstruction): number => i.size || PTR[/\b(byte|word|dword|qword) ptr\b/.exec(i.text)?.[1] ?? ''] || 0;
  const sizes = new Set(instructions.filter((i) => i.class !== 'CALL' && sizeOf(i) > 0).map(sizeOf));
  return sizes.size === 1 ? [...sizes][0]! : 0;
}

/** Widths of the scalar types kernel code declares registers with. */
const TYPE_WIDTH: Record<string, number> = {
  u8: 1, s8: 1, __u8: 1, __s8: 1, char: 1, 'unsigned char': 1, 'signed char': 1, uint8_t: 1, int8_t: 1, u_char: 1,
  u16: 2, s16: 2, __u16: 2, __s16: 2, __le16: 2, __be16: 2, short: 2, 'unsigned short': 2, uint16_t: 2, int16_t: 2, u_short: 2,
  u32: 4, s32: 4, __u32: 4, __s32: 4, __le32: 4, __be32: 4, int: 4, 'unsigned int': 4, unsigned: 4, uint32_t: 4, int32_t: 4, u_int: 4,
  u64: 8, s64: 8, __u64: 8, __s64: 8, __le64: 8, __be64: 8, 'unsigned long': 8, long: 8, 'long long': 8, 'unsigned long long': 8, uint64_t: 8, int64_t: 8,
};
const widthOfType = (t: string): number => TYPE_WIDTH[t.replace(/\b(const|volatile|__iomem)\b/g, '').replace(/\s+/g, ' ').trim()] ?? 0;

/**
 * The width the source states: the type of a cast (`*(u_short *)p`) or the scalar
 * type a member of that name is declared with in this file (`u32 ctrl;`).
 */
export function sourceWidth(text: string, expr: string): number {
  const cast = /^\*\s*\(\s*([\w\s]+?)\s*\*\s*\)/.exec(expr.trim());
  if (cast) return widthOfType(cast[1]!);
  const member = /(?:->|\.)\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*$/.exec(expr)?.[1];
  if (!member) return 0;
  const widths = new Set<number>();
  const decl = new RegExp(`(?:^|[;{\\n])\\s*((?:(?:const|volatile|unsigned|signed|long|short)\\s+)*[A-Za-z_]\\w*)\\s+(?:__iomem\\s+)?${member}\\s*(?:\\[[^\\]]*\\]\\s*)?[;,]`, 'g');
  for (const m of text.matchAll(decl)) widths.add(widthOfType(m[1]!));
  return widths.size === 1 ? [...widths][0]! : 0;
}

/** `&E` for an lvalue E, written the way a kernel engineer would (`*p` → `p`). */
function addressOf(e: string): string {
  const t = e.trim();
  if (/^\*\s*[A-Za-z_(]/.test(t) && !/^\*.*[=?]/.test(t)) {
    const inner = t.replace(/^\*\s*/, '');
    return inner;
  }
  return /^[\w.>\-[\]\s]+$/.test(t) ? `&${t}` : `&(${t})`;
}

/** End of the expression starting at `from`: the first `;`, `,` or unbalanced `)` at depth 0. */
function expressionEnd(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return i;
      depth--;
    } else if ((c === ';' || c === ',') && depth === 0) return i;
    else if (c === '"' || c === "'") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    }
  }
  return text.length;
}

const COPIES: Record<string, { dest: string; src: string }> = {
  memcpy: { dest: 'memcpy_toio', src: 'memcpy_fromio' },
  memmove: { dest: 'memcpy_toio', src: 'memcpy_fromio' },
  memset: { dest: 'memset_io', src: 'memset_io' },
};

/**
 * The fix for one site, or why there is none. Only dereference sites (not calls of
 * accessors, which are already the fix) get one.
 */
export function fixFor(text: string, site: Site, instructions: readonly CompiledInstruction[] = []): Fix | { none: string } {
  if (site.kind === 'call') return { none: 'already an accessor call' };
  // site.range is the dereferenced expression (callRange is the whole assignment for some sites).
  const start = offsetAt(text, site.range.start.line, site.range.start.character);
  const end = offsetAt(text, site.range.end.line, site.range.end.character);
  const expr = text.slice(start, end);
  // A plain copy on MMIO: the *_io variant of the call.
  const call = /\b(memcpy|memmove|memset)\s*\([^;]*$/.exec(text.slice(Math.max(0, start - 200), start).replace(/\([^()]*\)/g, ''));
  if (site.kind === 'iomem-libc' || call || /^(memcpy|memmove|memset)$/.test(site.accessor)) {
    const before = text.slice(0, start);
    const m = /\b(memcpy|memmove|memset)\s*\([^;]*$/.exec(before);
    const name = m?.[1] ?? site.accessor;
    const row = COPIES[name];
    if (!row || !m) return { none: `no *_io form for ${name}` };
    const args = before.slice(m.index + m[0].indexOf('(') + 1);
    const first = !/,/.test(args.replace(/\([^()]*\)/g, ''));
    const replacement = first ? row.dest : row.src;
    const at = m.index;
    return {
      title: `Use ${replacement}() for the MMIO side of ${name}()`,
      range: { start: positionAt(text, at), end: positionAt(text, at + name.length) },
      newText: replacement,
    };
  }
  // A bitfield has no address: readX(&p->bf) does not compile.
  const member = /(?:->|\.)\s*([A-Za-z_]\w*)\s*$/.exec(expr)?.[1];
  if (member && new RegExp(`[\\s,]${member}\\s*:\\s*\\d+\\s*[,;]`).test(text)) {
    return { none: `${member} is a bitfield: read the containing word with readX(), change the bits with a mask and shift, and write the word back with writeX()` };
  }
  const width = accessWidth(site, instructions) || sourceWidth(text, expr);
  if (!READ[width]) {
    return { none: width ? `no io.h accessor of ${width} bytes` : 'the access width is not known (build the object to see it, or it is a bitfield: read the containing word with readX(), mask and shift, and write it back with writeX())' };
  }
  const after = text.slice(end);
  const assign = /^\s*(\|=|&=|\^=|\+=|-=|<<=|>>=|=(?!=))/.exec(after);
  const post = /^\s*(\+\+|--)/.exec(after);
  const pre = /(\+\+|--)\s*$/.exec(text.slice(Math.max(0, start - 4), start));
  const addr = addressOf(expr);
  if (site.accessor === 'load' || (!assign && !post && !pre)) {
    if (site.accessor !== 'load') return { none: 'not a plain load, store or compound assignment (a bitfield? read the containing word with readX(), mask and shift, and write it back with writeX())' };
    return { title: `Use ${READ[width]}()`, range: site.range, newText: `${READ[width]}(${addr})` };
  }
  if (pre) return { none: 'a pre-increment of MMIO: write it as writeX(readX(p) + 1, p)' };
  const opEnd = end + (assign ?? post)![0].length;
  if (post) {
    const op = post[1] === '++' ? '+' : '-';
    return {
      title: `Use ${READ[width]}()/${WRITE[width]}()`,
      range: { start: site.range.start, end: positionAt(text, opEnd) },
      newText: `${WRITE[width]}(${READ[width]}(${addr}) ${op} 1, ${addr})`,
    };
  }
  const rhsStart = opEnd;
  const rhsEnd = expressionEnd(text, rhsStart);
  const rhs = text.slice(rhsStart, rhsEnd).trim();
  if (!rhs) return { none: 'no right-hand side' };
  if (/\n/.test(text.slice(start, rhsEnd))) return { none: 'the statement spans lines: rewrite it with readX()/writeX() by hand' };
  const op = assign![1]!;
  const value = op === '=' ? rhs : `${READ[width]}(${addr}) ${op.slice(0, -1)} ${/^[\w.>\-[\]()]+$/.test(rhs) ? rhs : `(${rhs})`}`;
  return {
    title: op === '=' ? `Use ${WRITE[width]}()` : `Use ${READ[width]}()/${WRITE[width]}()`,
    range: { start: site.range.start, end: positionAt(text, rhsEnd) },
    newText: `${WRITE[width]}(${value}, ${addr})`,
  };
}

/** Applies non-overlapping fixes (later ones first, so earlier offsets stay valid). */
export function applyFixes(text: string, fixes: readonly Fix[]): string {
  const sorted = [...fixes].sort((a, b) => offsetAt(text, b.range.start.line, b.range.start.character) - offsetAt(text, a.range.start.line, a.range.start.character));
  let out = text;
  let limit = Infinity;
  for (const f of sorted) {
    const s = offsetAt(out, f.range.start.line, f.range.start.character);
    const e = offsetAt(out, f.range.end.line, f.range.end.character);
    if (e > limit) continue; // overlaps a fix already applied
    out = out.slice(0, s) + f.newText + out.slice(e);
    limit = s;
  }
  return out;
}

/** A unified diff of one file (what `tdx-audit fix --diff` prints), hunks of changed lines with 3 lines of context. */
export function unifiedDiff(path: string, before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  if (before === after) return '';
  // Fixes never add or remove lines: compare line by line.
  const changed: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) changed.push(i);
  const out = [`--- a/${path}`, `+++ b/${path}`];
  let k = 0;
  while (k < changed.length) {
    const lo = Math.max(0, changed[k]! - 3);
    let hiIdx = k;
    while (hiIdx + 1 < changed.length && changed[hiIdx + 1]! - changed[hiIdx]! <= 6) hiIdx++;
    const hi = Math.min(a.length - 1, changed[hiIdx]! + 3);
    const body: string[] = [];
    for (let i = lo; i <= hi; i++) {
      if (a[i] === b[i]) body.push(` ${a[i]}`);
      else {
        body.push(`-${a[i]}`);
        body.push(`+${b[i]}`);
      }
    }
    const n = hi - lo + 1;
    out.push(`@@ -${lo + 1},${n} +${lo + 1},${n} @@`, ...body);
    k = hiIdx + 1;
  }
  return out.join('\n') + '\n';
}
