// The server against a hostile or careless client and workspace (issue 12): trust
// values that are not `true`, requests after shutdown, triage for files outside the
// workspace, a 50 MB buffer, a debounce of 0, a client that never reads stdout, and
// every way the server can end while a compile runs.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, LspHarness, SERVER, fileUri } from './harness';
import { isDead, rssMiB, stateOf } from '../support/proc';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function workspace(compiler = '#!/bin/sh\ntouch MARKER\n'): { dir: string; uri: string; marker: string; pidFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-hostile-'));
  dirs.push(dir);
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(dir, 'foo_nic.c'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'tdx_io.h'));
  const marker = join(dir, 'compiler-ran');
  const pidFile = join(dir, 'daemon.pid');
  const fake = join(dir, 'cc');
  writeFileSync(fake, compiler.replace(/MARKER/g, marker).replace(/PIDFILE/g, pidFile));
  chmodSync(fake, 0o755);
  writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify([{ directory: dir, file: 'foo_nic.c', arguments: [fake, '-c', 'foo_nic.c'] }]));
  return { dir, uri: fileUri(join(dir, 'foo_nic.c')), marker, pidFile };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const skip = existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build';

describe('trust', { skip }, () => {
  for (const [name, opts] of [
    ['{"trusted":"false"}', { trusted: 'false' }],
    ['{"trusted":0}', { trusted: 0 }],
    ['{"trusted":null}', { trusted: null }],
    ['{"trusted":"untrusted"}', { trusted: 'untrusted' }],
    ['null options', null],
  ] as const) {
    test(`initializationOptions ${name} is untrusted: the workspace compiler never runs`, async () => {
      const w = workspace();
      const lsp = LspHarness.spawn({ debounceMs: 50 });
      try {
        await lsp.initialize(w.dir, { initializationOptions: opts });
        await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
        await lsp.diagnosticsFor(w.uri, 1);
        const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [w.uri] });
        assert.match(String(msg), /Untrusted workspace/);
        assert.equal(existsSync(w.marker), false);
        if (opts !== null) assert.ok(lsp.logs.some((l) => /treating the workspace as untrusted/.test(l)), lsp.logs.join('\n'));
      } finally {
        lsp.kill();
      }
    });
  }

  test('absent initializationOptions are trusted (as README says for other editors)', async () => {
    const w = workspace();
    const lsp = LspHarness.spawn({ debounceMs: 50 });
    try {
      await lsp.initialize(w.dir, { initializationOptions: undefined });
      await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
      await lsp.diagnosticsFor(w.uri, 1);
      await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [w.uri] });
      assert.equal(existsSync(w.marker), true, 'the compiler ran');
    } finally {
      lsp.kill();
    }
  });
});

describe('protocol misuse', { skip }, () => {
  test('requests after shutdown get an InvalidRequest error, not null', async () => {
    const w = workspace();
    const lsp = LspHarness.spawn({ debounceMs: 50 });
    try {
      await lsp.initialize(w.dir);
      await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
      await lsp.diagnosticsFor(w.uri, 1);
      await lsp.conn.sendRequest('shutdown');
      await assert.rejects(lsp.conn.sendRequest('textDocument/hover', { textDocument: { uri: w.uri }, position: { line: 1, character: 1 } }), (e: { code?: number }) => e.code === -32600);
      await assert.rejects(lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.reindexWorkspace', arguments: [] }), (e: { code?: number }) => e.code === -32600);
    } finally {
      lsp.kill();
    }
  });

  test('setTriage on file:///proc/self/x.c answers at once and writes nothing', async () => {
    const w = workspace();
    const lsp = LspHarness.spawn({ debounceMs: 50 });
    try {
      await lsp.initialize(w.dir);
      const t0 = Date.now();
      const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.setTriage', arguments: ['file:///proc/self/x.c', '0123456789abcdef0123456789abcdef', 'safe'] });
      assert.match(String(msg), /not in a workspace folder/);
      assert.ok(Date.now() - t0 < 10_000);
      assert.equal(existsSync('/.tdx-audit'), false);
      assert.equal(existsSync('/proc/self/.tdx-audit'), false);
    } finally {
      lsp.kill();
    }
  });

  test('a 50 MB buffer is skipped as too large and the other files keep being served', async () => {
    const w = workspace();
    const lsp = LspHarness.spawn({ debounceMs: 50 });
    try {
      await lsp.initialize(w.dir);
      const big = fileUri(join(w.dir, 'big.c'));
      const line = 'static int x_' + 'a'.repeat(60) + ';\n';
      await lsp.open(big, line.repeat(Math.ceil((50 << 20) / line.length)), 1);
      await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
      const d = await lsp.diagnosticsFor(w.uri, 1, 30_000);
      assert.ok(d.length > 0, 'the small file is audited');
      assert.deepEqual(await lsp.diagnosticsFor(big, 1, 30_000), []);
      await lsp.waitFor('the too-large message', () => lsp.shown.find((m) => /skipped: too large \(50 MB > 32 MB\)/.test(m.message)));
      assert.ok(rssMiB(lsp.child.pid!, 'VmHWM') < 1024, `peak RSS ${rssMiB(lsp.child.pid!, 'VmHWM')} MiB`);
    } finally {
      lsp.kill();
    }
  });

  test('debounceMs 0: a burst of 300 edits to a large file audits only a few versions and ends with the last', async () => {
    const w = workspace();
    const lsp = LspHarness.spawn({ debounceMs: 0 });
    try {
      await lsp.initialize(w.dir);
      const uri = fileUri(join(w.dir, 'large.c'));
      const unit = readFileSync(join(w.dir, 'foo_nic.c'), 'utf8').replace(/foo_/g, 'fooX_');
      let text = '';
      for (let i = 0; text.length < 400_000; i++) text += unit.replace(/fooX_/g, `foo${i}_`);
      await lsp.open(uri, text, 1);
      await lsp.diagnosticsFor(uri, 1, 60_000);
      const before = lsp.diagnostics.length;
      for (let v = 2; v <= 301; v++) await lsp.change(uri, v, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: `/* ${v} */` }]);
      await lsp.diagnosticsFor(uri, 301, 120_000);
      const audits = lsp.diagnostics.slice(before).filter((d) => d.uri === uri).length;
      assert.ok(audits < 60, `${audits} versions of 300 were audited`);
      await lsp.shutdown(30_000);
    } finally {
      lsp.kill();
    }
  });
});

