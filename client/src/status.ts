// The language status item for C files: server health from `tdxAudit/status`, and the
// active file's site counts from `tdxAudit/fileSummary`. Clicking it lists the sites.
// Beside it, a status bar item with the workspace's counts (`tdxAudit/workspaceChanged`),
// visible whatever file is active; clicking it opens the TDX Findings view.

import * as vscode from 'vscode';
import { State, type LanguageClient, type StateChangeEvent } from 'vscode-languageclient/node';
import {
  FileSummaryRequest,
  StatusNotification,
  type FileSummary,
  type FileSummaryParams,
  type StatusParams,
  type WorkspaceFindings,
} from '../../server/src/lsp/protocol';

/** Diagnostics events come per audit, editors change in bursts: coalesce the summary requests. */
const REFRESH_DELAY_MS = 150;

export class StatusView implements vscode.Disposable {
  private readonly item: vscode.LanguageStatusItem;
  private readonly workspaceItem: vscode.StatusBarItem;
  private workspace: { totals: WorkspaceFindings['totals']; indexing: boolean } | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private server: StatusParams = { state: 'starting' };
  private clientState: State = State.Stopped;
  private summary: FileSummary | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Responses can arrive out of order; only the latest request's answer is shown. */
  private seq = 0;

  constructor(
    private readonly client: LanguageClient,
    selector: vscode.DocumentSelector,
    /** tdxAudit/workspaceChanged, from the TDX Findings view that owns the notification. */
    onWorkspaceChanged: vscode.Event<{ totals: WorkspaceFindings['totals']; indexing: boolean }>,
  ) {
    this.item = vscode.languages.createLanguageStatusItem('tdxAudit.status', selector);
    this.item.name = 'TDX Audit';
    this.item.command = { command: 'tdxAudit.listSites', title: 'List Sites' };
    this.workspaceItem = vscode.window.createStatusBarItem('tdxAudit.workspace', vscode.StatusBarAlignment.Left, 50);
    this.workspaceItem.name = 'TDX Audit: workspace';
    this.workspaceItem.command = 'tdxAudit.showFindings';
    this.disposables.push(
      onWorkspaceChanged((p) => {
        this.workspace = p;
        this.renderWorkspace();
      }),
      client.onDidChangeState((e: StateChangeEvent) => {
        this.clientState = e.newState;
        if (e.newState !== State.Running) {
          this.server = { state: 'starting' };
          this.summary = null;
          this.workspace = undefined;
        }
        // When running, the TDX Findings view asks for the totals once and passes them on.
        this.renderWorkspace();
        this.render();
        this.schedule();
      }),
      client.onNotification(StatusNotification, (p: StatusParams) => {
        this.server = p;
        this.render();
        if (p.state === 'ready') this.schedule();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => {
        this.summary = null;
        this.render();
        this.schedule();
      }),
      vscode.languages.onDidChangeDiagnostics((e) => {
        const active = vscode.window.activeTextEditor?.document.uri.toString();
        if (active && e.uris.some((u) => u.toString() === active)) this.schedule();
      }),
    );
    this.render();
  }

  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), REFRESH_DELAY_MS);
  }

  private async refresh(): Promise<void> {
    this.timer = undefined;
    const seq = ++this.seq;
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || doc.languageId !== 'c' || this.clientState !== State.Running) {
      this.summary = null;
      this.render();
      return;
    }
    let summary: FileSummary | null = null;
    try {
      const params: FileSummaryParams = { uri: this.client.code2ProtocolConverter.asUri(doc.uri) };
      summary = await this.client.sendRequest(FileSummaryRequest, params);
    } catch {
      // The server restarting or not yet initialised; the next state change refreshes.
      summary = null;
    }
    if (seq !== this.seq) return;
    this.summary = summary;
    this.render();
  }

  /** Errors and warnings of the whole workspace, as the TDX Findings view counts them. */
  private renderWorkspace(): void {
    const w = this.workspace;
    const item = this.workspaceItem;
    if (!w || this.clientState !== State.Running) {
      item.hide();
      return;
    }
    const t = w.totals;
    const spin = w.indexing ? '$(sync~spin) ' : '';
    item.text = `${spin}$(shield) TDX $(error) ${t.errors} $(warning) ${t.warnings}`;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    item.tooltip = `TDX Audit, workspace: ${plural(t.errors, 'error')}, ${plural(t.warnings, 'warning')}, ${t.others} other, ${t.triaged} triaged${t.notBuilt ? `, ${t.notBuilt} not built in this .config` : ''} in ${plural(t.files, 'file')}${w.indexing ? ' (indexing…)' : ''}. Click to open TDX Findings.`;
    item.backgroundColor = t.errors ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    item.show();
  }

  private render(): void {
    const item = this.item;
    item.severity = vscode.LanguageStatusSeverity.Information;
    item.busy = false;
    if (this.clientState === State.Stopped) {
      item.text = '$(circle-slash) TDX Audit stopped';
      item.detail = 'Run "TDX: Restart Language Server"';
      item.severity = vscode.LanguageStatusSeverity.Error;
      item.command = { command: 'tdxAudit.restartServer', title: 'Restart' };
      return;
    }
    item.command = { command: 'tdxAudit.listSites', title: 'List Sites' };
    switch (this.server.state) {
      case 'starting':
        item.text = 'TDX Audit starting';
        item.detail = this.server.message;
        item.busy = true;
        return;
      case 'error':
        item.text = '$(error) TDX Audit';
        item.detail = this.server.message ?? 'The server reported an error; see the output';
        item.severity = vscode.LanguageStatusSeverity.Error;
        item.command = { command: 'tdxAudit.showOutput', title: 'Show Output' };
        return;
      case 'busy':
      case 'ready': {
        item.busy = this.server.state === 'busy';
        const s = this.summary;
        if (!s) {
          item.text = 'TDX Audit';
          item.detail = this.server.message;
          return;
        }
        item.text = `$(shield) ${s.sites} #VE site${s.sites === 1 ? '' : 's'}`;
        const parts = [`${s.errors} error${s.errors === 1 ? '' : 's'}`, `${s.warnings} warning${s.warnings === 1 ? '' : 's'}`];
        if (s.others) parts.push(`${s.others} other`);
        if (s.triaged) parts.push(`${s.triaged} triaged`);
        if (s.notBuilt) parts.push(`${s.notBuilt} not built in this .config`);
        if (s.parseErrors) parts.push(`${s.parseErrors} parse error${s.parseErrors === 1 ? '' : 's'}`);
        item.detail = parts.join(', ');
        return;
      }
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
    this.item.dispose();
    this.workspaceItem.dispose();
  }
}
