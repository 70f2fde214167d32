// Audit scheduling for open documents: debounce per document, incremental edits to
// the engine, version checks before publishing, and failure isolation so that one
// document's problem never stops the others from being served.

import type { Diagnostic } from 'vscode-languageserver';
import type { AuditConfig, FileAudit } from '../audit/engine';
import { DEFAULT_SETTINGS, auditAffectingChange, type ServerSettings } from './config';
import type { DocumentStore } from './documents';
import type { StatusParams } from './protocol';
import { MAX_TEXT_BYTES, tooLargeMessage } from '../fs/safeRead';

/** The adaptive delay never exceeds this, so a slow file still updates every few seconds. */
const MAX_ADAPTIVE_DELAY_MS = 5000;

/**
 * Made-up keystrokes analysed after a document opens (AuditEngine.warmEdit), one per
 * turn of the event loop: the first real keystrokes then run code V8 has compiled.
 * Each costs about what a keystroke in that function costs cold (igb_main.c: 20-140
 * ms of CPU at load 12, once per open). TDX_AUDIT_WARM_EDITS sets another count (0:
 * none), for measuring the warm-up itself against the same build.
 */
export const WARM_EDITS = warmEditsFrom(process.env.TDX_AUDIT_WARM_EDITS);

export function warmEditsFrom(env: string | undefined): number {
  const n = env === undefined || env === '' ? 4 : Number(env);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 64) : 4;
}

/**
 * Made-up keystrokes the server analyses in all before an open gets only WARM_EDITS:
 * the code V8 compiles is the engine's, shared by every document, and it keeps
 * compiling through the first 60-80 keystrokes of a process (BENCHMARKS.md, sixth
 * pass: a third to a half of a keystroke's CPU on V8's compiler threads then). So the
 * first document opened in a server is warmed with up to this many (igb_main.c: ~200
 * ms of main-thread CPU after an open that took ~900, once per process; later opens
 * WARM_EDITS each), and the compilation happens before its first real keystrokes
 * rather than during them. TDX_AUDIT_WARM_EDITS, when set, is every open's count and
 * there is no such budget (the A/B of the warm-up against the same build).
 */
export const PROCESS_WARM_EDITS = 40;

/** The made-up keystrokes of the next open, after `done` in the server's life (`env`: TDX_AUDIT_WARM_EDITS). */
export function warmEditsForOpen(done: number, env: string | undefined = process.env.TDX_AUDIT_WARM_EDITS): number {
  const each = warmEditsFrom(env);
  return env === undefined || env === '' ? Math.max(each, PROCESS_WARM_EDITS - done) : each;
}

/** The part of AuditEngine the server uses. */
export interface EngineLike {
  configure(cfg: Partial<AuditConfig>): void;
  audit(file: string, text: string, version: number): FileAudit;
  forget(file: string): void;
  /** Analyses the k-th of `of` made-up keystrokes of an open document and drops the result; false: stop warming. */
  warmEdit?(file: string, k: number, of: number): boolean;
}

export interface ServiceHost {
  /** version undefined clears diagnostics of a closed document. */
  publish(uri: string, version: number | undefined, diagnostics: Diagnostic[]): void;
  toDiagnostics(audit: FileAudit): Diagnostic[];
  status(params: StatusParams): void;
  /** Log, and tell the user once per (uri, message). uri undefined: not tied to a document. */
  failure(uri: string | undefined, what: string, err: unknown): void;
}

export class AuditService {
  private engine: EngineLike | undefined;
  private engineFailed = false;
  private settings: ServerSettings = DEFAULT_SETTINGS;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Documents being warmed (warm): the next made-up keystroke's turn. */
  private readonly warming = new Map<string, NodeJS.Immediate>();
  /** Made-up keystrokes analysed in the server's life (PROCESS_WARM_EDITS). */
  private warmed = 0;
  private readonly audits = new Map<string, FileAudit>();
  /** How long each document's last audit took (ms), and when it ended: the least delay before the next. */
  private readonly costMs = new Map<string, { ms: number; endedAt: number }>();
  /** Documents whose diagnostics were cleared because auditing is disabled. */
  private readonly cleared = new Set<string>();
  private state: StatusParams['state'] | undefined;
  private disposed = false;