/** JSON-RPC framing, for the raw client below. */
const frame = (o: unknown) => {
  const body = Buffer.from(JSON.stringify(o));
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
};

describe('a client that never reads stdout', { skip }, () => {
  test('the server stops reading instead of growing without bound', async () => {
    const w = workspace();
    const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      child.stdin.write(frame({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { processId: null, rootUri: fileUri(w.dir), capabilities: {}, initializationOptions: { trusted: false } } }));
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      child.stdout.pause(); // never read again: the pipe fills, then the server's buffer
      child.stdin.write(frame({ jsonrpc: '2.0', method: 'initialized', params: {} }));
      child.stdin.write(frame({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: w.uri, languageId: 'c', version: 1, text: readFileSync(join(w.dir, 'foo_nic.c'), 'utf8') } } }));
      let peak = 0;
      const t0 = Date.now();
      let sent = 0;
      let stalled = false;
      // Bounded by count and time: 200,000 requests (887 MB before the fix) or 20 s.
      while (sent < 200_000 && Date.now() - t0 < 20_000) {
        const req = frame({ jsonrpc: '2.0', id: ++sent, method: 'workspace/executeCommand', params: { command: 'tdxAudit.nothing', arguments: ['x'.repeat(200)] } });
        if (!child.stdin.write(req)) {
          const drained = await Promise.race([new Promise<boolean>((r) => child.stdin.once('drain', () => r(true))), sleep(2000).then(() => false)]);
          if (!drained) {
            stalled = true; // the server stopped reading: what we want
            break;
          }
        }
        if (sent % 1000 === 0) peak = Math.max(peak, rssMiB(child.pid!));
      }
      await sleep(500);
      peak = Math.max(peak, rssMiB(child.pid!));
      assert.equal(child.exitCode, null, 'the server is alive');
      assert.ok(stalled, `the server read all ${sent} requests of a client that never reads`);
      assert.ok(peak < 250, `server RSS peaked at ${peak.toFixed(0)} MiB after ${sent} requests`);
      // Reading again lets it go on: every request is answered, the last one included.
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text = (text + d.toString('latin1')).slice(-4096)));
      child.stdout.resume();
      const last = `"id":${sent},`;
      for (let i = 0; i < 200 && !text.includes(last); i++) await sleep(100);
      assert.ok(text.includes(last), `the last request (${sent}) was answered`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('no compile outlives the server', { skip }, () => {
  const compiler = "#!/bin/sh\nsetsid sh -c 'echo $$ > PIDFILE; exec sleep 120' &\nsleep 120\n";
  const ends: [string, (l: LspHarness) => Promise<void>][] = [
    ['stdin closed', async (l) => void l.child.stdin!.end()],
    ['exit without shutdown', async (l) => void (await l.conn.sendNotification('exit'))],
    ['SIGTERM', async (l) => void l.child.kill('SIGTERM')],
    ['SIGHUP', async (l) => void l.child.kill('SIGHUP')],
  ];
  for (const [how, end] of ends) {
    test(`${how}: the compile and its setsid() child die with the server`, async () => {
      const w = workspace(compiler);
      const lsp = LspHarness.spawn({ debounceMs: 50 });
      try {
        await lsp.initialize(w.dir);
        await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
        void lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [w.uri] }).catch(() => undefined);
        for (let i = 0; i < 100 && !(existsSync(w.pidFile) && readFileSync(w.pidFile, 'utf8').trim()); i++) await sleep(100);
        const pid = Number(readFileSync(w.pidFile, 'utf8'));
        assert.ok(pid > 0);
        await end(lsp);
        await lsp.waitFor('the server to exit', () => (lsp.exitCode === undefined ? undefined : true), 15_000);
        await sleep(300);
        assert.ok(isDead(pid), `the setsid child is dead (state ${stateOf(pid)})`);
      } finally {
        lsp.kill();
      }
    });
  }
});
