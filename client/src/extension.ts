// The VS Code side of tdx-audit: starts the language server over IPC and adds what
// the LSP alone cannot show (server health and site counts, a site picker).

import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { SetTriageCommand, type InitializationOptions } from '../../server/src/lsp/protocol';
import { COMPILED_SCHEME, CompiledFormProvider, showCompiledForm } from './compiledForm';
import { exportReport } from './exportReport';
import { listSites } from './listSites';
import { StatusView } from './status';
import { WorkspaceFindingsView } from './workspaceView';

let client: LanguageClient | undefined;

/** Valid both as a VS Code and as an LSP document selector. */
const SELECTOR: { scheme: string; language: string }[] = [
  { scheme: 'file', language: 'c' },
  { scheme: 'untitled', language: 'c' },
];

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('TDX Audit', { log: true });
  context.subscriptions.push(output);

  const serverModule = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: SELECTOR,
    outputChannel: output,
    synchronize: { configurationSection: 'tdxAudit' },
    // A function, so that a restart after a trust grant sends the new value.
    initializationOptions: (): InitializationOptions => ({ trusted: vscode.workspace.isTrusted, commandLinks: true }),
    middleware: { executeCommand: askTriageReason },
    // Hovers may link to Show Compiled Form (and to nothing else).
    markdown: { isTrusted: { enabledCommands: ['tdxAudit.showCompiledForm'] } },
  };
  const lc = new LanguageClient('tdxAudit', 'TDX Audit', serverOptions, clientOptions);
  client = lc;

  const findings = new WorkspaceFindingsView(lc);
  const status = new StatusView(lc, SELECTOR, findings.onDidChangeTotals);
  const compiled = new CompiledFormProvider();
  context.subscriptions.push(
    status,
    findings,
    vscode.commands.registerCommand('tdxAudit.showFindings', () => findings.reveal()),
    compiled,
    vscode.workspace.registerTextDocumentContentProvider(COMPILED_SCHEME, compiled),
    vscode.commands.registerCommand('tdxAudit.restartServer', async () => {
      try {
        await lc.restart();
      } catch (err) {
        output.error(`restart failed: ${String(err)}`);
        void vscode.window.showErrorMessage(`TDX Audit: restarting the language server failed: ${String(err)}`);
      }
    }),
    vscode.commands.registerCommand('tdxAudit.showOutput', () => output.show(true)),
    vscode.commands.registerCommand('tdxAudit.listSites', async () => {
      try {
        await listSites(lc);
      } catch (err) {
        void vscode.window.showErrorMessage(`TDX Audit: listing sites failed: ${String(err)}`);
      }
    }),
    vscode.commands.registerCommand('tdxAudit.showCompiledForm', async (at?: { uri?: string; line?: number; character?: number }) => {
      try {
        // From a hover's link: put the cursor on that site first.
        if (at?.uri && typeof at.line === 'number') {
          const editor = await vscode.window.showTextDocument(vscode.Uri.parse(at.uri), { preserveFocus: false });
          const p = new vscode.Position(at.line, at.character ?? 0);
          editor.selection = new vscode.Selection(p, p);
        }
        await showCompiledForm(lc, compiled);
      } catch (err) {
        void vscode.window.showErrorMessage(`TDX Audit: showing the compiled form failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
    vscode.commands.registerCommand('tdxAudit.exportReport', async () => {
      try {
        await exportReport(lc);
      } catch (err) {
        void vscode.window.showErrorMessage(`TDX Audit: exporting the report failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
    // The server only learns about trust at initialize; restart so it runs with the granted trust.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (lc.isRunning()) void lc.restart();
    }),
  );

  try {
    await lc.start();
  } catch (err) {
    // Keep the commands alive (restart, output) even when the first start fails.
    output.error(`the language server failed to start: ${String(err)}`);
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

/** Statuses that dismiss a finding: setting one on an error or warning asks why (tdxAudit.triage.askReason). */
const DISMISSING = new Set(['safe', 'excluded', 'trusted']);

/**
 * Marking an error or warning safe, excluded or trusted asks for a reason first
 * (one keystroke must not silence a decode-failed oops); Escape cancels the change.
 */
async function askTriageReason(command: string, args: unknown[], next: (command: string, args: unknown[]) => unknown): Promise<unknown> {
  const [uri, fingerprint, status, comment, severity] = args as [string, string, string, string | undefined, number | undefined];
  const serious = severity === undefined || severity <= 2; // DiagnosticSeverity Error = 1, Warning = 2
  const ask = vscode.workspace.getConfiguration('tdxAudit').get<boolean>('triage.askReason', true);
  if (command !== SetTriageCommand || !DISMISSING.has(status) || comment || !serious || !ask) return next(command, args);
  const reason = await vscode.window.showInputBox({
    title: `TDX triage: mark as ${status}`,
    prompt: 'Why does this site need no change? (kept in .tdx-audit/triage.json with your name and the time)',
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'A reason is needed to dismiss an error or warning'),
  });
  if (reason === undefined) return undefined;
  return next(command, [uri, fingerprint, status, reason.trim()]);
}
