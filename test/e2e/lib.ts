// Shared by the editor end-to-end tests: finding the editors, process groups that are
// always killed (also when a test fails or times out), the fixture workspace, and a
// probe of which custom requests the built server answers.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LspHarness, fileUri } from '../lsp/harness';
import { compileObject, hasGcc } from '../support/gcc';

export const REPO = resolve(__dirname, '..', '..');
export const FIXTURES = join(REPO, 'test', 'fixtures', 'drivers');
export const OUTPUT = join(REPO, 'test-output', 'e2e');
export const CODE_SERVER_VERSION = '4.100.3';

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

/** code-server as test/e2e/install-code-server.sh leaves it: $TDX_CODE_SERVER, or under $TDX_E2E_CACHE / ~/.cache/tdx-audit-e2e. */
export function findCodeServer(): string | undefined {
  if (process.env.TDX_CODE_SERVER) return existsSync(process.env.TDX_CODE_SERVER) ? process.env.TDX_CODE_SERVER : undefined;
  const cache = process.env.TDX_E2E_CACHE || join(homedir(), '.cache', 'tdx-audit-e2e');
  const dir = join(cache, `code-server-${CODE_SERVER_VERSION}`);
  const bin = join(dir, 'node_modules', '.bin', 'code-server');
  return existsSync(join(dir, '.done')) && existsSync(bin) ? bin : undefined;
}

