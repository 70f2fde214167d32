// The tdx-audit language server: LSP wiring only. Runs under VS Code (--node-ipc) and
// as `node dist/server.js --stdio` for Neovim, Emacs and other editors.

import { fixFor } from './audit/fix';
import { execFile } from 'node:child_process';
import { homedir, userInfo } from 'node:os';
import { treeProfile } from './x86/treeVersion';
import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { compileEntry, findCompileEntry, killAllCompiles, removeAllCompileDirs, removeCompileDir } from './audit/compile';
import {
  ErrorCodes,
  ResponseError,
  TextDocumentSyncKind,
  type ClientCapabilities,
  type DidChangeConfigurationParams,
  type DidChangeTextDocumentParams,
  type DidCloseTextDocumentParams,
  type DidOpenTextDocumentParams,
  type DidSaveTextDocumentParams,
  type ExecuteCommandParams,
  type CodeAction,
  type CodeActionParams,
  CodeActionKind,
  type CancellationToken,
  type WorkDoneProgressReporter,
  type Hover,
  type HoverParams,
  type InitializeParams,
  type InitializeResult,
  type WorkspaceFoldersChangeEvent,
} from 'vscode-languageserver/node';
import { AuditEngine, hoverMarkdown } from './audit/engine';
import { DEFAULT_SETTINGS, parseSettings, trustFrom, type ServerSettings } from './lsp/config';
import { summarize, toDiagnostics } from './lsp/diagnostics';
import { DocumentStore } from './lsp/documents';
import { WorkspaceFiles, uriToPath } from './lsp/files';
import { WorkspaceIndexer, type IndexResult } from './index/indexer';
import { TriageStore } from './lsp/triage';
import { TRIAGE_STATUSES, type TriageStatus } from './audit/report/triage';
import { buildReport } from './audit/report/build';
import { writeReportFiles } from './audit/report/write';
import { pathToFileURL } from 'node:url';
import {
  ExportReportRequest,
  type ExportReportParams,
  type ExportReportResult,
  type ReportFormat,
  ReindexCommand,
  SetTriageCommand,
  WorkspaceSummaryRequest,
  type WorkspaceSummary,
  CompiledFormRequest,
  type CompiledFormParams,
  type CompiledFormResult,
  CompileFileCommand,
  FileSummaryRequest,
  StatusNotification,
  type FileSummary,
  type FileSummaryParams,
  type InitializationOptions,
  type StatusParams,
} from './lsp/protocol';
import { AuditService, errorText } from './lsp/service';
import { makeConnection } from './lsp/connection';

// stdin gone: exit as vscode-languageserver does (0 after shutdown, else 1); the
// 'exit' handler below kills any compile still running.
const connection = makeConnection(() => process.exit(shuttingDown ? 0 : 1));
const documents = new DocumentStore();
const files = new WorkspaceFiles(documents, (m) => connection.console.warn(m));
// Decisions only for sources inside a workspace folder (never /proc/self/x.c), and a
// .tdx-audit/ folder is only ever created inside one.
const triage = new TriageStore((p) => files.allowed(p));

let capabilities: ClientCapabilities = {};
let pullConfiguration = false;
let trusted = true;
let pushedSettings: unknown;
let initialized = false;
let shuttingDown = false;
let engine: AuditEngine | undefined;
/** Settles once the engine started (or failed to): commands may arrive while its WASM loads. */
let engineSettled!: () => void;
const engineStarted = new Promise<void>((r) => (engineSettled = r));
/** The document last opened, edited or hovered: the target of argument-less commands. */
let lastTouched: string | undefined;
let currentSettings: ServerSettings = DEFAULT_SETTINGS;
/** Running on-demand compiles by source path, so a newer save cancels an older compile. */
const compiles = new Map<string, AbortController>();

/** (uri or '', message) pairs already shown to the user: a broken file must not spam popups on every keystroke. */
const shown = new Set<string>();

