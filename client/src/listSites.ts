// TDX: List #VE Sites in This File — a QuickPick over the active file's findings that
// previews each site as it is highlighted and jumps to the one picked.

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { FileSummaryRequest, type FileSummaryParams, type SummaryItem } from '../../server/src/lsp/protocol';

interface SitePick extends vscode.QuickPickItem {
  site: SummaryItem;
}

const ICON: Record<SummaryItem['severity'], string> = {
  error: '$(error)',
  warning: '$(warning)',
  information: '$(info)',
  hint: '$(lightbulb)',
};

export async function listSites(client: LanguageClient): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'c') {
    void vscode.window.showInformationMessage('TDX Audit: open a C file to list its #VE sites.');
    return;
  }
  if (!client.isRunning()) {
    const pick = await vscode.window.showWarningMessage('TDX Audit: the language server is not running.', 'Restart');
    if (pick) await vscode.commands.executeCommand('tdxAudit.restartServer');
    return;
  }
  const params: FileSummaryParams = { uri: client.code2ProtocolConverter.asUri(editor.document.uri) };
  const summary = await client.sendRequest(FileSummaryRequest, params);
  if (!summary) {
    const pick = await vscode.window.showInformationMessage(
      'TDX Audit: no audit for this file (auditing is disabled, or the server failed; see the output).',
      'Show Output',
    );
    if (pick) await vscode.commands.executeCommand('tdxAudit.showOutput');
    return;
  }
  const name = vscode.workspace.asRelativePath(editor.document.uri);
  if (!summary.items.length) {
    void vscode.window.showInformationMessage(`TDX Audit: no reported #VE sites in ${name}.`);
    return;
  }

  const picks: SitePick[] = summary.items.map((site) => ({
    label: `${site.dismissed ? '$(pass)' : site.notBuilt ? '$(circle-slash)' : ICON[site.severity] ?? ''} ${site.accessor}${site.base !== site.accessor ? ` → ${site.base}` : ''}`,
    description: `${site.rule}  ·  ${site.function ?? 'file scope'}:${site.range.start.line + 1}${site.triage ? `  ·  ${site.triage}` : ''}`,
    detail: site.message,
    site,
  }));

  const originalSelection = editor.selection;
  const originalVisible = editor.visibleRanges[0];
  const qp = vscode.window.createQuickPick<SitePick>();
  qp.title = `#VE sites in ${name}: ${summary.errors} errors, ${summary.warnings} warnings${summary.triaged ? `, ${summary.triaged} triaged` : ''}${summary.notBuilt ? `, ${summary.notBuilt} not built in this .config` : ''}`;
  qp.placeholder = 'Filter by accessor, rule or function';
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  qp.items = picks;

  const reveal = (site: SummaryItem, type: vscode.TextEditorRevealType) => {
    const range = client.protocol2CodeConverter.asRange(site.range);
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, type);
  };

  let accepted = false;
  await new Promise<void>((resolve) => {
    qp.onDidChangeActive((items) => {
      if (items[0]) reveal(items[0].site, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    });
    qp.onDidAccept(() => {
      const chosen = qp.selectedItems[0] ?? qp.activeItems[0];
      if (chosen) {
        accepted = true;
        reveal(chosen.site, vscode.TextEditorRevealType.InCenter);
      }
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!accepted) {
        // Escape: put the editor back where the user was before previewing.
        editor.selection = originalSelection;
        if (originalVisible) editor.revealRange(originalVisible, vscode.TextEditorRevealType.AtTop);
      }
      qp.dispose();
      resolve();
    });
    qp.show();
  });
  if (accepted) await vscode.window.showTextDocument(editor.document, editor.viewColumn);
}
