// tdxAudit.objects.pathMap over LSP: a vmlinux-like image whose DWARF names the
// source under a build prefix (gcc -fdebug-prefix-map) gives compiled forms for the
// workspace's file only once the setting maps that prefix to the workspace.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, LspHarness, SERVER, fileUri, positionOf } from './harness';
import { gcc, hasGcc } from '../support/gcc';


describe('tdxAudit.objects.pathMap over LSP', { skip: hasGcc ? false : 'gcc is not installed: needed to build the fixture image' }, () => {
  let dir = '';
  let ws = '';
  let vmlinux = '';
  let uri = '';
  let text = '';
  const servers: LspHarness[] = [];

  before(() => {
    assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
    dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-pathmap-'));
    // Built in build/drivers, named /build/x/drivers/foo_nic.c; the workspace has it in net/.
    mkdirSync(join(dir, 'build', 'drivers'), { recursive: true });
    ws = join(dir, 'ws');
    mkdirSync(join(ws, 'net'), { recursive: true });
    for (const f of ['foo_nic.c', 'tdx_io.h']) {
      copyFileSync(join(FIXTURES, f), join(dir, 'build', 'drivers', f));
      copyFileSync(join(FIXTURES, f), join(ws, 'net', f));
    }
    vmlinux = join(dir, 'vmlinux');
    gcc(['-O2', '-g', '-nostdlib', '-static', '-fno-pie', '-no-pie', '-Wl,-e,foo_poll', '-Wl,--unresolved-symbols=ignore-all',
      `-fdebug-prefix-map=${join(dir, 'build')}=/build/x`, '-o', vmlinux, join(dir, 'build', 'drivers', 'foo_nic.c')], dir);
    uri = fileUri(join(ws, 'net', 'foo_nic.c'));
    text = readFileSync(join(ws, 'net', 'foo_nic.c'), 'utf8');
  });
  after(() => {
    for (const s of servers) s.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  async function kickMessage(objects: Record<string, unknown>): Promise<{ message: string; summary: any }> {
    const lsp = LspHarness.spawn({ debounceMs: 50, objects });
    servers.push(lsp);
    await lsp.initialize(ws);
    await lsp.open(uri, text, 1);
    const diags = await lsp.diagnosticsFor(uri, 1);
    const kick = diags.find((d) => d.range.start.line === positionOf(text, 'fp->ovl->ctrl |= 1').line);
    assert.ok(kick, 'the read-modify-write site');
    const summary: any = await lsp.conn.sendRequest('tdxAudit/fileSummary', { uri });
    return { message: String(kick.message), summary };
  }

  test('without a mapping the image is not joined: a unit of the same file name in another folder of the tree is another file', async () => {
    const { message, summary } = await kickMessage({ vmlinux });
    assert.doesNotMatch(message, /or dword ptr/);
    assert.equal(summary.object.state, 'missing');
  });

  test('with pathMap {"/build/x/drivers": "${workspaceFolder}/net"} the image\'s instruction is the diagnostic\'s', async () => {
    const { message, summary } = await kickMessage({ vmlinux, pathMap: { '/build/x/drivers': '${workspaceFolder}/net' } });
    assert.match(message, /or dword ptr \[rax\],1/);
    assert.equal(summary.object.path, vmlinux);
  });
});