function failure(uri: string | undefined, what: string, err: unknown): void {
  const message = errorText(err);
  const where = uri ? ` (${uri})` : '';
  try {
    connection.console.error(`${what}${where} failed: ${err instanceof Error && err.stack ? err.stack : message}`);
    const key = `${uri ?? ''}\n${message}`;
    if (shown.has(key)) return;
    shown.add(key);
    const name = uri ? `${basename(uriToPath(uri) ?? uri)}: ` : '';
    connection.window.showErrorMessage(`TDX Audit: ${name}${what} failed: ${message}`);
  } catch {
    // The connection itself is gone; nothing left to tell.
  }
}

const service = new AuditService(documents, {
  publish(uri, version, diagnostics) {
    void connection.sendDiagnostics(version === undefined ? { uri, diagnostics } : { uri, version, diagnostics });
  },
  toDiagnostics(audit) {
    const opts = { relatedInformation: capabilities.textDocument?.publishDiagnostics?.relatedInformation === true };
    const path = uriToPath(audit.file);
    const doc = documents.get(audit.file);
    if (!path || !doc || !audit.findings.length) return toDiagnostics(audit, opts);
    try {
      const t = triage.forAudit(path, doc.text, audit);
      if (t.error) failure(audit.file, 'reading the triage file', new Error(t.error));
      return toDiagnostics(audit, opts, t.items);
    } catch (err) {
      failure(audit.file, 'applying triage', err);
      return toDiagnostics(audit, opts);
    }
  },
  status(params: StatusParams) {
    if (initialized) void connection.sendNotification(StatusNotification, params);
  },
  failure,
});

/**
 * Runs a handler so that its exception is logged and reported, not propagated:
 * vscode-languageserver would turn a thrown notification handler into noise, and a
 * thrown request handler into an error response the client may show on every hover.
 */
function guarded<P, R>(what: string, uriOf: (p: P) => string | undefined, fallback: R, fn: (p: P) => R): (p: P) => R {
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
      failure(uri, what, err);
      return fallback;
    }
  };
}

/** A request handler: guarded, and refused after shutdown. */
function request<P, R>(what: string, uriOf: (p: P) => string | undefined, fallback: R, fn: (p: P) => R): (p: P) => R | ResponseError<void> {
  const g = guarded(what, uriOf, fallback, fn);
  return (p: P) => (shuttingDown ? afterShutdown() : g(p));
}

/** LSP: after `shutdown` every request is an InvalidRequest error (notifications are dropped). */
function afterShutdown(): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidRequest, 'the server is shutting down');
}

/** The client runs `command:` links in hovers (InitializationOptions.commandLinks). */
let commandLinks = false;

connection.onInitialize((params: InitializeParams): InitializeResult => {
  capabilities = params.capabilities;
  pullConfiguration = capabilities.workspace?.configuration === true;
  const t = trustFrom(params.initializationOptions);
  trusted = t.trusted;
  if (t.note) connection.console.warn(t.note);
  const options = params.initializationOptions as InitializationOptions | undefined;
  if (typeof options === 'object' && options !== null) {
    pushedSettings = options.settings;
    commandLinks = options.commandLinks === true;
  }

  const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
  files.setFolders(folders);

  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
      hoverProvider: true,
      executeCommandProvider: { commands: [CompileFileCommand, ReindexCommand, SetTriageCommand] },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    },
    serverInfo: { name: 'tdx-audit', version: '0.1.0' },
  };
});

connection.onInitialized(async () => {
  initialized = true;
  if (capabilities.workspace?.workspaceFolders) {
    connection.workspace.onDidChangeWorkspaceFolders(
      guarded('updating workspace folders', () => undefined, undefined, (e: WorkspaceFoldersChangeEvent) => {
        files.removeFolders(e.removed.map((f) => f.uri));
        files.addFolders(e.added.map((f) => f.uri));
      }),
    );
  }
  if (!files.folderPaths.length) {
    connection.console.info('No workspace folder: quoted-include headers will not be read.');
  }
  if (!trusted) connection.console.info('Untrusted workspace: source audit only.');
  const settings = await loadSettings();
  await service.start(async () => (engine = await AuditEngine.create(files)), settings);
  engineSettled();
  // After the open documents: the index runs in the background and never delays them.
  if (settings.index.enable) void indexWorkspace();
});

async function loadSettings(): Promise<ServerSettings> {
  currentSettings = withTreeProfile(withObjects(await readSettings()));
  return currentSettings;
}

