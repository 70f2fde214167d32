import type { Node } from 'web-tree-sitter';
import { AuditEngine, type FileAudit } from '../../../server/src/audit/engine';
import type { CParser } from '../../../server/src/c/parser';

/** An engine whose "disk" is the given map of absolute paths to text. */
export async function engineWith(files: Record<string, string> = {}): Promise<AuditEngine> {
  return AuditEngine.create({ readFile: (p) => files[p] });
}

export function siteAt(a: FileAudit, text: string, needle: string, nth = 0) {
  const pos = locate(text, needle, nth);
  return a.analysis.sites.find((s) => s.range.start.line === pos.line && s.range.start.character === pos.character);
}

/** 0-based line/character of the nth occurrence of needle (UTF-16 columns). */
export function locate(text: string, needle: string, nth = 0): { line: number; character: number } {
  let idx = -1;
  for (let i = 0; i <= nth; i++) {
    idx = text.indexOf(needle, idx + 1);
    if (idx < 0) throw new Error(`needle ${JSON.stringify(needle)} #${nth} not in text`);
  }
  const before = text.slice(0, idx);
  const line = before.split('\n').length - 1;
  return { line, character: idx - (before.lastIndexOf('\n') + 1) };
}

/** Each site of `text` (audited as one file, no headers) as [accessor, 1-based line, 0-based column]. */
export async function sitesOf(text: string): Promise<[string, number, number][]> {
  const e = await engineWith();
  const a = e.auditOnce('/t/k.c', text);
  return a.analysis.sites.map((s) => [s.accessor, s.range.start.line + 1, s.range.start.character]);
}

/** `body` on the root of tree-sitter's tree of `text` as it is (no annotation rewrite); the tree is deleted after. */
export function withTree<T>(parser: CParser, text: string, body: (root: Node) => T): T {
  const tree = parser.parseOnce(text);
  try {
    return body(tree.rootNode);
  } finally {
    tree.delete();
  }
}
