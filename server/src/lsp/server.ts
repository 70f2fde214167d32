// The tdx-audit language server as a class, in the style of bash-language-server:
// `TdxServer.create(connection, params)` takes the client's initialize request,
// `capabilities()` answers it, `register()` binds the handler methods, and all
// state lives on the instance. The connection is made by the thin entry
// (server/src/server.ts), so a test can run a server in-process over any streams
// and give it its own engine.

import { execFile } from 'node:child_process';
import type { ResourceLimits } from 'node:worker_threads';
import { homedir, userInfo } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  FileChangeType,
  ResponseError,
  TextDocumentSyncKind,
  type CancellationToken,
  type ClientCapabilities,
  type CodeAction,
  type CodeActionParams,
  type Connection,
  type DidChangeConfigurationParams,
  type DidChangeTextDocumentParams,
  type DidChangeWatchedFilesParams,
  type DidCloseTextDocumentParams,
  type DidOpenTextDocumentParams,
  type DidSaveTextDocumentParams,
  type ExecuteCommandParams,
  type Hover,
  type HoverParams,
  type InitializeParams,
  type ServerCapabilities,
  type WorkDoneProgressReporter,
  type WorkspaceFoldersChangeEvent,
} from 'vscode-languageserver/node';
import { fixFor } from '../audit/fix';
import { AuditEngine, hoverMarkdown, type FileAudit } from '../audit/engine';
import { TRIAGE_STATUSES, type TriageStatus } from '../audit/report/triage';
import { WorkspaceIndexer } from '../index/indexer';
import { isInside } from '../fs/safeRead';
import { treeProfile } from '../x86/treeVersion';
import { Compiler } from './compile';
import { DEFAULT_SETTINGS, parseSettings, trustFrom, type ServerSettings } from './config';
import { hoverNotes, summarize, toDiagnostics, withHoverNotes } from './diagnostics';
import { DocumentStore } from './documents';
import { exportReport } from './export';
import { WorkspaceFiles, uriToPath } from './files';
import { KernelBuild } from './kernelBuild';
import {
  CompileFileCommand,
  CompiledFormRequest,
  ExportReportRequest,
  FileSummaryRequest,
  ReindexCommand,
  SetTriageCommand,
  StatusNotification,
  WorkspaceChangedNotification,
  WorkspaceFindingsRequest,
  WorkspaceSummaryRequest,
  type CompiledFormParams,
  type CompiledFormResult,
  type ExportReportParams,
  type ExportReportResult,
  type FileSummary,
  type FileSummaryParams,
  type InitializationOptions,
  type WorkspaceFindings,
  type WorkspaceFindingsParams,
  type WorkspaceSummary,
} from './protocol';
import { AuditService, errorText } from './service';
import { TriageStore, type FindingTriage } from './triage';
import { WorkspaceView } from './workspace';

export const SERVER_INFO = { name: 'tdx-audit', version: '0.1.0' };

/** Re-index this long after the last file change on disk (a checkout changes hundreds at once). */
const REINDEX_DELAY_MS = 2000;
/** Quiet time after the last object change before the open files are audited again. */
const OBJECT_REFRESH_MS = 500;
/** Object files and kernel images whose change means the compiled forms may have changed. */
const OBJECT_FILE = /(?:\.(?:o|ko)|(?:^|\/)vmlinux[^/]*)$/;
/** Files whose change may change what the TD kernel builds (kernelBuild.ts). */
const BUILD_FILE = /(?:^|\/)(?:Makefile|Kbuild|\.config)$/;

export interface ServerOptions {
  /** The engine to audit with; tests inject a stub (a real engine that throws on a marker, say). */
  createEngine?: (files: WorkspaceFiles) => Promise<AuditEngine>;
  /** The index worker script (dist/indexWorker.js beside the bundle by default). */
  indexWorker?: string;
  /**
   * The thread Export Audit Report assembles on (lsp/exportThread.ts): by default
   * dist/exportWorker.js beside the bundle (the server's thread when it is missing);
   * false: always the server's thread. resourceLimits: for tests (a worker that dies).
   */
  exportWorker?: { path?: string; resourceLimits?: ResourceLimits } | false;
}