const indexer = new WorkspaceIndexer(join(__dirname, 'indexWorker.js'));
let lastIndex: IndexResult | undefined;
let indexRun: { cancelled: boolean } | undefined;

/** Indexes the workspace folders on worker threads, with cancellable work-done progress. */
async function indexWorkspace(): Promise<IndexResult | undefined> {
  if (!files.folderPaths.length || shuttingDown) return undefined;
  if (indexRun) indexRun.cancelled = true;
  const token = { cancelled: false };
  indexRun = token;
  let progress: Awaited<ReturnType<typeof connection.window.createWorkDoneProgress>> | undefined;
  if (capabilities.window?.workDoneProgress) {
    try {
      progress = await connection.window.createWorkDoneProgress();
      progress.begin('TDX: indexing workspace', 0, 'finding C files', true);
      progress.token.onCancellationRequested(() => (token.cancelled = true));
    } catch {
      progress = undefined;
    }
  }
  try {
    const r = await indexer.index(files.folderPaths, currentSettings.engine, (p) => {
      progress?.report(p.total ? Math.floor((100 * p.done) / p.total) : 0, p.message);
    }, token);
    if (!r.cancelled) lastIndex = r;
    const sites = r.files.reduce((n, f) => n + f.sites, 0);
    const errors = r.files.reduce((n, f) => n + f.errors, 0);
    connection.console.info(`Workspace index: ${r.files.length} files with sites (${r.skipped} skipped by the pre-filter, ${r.cacheHits} unchanged), ${sites} sites, ${errors} errors in ${(r.ms / 1000).toFixed(1)} s${r.cancelled ? ' (cancelled)' : ''}${r.capped ? ' (file cap reached)' : ''}`);
    for (const f of r.failures.slice(0, 20)) connection.console.warn(`index: ${f.path}: ${f.message}`);
    return r;
  } catch (err) {
    failure(undefined, 'indexing the workspace', err);
    return undefined;
  } finally {
    progress?.done();
    if (indexRun === token) indexRun = undefined;
  }
}

/** compile_commands.json files that may describe a workspace source. */
function compileDatabases(): string[] {
  const dirs = [...files.folderPaths];
  const bd = currentSettings.engine.objects?.buildDir;
  if (bd) dirs.unshift(bd);
  return dirs.map((d) => join(d, 'compile_commands.json')).filter((p) => existsSync(p));
}

/**
 * Compiles one source from compile_commands.json into a temp dir and re-audits
 * it with the new object. Trusted workspaces only; argv, no shell, timeout.
 */
async function compileForUri(uri: string, reason: 'save' | 'command'): Promise<string> {
  if (!trusted) return 'Untrusted workspace: tdx-audit never runs a compiler here.';
  const path = uriToPath(uri);
  if (!path) return 'Not a file on disk.';
  await engineStarted;
  if (!engine) return 'The audit engine is not running (see the TDX Audit output).';
  const dbs = compileDatabases();
  const entry = findCompileEntry(path, dbs);
  if (!entry) {
    return dbs.length
      ? `${basename(path)} is not in ${dbs.map((d) => basename(dirname(d)) + '/compile_commands.json').join(', ')}`
      : 'No compile_commands.json in the workspace or build directory (the kernel writes one with `make compile_commands.json`).';
  }
  compiles.get(path)?.abort();
  const ac = new AbortController();
  compiles.set(path, ac);
  service.setBusy(`compiling ${basename(path)}`);
  try {
    const r = await compileEntry(entry, { timeoutMs: currentSettings.compile.timeoutMs, signal: ac.signal });
    if (shuttingDown) return 'shutting down';
    const old = engine.objects.compiled.get(path);
    engine.objects.compiled.set(path, r.object);
    if (old && old !== r.object) removeCompileDir(old);
    service.refresh(uri);
    for (const d of r.dropped) connection.console.info(`compile of ${basename(path)}: left out ${d.arg}: ${d.why}`);
    const left = r.dropped.length ? ` Left out of the database's command: ${r.dropped.map((d) => `${d.arg} (${d.why})`).join(', ')}.` : '';
    return `Compiled ${basename(path)} in ${(r.ms / 1000).toFixed(1)} s (${reason}).${left}`;
  } catch (err) {
    if (ac.signal.aborted) return 'cancelled';
    failure(uri, `compiling ${basename(path)}`, err);
    return errorText(err);
  } finally {
    if (compiles.get(path) === ac) compiles.delete(path);
    service.setBusy(undefined);
  }
}