  constructor(
    private readonly documents: DocumentStore,
    private readonly host: ServiceHost,
    /** Milliseconds, monotonic: a test's clock, so the scheduling is tested without sleeping. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Creates the engine. Documents opened meanwhile are audited once it is there. */
  async start(createEngine: () => Promise<EngineLike>, settings: ServerSettings): Promise<void> {
    this.settings = settings;
    this.setState('starting');
    try {
      const engine = await createEngine();
      // Settings may have changed while the engine loaded.
      engine.configure(this.settings.engine);
      this.engine = engine;
    } catch (err) {
      this.engineFailed = true;
      this.setState('error', `The audit engine failed to start: ${errorText(err)}`);
      this.host.failure(undefined, 'starting the audit engine', err);
      return;
    }
    if (this.disposed) return;
    this.setState('ready');
    for (const doc of this.documents.all()) {
      this.run(doc.uri);
      this.warm(doc.uri, 0, warmEditsForOpen(this.warmed));
    }
  }

  get ready(): boolean {
    return this.engine !== undefined;
  }

  applySettings(next: ServerSettings): void {
    const prev = this.settings;
    this.settings = next;
    if (!auditAffectingChange(prev, next)) return;
    if (this.engine) {
      try {
        this.engine.configure(next.engine);
      } catch (err) {
        this.host.failure(undefined, 'applying the tdxAudit settings', err);
      }
    }
    this.audits.clear();
    for (const doc of this.documents.all()) this.run(doc.uri);
  }

  opened(uri: string): void {
    // A reopened document must not reuse a tree from its previous life.
    this.forgetInEngine(uri);
    this.audits.delete(uri);
    this.cleared.delete(uri);
    this.run(uri);
    this.warm(uri, 0, warmEditsForOpen(this.warmed));
  }

  changed(uri: string): void {
    // A real keystroke ends the warm-up (a made-up one never goes before it).
    this.stopWarming(uri);
    this.schedule(uri, this.settings.debounceMs);
    // The engine reads headers through the host at every audit, so an open includer
    // only needs a new audit to see a header buffer's edit.
    if (!isHeader(uri)) return;
    for (const doc of this.documents.all()) {
      if (doc.uri !== uri && hasQuotedInclude(doc.text)) this.schedule(doc.uri, this.settings.debounceMs);
    }
  }

  /** Audits again now (an object for it appeared or changed). */
  refresh(uri: string): void {
    this.audits.delete(uri);
    this.run(uri);
  }

  /** Audits every open document again (objects were rebuilt). */
  refreshAll(): void {
    this.audits.clear();
    for (const doc of this.documents.all()) this.run(doc.uri);
  }

  closed(uri: string): void {
    this.cancel(uri);
    this.stopWarming(uri);
    this.costMs.delete(uri);
    this.audits.delete(uri);
    this.cleared.delete(uri);
    this.forgetInEngine(uri);
    this.host.publish(uri, undefined, []);
    this.updateBusy();
  }

  /**
   * The audit of the document's current version, auditing now if edits are pending,
   * so that hover and fileSummary positions match the client's text.
   */
  current(uri: string): FileAudit | undefined {
    if (this.timers.has(uri)) this.run(uri);
    const doc = this.documents.get(uri);
    const audit = this.audits.get(uri);
    if (!doc || !audit || audit.version !== doc.version) return undefined;
    return audit;
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const w of this.warming.values()) clearImmediate(w);
    this.warming.clear();
  }

  /**
   * Warms the engine's incremental path for an opened document: the first keystrokes
   * after an open ran V8's code cold (igb_main.c over LSP: 35-45 ms of server CPU per
   * edit for the first 20, 20-30 ms once warm). One made-up keystroke per turn of the
   * event loop (setImmediate: a real edit's notification is read between two), none
   * once the document is edited (`changed` stops it) or closed, or once the engine has
   * no memory to reuse; the result is dropped, nothing is published.
   */
  private warm(uri: string, k: number, of: number): void {
    if (this.disposed || k >= of || !this.engine?.warmEdit) return;
    this.warming.set(
      uri,
      setImmediate(() => {
        this.warming.delete(uri);
        let more = false;
        try {
          more = this.engine?.warmEdit?.(uri, k, of) ?? false;
        } catch {
          // A made-up keystroke's failure is no document's: the real ones report theirs.
        }
        if (more) {
          this.warmed++;
          this.warm(uri, k + 1, of);
        }
      }),
    );
  }

  private stopWarming(uri: string): void {
    const w = this.warming.get(uri);
    if (w) clearImmediate(w);
    this.warming.delete(uri);
  }

