// tree-sitter-c through web-tree-sitter (WASM: no native module, any OS), with
// the kernel-annotation rewrite applied before every parse and a per-document
// cache so an edit reparses incrementally.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Parser, Language, type Tree, type Node } from 'web-tree-sitter';
import { prepare, type BlankSpans, type Prepared } from './annotations';
import { rangesOutside } from './regions';
import { registerModule } from './wasmNodes';
import { rememberText } from './nodeIndex';

export type { Tree, Node };

/** The WASM files sit beside the bundle (dist/) or in node_modules when run from source. */
function wasmPath(file: string, pkgPath: string): string {
  const beside = join(__dirname, file);
  if (existsSync(beside)) return beside;
  return require.resolve(pkgPath);
}

let languagePromise: Promise<Language> | undefined;

async function loadLanguage(): Promise<Language> {
  // Emscripten makes this object the module: wasmNodes.ts reads nodes through it.
  const options = { locateFile: (name: string) => wasmPath(name, `web-tree-sitter/${name}`) };
  await Parser.init(options);
  registerModule(options);
  return Language.load(wasmPath('tree-sitter-c.wasm', 'tree-sitter-c/tree-sitter-c.wasm'));
}

export interface ParsedFile {
  tree: Tree;
  prepared: Prepared;
  /** The original text (what positions refer to). */
  text: string;
}

/** Parses kernel C. One instance per thread; not re-entrant. */
export class CParser {
  private readonly parser: Parser;
  private readonly cache = new Map<string, ParsedFile>();

  private constructor(readonly language: Language) {
    this.parser = new Parser();
    this.parser.setLanguage(language);
  }

  static async create(): Promise<CParser> {
    languagePromise ??= loadLanguage();
    return new CParser(await languagePromise);
  }

  /**
   * Parses `text`, reusing the cached tree of `key` when there is one. The old and
   * new prepared texts are diffed (diffEdits: the runs of lines that differ between
   * the common prefix and suffix) to give tree-sitter its edits: this also catches
   * rewrites the annotation pass made differently outside the user's edit, which an
   * edit list from the editor would miss.
   * `blanks`: spans of `text` holding only blanks inside a block's braces (a batch
   * audit's blanked bodies, annotations.ts BlankSpans), which neither the rewrite nor
   * tree-sitter reads (the tree is the one of the whole text).
   */
  parse(key: string | undefined, text: string, blanks?: BlankSpans): ParsedFile {
    const prepared = prepare(text, blanks);
    const old = key === undefined ? undefined : this.cache.get(key);
    let tree: Tree | null;
    if (blanks?.length) {
      // A batch parse (the text is new): no old tree to edit.
      if (old) this.forget(key!);
      tree = this.parser.parse(prepared.text, null, { includedRanges: rangesOutside(prepared.text, blanks) });
    } else if (old && old.prepared.text === prepared.text) {
      return old.text === text ? old : this.store(key, { tree: old.tree, prepared, text });
    } else if (old) {
      for (const e of diffEdits(old.prepared.text, prepared.text)) old.tree.edit(e);
      tree = this.parser.parse(prepared.text, old.tree);
      old.tree.delete();
    } else {
      tree = this.parser.parse(prepared.text);
    }
    if (!tree) throw new Error('tree-sitter returned no tree');
    rememberText(tree, prepared.text);
    const parsed = { tree, prepared, text };
    return key === undefined ? parsed : this.store(key, parsed);
  }

  /** A one-off parse (macro bodies, headers): the caller must delete the tree. */
  parseOnce(text: string): Tree {
    const tree = this.parser.parse(text);
    if (!tree) throw new Error('tree-sitter returned no tree');
    rememberText(tree, text);
    return tree;
  }

  /**
   * A one-off parse of `src` as if it stood at `startIndex` / `startPosition` of a
   * larger document (a macro body at its own rows and columns): node positions are
   * document positions. tree-sitter jumps to the start of the included range, so
   * nothing before it is built or lexed (padding the text with `row` newlines made
   * each macro body cost its row number: quadratic in a file with many macros).
   * The caller must delete the tree.
   */
  parseAt(src: string, startIndex: number, startPosition: Point): Tree {
    const end = startIndex + src.length;
    let row = startPosition.row;
    let lineStart = -startPosition.column;
    for (let i = src.indexOf('\n'); i >= 0; i = src.indexOf('\n', i + 1)) {
      row++;
      lineStart = i + 1;
    }
    const endPosition = { row, column: src.length - lineStart };
    const tree = this.parser.parse((index: number) => (index >= startIndex && index < end ? src.slice(index - startIndex) : ''), null, {
      includedRanges: [{ startIndex, endIndex: end, startPosition, endPosition }],
    });
    if (!tree) throw new Error('tree-sitter returned no tree');
    return tree;
  }

  private store(key: string | undefined, p: ParsedFile): ParsedFile {
    if (key !== undefined) this.cache.set(key, p);
    return p;
  }

  forget(key: string): void {
    const old = this.cache.get(key);
    if (old) {
      old.tree.delete();
      this.cache.delete(key);
    }
  }

  get cachedCount(): number {
    return this.cache.size;
  }
}

interface Point {
  row: number;
  column: number;
}

/** Row and column (UTF-16) of an index into the text. */
export function pointAt(text: string, index: number): Point {
  return advance({ row: 0, column: 0 }, text, 0, index);
}

/**
 * The span between the common prefix and the common suffix of two texts: `start`, and
 * where it ends in each. Compared a block at a time first (a comparison of two slices
 * is a memory compare; a loop of charCodeAt over a 300 KB file was ~1 ms), then by
 * character.
 */