export class TdxServer {
  private readonly documents = new DocumentStore();
  private readonly files: WorkspaceFiles;
  private readonly triage: TriageStore;
  private readonly service: AuditService;
  private readonly view: WorkspaceView;
  private readonly compiler: Compiler;
  private readonly indexer: WorkspaceIndexer;
  /** What the TD kernel's .config builds: not-built files' findings are faded and counted apart. */
  private readonly build: KernelBuild;
  private readonly pullConfiguration: boolean;
  private readonly trusted: boolean;
  /** The client runs `command:` links in hovers (InitializationOptions.commandLinks). */
  private readonly commandLinks: boolean;
  private pushedSettings: unknown;
  private initialized = false;
  private shuttingDown = false;
  private engine: AuditEngine | undefined;
  /** Settles once the engine started (or failed to): commands may arrive while its WASM loads. */
  private engineSettled!: () => void;
  private readonly engineStarted = new Promise<void>((r) => (this.engineSettled = r));
  /** The document last opened, edited or hovered: the target of argument-less commands. */
  private lastTouched: string | undefined;
  private settings: ServerSettings = DEFAULT_SETTINGS;
  /** (uri or '', message) pairs already shown to the user: a broken file must not spam popups on every keystroke. */
  private readonly shown = new Set<string>();
  /** Disagreements between the profile setting and the tree already told the user. */
  private readonly profileNotes = new Set<string>();
  private indexRun: { cancelled: boolean } | undefined;
  private reindexTimer: NodeJS.Timeout | undefined;
  private author: string | undefined;