  /**
   * Leaves at least as long as the document's last audit took between the end of
   * that audit and the next. With debounceMs 0, a burst of edits to a large file
   * would otherwise audit every intermediate version (the timer fires between two
   * queued notifications); this way the edits that arrived during one audit are
   * applied together and only the latest version is audited next. An edit after a
   * pause longer than that is audited after the debounce alone: counting the wait
   * from the edit doubled the latency of every single keystroke on a large file.
   */
  private schedule(uri: string, debounce: number): void {
    if (this.disposed) return;
    this.cancel(uri);
    const last = this.costMs.get(uri);
    const rest = last ? Math.min(last.ms, MAX_ADAPTIVE_DELAY_MS) - (this.now() - last.endedAt) : 0;
    const delay = Math.max(debounce, rest);
    const timer = setTimeout(() => this.run(uri), delay);
    this.timers.set(uri, timer);
    this.updateBusy();
  }

  private cancel(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
  }

  /** Audits the current text now. Never throws. */
  private run(uri: string): void {
    this.cancel(uri);
    try {
      this.runUnguarded(uri);
    } catch (err) {
      this.host.failure(uri, 'publishing diagnostics', err);
    } finally {
      this.updateBusy();
    }
  }

  private runUnguarded(uri: string): void {
    if (this.disposed) return;
    const doc = this.documents.get(uri);
    const engine = this.engine;
    if (!doc || !engine) return;
    if (!this.settings.enable) {
      this.audits.delete(uri);
      if (!this.cleared.has(uri)) this.host.publish(uri, doc.version, []);
      this.cleared.add(uri);
      return;
    }
    this.cleared.delete(uri);
    if (doc.text.length > MAX_TEXT_BYTES) {
      // One size policy with the CLI and the index: a 50 MB buffer would take the
      // parser to gigabytes and block every other document for a minute.
      this.audits.delete(uri);
      this.host.publish(uri, doc.version, []);
      this.host.failure(uri, 'auditing', new Error(tooLargeMessage('this file', doc.text.length, MAX_TEXT_BYTES)));
      return;
    }

    const t0 = this.now();
    const audit = this.auditDocument(engine, uri, doc.text, doc.version);
    const endedAt = this.now();
    this.costMs.set(uri, { ms: endedAt - t0, endedAt });
    // The audit is synchronous, so the document cannot have moved on meanwhile; the
    // check guards against a future asynchronous engine publishing an older version.
    if (this.documents.get(uri)?.version !== doc.version) return;
    if (!audit) {
      // Old diagnostics would point at text that has moved: clear them rather than mislead.
      this.audits.delete(uri);
      this.host.publish(uri, doc.version, []);
      return;
    }
    this.audits.set(uri, audit);
    this.host.publish(uri, doc.version, this.host.toDiagnostics(audit));
  }

  private auditDocument(engine: EngineLike, uri: string, text: string, version: number): FileAudit | undefined {
    try {
      return engine.audit(uri, text, version);
    } catch {
      // The engine's cached tree of this document may be what broke: drop it and
      // parse from scratch once before giving up on this version.
      this.forgetInEngine(uri);
    }
    try {
      return engine.audit(uri, text, version);
    } catch (err) {
      this.forgetInEngine(uri);
      this.host.failure(uri, 'auditing', err);
      return undefined;
    }
  }

  private forgetInEngine(uri: string): void {
    try {
      this.engine?.forget(uri);
    } catch (err) {
      this.host.failure(uri, 'dropping the cached tree', err);
    }
  }

  private busyWith: string | undefined;

  /** Long work outside the audit loop (a compile) shows as busy with its message. */
  setBusy(message: string | undefined): void {
    this.busyWith = message;
    this.updateBusy();
  }

  private updateBusy(): void {
    if (this.disposed || !this.engine) return;
    if (this.busyWith) this.setState('busy', this.busyWith);
    else if (this.timers.size > 0) this.setState('busy');
    else this.setState('ready');
  }

  private setState(state: StatusParams['state'], message?: string): void {
    if (this.engineFailed && state !== 'error') return;
    if (state === this.state && state !== 'error' && state !== 'ready') return;
    if (state === 'ready') {
      const n = this.audits.size;
      message ??= n ? `${n} open file${n === 1 ? '' : 's'} audited` : 'Ready';
      if (state === this.state && message === this.lastReadyMessage) return;
      this.lastReadyMessage = message;
    }
    this.state = state;
    this.host.status(message === undefined ? { state } : { state, message });
  }

  private lastReadyMessage: string | undefined;
}

/** Header-like URIs: the files other documents pull in with a quoted include. */
function isHeader(uri: string): boolean {
  return /\.(?:h|hh|hpp|inc)(?:[?#]|$)/i.test(uri);
}

/** Any quoted include, so that headers included through other headers are covered too. */
function hasQuotedInclude(text: string): boolean {
  return /^[ \t]*#[ \t]*include[ \t]*"/m.test(text);
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