export function commonEnds(before: string, after: string): { start: number; oldEnd: number; newEnd: number } {
  const max = Math.min(before.length, after.length);
  const B = 2048;
  let start = 0;
  while (start + B <= max && before.slice(start, start + B) === after.slice(start, start + B)) start += B;
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let tail = 0;
  const room = max - start;
  while (tail + B <= room && before.slice(before.length - tail - B, before.length - tail) === after.slice(after.length - tail - B, after.length - tail)) tail += B;
  while (tail < room && before.charCodeAt(before.length - 1 - tail) === after.charCodeAt(after.length - 1 - tail)) tail++;
  return { start, oldEnd: before.length - tail, newEnd: after.length - tail };
}

/** One edit spanning everything between the common prefix and the common suffix. */
export function diffEdit(before: string, after: string) {
  const { start, oldEnd, newEnd } = commonEnds(before, after);
  return {
    startIndex: start,
    oldEndIndex: oldEnd,
    newEndIndex: newEnd,
    startPosition: pointAt(before, start),
    oldEndPosition: pointAt(before, oldEnd),
    newEndPosition: pointAt(after, newEnd),
  };
}

/** A span that differs: old text [oldStart, oldEnd) became new text [newStart, newEnd). */
interface Span {
  oldStart: number;
  oldEnd: number;
  newStart: number;
  newEnd: number;
}

/** At most this many edits; beyond it the nearest spans are merged. */
const MAX_SPANS = 64;

/**
 * The edits that turn `before` into `after`, in the order tree.edit takes them (each in
 * the coordinates the edits before it left): diffEdit's span between the common prefix
 * and suffix, split into the runs of lines that differ when both hold as many lines
 * there (line i of one is line i of the other). A slice of a document (incremental.ts)
 * keeps every line of the file at its row, and one whose kept function moved from one
 * body to another differs at the two bodies and at the headers and prototypes each
 * names, scattered over the file: one span from the first difference to the last made
 * tree-sitter re-read most of the slice. Any split is a right edit list (the text
 * outside the spans is equal in both); it only decides what is re-read.
 */
export function diffEdits(before: string, after: string) {
  const spans = lineSpans(before, after);
  // Ascending, each in the coordinates after the edits before it: its start is a new-text offset.
  let p = { row: 0, column: 0 };
  let at = 0;
  return spans.map((s) => {
    const startPosition = (p = advance(p, after, at, s.newStart));
    at = s.newStart;
    return {
      startIndex: s.newStart,
      oldEndIndex: s.newStart + (s.oldEnd - s.oldStart),
      newEndIndex: s.newEnd,
      startPosition,
      oldEndPosition: advance(startPosition, before, s.oldStart, s.oldEnd),
      newEndPosition: advance(startPosition, after, s.newStart, s.newEnd),
    };
  });
}

function lineSpans(before: string, after: string): Span[] {
  const { start: b0, oldEnd: b1, newEnd: a1 } = commonEnds(before, after);
  if (b0 === b1 && b0 === a1) return [];
  const whole: Span = { oldStart: b0, oldEnd: b1, newStart: b0, newEnd: a1 };
  // Whole lines from the line holding the first difference (lastIndexOf from -1 looks at offset 0).
  const from = b0 === 0 ? 0 : before.lastIndexOf('\n', b0 - 1) + 1;
  if (count(before, from, b1) !== count(after, from, a1)) return [whole];
  const spans: Span[] = [];
  let o = from;
  let n = from;
  let run: Span | undefined;
  while (o < b1 || n < a1) {
    const oe = lineEnd(before, o, b1);
    const ne = lineEnd(after, n, a1);
    const same = oe - o === ne - n && before.startsWith(after.slice(n, ne), o);
    if (!same) {
      if (run) {
        run.oldEnd = oe;
        run.newEnd = ne;
      } else spans.push((run = { oldStart: o, oldEnd: oe, newStart: n, newEnd: ne }));
    } else run = undefined;
    o = oe;
    n = ne;
  }
  while (spans.length > MAX_SPANS) {
    // Merge the two spans with the fewest characters between them.
    let k = 0;
    for (let i = 1; i + 1 < spans.length; i++) if (spans[i + 1]!.oldStart - spans[i]!.oldEnd < spans[k + 1]!.oldStart - spans[k]!.oldEnd) k = i;
    spans.splice(k, 2, { oldStart: spans[k]!.oldStart, oldEnd: spans[k + 1]!.oldEnd, newStart: spans[k]!.newStart, newEnd: spans[k + 1]!.newEnd });
  }
  return spans;
}

/** Line ends ('\n') in text[from, to). */
function count(text: string, from: number, to: number): number {
  let c = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) c++;
  return c;
}

/** The offset after the line starting at `i` (its '\n' included), at most `to`. */
function lineEnd(text: string, i: number, to: number): number {
  const e = text.indexOf('\n', i);
  return e < 0 || e >= to ? to : e + 1;
}

/** The point after text[from, to) read from point `p`. */
function advance(p: Point, text: string, from: number, to: number): Point {
  let row = p.row;
  let column = p.column;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) {
    row++;
    column = -(i + 1 - from);
  }
  return { row, column: column + (to - from) };
}

/** ERROR and MISSING nodes: the parse-quality figure reported in the note. */
export function countErrors(tree: Tree): number {
  if (!tree.rootNode.hasError) return 0;
  let count = 0;
  const cursor = tree.walk();
  try {
    let done = false;
    while (!done) {
      const node = cursor.currentNode;
      if (node.isError || node.isMissing) count++;
      if (node.hasError && cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) {
        if (!cursor.gotoParent()) {
          done = true;
          break;
        }
      }
    }
  } finally {
    cursor.delete();
  }
  return count;
}
