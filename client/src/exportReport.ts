// TDX: Export Audit Report — asks for a scope (this file, a folder, the workspace), an
// output folder (tdxAudit.export.folder first, outside the tree: exportFolder.ts) and the formats (all four unless the user unticks some), then lets the
// server audit and write the files. The server reports work-done progress on the
// token this side passes; cancelling the notification cancels the request, and the
// server then writes nothing. Existing report files are only replaced after the user
// says so.

import * as vscode from 'vscode';
import { WorkDoneProgress, type LanguageClient, type WorkDoneProgressBegin, type WorkDoneProgressReport } from 'vscode-languageclient/node';
import {
  ExportReportRequest,
  type ExportReportParams,
  type ExportReportResult,
  type ReportFormat,
} from '../../server/src/lsp/protocol';
import { exportFolder } from '../../server/src/lsp/exportFolder';

const FORMATS: { format: ReportFormat; label: string; detail: string }[] = [
  { format: 'sarif', label: 'SARIF', detail: 'SARIF 2.1.0, for code-scanning dashboards' },
  { format: 'html', label: 'HTML', detail: 'a self-contained page to read or attach' },
  { format: 'markdown', label: 'Markdown', detail: 'for a review or a ticket' },
  { format: 'json', label: 'JSON', detail: 'the report schema (tdx-audit-report v1), which `report --baseline` reads' },
];

interface ScopePick extends vscode.QuickPickItem {
  scope: 'file' | 'folder' | 'workspace';
}

let tokenSeq = 0;

