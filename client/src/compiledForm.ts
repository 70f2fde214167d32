// TDX: Show Compiled Form — asks the server for the annotated disassembly of the
// function under the cursor and shows it read-only, beside the source, as a virtual
// document (scheme `tdx-compiled`) in the `tdx-disasm` language.

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { CompiledFormRequest, type CompiledFormParams } from '../../server/src/lsp/protocol';

export const COMPILED_SCHEME = 'tdx-compiled';
export const DISASM_LANGUAGE = 'tdx-disasm';

/** Holds the text of every compiled-form document opened in this session. */
export class CompiledFormProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly closeWatch = vscode.workspace.onDidCloseTextDocument((doc) => {
    if (doc.uri.scheme === COMPILED_SCHEME) this.contents.delete(doc.uri.toString());
  });

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '; this compiled form is no longer available: run "TDX: Show Compiled Form" again\n';
  }

  set(uri: vscode.Uri, content: string): void {
    const key = uri.toString();
    const had = this.contents.has(key);
    this.contents.set(key, content);
    if (had) this.changed.fire(uri);
  }

  dispose(): void {
    this.closeWatch.dispose();
    this.changed.dispose();
    this.contents.clear();
  }
}

/** `tdx-compiled:/foo_nic.c/foo_open.tdx-disasm?<source uri>`: one document per source file and function. */
export function compiledFormUri(source: vscode.Uri, fn: string | null): vscode.Uri {
  const base = source.path.split('/').pop() || 'untitled';
  const name = (fn ?? 'file').replace(/[^\w.$@-]/g, '_');
  return vscode.Uri.from({ scheme: COMPILED_SCHEME, path: `/${base}/${name}.${DISASM_LANGUAGE}`, query: source.toString() });
}

export async function showCompiledForm(client: LanguageClient, provider: CompiledFormProvider): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'c') {
    void vscode.window.showInformationMessage('TDX Audit: put the cursor in a function of a C file to see its compiled form.');
    return;
  }
  if (!client.isRunning()) {
    const pick = await vscode.window.showWarningMessage('TDX Audit: the language server is not running.', 'Restart');
    if (pick) await vscode.commands.executeCommand('tdxAudit.restartServer');
    return;
  }
  const pos = editor.selection.active;
  const params: CompiledFormParams = {
    uri: client.code2ProtocolConverter.asUri(editor.document.uri),
    position: { line: pos.line, character: pos.character },
  };
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'TDX: reading the compiled form' },
    (_p, token) => client.sendRequest(CompiledFormRequest, params, token),
  );
  if (!result) {
    void vscode.window.showWarningMessage(
      'TDX Audit: no compiled form for this position (no object file with debug info was found for this source).',
    );
    return;
  }
  if (result.message) void vscode.window.showWarningMessage(`TDX Audit: ${result.message}`);
  if (!result.content) {
    if (!result.message) void vscode.window.showWarningMessage('TDX Audit: the server found no compiled form for this position.');
    return;
  }
  const uri = compiledFormUri(editor.document.uri, result.function);
  provider.set(uri, result.content);
  let doc = await vscode.workspace.openTextDocument(uri);
  if (doc.languageId !== DISASM_LANGUAGE) doc = await vscode.languages.setTextDocumentLanguage(doc, DISASM_LANGUAGE);
  const shown = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  if (result.line !== undefined && result.line < doc.lineCount) {
    // Open at the cursor's instruction, not at the listing's first line.
    const at = new vscode.Position(result.line, 0);
    shown.selection = new vscode.Selection(at, at);
    shown.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenter);
  }
}