async function readSettings(): Promise<ServerSettings> {
  if (!pullConfiguration) return pushedSettings === undefined ? DEFAULT_SETTINGS : parseSettings(pushedSettings);
  try {
    return parseSettings(await connection.workspace.getConfiguration('tdxAudit'));
  } catch (err) {
    failure(undefined, 'reading the tdxAudit settings', err);
    return DEFAULT_SETTINGS;
  }
}

/**
 * Object lookup for the engine, in a trusted workspace only: an object is a file
 * the workspace provides (the .o beside a source as much as a build directory or a
 * vmlinux named by its settings), and README and the manifest promise that an
 * untrusted workspace gets the source audit alone.
 */
/** Disagreements between the profile setting and the tree already told the user. */
const profileNotes = new Set<string>();

/**
 * The kernel version the workspace's top-level Makefile names picks the profile
 * (as in the CLI and reports); an explicit tdxAudit.profile wins, and a
 * disagreement with the tree is said once.
 */
function withTreeProfile(s: ServerSettings): ServerSettings {
  if (!files.folderPaths.length) return s;
  const r = treeProfile(files.folderPaths, s.engine.profile, s.profileExplicit);
  if (r.disagreement && !profileNotes.has(r.disagreement)) {
    profileNotes.add(r.disagreement);
    const said = r.disagreement.replace(/^--profile /, 'tdxAudit.profile ');
    connection.console.warn(said);
    void connection.window.showInformationMessage(`TDX Audit: ${said}`);
  }
  return r.profile === s.engine.profile ? s : { ...s, engine: { ...s.engine, profile: r.profile } };
}

function withObjects(s: ServerSettings): ServerSettings {
  if (!s.objects.enable || !trusted) return { ...s, engine: { ...s.engine, objects: undefined } };
  const root = files.folderPaths[0];
  const resolveIn = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) || !root ? p : join(root, p));
  // A mapping's TO is a local path (${workspaceFolder} or relative: under the first folder); FROM is as the object names it.
  const pathMap = s.objects.pathMap?.map((m) => ({ from: m.from, to: resolveIn(root ? m.to.replace(/^\$\{workspaceFolder\}/, root) : m.to)! }));
  return { ...s, engine: { ...s.engine, objects: { sourceRoot: root, buildDir: resolveIn(s.objects.buildDir), vmlinux: resolveIn(s.objects.vmlinux), ...(pathMap?.length ? { pathMap } : {}) } } };
}

connection.onDidChangeConfiguration(async (params: DidChangeConfigurationParams) => {
  try {
    // Push-only clients send the settings in the notification; pull-capable ones may send nothing useful.
    if (!pullConfiguration && params.settings !== undefined && params.settings !== null) pushedSettings = params.settings;
    const settings = await loadSettings();
    if (!shuttingDown) service.applySettings(settings);
  } catch (err) {
    failure(undefined, 'applying the tdxAudit settings', err);
  }
});

connection.onDidOpenTextDocument(
  guarded('opening', (p: DidOpenTextDocumentParams) => p.textDocument.uri, undefined, (p) => {
    if (shuttingDown) return;
    documents.open(p);
    lastTouched = p.textDocument.uri;
    service.opened(p.textDocument.uri);
  }),
);

connection.onDidChangeTextDocument(
  guarded('applying an edit', (p: DidChangeTextDocumentParams) => p.textDocument.uri, undefined, (p) => {
    if (shuttingDown) return;
    if (!documents.change(p)) return;
    lastTouched = p.textDocument.uri;
    service.changed(p.textDocument.uri);
  }),
);

connection.onDidCloseTextDocument(
  guarded('closing', (p: DidCloseTextDocumentParams) => p.textDocument.uri, undefined, (p) => {
    documents.close(p.textDocument.uri);
    service.closed(p.textDocument.uri);
    for (const key of shown) if (key.startsWith(p.textDocument.uri + '\n')) shown.delete(key);
  }),
);