  private constructor(
    private readonly connection: Connection,
    private readonly clientCapabilities: ClientCapabilities,
    params: InitializeParams,
    private readonly options: ServerOptions,
  ) {
    this.pullConfiguration = clientCapabilities.workspace?.configuration === true;
    const t = trustFrom(params.initializationOptions);
    this.trusted = t.trusted;
    if (t.note) connection.console.warn(t.note);
    const init = params.initializationOptions as InitializationOptions | undefined;
    const hasInit = typeof init === 'object' && init !== null;
    this.pushedSettings = hasInit ? init.settings : undefined;
    this.commandLinks = hasInit && init.commandLinks === true;

    this.files = new WorkspaceFiles(this.documents, (m) => connection.console.warn(m));
    this.files.setFolders(params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []));
    // Decisions only for sources inside a workspace folder (never /proc/self/x.c), and a
    // .tdx-audit/ folder is only ever created inside one.
    this.triage = new TriageStore(
      (p) => this.files.allowed(p),
      (p) => this.files.folderPaths.filter((f) => isInside(f, p)).sort((a, b) => b.length - a.length)[0],
    );
    this.build = new KernelBuild(() => this.files.folderPaths);
    this.view = new WorkspaceView(
      (p) => this.files.allowed(p),
      (totals, indexing) => {
        if (this.initialized && !this.shuttingDown) void connection.sendNotification(WorkspaceChangedNotification, { totals, indexing });
      },
      () => this.files.folderPaths,
      (path, fingerprints) => this.triage.forFingerprints(path, fingerprints).items,
      (p) => this.build.of(p)?.state === 'not-built',
    );
    this.service = new AuditService(this.documents, {
      publish: (uri, version, diagnostics) => {
        void connection.sendDiagnostics(version === undefined ? { uri, diagnostics } : { uri, version, diagnostics });
      },
      toDiagnostics: (audit) => this.diagnosticsOf(audit),
      status: (p) => {
        if (this.initialized) void connection.sendNotification(StatusNotification, p);
      },
      failure: (uri, what, err) => this.failure(uri, what, err),
    });
    this.compiler = new Compiler({
      trusted: () => this.trusted,
      engine: async () => {
        await this.engineStarted;
        return this.engine;
      },
      folders: () => this.files.folderPaths,
      settings: () => this.settings,
      shuttingDown: () => this.shuttingDown,
      refresh: (uri) => this.service.refresh(uri),
      setBusy: (m) => this.service.setBusy(m),
      info: (m) => connection.console.info(m),
      failure: (uri, what, err) => this.failure(uri, what, err),
    });
    this.indexer = new WorkspaceIndexer(options.indexWorker ?? join(__dirname, 'indexWorker.js'));
  }

  static create(connection: Connection, params: InitializeParams, options: ServerOptions = {}): TdxServer {
    return new TdxServer(connection, params.capabilities, params, options);
  }

  capabilities(): ServerCapabilities {
    return {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
      hoverProvider: true,
      executeCommandProvider: { commands: [CompileFileCommand, ReindexCommand, SetTriageCommand] },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    };
  }

  register(): void {
    const c = this.connection;
    c.onInitialized(() => this.onInitialized());
    c.onDidChangeConfiguration((p) => this.onDidChangeConfiguration(p));
    c.onDidOpenTextDocument(this.guarded('opening', (p: DidOpenTextDocumentParams) => p.textDocument.uri, undefined, (p) => this.onDidOpen(p)));
    c.onDidChangeTextDocument(this.guarded('applying an edit', (p: DidChangeTextDocumentParams) => p.textDocument.uri, undefined, (p) => this.onDidChange(p)));
    c.onDidCloseTextDocument(this.guarded('closing', (p: DidCloseTextDocumentParams) => p.textDocument.uri, undefined, (p) => this.onDidClose(p)));
    c.onDidSaveTextDocument(this.guarded('saving', (p: DidSaveTextDocumentParams) => p.textDocument.uri, undefined, (p) => this.onDidSave(p)));
    c.onDidChangeWatchedFiles(this.guarded('reading file changes', () => undefined, undefined, (p: DidChangeWatchedFilesParams) => this.onDidChangeWatchedFiles(p)));
    c.onHover(this.request('hover', (p: HoverParams) => p.textDocument.uri, null, (p) => this.onHover(p)));
    c.onCodeAction(this.request('codeAction', (p: CodeActionParams) => p.textDocument.uri, [], (p) => this.onCodeAction(p)));
    c.onExecuteCommand((p) => this.onExecuteCommand(p));
    c.onRequest(FileSummaryRequest, this.request('fileSummary', (p: FileSummaryParams) => p?.uri, null, (p) => this.onFileSummary(p)));
    c.onRequest(CompiledFormRequest, this.request('compiledForm', (p: CompiledFormParams) => p?.uri, null, (p) => this.onCompiledForm(p)));
    c.onRequest(WorkspaceSummaryRequest, this.request('workspaceSummary', () => undefined, null, () => this.onWorkspaceSummary()));
    // A failed query is an error answer, not an empty view made when the server started.
    c.onRequest(WorkspaceFindingsRequest, this.request<WorkspaceFindingsParams | undefined, WorkspaceFindings | ResponseError<void>>('workspaceFindings', () => undefined, new ResponseError(ErrorCodes.InternalError, 'the workspace view failed: see the TDX Audit output'), (p) => this.onWorkspaceFindings(p)));
    c.onRequest(ExportReportRequest, (p, token) => this.onExportReport(p, token));
    c.onShutdown(() => this.onShutdown());
  }

  // ---------------------------------------------------------------- lifecycle

  private async onInitialized(): Promise<void> {
    this.initialized = true;
    const c = this.connection;
    if (this.clientCapabilities.workspace?.workspaceFolders) {
      c.workspace.onDidChangeWorkspaceFolders(
        this.guarded('updating workspace folders', () => undefined, undefined, (e: WorkspaceFoldersChangeEvent) => {
          this.files.removeFolders(e.removed.map((f) => f.uri));
          this.files.addFolders(e.added.map((f) => f.uri));
        }),
      );
    }
    // C files changed on disk (a save elsewhere, a checkout) keep the workspace view live.
    if (this.clientCapabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration) {
      // Sources (re-index) and objects (a rebuild by the user's own make: audit the open files again).
      void c.client
        .register(DidChangeWatchedFilesNotification.type, {
          watchers: [{ globPattern: '**/*.{c,h}' }, { globPattern: '**/*.{o,ko}' }, { globPattern: '**/vmlinux*' }, { globPattern: '**/{Makefile,Kbuild,.config,compile_commands.json}' }],
        })
        // From now on a change on disk is reported: an open file's header walk is kept between its audits.
        .then(() => (this.files.watching = true))
        .catch(() => undefined);
    }
    if (!this.files.folderPaths.length) c.console.info('No workspace folder: quoted-include headers will not be read.');
    if (!this.trusted) c.console.info('Untrusted workspace: source audit only.');
    const settings = await this.loadSettings();
    const create = this.options.createEngine ?? ((files: WorkspaceFiles) => AuditEngine.create(files));
    await this.service.start(async () => (this.engine = await create(this.files)), settings);
    this.engineSettled();
    // After the open documents: the index runs in the background and never delays them.
    if (settings.index.enable) void this.indexWorkspace();
  }

  private onShutdown(): void {
    this.dispose();
  }

  /** Stops background work: the index's workers, compiles, timers (shutdown, or a test's in-process server). */
  dispose(): void {
    this.shuttingDown = true;
    if (this.indexRun) this.indexRun.cancelled = true;
    if (this.reindexTimer) clearTimeout(this.reindexTimer);
    if (this.objectRefresh) clearTimeout(this.objectRefresh);
    this.indexer.dispose();
    this.compiler.dispose();
    this.service.dispose();
    this.view.dispose();
  }

  /** `shutdown` was received: the process may end with status 0 when the client goes. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  // ---------------------------------------------------------------- documents

  private onDidOpen(p: DidOpenTextDocumentParams): void {
    if (this.shuttingDown) return;
    this.documents.open(p);
    this.lastTouched = p.textDocument.uri;
    this.service.opened(p.textDocument.uri);
  }

  private onDidChange(p: DidChangeTextDocumentParams): void {
    if (this.shuttingDown) return;
    if (!this.documents.change(p)) return;
    this.lastTouched = p.textDocument.uri;
    this.service.changed(p.textDocument.uri);
  }

  private onDidClose(p: DidCloseTextDocumentParams): void {
    const uri = p.textDocument.uri;
    this.documents.close(uri);
    this.service.closed(uri);
    const path = uriToPath(uri);
    if (path) this.view.closed(path);
    for (const key of this.shown) if (key.startsWith(uri + '\n')) this.shown.delete(key);
  }

  private onDidSave(p: DidSaveTextDocumentParams): void {
    if (this.shuttingDown) return;
    // The object beside the source may have been rebuilt by the user's own make.
    this.service.refresh(p.textDocument.uri);
    if (this.settings.compile.onSave && this.trusted) void this.compiler.compile(p.textDocument.uri, 'save');
  }

  private onDidChangeWatchedFiles(p: DidChangeWatchedFilesParams): void {
    if (this.shuttingDown) return;
    // Any of them (a header, a Makefile, a compile database) can change a header walk.
    if (p.changes.length) this.files.changedOnDisk();
    let any = false;
    let objects = false;
    for (const ch of p.changes) {
      const path = uriToPath(ch.uri);
      // A Makefile or .config: which files the TD kernel builds may have changed (the open files are published again).
      if (path && BUILD_FILE.test(path)) {
        if (this.build.changed(path)) objects = true;
        continue;
      }
      if (path && OBJECT_FILE.test(path)) {
        // A rebuilt object (or vmlinux) is read again: the store keeps no stale copy of it.
        this.engine?.objects.forget(path);
        objects = true;
        continue;
      }
      if (!path || !/\.[ch]$/.test(path) || !this.files.allowed(path)) continue;
      if (ch.type !== FileChangeType.Created) this.view.changedOnDisk(path);
      // The index's results (and the export's reuse of them) depend on the headers they read.
      if (path.endsWith('.h')) this.indexer.headerChanged();
      any = true;
    }
    // The index's content-hash cache makes the run cheap: only changed files are audited again.
    if (any && this.settings.index.enable) this.scheduleReindex();
    if (objects) this.scheduleObjectRefresh();
  }

  private objectRefresh: NodeJS.Timeout | undefined;

  /** A make rebuilds many objects at once: the open files are audited again once it settles. */
  private scheduleObjectRefresh(): void {
    if (this.objectRefresh) clearTimeout(this.objectRefresh);
    this.objectRefresh = setTimeout(() => {
      this.objectRefresh = undefined;
      if (!this.shuttingDown) this.service.refreshAll();
    }, OBJECT_REFRESH_MS);
    this.objectRefresh.unref?.();
  }

  // ---------------------------------------------------------------- requests

  private onHover(p: HoverParams): Hover | null {
    this.lastTouched = p.textDocument.uri;
    const audit = this.service.current(p.textDocument.uri);
    if (!audit) return null;
    const value = hoverMarkdown(audit, p.position, this.commandLinks ? { uri: p.textDocument.uri } : undefined);
    const path = uriToPath(p.textDocument.uri);
    return value ? { contents: { kind: 'markdown', value: withHoverNotes(value, hoverNotes(path ? this.build.of(path) : undefined, this.trusted)) } } : null;
  }

  private onFileSummary(p: FileSummaryParams): FileSummary | null {
    if (typeof p?.uri !== 'string') return null;
    const audit = this.service.current(p.uri);
    const path = uriToPath(p.uri);
    return audit ? summarize(p.uri, audit, this.triageOf(audit)?.items, path ? this.build.of(path) : undefined) : null;
  }

  private onCompiledForm(p: CompiledFormParams): CompiledFormResult | null {
    if (typeof p?.uri !== 'string' || !this.engine) return null;
    const doc = this.documents.get(p.uri);
    const audit = this.service.current(p.uri);
    if (!doc || !audit) return { content: '', function: null, object: null, message: 'Open the file first (and turn tdxAudit.enable on).' };
    if (!this.trusted) return { content: '', function: null, object: null, message: 'Restricted mode reads no object file. Trust the folder to see compiled forms.' };
    return this.engine.compiledForm(audit, doc.text, p.position, typeof p.function === 'string' ? p.function : undefined);
  }

  private onCodeAction(p: CodeActionParams): CodeAction[] {
    const out: CodeAction[] = [];
    const audit = this.service.current(p.textDocument.uri);
    const doc = this.documents.get(p.textDocument.uri);
    for (const d of p.context.diagnostics) {
      if (d.source !== 'tdx-audit') continue;
      // The accessor rewrite first (audit/fix.ts: the same edit `tdx-audit fix --diff` prints).
      const f = audit?.findings.find((x) => x.site.kind !== 'call' && x.site.range.start.line === d.range.start.line && x.site.range.start.character === d.range.start.character);
      const fix = f && doc ? fixFor(doc.text, f.site, f.instructions) : undefined;
      if (fix && !('none' in fix)) {
        out.push({ title: `TDX: ${fix.title}`, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: true, edit: { changes: { [p.textDocument.uri]: [{ range: fix.range, newText: fix.newText }] } } });
      }
      const data = d.data as { fingerprint?: string; status?: string } | undefined;
      if (!data?.fingerprint) continue;
      for (const status of TRIAGE_STATUSES) {
        if (status === data.status) continue;
        out.push({
          title: `TDX triage: mark as ${status}`,
          kind: CodeActionKind.QuickFix,
          diagnostics: [d],
          // The severity rides along so a client can ask for a reason before dismissing an error or warning.
          command: { title: `Mark as ${status}`, command: SetTriageCommand, arguments: [p.textDocument.uri, data.fingerprint, status, undefined, d.severity] },
        });
      }
    }
    return out;
  }

  private async onExecuteCommand(p: ExecuteCommandParams): Promise<string | ResponseError<void>> {
    if (this.shuttingDown) return afterShutdown();
    try {
      if (p.command === SetTriageCommand) return await this.setTriage(p.arguments ?? []);
      if (p.command === ReindexCommand) {
        const r = await this.indexWorkspace();
        return r ? `Indexed ${r.files.length} files in ${(r.ms / 1000).toFixed(1)} s` : 'No workspace folder to index.';
      }
      if (p.command === CompileFileCommand) {
        // From a command palette there is no argument: the document the user last touched.
        const uri = typeof p.arguments?.[0] === 'string' ? p.arguments[0] : this.lastTouched;
        if (!uri) return 'tdxAudit.compileFile needs the document URI as its argument';
        return await this.compiler.compile(uri, 'command');
      }
      return `unknown command ${p.command}`;
    } catch (err) {
      this.failure(undefined, p.command, err);
      return errorText(err);
    }
  }

  private async setTriage(args: unknown[]): Promise<string> {
    const [uri, fingerprint, status, comment] = args;
    if (typeof uri !== 'string' || typeof fingerprint !== 'string' || !TRIAGE_STATUSES.includes(status as TriageStatus)) return 'tdxAudit.setTriage needs (uri, fingerprint, status)';
    const path = uriToPath(uri);
    if (!path) return 'not a file';
    if (!this.files.allowed(path)) return `${path} is not in a workspace folder: no triage is recorded for it`;
    const file = await this.triage.set(path, fingerprint, status as TriageStatus, { ...(typeof comment === 'string' && comment ? { comment } : {}), who: await this.triageAuthor() });
    // Diagnostics, and with them the workspace view, are published again with the decision.
    this.service.refreshAll();
    return `${status}: saved in ${file}`;
  }

  private async onExportReport(p: ExportReportParams, token: CancellationToken): Promise<ExportReportResult | null | ResponseError<void>> {
    if (this.shuttingDown) return afterShutdown();
    // The generic onRequest attaches no reporter: the client's workDoneToken is attached here.
    const attached = p?.workDoneToken !== undefined ? this.connection.window.attachWorkDoneProgress(p.workDoneToken) : undefined;
    // An export sent right after `initialized` waits for the engine (its WASM loads) rather than answering null.
    await this.engineStarted;
    if (!this.engine || typeof p !== 'object' || p === null) return null;
    try {
      return await exportReport(p, token, attached, {
        connection: this.connection,
        workDoneProgress: this.clientCapabilities.window?.workDoneProgress === true,
        engine: this.engine,
        documents: this.documents,
        folders: this.files.folderPaths,
        settings: this.settings,
        view: this.view,
        spool: this.indexer.spool,
        build: this.build.reportOptions(),
        ...(this.options.exportWorker === false ? {} : { worker: { path: this.options.exportWorker?.path ?? join(__dirname, 'exportWorker.js'), ...(this.options.exportWorker?.resourceLimits ? { resourceLimits: this.options.exportWorker.resourceLimits } : {}) } }),
      });
    } catch (err) {
      this.failure(p.scope, 'exporting the audit report', err);
      return null;
    }
  }

  private onWorkspaceSummary(): WorkspaceSummary | null {
    const r = this.view.lastIndex;
    if (!r) return null;
    const totals = { files: r.files.length, sites: 0, errors: 0, warnings: 0, others: 0 };
    for (const f of r.files) {
      totals.sites += f.sites;
      totals.errors += f.errors;
      totals.warnings += f.warnings;
      totals.others += f.others;
    }
    return {
      files: r.files.map(({ path, sites, errors, warnings, others, parseErrors }) => ({ path, sites, errors, warnings, others, parseErrors })),
      totals, skipped: r.skipped, capped: r.capped, failures: r.failures, cacheHits: r.cacheHits, ms: r.ms, cancelled: r.cancelled,
    };
  }

  private onWorkspaceFindings(p: WorkspaceFindingsParams | undefined): WorkspaceFindings {
    // Pending edits are audited first, so the view counts what the Problems panel shows.
    for (const d of this.documents.all()) this.service.current(d.uri);
    return this.view.query(typeof p === 'object' && p !== null ? p : {});
  }

  // ---------------------------------------------------------------- settings

  private async onDidChangeConfiguration(params: DidChangeConfigurationParams): Promise<void> {
    try {
      // Push-only clients send the settings in the notification; pull-capable ones may send nothing useful.
      if (!this.pullConfiguration && params.settings !== undefined && params.settings !== null) this.pushedSettings = params.settings;
      const settings = await this.loadSettings();
      if (!this.shuttingDown) this.service.applySettings(settings);
    } catch (err) {
      this.failure(undefined, 'applying the tdxAudit settings', err);
    }
  }

  private async loadSettings(): Promise<ServerSettings> {
    this.settings = this.withTreeProfile(this.withObjects(await this.readSettings()));
    this.build.configure({ ...this.settings.build, buildDir: this.settings.objects.buildDir, trusted: this.trusted });
    return this.settings;
  }

  private async readSettings(): Promise<ServerSettings> {
    if (!this.pullConfiguration) return this.pushedSettings === undefined ? DEFAULT_SETTINGS : parseSettings(this.pushedSettings);
    try {
      return parseSettings(await this.connection.workspace.getConfiguration('tdxAudit'));
    } catch (err) {
      this.failure(undefined, 'reading the tdxAudit settings', err);
      return DEFAULT_SETTINGS;
    }
  }

  /**
   * The kernel version the workspace's top-level Makefile names picks the profile
   * (as in the CLI and reports); an explicit tdxAudit.profile wins, and a
   * disagreement with the tree is said once.
   */
  private withTreeProfile(s: ServerSettings): ServerSettings {
    if (!this.files.folderPaths.length) return s;
    const r = treeProfile(this.files.folderPaths, s.engine.profile, s.profileExplicit);
    if (r.disagreement && !this.profileNotes.has(r.disagreement)) {
      this.profileNotes.add(r.disagreement);
      const said = r.disagreement.replace(/^--profile /, 'tdxAudit.profile ');
      this.connection.console.warn(said);
      void this.connection.window.showInformationMessage(`TDX Audit: ${said}`);
    }
    return r.profile === s.engine.profile ? s : { ...s, engine: { ...s.engine, profile: r.profile } };
  }

  /**
   * Object lookup for the engine, in a trusted workspace only: an object is a file
   * the workspace provides (the .o beside a source as much as a build directory or a
   * vmlinux named by its settings), and README and the manifest promise that an
   * untrusted workspace gets the source audit alone.
   */
  private withObjects(s: ServerSettings): ServerSettings {
    if (!s.objects.enable || !this.trusted) return { ...s, engine: { ...s.engine, objects: undefined } };
    const root = this.files.folderPaths[0];
    const resolveIn = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) || !root ? p : join(root, p));
    // A mapping's TO is a local path (${workspaceFolder} or relative: under the first folder); FROM is as the object names it.
    const pathMap = s.objects.pathMap?.map((m) => ({ from: m.from, to: resolveIn(root ? m.to.replace(/^\$\{workspaceFolder\}/, root) : m.to)! }));
    return { ...s, engine: { ...s.engine, objects: { sourceRoot: root, buildDir: resolveIn(s.objects.buildDir), vmlinux: resolveIn(s.objects.vmlinux), ...(pathMap?.length ? { pathMap } : {}) } } };
  }

  // ---------------------------------------------------------------- the workspace index

  private scheduleReindex(): void {
    if (this.reindexTimer) clearTimeout(this.reindexTimer);
    if (this.objectRefresh) clearTimeout(this.objectRefresh);
    this.reindexTimer = setTimeout(() => {
      this.reindexTimer = undefined;
      void this.indexWorkspace();
    }, REINDEX_DELAY_MS);
  }

  /** Indexes the workspace folders on worker threads, with cancellable work-done progress. */
  private async indexWorkspace() {
    const c = this.connection;
    if (!this.files.folderPaths.length || this.shuttingDown) return undefined;
    if (this.indexRun) this.indexRun.cancelled = true;
    const token = { cancelled: false };
    this.indexRun = token;
    this.view.setIndexState('running');
    let progress: WorkDoneProgressReporter | undefined;
    if (this.clientCapabilities.window?.workDoneProgress) {
      try {
        const created = await c.window.createWorkDoneProgress();
        created.begin('TDX: indexing workspace', 0, 'finding C files', true);
        created.token.onCancellationRequested(() => (token.cancelled = true));
        progress = created;
      } catch {
        progress = undefined;
      }
    }
    try {
      const r = await this.indexer.index(this.files.folderPaths, this.settings.engine, (p) => {
        progress?.report(p.total ? Math.floor((100 * p.done) / p.total) : 0, p.message);
      }, token);
      // A run cancelled by a newer one leaves the state to that run.
      if (!r.cancelled) this.view.setIndexState('done', r);
      else if (this.indexRun === token) this.view.setIndexState('cancelled');
      const sites = r.files.reduce((n, f) => n + f.sites, 0);
      const errors = r.files.reduce((n, f) => n + f.errors, 0);
      c.console.info(`Workspace index: ${r.files.length} files with sites (${r.skipped} skipped by the pre-filter, ${r.cacheHits} unchanged), ${sites} sites, ${errors} errors in ${(r.ms / 1000).toFixed(1)} s${r.cancelled ? ' (cancelled)' : ''}${r.capped ? ' (file cap reached)' : ''}`);
      for (const f of r.failures.slice(0, 20)) c.console.warn(`index: ${f.path}: ${f.message}`);
      return r;
    } catch (err) {
      this.view.setIndexState('failed');
      this.failure(undefined, 'indexing the workspace', err);
      return undefined;
    } finally {
      progress?.done();
      if (this.indexRun === token) this.indexRun = undefined;
    }
  }

  // ---------------------------------------------------------------- triage and diagnostics

  private triageOf(audit: FileAudit): { items: FindingTriage[]; error?: string } | undefined {
    const path = uriToPath(audit.file);
    const doc = this.documents.get(audit.file);
    if (!path || !doc || !audit.findings.length) return undefined;
    return this.triage.forAudit(path, doc.text, audit);
  }

  /** The audit's diagnostics with its triage; the workspace view takes the same audit and triage. */
  private diagnosticsOf(audit: FileAudit) {
    const opts = { relatedInformation: this.clientCapabilities.textDocument?.publishDiagnostics?.relatedInformation === true };
    let items: FindingTriage[] | undefined;
    try {
      const t = this.triageOf(audit);
      if (t?.error) this.failure(audit.file, 'reading the triage file', new Error(t.error));
      items = t?.items;
    } catch (err) {
      this.failure(audit.file, 'applying triage', err);
    }
    const path = uriToPath(audit.file);
    const doc = this.documents.get(audit.file);
    if (path && doc) this.view.audited(path, doc.text, audit, items);
    return toDiagnostics(audit, opts, items, path ? this.build.of(path) : undefined);
  }

  /**
   * Who records a triage decision: git's global user.name <user.email> (never the
   * workspace's own git config, which an untrusted tree controls), else the OS user.
   */
  private async triageAuthor(): Promise<string | undefined> {
    if (this.author !== undefined) return this.author || undefined;
    const get = (key: string) => new Promise<string>((resolve) => {
      execFile('git', ['config', '--global', '--get', key], { cwd: homedir(), timeout: 2000, windowsHide: true }, (err, out) => resolve(err ? '' : String(out).trim()));
    });
    const [name, email] = await Promise.all([get('user.name'), get('user.email')]);
    let os = '';
    try {
      os = userInfo().username;
    } catch {
      os = process.env.USER ?? process.env.USERNAME ?? '';
    }
    this.author = name ? `${name}${email ? ` <${email}>` : ''}` : os;
    return this.author || undefined;
  }

  // ---------------------------------------------------------------- failures

  /** Logs, and tells the user once per (uri, message). */
  failure(uri: string | undefined, what: string, err: unknown): void {
    const message = errorText(err);
    const where = uri ? ` (${uri})` : '';
    try {
      this.connection.console.error(`${what}${where} failed: ${err instanceof Error && err.stack ? err.stack : message}`);
      const key = `${uri ?? ''}\n${message}`;
      if (this.shown.has(key)) return;
      this.shown.add(key);
      const name = uri ? `${basename(uriToPath(uri) ?? uri)}: ` : '';
      void this.connection.window.showErrorMessage(`TDX Audit: ${name}${what} failed: ${message}`);
    } catch {
      // The connection itself is gone; nothing left to tell.
    }
  }

  /**
   * Runs a handler so that its exception is logged and reported, not propagated:
   * vscode-languageserver would turn a thrown notification handler into noise, and a
   * thrown request handler into an error response the client may show on every hover.
   */
  private guarded<P, R>(what: string, uriOf: (p: P) => string | undefined, fallback: R, fn: (p: P) => R): (p: P) => R {
    return (p: P) => {
      try {
        return fn(p);
      } catch (err) {
        let uri: string | undefined;
        try {
          uri = uriOf(p);
        } catch {
          uri = undefined;
        }
        this.failure(uri, what, err);
        return fallback;
      }
    };
  }

  /** A request handler: guarded, and refused after shutdown. */
  private request<P, R>(what: string, uriOf: (p: P) => string | undefined, fallback: R, fn: (p: P) => R): (p: P) => R | ResponseError<void> {
    const g = this.guarded(what, uriOf, fallback, fn);
    return (p: P) => (this.shuttingDown ? afterShutdown() : g(p));
  }
}

/** LSP: after `shutdown` every request is an InvalidRequest error (notifications are dropped). */
function afterShutdown(): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidRequest, 'the server is shutting down');
}
