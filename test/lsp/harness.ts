// Drives the real built server (`node dist/server.js --stdio`) over JSON-RPC and
// records what it sends, so tests can wait on events rather than sleep. `inProcess`
// runs the same server class (lsp/server.ts) in this process over in-memory streams,
// for tests that give it their own engine (a stub that fails on demand).

import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  type Diagnostic,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type TextDocumentContentChangeEvent,
} from 'vscode-languageserver-protocol/node';
import { createConnection, ProposedFeatures, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver/node';
import { SERVER_INFO, TdxServer, type ServerOptions } from '../../server/src/lsp/server';

export const REPO = resolve(__dirname, '..', '..');
export const SERVER = join(REPO, 'dist', 'server.js');
export const FIXTURES = join(REPO, 'test', 'fixtures', 'drivers');
export const fileUri = (p: string): string => pathToFileURL(p).href;

/** Generous: the first audit loads WASM; CI machines are slow. Fails the test, never hangs it. */
export const WAIT_MS = 15_000;

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

export interface ShownMessage {
  type: number;
  message: string;
}

export class LspHarness {
  readonly diagnostics: PublishDiagnosticsParams[] = [];
  readonly statuses: { state: string; message?: string }[] = [];
  readonly shown: ShownMessage[] = [];
  readonly logs: string[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  /** What workspace/configuration answers for the `tdxAudit` section. */
  config: Record<string, unknown>;

  private readonly waiters = new Set<Waiter>();
  /** Resolves with the server process's exit code. */
  readonly exited: Promise<number | null>;

  private constructor(
    private readonly proc: ChildProcess | undefined,
    readonly conn: ProtocolConnection,
    config: Record<string, unknown>,
  ) {
    this.config = config;
    this.exited = new Promise((res) => {
      proc?.on('exit', (code) => {
        this.exitCode = code;
        this.notify();
        res(code);
      });
    });
    proc?.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      this.diagnostics.push(p);
      this.notify();
    });
    conn.onNotification('tdxAudit/status', (p: { state: string; message?: string }) => {
      this.statuses.push(p);
      this.notify();
    });
    conn.onNotification('window/showMessage', (p: ShownMessage) => {
      this.shown.push(p);
      this.notify();
    });
    // showErrorMessage is a window/showMessageRequest; record it with the notifications.
    conn.onRequest('window/showMessageRequest', (p: ShownMessage) => {
      this.shown.push({ type: p.type, message: p.message });
      this.notify();
      return null;
    });
    conn.onNotification('window/logMessage', (p: ShownMessage) => {
      this.logs.push(p.message);
      this.notify();
    });
    conn.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) =>
      p.items.map((i) => (i.section === 'tdxAudit' ? this.config : null)),
    );
    conn.onRequest('client/registerCapability', () => null);
    conn.onRequest('window/workDoneProgress/create', () => null);
  }

  /** nodeArgs: flags for the server's node (a bench's --cpu-prof); server: another build's server.js (a bench's before/after). */
  static spawn(config: Record<string, unknown> = {}, nodeArgs: string[] = [], server = SERVER): LspHarness {
    const child = spawn(process.execPath, [...nodeArgs, server, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const reader = new StreamMessageReader(child.stdout!);
    // A server killed while writing leaves a message cut off; vscode-jsonrpc's reader then
    // re-arms a 10 s "partial message" timer for ever, and neither its dispose() nor the
    // connection's clears it: the test process never exits (a whole-suite run hung on
    // triage.test.ts that way). Nothing here listens for partial-message events.
    reader.partialMessageTimeout = 0;
    const conn = createProtocolConnection(reader, new StreamMessageWriter(child.stdin!));
    // A server that dies mid-test closes the pipes; that must fail the waiting test, not crash the runner.
    conn.onError(() => undefined);
    conn.onClose(() => undefined);
    conn.listen();
    return new LspHarness(child, conn, config);
  }

  /**
   * The server class in this process over in-memory streams, with the options a
   * test gives it (its own engine); the index workers are the built ones.
   */
  static inProcess(options: ServerOptions = {}, config: Record<string, unknown> = {}): LspHarness {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const server = createConnection(ProposedFeatures.all, new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
    let instance: TdxServer | undefined;
    server.onInitialize((params) => {
      const s = TdxServer.create(server, params, { indexWorker: join(REPO, 'dist', 'indexWorker.js'), ...options });
      instance = s;
      s.register();
      return { capabilities: s.capabilities(), serverInfo: SERVER_INFO };
    });
    server.listen();
    const conn = createProtocolConnection(toClient, toServer);
    conn.onError(() => undefined);
    conn.onClose(() => undefined);
    conn.listen();
    const h = new LspHarness(undefined, conn, config);
    // vscode-languageserver polls a processId it is given (and exits the process when it is gone): none in-process.
    h.processId = null;
    h.disposeServer = () => {
      instance?.dispose();
      server.dispose();
      toServer.end();
      toClient.end();
    };
    return h;
  }

  private disposeServer: (() => void) | undefined;
  private processId: number | null = process.pid;

  /** The server process (not for an in-process server). */
  get child(): ChildProcess {
    if (!this.proc) throw new Error('an in-process server has no child process');
    return this.proc;
  }

  /**
   * opts.initializationOptions, when the key is present, is sent as is (even
   * undefined or null): the trust parsing is tested with hostile values.
   */
  /** `capabilities`: added to the client capabilities below (a section replaces the same section). */
  async initialize(rootPath: string, opts: { trusted?: boolean; initializationOptions?: unknown; capabilities?: { workspace?: Record<string, unknown> } } = {}): Promise<any> {
    const result = await this.conn.sendRequest('initialize', {
      processId: this.processId,
      rootUri: fileUri(rootPath),
      workspaceFolders: [{ uri: fileUri(rootPath), name: 'root' }],
      capabilities: {
        workspace: { configuration: true, workspaceFolders: true, didChangeConfiguration: { dynamicRegistration: false }, ...opts.capabilities?.workspace },
        textDocument: {
          synchronization: { dynamicRegistration: false },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          publishDiagnostics: { relatedInformation: true, versionSupport: true },
        },
        window: { showMessage: {} },
      },
      initializationOptions: 'initializationOptions' in opts ? opts.initializationOptions : { trusted: opts.trusted ?? true },
    });
    await this.conn.sendNotification('initialized', {});
    return result;
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      let done = false;
      try {
        done = w.check();
      } catch {
        done = false;
      }
      if (done) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Resolves with pred's value once it is defined; rejects after timeoutMs with a message naming what was awaited. */
  waitFor<T>(what: string, pred: () => T | undefined, timeoutMs = WAIT_MS): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      let value: T | undefined;
      const check = (): boolean => {
        value = pred();
        return value !== undefined;
      };
      if (check()) return resolvePromise(value as T);
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const last = this.diagnostics.slice(-3).map((d) => `${d.uri} v${d.version}: ${d.diagnostics.length} diagnostics`);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\n` +
              `  server exit code: ${this.exitCode === undefined ? 'running' : this.exitCode}\n` +
              `  last publishDiagnostics: ${last.join('; ') || 'none'}\n` +
              `  server stderr: ${this.stderr.slice(-2000) || '(empty)'}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        check: () => check() || this.exitCode !== undefined,
        resolve: () => {
          clearTimeout(timer);
          if (value !== undefined) resolvePromise(value);
          else reject(new Error(`server exited (code ${this.exitCode}) while waiting for ${what}\n  stderr: ${this.stderr.slice(-2000)}`));
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** The diagnostics published for exactly this version of the document. */
  diagnosticsFor(uri: string, version: number, timeoutMs = WAIT_MS): Promise<Diagnostic[]> {
    return this.waitFor(`publishDiagnostics for ${uri} version ${version}`, () => {
      for (let i = this.diagnostics.length - 1; i >= 0; i--) {
        const d = this.diagnostics[i];
        if (d.uri === uri && d.version === version) return d.diagnostics;
      }
      return undefined;
    }, timeoutMs);
  }

  /** The next publish for uri after the first `after` notifications recorded. */
  nextDiagnostics(uri: string, after: number, timeoutMs = WAIT_MS): Promise<PublishDiagnosticsParams> {
    return this.waitFor(`a new publishDiagnostics for ${uri}`, () => this.diagnostics.slice(after).find((d) => d.uri === uri), timeoutMs);
  }

  open(uri: string, text: string, version = 1): Promise<void> {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'c', version, text } });
  }

  change(uri: string, version: number, contentChanges: TextDocumentContentChangeEvent[]): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges });
  }

  close(uri: string): Promise<void> {
    return this.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  async shutdown(timeoutMs = WAIT_MS): Promise<number | null> {
    await this.conn.sendRequest('shutdown');
    await this.conn.sendNotification('exit');
    await this.waitFor('the server process to exit', () => (this.exitCode === undefined ? undefined : true), timeoutMs);
    return this.exited;
  }

  kill(): void {
    if (this.proc && this.exitCode === undefined) this.proc.kill('SIGKILL');
    this.conn.dispose();
    this.disposeServer?.();
  }
}

/** Position of the first occurrence of needle (after the end of `from`, if given), as LSP line/character. */
export function positionOf(text: string, needle: string, from?: string): { line: number; character: number } {
  const anchor = from === undefined ? 0 : text.indexOf(from);
  if (anchor < 0) throw new Error(`fixture has no ${JSON.stringify(from)}`);
  const base = from === undefined ? 0 : anchor + from.length;
  const at = text.indexOf(needle, base);
  if (at < 0) throw new Error(`fixture has no ${JSON.stringify(needle)}${from ? ` after ${JSON.stringify(from)}` : ''}`);
  const before = text.slice(0, at);
  const line = before.split('\n').length - 1;
  return { line, character: at - (before.lastIndexOf('\n') + 1) };
}

/** The LSP range of `needle` (its first occurrence after `from`). */
export function rangeOf(text: string, needle: string, from?: string) {
  const start = positionOf(text, needle, from);
  const lastNl = needle.lastIndexOf('\n');
  const end =
    lastNl === -1
      ? { line: start.line, character: start.character + needle.length }
      : { line: start.line + needle.split('\n').length - 1, character: needle.length - lastNl - 1 };
  return { start, end };
}