connection.onHover(
  request('hover', (p: HoverParams) => p.textDocument.uri, null, (p): Hover | null => {
    lastTouched = p.textDocument.uri;
    const audit = service.current(p.textDocument.uri);
    if (!audit) return null;
    const value = hoverMarkdown(audit, p.position, commandLinks ? { uri: p.textDocument.uri } : undefined);
    return value ? { contents: { kind: 'markdown', value } } : null;
  }),
);

connection.onRequest(
  FileSummaryRequest,
  request('fileSummary', (p: FileSummaryParams) => p?.uri, null, (p: FileSummaryParams): FileSummary | null => {
    if (typeof p?.uri !== 'string') return null;
    const audit = service.current(p.uri);
    return audit ? summarize(p.uri, audit) : null;
  }),
);

connection.onDidSaveTextDocument(
  guarded('saving', (p: DidSaveTextDocumentParams) => p.textDocument.uri, undefined, (p) => {
    if (shuttingDown) return;
    // The object beside the source may have been rebuilt by the user's own make.
    service.refresh(p.textDocument.uri);
    if (currentSettings.compile.onSave && trusted) void compileForUri(p.textDocument.uri, 'save');
  }),
);

let author: string | undefined;
/**
 * Who records a triage decision: git's global user.name <user.email> (never the
 * workspace's own git config, which an untrusted tree controls), else the OS user.
 */
async function triageAuthor(): Promise<string | undefined> {
  if (author !== undefined) return author || undefined;
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
  author = name ? `${name}${email ? ` <${email}>` : ''}` : os;
  return author || undefined;
}

connection.onExecuteCommand(async (p: ExecuteCommandParams) => {
  if (shuttingDown) return afterShutdown();
  try {
    if (p.command === SetTriageCommand) {
      const [uri, fingerprint, status, comment] = p.arguments ?? [];
      if (typeof uri !== 'string' || typeof fingerprint !== 'string' || !TRIAGE_STATUSES.includes(status as TriageStatus)) return 'tdxAudit.setTriage needs (uri, fingerprint, status)';
      const path = uriToPath(uri);
      if (!path) return 'not a file';
      if (!files.allowed(path)) return `${path} is not in a workspace folder: no triage is recorded for it`;
      const file = await triage.set(path, fingerprint, status as TriageStatus, { ...(typeof comment === 'string' && comment ? { comment } : {}), who: await triageAuthor() });
      service.refreshAll();
      return `${status}: saved in ${file}`;
    }
    if (p.command === ReindexCommand) {
      const r = await indexWorkspace();
      return r ? `Indexed ${r.files.length} files in ${(r.ms / 1000).toFixed(1)} s` : 'No workspace folder to index.';
    }
    if (p.command === CompileFileCommand) {
      // From a command palette there is no argument: the document the user last touched.
      const uri = typeof p.arguments?.[0] === 'string' ? p.arguments[0] : lastTouched;
      if (!uri) return 'tdxAudit.compileFile needs the document URI as its argument';
      return await compileForUri(uri, 'command');
    }
    return `unknown command ${p.command}`;
  } catch (err) {
    failure(undefined, p.command, err);
    return errorText(err);
  }
});

connection.onRequest(
  CompiledFormRequest,
  request('compiledForm', (p: CompiledFormParams) => p?.uri, null, (p: CompiledFormParams): CompiledFormResult | null => {
    if (typeof p?.uri !== 'string' || !engine) return null;
    const doc = documents.get(p.uri);
    const audit = service.current(p.uri);
    if (!doc || !audit) return { content: '', function: null, object: null, message: 'Open the file first (and turn tdxAudit.enable on).' };
    return engine.compiledForm(audit, doc.text, p.position, typeof p.function === 'string' ? p.function : undefined);
  }),
);

connection.onCodeAction(
  request('codeAction', (p: CodeActionParams) => p.textDocument.uri, [], (p: CodeActionParams): CodeAction[] => {
    const out: CodeAction[] = [];
    const audit = service.current(p.textDocument.uri);
    const doc = documents.get(p.textDocument.uri);
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
  }),
);