export async function exportReport(client: LanguageClient): Promise<void> {
  if (!client.isRunning()) {
    const pick = await vscode.window.showWarningMessage('TDX Audit: the language server is not running.', 'Restart');
    if (pick) await vscode.commands.executeCommand('tdxAudit.restartServer');
    return;
  }
  const active = vscode.window.activeTextEditor?.document;
  const activeFile = active && active.uri.scheme === 'file' && active.languageId === 'c' ? active.uri : undefined;
  const folders = vscode.workspace.workspaceFolders ?? [];

  // 1. Scope.
  const scopes: ScopePick[] = [];
  if (activeFile) scopes.push({ scope: 'file', label: '$(file-code) This file', description: vscode.workspace.asRelativePath(activeFile), });
  scopes.push({ scope: 'folder', label: '$(folder) A folder…', description: 'choose a folder of C sources' });
  if (folders.length) scopes.push({ scope: 'workspace', label: '$(root-folder) Whole workspace', description: folders.map((f) => f.name).join(', ') });
  const scopePick = await vscode.window.showQuickPick(scopes, {
    title: 'TDX: Export Audit Report (1/3): what to audit',
    placeHolder: 'Scope of the report',
    ignoreFocusOut: true,
  });
  if (!scopePick) return;
  let scope: vscode.Uri | undefined;
  if (scopePick.scope === 'file') scope = activeFile;
  else if (scopePick.scope === 'folder') {
    const picked = await vscode.window.showOpenDialog({
      title: 'TDX: folder to audit',
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Audit This Folder',
      defaultUri: activeFile ? vscode.Uri.joinPath(activeFile, '..') : folders[0]?.uri,
    });
    if (!picked?.[0]) return;
    scope = picked[0];
  }

  // 2. Output folder: the configured one (outside the tree by default), or one to pick.
  const configured = vscode.Uri.file(exportFolder(
    vscode.workspace.getConfiguration('tdxAudit').get<string>('export.folder'),
    folders.filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath),
  ));
  const where = await vscode.window.showQuickPick(
    [
      { label: `$(folder-opened) ${configured.fsPath}`, description: 'tdxAudit.export.folder', uri: configured as vscode.Uri | undefined },
      { label: '$(folder) Choose a folder…', description: 'write somewhere else this time', uri: undefined },
    ],
    { title: 'TDX: Export Audit Report (2/3): folder to write the report into', placeHolder: 'Output folder', ignoreFocusOut: true },
  );
  if (!where) return;
  let outputDir = where.uri;
  if (!outputDir) {
    const out = await vscode.window.showOpenDialog({
      title: 'TDX: folder to write the report into',
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      openLabel: 'Export Here',
      defaultUri: configured,
    });
    if (!out?.[0]) return;
    outputDir = out[0];
  }

  // 3. Formats: all four unless unticked.
  const formatPicks = await vscode.window.showQuickPick(
    FORMATS.map((f) => ({ label: f.label, detail: f.detail, picked: true, format: f.format })),
    { title: 'TDX: Export Audit Report (3/3): formats', canPickMany: true, ignoreFocusOut: true, placeHolder: 'Formats to write (Enter for all)' },
  );
  if (!formatPicks) return;
  if (!formatPicks.length) {
    void vscode.window.showInformationMessage('TDX Audit: no format chosen, nothing exported.');
    return;
  }

  const params: ExportReportParams = {
    scope: scope ? client.code2ProtocolConverter.asUri(scope) : undefined,
    outputDir: client.code2ProtocolConverter.asUri(outputDir),
    formats: formatPicks.map((p) => p.format),
  };
  let result = await send(client, params);
  if (!result) return;
  if (!result.cancelled && result.exists.length && !result.written.length) {
    const names = result.exists.map((u) => vscode.Uri.parse(u).path.split('/').pop()).join(', ');
    const answer = await vscode.window.showWarningMessage(
      `TDX Audit: ${result.exists.length === 1 ? 'a report file exists' : `${result.exists.length} report files exist`} in ${vscode.workspace.asRelativePath(outputDir)} (${names}). Overwrite?`,
      { modal: true },
      'Overwrite',
    );
    if (answer !== 'Overwrite') return;
    result = await send(client, { ...params, overwrite: true });
    if (!result) return;
  } else if (!result.cancelled && result.exists.length) {
    // The server wrote some formats and kept others: say which were kept.
    void vscode.window.showWarningMessage(`TDX Audit: kept existing ${result.exists.map((u) => vscode.Uri.parse(u).path.split('/').pop()).join(', ')}.`);
  }
  if (result.cancelled) {
    void vscode.window.showInformationMessage('TDX Audit: export cancelled; nothing was written.');
    return;
  }
  const written = result.written.map((u) => client.protocol2CodeConverter.asUri(u));
  const md = written.find((u) => u.path.endsWith('.md')) ?? written[0];
  // Said, not left for the user to notice: why the report counts differently from the TDX Findings view.
  const differ = result.differences?.length ? ` Counts differ from TDX Findings: ${result.differences.join('; ')}.` : '';
  // What the export took from the workspace index instead of auditing again, and why it audited the rest.
  const reuse = result.reuse ? ` ${result.reuse[0]!.toUpperCase()}${result.reuse.slice(1)}.` : '';
  const action = await vscode.window.showInformationMessage(
    `TDX Audit: wrote ${written.length} report file${written.length === 1 ? '' : 's'} (${result.findings} finding${result.findings === 1 ? '' : 's'}) to ${vscode.workspace.asRelativePath(outputDir)}.${differ}${reuse}`,
    ...(md ? ['Open Report'] : []),
  );
  if (action === 'Open Report' && md) await vscode.commands.executeCommand('vscode.open', md);
}

/** One request under a cancellable notification that shows the server's work-done progress. */
async function send(client: LanguageClient, params: ExportReportParams): Promise<ExportReportResult | undefined> {
  const workDoneToken = `tdxAudit.export.${process.pid}.${++tokenSeq}`;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'TDX: exporting the audit report', cancellable: true },
    async (progress, token) => {
      let last = 0;
      const sub = client.onProgress(WorkDoneProgress.type, workDoneToken, (v: WorkDoneProgressBegin | WorkDoneProgressReport | { kind: 'end' }) => {
        if (v.kind === 'end') return;
        const pct = typeof v.percentage === 'number' ? v.percentage : undefined;
        progress.report({ message: v.message, increment: pct !== undefined ? Math.max(0, pct - last) : undefined });
        if (pct !== undefined) last = pct;
      });
      try {
        return (await client.sendRequest(ExportReportRequest, { ...params, workDoneToken }, token)) ?? undefined;
      } catch (err) {
        if (token.isCancellationRequested) {
          void vscode.window.showInformationMessage('TDX Audit: export cancelled; nothing was written.');
          return undefined;
        }
        void vscode.window.showErrorMessage(`TDX Audit: exporting the report failed: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
}
