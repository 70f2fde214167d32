// Open documents with incremental sync. The engine's parser derives the tree edit
// from the previous text itself (c/parser.ts), so no edit list is kept here: one
// source of edits, which cannot disagree with the text.

import { TextDocument } from 'vscode-languageserver-textdocument';
import type { DidChangeTextDocumentParams, DidOpenTextDocumentParams } from 'vscode-languageserver';

export interface OpenDocument {
  readonly uri: string;
  readonly languageId: string;
  readonly version: number;
  readonly text: string;
  readonly lsp: TextDocument;
}

export class DocumentStore {
  private readonly entries = new Map<string, TextDocument>();
  /** Opens, changes and closes of every document, and of each one (revisionsOf). */
  private revisions = 0;
  private readonly own = new Map<string, number>();

  open(p: DidOpenTextDocumentParams): OpenDocument {
    const { uri, languageId, version, text } = p.textDocument;
    const doc = TextDocument.create(uri, languageId, version, text);
    this.entries.set(uri, doc);
    this.revised(uri);
    return view(doc);
  }

  /** Applies the changes in order. Returns undefined for a document that is not open. */
  change(p: DidChangeTextDocumentParams): OpenDocument | undefined {
    const doc = this.entries.get(p.textDocument.uri);
    if (!doc) return undefined;
    // A notification with no changes still carries a new version number.
    TextDocument.update(doc, p.contentChanges, p.textDocument.version);
    this.revised(p.textDocument.uri);
    return view(doc);
  }

  close(uri: string): boolean {
    this.revised(uri);
    return this.entries.delete(uri);
  }

  /**
   * How many times a document other than `uri` was opened, changed or closed: what
   * `uri` reads of the others (a header's unsaved text) can only have changed when
   * this has.
   */
  revisionsOfOthers(uri: string): number {
    return this.revisions - (this.own.get(uri) ?? 0);
  }

  private revised(uri: string): void {
    this.revisions++;
    this.own.set(uri, (this.own.get(uri) ?? 0) + 1);
  }

  get(uri: string): OpenDocument | undefined {
    const doc = this.entries.get(uri);
    return doc && view(doc);
  }

  all(): OpenDocument[] {
    return [...this.entries.values()].map(view);
  }
}

function view(doc: TextDocument): OpenDocument {
  return { uri: doc.uri, languageId: doc.languageId, version: doc.version, text: doc.getText(), lsp: doc };
}
