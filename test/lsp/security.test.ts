// Compile commands come from the workspace: an untrusted workspace never runs one,
// and a compile still running when the server shuts down dies with its children.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, LspHarness, SERVER, fileUri } from './harness';

function workspace(compiler: string): { dir: string; uri: string; marker: string; pidFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-sec-'));
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(dir, 'foo_nic.c'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(dir, 'tdx_io.h'));
  const marker = join(dir, 'compiler-ran');
  const pidFile = join(dir, 'grandchild.pid');
  const fake = join(dir, 'cc');
  writeFileSync(fake, compiler.replace(/MARKER/g, marker).replace(/PIDFILE/g, pidFile));
  chmodSync(fake, 0o755);
  writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify([{ directory: dir, file: 'foo_nic.c', arguments: [fake, '-c', 'foo_nic.c'] }]));
  return { dir, uri: fileUri(join(dir, 'foo_nic.c')), marker, pidFile };
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('compile commands and trust', { skip: existsSync(SERVER) ? false : 'dist/server.js missing: run npm run build' }, () => {
  test('an untrusted workspace never starts the compiler from compile_commands.json, on command or on save', async () => {
    const w = workspace('#!/bin/sh\ntouch MARKER\n');
    dirs.push(w.dir);
    const lsp = LspHarness.spawn({ debounceMs: 50, compile: { onSave: true } });
    try {
      await lsp.initialize(w.dir, { trusted: false });
      await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
      await lsp.diagnosticsFor(w.uri, 1);
      const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [w.uri] });
      assert.match(String(msg), /Untrusted workspace/);
      await lsp.conn.sendNotification('textDocument/didSave', { textDocument: { uri: w.uri } });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(existsSync(w.marker), false, 'the workspace compiler never ran');
    } finally {
      lsp.kill();
    }
  });

  test('a compile running at shutdown is killed with its children', async () => {
    const w = workspace('#!/bin/sh\nsleep 120 &\necho $! > PIDFILE\nwait\n');
    dirs.push(w.dir);
    const lsp = LspHarness.spawn({ debounceMs: 50 });
    try {
      await lsp.initialize(w.dir);
      await lsp.open(w.uri, readFileSync(join(w.dir, 'foo_nic.c'), 'utf8'), 1);
      void lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [w.uri] }).catch(() => undefined);
      for (let i = 0; i < 100 && !(existsSync(w.pidFile) && readFileSync(w.pidFile, 'utf8').trim()); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(existsSync(w.pidFile), 'the (trusted) compile started');
      const pid = Number(readFileSync(w.pidFile, 'utf8'));
      await lsp.shutdown();
      await new Promise((r) => setTimeout(r, 300));
      let state = 'gone';
      try {
        state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 'gone';
      } catch {
        state = 'gone';
      }
      assert.ok(state === 'gone' || state === 'Z', `the compiler's child was killed (state ${state})`);
    } finally {
      lsp.kill();
    }
  });
});