connection.onRequest(ExportReportRequest, async (p: ExportReportParams & { workDoneToken?: unknown }, token: CancellationToken, attached?: WorkDoneProgressReporter): Promise<ExportReportResult | null | ResponseError<void>> => {
  if (shuttingDown) return afterShutdown();
  const none: ExportReportResult = { written: [], exists: [], findings: 0, cancelled: true };
  // An export sent right after `initialized` waits for the engine (its WASM loads) rather than answering null.
  await engineStarted;
  if (!engine || typeof p?.outputDir !== 'string') return null;
  const ac = new AbortController();
  token.onCancellationRequested(() => ac.abort());
  let progress: Awaited<ReturnType<typeof connection.window.createWorkDoneProgress>> | undefined;
  try {
    const scopePath = p.scope ? uriToPath(p.scope) : undefined;
    const paths = scopePath ? [scopePath] : [...files.folderPaths];
    const outDir = uriToPath(p.outputDir);
    if (!paths.length || !outDir) throw new Error('nothing to audit: open a folder or give a file or folder scope');
    const formats = (Array.isArray(p.formats) && p.formats.length ? p.formats : ['sarif', 'html', 'markdown', 'json']).filter((f): f is ReportFormat => ['sarif', 'html', 'markdown', 'json'].includes(f));
    // The client's own progress (its workDoneToken) when it sent one; else one we create.
    if (p.workDoneToken !== undefined && attached) {
      progress = attached as typeof progress;
      attached.begin('TDX: exporting audit report', 0, 'finding C files', true);
    } else if (capabilities.window?.workDoneProgress) {
      progress = await connection.window.createWorkDoneProgress();
      progress.begin('TDX: exporting audit report', 0, 'finding C files', true);
      progress.token.onCancellationRequested(() => ac.abort());
    }
    const byPath = new Map(documents.all().map((d) => [uriToPath(d.uri), d.text] as const));
    let last = 0;
    const run = await buildReport(
      { paths, formats, profile: currentSettings.engine.profile, followIncludes: currentSettings.engine.followIncludes, objects: [] } as Parameters<typeof buildReport>[0],
      {
        engine,
        signal: ac.signal,
        textOf: (f) => byPath.get(f),
        progress: (done, total, file) => {
          const now = Date.now();
          if (now - last < 100 && done < total) return;
          last = now;
          progress?.report(Math.floor((100 * done) / Math.max(1, total)), `${done}/${total} ${file}`);
        },
      },
    );
    if (run === 'cancelled' || ac.signal.aborted) return none;
    const w = await writeReportFiles(outDir, run.files, { overwrite: p.overwrite === true, signal: ac.signal });
    if (w.cancelled) return none;
    return {
      written: w.written.map((f) => pathToFileURL(f).href),
      exists: w.exists.map((f) => pathToFileURL(f).href),
      findings: run.model.counts.findings,
      cancelled: false,
    };
  } catch (err) {
    failure(p.scope, 'exporting the audit report', err);
    return null;
  } finally {
    progress?.done();
  }
});

connection.onRequest(
  WorkspaceSummaryRequest,
  request('workspaceSummary', () => undefined, null, (): WorkspaceSummary | null => {
    const r = lastIndex;
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
  }),
);

connection.onShutdown(() => {
  shuttingDown = true;
  if (indexRun) indexRun.cancelled = true;
  indexer.dispose();
  for (const ac of compiles.values()) ac.abort();
  killAllCompiles();
  removeAllCompileDirs();
  service.dispose();
});

// However the server ends (exit without shutdown, stdin closed, a signal), no
// compile it started may outlive it.
process.on('exit', () => {
  killAllCompiles();
  removeAllCompileDirs();
});
for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
  process.on(sig, () => {
    killAllCompiles();
    process.exit(sig === 'SIGTERM' ? 143 : sig === 'SIGHUP' ? 129 : 130);
  });
}

// One file's bug surfacing asynchronously (a timer callback) must not take the server down.
process.on('uncaughtException', (err) => failure(undefined, 'the server', err));
process.on('unhandledRejection', (err) => failure(undefined, 'the server', err));

connection.listen();
