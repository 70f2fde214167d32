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
   * new prepared texts are diffed (common prefix and suffix) to give tree-sitter
   * its edit: this also catches rewrites the annotation pass made differently
   * outside the user's edit, which an edit list from the editor would miss.
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
      if (!tree) throw new Error('tree-sitter returned no tree');
      rememberText(tree, prepared.text);
      const parsed = { tree, prepared, text };
      return key === undefined ? parsed : this.store(key, parsed);
    }
    if (old && old.prepared.text === prepared.text) {
      return old.text === text ? old : this.store(key, { tree: old.tree, prepared, text });
    }
    if (old) {
      old.tree.edit(diffEdit(old.prepared.text, prepared.text));
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
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: index - lineStart };
}

/** One edit spanning everything between the common prefix and the common suffix. */
export function diffEdit(before: string, after: string) {
  const max = Math.min(before.length, after.length);
  let start = 0;
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let tail = 0;
  while (
    tail < max - start &&
    before.charCodeAt(before.length - 1 - tail) === after.charCodeAt(after.length - 1 - tail)
  ) tail++;
  const oldEnd = before.length - tail;
  const newEnd = after.length - tail;
  return {
    startIndex: start,
    oldEndIndex: oldEnd,
    newEndIndex: newEnd,
    startPosition: pointAt(before, start),
    oldEndPosition: pointAt(before, oldEnd),
    newEndPosition: pointAt(after, newEnd),
  };
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