export function findChromium(): string | undefined {
  for (const p of [process.env.TDX_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (p && existsSync(p)) return p;
  return undefined;
}

// ---------------------------------------------------------------------------
// Process groups. Every editor runs in its own group (detached spawn = setsid); stop()
// signals the whole group and waits until it is empty. A process 'exit' hook kills
// whatever is left if the runner dies or a test times out.

const live = new Set<number>();
process.on('exit', () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Group {
  child: ChildProcess;
  pgid: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function spawnGroup(cmd: string, args: string[], opts: SpawnOptions = {}): Group {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const pgid = child.pid;
  live.add(pgid);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    child,
    pgid,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      for (const [sig, ms] of [['SIGTERM', 3000], ['SIGKILL', 5000]] as const) {
        try {
          process.kill(-pgid, sig);
        } catch {
          break;
        }
        const until = Date.now() + ms;
        while (groupAlive(pgid) && Date.now() < until) await sleep(50);
        if (!groupAlive(pgid)) break;
      }
      if (groupAlive(pgid)) throw new Error(`process group ${pgid} (${cmd}) survived SIGKILL`);
      live.delete(pgid);
    },
  };
}

/** Runs a command in its own group to completion, killing the group on timeout. */
export async function runGroup(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const g = spawnGroup(cmd, args, opts);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void g.stop();
  }, opts.timeoutMs);
  try {
    const code = await g.exited;
    return { code, stdout: g.stdout(), stderr: g.stderr(), timedOut };
  } finally {
    clearTimeout(timer);
    await g.stop();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------

export interface Workspace {
  root: string;
  /** The workspace folder the editor opens. */
  dir: string;
  source: string;
  object: string | undefined;
  cleanup(): void;
}

/** A temp folder with foo_nic.c and tdx_io.h, and foo_nic.o beside them when gcc exists (and `compile`). */
export function fixtureWorkspace(prefix: string, compile = true): Workspace {
  const root = mkdtempSync(join(tmpdir(), `tdx-e2e-${prefix}-`));
  const dir = join(root, 'driver');
  mkdirSync(dir);
  for (const f of ['foo_nic.c', 'tdx_io.h']) copyFileSync(join(FIXTURES, f), join(dir, f));
  let object: string | undefined;
  if (compile && hasGcc) {
    object = join(dir, compileObject('foo_nic.c', dir));
  }
  return { root, dir, source: join(dir, 'foo_nic.c'), object, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** 1-based line of the first line of `file` containing `needle`. */
export function lineOf(file: string, needle: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`'${needle}' not in ${file}`);
  return i + 1;
}

export interface ProbeDiagnostic {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  severity: number;
  code: string;
  message: string;
}

export interface ServerSupport {
  /** What the server publishes for the fixture as opened (after any compiled-form join). */
  diagnostics: ProbeDiagnostic[];
  compiledForm: string | null;
  exportReport: string | null;
}

/**
 * Asks the built server, over stdio, whether it answers the custom requests this
 * extension's commands send. A string is why not (shown as the skip reason), null means supported.
 */
export async function probeServer(ws: Workspace): Promise<ServerSupport> {
  const h = LspHarness.spawn({});
  try {
    await h.initialize(ws.dir);
    const uri = fileUri(ws.source);
    await h.open(uri, readFileSync(ws.source, 'utf8'));
    await h.diagnosticsFor(uri, 1);
    await sleep(1500); // a later publish for the same version (the object read) wins
    const diagnostics = (h.diagnostics.filter((d) => d.uri === uri).pop()!.diagnostics as unknown as ProbeDiagnostic[])
      .slice()
      .sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
    const why = async (method: string, params: unknown): Promise<string | null> => {
      try {
        await h.conn.sendRequest(method, params);
        return null;
      } catch (err) {
        const e = err as { code?: number; message?: string };
        return e.code === -32601
          ? `the server has no handler for ${method} (MethodNotFound)`
          : `${method} failed in the server: ${e.message ?? String(err)}`;
      }
    };
    const line = lineOf(ws.source, 'foo_writel(fp, 1, FOO_CTRL)') - 1;
    const compiledForm = await why('tdxAudit/compiledForm', { uri, position: { line, character: 3 } });
    const outDir = mkdtempSync(join(ws.root, 'probe-'));
    const exportReport = await why('tdxAudit/exportReport', { scope: uri, outputDir: fileUri(outDir), formats: ['json'] });
    rmSync(outDir, { recursive: true, force: true });
    return { diagnostics, compiledForm, exportReport };
  } finally {
    h.kill();
  }
}

// ---------------------------------------------------------------------------

/** Names and uncompressed sizes from a zip's central directory. */
export function zipEntries(buf: Buffer): { name: string; size: number }[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: { name: string; size: number }[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry at ${p}`);
    const size = buf.readUInt32LE(p + 24);
    const n = buf.readUInt16LE(p + 28);
    const m = buf.readUInt16LE(p + 30);
    const k = buf.readUInt16LE(p + 32);
    out.push({ name: buf.toString('utf8', p + 46, p + 46 + n), size });
    p += 46 + n + m + k;
  }
  return out;
}

/** Packs the repository as it is into `dir`; returns the .vsix path. */
export async function packVsix(dir: string): Promise<string> {
  const vsix = join(dir, 'tdx-audit.vsix');
  const r = await runGroup(process.execPath, [join(REPO, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '-o', vsix], {
    cwd: REPO,
    timeoutMs: 120_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.code !== 0 || !existsSync(vsix)) throw new Error(`vsce package failed (exit ${r.code}, timed out: ${r.timedOut})\n${r.stdout}\n${r.stderr}`);
  return vsix;
}


/** The first ```lang block after the line `after` in README.md, with /path/to/tdx-audit pointing here. */
export function readmeSnippet(lang: string, after: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf(after);
  if (at < 0) throw new Error(`README.md has no '${after}'`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(at));
  if (!m) throw new Error(`README.md has no ${lang} block after '${after}'`);
  if (!m[1].includes('/path/to/tdx-audit')) throw new Error(`the README ${lang} snippet no longer names /path/to/tdx-audit`);
  return m[1].replaceAll('/path/to/tdx-audit', REPO);
}

/** A TCP port free on 127.0.0.1 right now (for code-server). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

// ---------------------------------------------------------------------------

/** The user settings every code-server scenario needs (no walkthrough, no network, no telemetry). */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'editor.minimap.enabled': false,
  'editor.hover.delay': 200,
  'workbench.editor.enablePreviewFromQuickOpen': false,
  'chat.disableAIFeatures': true,
};

export interface CodeServerRun {
  server: Group;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * code-server on 127.0.0.1 with throwaway user-data, extensions and XDG folders under
 * `ws.root`, the .vsix installed, `folder` opened, healthy. With `trust: true` workspace
 * trust is on (the folder opens in Restricted Mode: nobody has trusted it in this fresh
 * user-data folder); otherwise it is off, as in the main scenario.
 */
export async function startCodeServer(codeServer: string, ws: Workspace, vsix: string, o: { trust: boolean; settings?: Record<string, unknown> }): Promise<CodeServerRun> {
  const ud = join(ws.root, 'user-data');
  const ext = join(ws.root, 'extensions');
  const xdg = join(ws.root, 'xdg');
  mkdirSync(join(ud, 'User'), { recursive: true });
  const trust = o.trust
    ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' }
    : { 'security.workspace.trust.enabled': false };
  writeFileSync(join(ud, 'User', 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...trust, ...o.settings }));
  const env = { ...process.env, XDG_CONFIG_HOME: join(xdg, 'config'), XDG_DATA_HOME: join(xdg, 'data'), XDG_CACHE_HOME: join(xdg, 'cache'), EXTENSIONS_GALLERY: '{}' };
  const inst = await runGroup(codeServer, ['--user-data-dir', ud, '--extensions-dir', ext, '--install-extension', vsix], { env, timeoutMs: 120_000 });
  if (inst.code !== 0 || !/successfully installed/i.test(inst.stdout + inst.stderr)) throw new Error(`--install-extension failed:\n${inst.stdout}\n${inst.stderr}`);
  const port = await freePort();
  const server = spawnGroup(
    codeServer,
    [
      '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
      ...(o.trust ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override',
      '--user-data-dir', ud, '--extensions-dir', ext, ws.dir,
    ],
    { env, cwd: ws.root },
  );
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (server.child.exitCode !== null) throw new Error(`code-server exited: ${server.stderr()}`);
    if (Date.now() > until) {
      await server.stop();
      throw new Error(`code-server not healthy within 60 s: ${server.stderr()}`);
    }
    await sleep(100);
  }
  return { server, port, url: `http://127.0.0.1:${port}/`, stop: () => server.stop() };
}
