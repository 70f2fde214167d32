// The harness must let a test process exit after a server was killed in the middle of
// writing a message (vscode-jsonrpc's reader re-arms its partial-message timer for
// ever otherwise: a whole-suite run once hung on that).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LspHarness } from './harness';

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('a server killed mid-message leaves no timer behind in the test process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-partial-'));
  try {
    // A "server" that writes the header and the first byte of a body, then waits to be killed.
    const server = join(dir, 'partial-server.js');
    writeFileSync(server, `process.stdout.write('Content-Length: 100\\r\\n\\r\\n{', () => setInterval(() => {}, 1000));\n`);
    const before = timeouts();
    const lsp = LspHarness.spawn({}, [], server);
    // Long enough for the partial message to arrive and the reader to see it.
    await new Promise((r) => setTimeout(r, 500));
    lsp.kill();
    await lsp.exited;
    await new Promise((r) => setImmediate(r));
    assert.equal(timeouts(), before, `timers left: ${JSON.stringify(process.getActiveResourcesInfo())}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
