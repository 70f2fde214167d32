// Open documents with incremental sync, keeping for each one the edits the engine
// has not seen yet. TextDocuments from vscode-languageserver applies changes before
// any handler runs, so the pre-change offsets that tree.edit() needs are gone by
// then; this store computes each TreeEdit against the text as it was just before
// that change, then applies it.

import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  TextDocumentContentChangeEvent,
  type DidChangeTextDocumentParams,
  type DidOpenTextDocumentParams,
} from 'vscode-languageserver';
import type { TreeEdit } from '../audit/engine';

export interface OpenDocument {
  readonly uri: string;
  readonly languageId: string;
  readonly version: number;
  readonly text: string;
  readonly lsp: TextDocument;
}

interface Entry {
  doc: TextDocument;
  /**
   * Edits since the engine last audited this document, in order. null means the
   * engine's tree cannot be reused (first audit, a full-text replacement, or a failed
   * audit) and the next audit must parse from scratch.
   */
  pending: TreeEdit[] | null;
}

export interface Point {
  row: number;
  column: number;
}

/**
 * tree-sitter's point for a UTF-16 offset: rows count '\n' only (a lone '\r' is not
 * a line break to tree-sitter, though LSP treats it as one), columns are UTF-16 units.
 */
export function pointAt(text: string, offset: number): Point {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: offset - lineStart };
}

/** The point reached after inserting `inserted` at `start`. */
export function advance(start: Point, inserted: string): Point {
  const last = inserted.lastIndexOf('\n');
  if (last === -1) return { row: start.row, column: start.column + inserted.length };
  let rows = 0;
  for (let i = inserted.indexOf('\n'); i !== -1; i = inserted.indexOf('\n', i + 1)) rows++;
  return { row: start.row + rows, column: inserted.length - last - 1 };
}

/** The TreeEdit for one ranged change, computed against the document before it applies. */
export function treeEditFor(before: TextDocument, change: { range: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string }): TreeEdit {
  const text = before.getText();
  let startIndex = before.offsetAt(change.range.start);
  let oldEndIndex = before.offsetAt(change.range.end);
  // Same normalisation TextDocument.update applies to a reversed range.
  if (oldEndIndex < startIndex) [startIndex, oldEndIndex] = [oldEndIndex, startIndex];
  const startPosition = pointAt(text, startIndex);
  const oldEndPosition = pointAt(text, oldEndIndex);
  return {
    startIndex,
    oldEndIndex,
    newEndIndex: startIndex + change.text.length,
    startPosition,
    oldEndPosition,
    newEndPosition: advance(startPosition, change.text),
  };
}

export class DocumentStore {
  private readonly entries = new Map<string, Entry>();

  open(p: DidOpenTextDocumentParams): OpenDocument {
    const { uri, languageId, version, text } = p.textDocument;
    const doc = TextDocument.create(uri, languageId, version, text);
    this.entries.set(uri, { doc, pending: null });
    return view(doc);
  }

  /** Applies the changes in order. Returns undefined for a document that is not open. */
  change(p: DidChangeTextDocumentParams): OpenDocument | undefined {
    const entry = this.entries.get(p.textDocument.uri);
    if (!entry) return undefined;
    for (const change of p.contentChanges) this.applyOne(entry, change, p.textDocument.version);
    // A notification with no changes still carries a new version number.
    if (p.contentChanges.length === 0) TextDocument.update(entry.doc, [], p.textDocument.version);
    return view(entry.doc);
  }

  private applyOne(entry: Entry, change: TextDocumentContentChangeEvent, version: number): void {
    if (TextDocumentContentChangeEvent.isIncremental(change)) {
      const edit = treeEditFor(entry.doc, change);
      if (entry.pending) entry.pending.push(edit);
    } else {
      entry.pending = null;
    }
    TextDocument.update(entry.doc, [change], version);
  }

  close(uri: string): boolean {
    return this.entries.delete(uri);
  }

  get(uri: string): OpenDocument | undefined {
    const entry = this.entries.get(uri);
    return entry && view(entry.doc);
  }

  all(): OpenDocument[] {
    return [...this.entries.values()].map((e) => view(e.doc));
  }

  /**
   * Hands the pending edits to an audit and starts a new batch. undefined means
   * "parse from scratch". Call markStale if that audit then fails.
   */
  takeEdits(uri: string): TreeEdit[] | undefined {
    const entry = this.entries.get(uri);
    if (!entry) return undefined;
    const edits = entry.pending ?? undefined;
    entry.pending = [];
    return edits;
  }

  /** The engine's tree for this document can no longer be trusted. */
  markStale(uri: string): void {
    const entry = this.entries.get(uri);
    if (entry) entry.pending = null;
  }
}

function view(doc: TextDocument): OpenDocument {
  return { uri: doc.uri, languageId: doc.languageId, version: doc.version, text: doc.getText(), lsp: doc };
}
