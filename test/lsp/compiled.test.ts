// The built server over stdio with an object beside the source: diagnostics carry
// the verdict, hover the compiled instruction, tdxAudit/compiledForm the annotated
// disassembly, and tdxAudit.compileFile compiles from compile_commands.json.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LspHarness, SERVER, fileUri, positionOf } from './harness';
import { GCC_FLAGS, compileObject, copyFormsFixture, hasGcc } from '../support/gcc';

const FIX = resolve(__dirname, '../fixtures');

describe('compiled forms over LSP', { skip: hasGcc ? false : 'gcc is not installed: needed to build the fixture object' }, () => {
  let dir = '';
  let lsp: LspHarness;
  let uri = '';
  let text = '';

  before(async () => {
    assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
    dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-obj-'));
    copyFormsFixture(dir, FIX);
    compileObject('forms.c', dir, GCC_FLAGS.forms);
    lsp = LspHarness.spawn({ debounceMs: 50 });
    await lsp.initialize(dir);
    uri = fileUri(join(dir, 'forms.c'));
    text = readFileSync(join(dir, 'forms.c'), 'utf8');
    await lsp.open(uri, text, 1);
  });
  after(() => {
    lsp?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a rejected instruction is an Error naming it; a mis-emulated one a Warning', async () => {
    const diags = await lsp.diagnosticsFor(uri, 1);
    const rmw = diags.find((d) => d.range.start.line === positionOf(text, 'd->r->ctrl').line);
    assert.ok(rmw);
    assert.equal(rmw.severity, 1);
    assert.match(String(rmw.message), /or dword ptr \[rax\],1/);
    const zext = diags.find((d) => d.range.start.line === positionOf(text, 'd->r->mac[2]').line);
    assert.equal(zext?.severity, 2);
    assert.match(String(zext!.message), /movzx eax,byte ptr/);
  });

  test('an untrusted workspace reads no object, not even the .o beside the source (source audit only)', async () => {
    const untrusted = LspHarness.spawn({ debounceMs: 50 });
    try {
      await untrusted.initialize(dir, { trusted: false });
      await untrusted.open(uri, text, 1);
      const diags = await untrusted.diagnosticsFor(uri, 1);
      const rmw = diags.find((d) => d.range.start.line === positionOf(text, 'd->r->ctrl').line);
      assert.ok(rmw);
      assert.doesNotMatch(String(rmw.message), /or dword ptr/);
      const h: any = await untrusted.conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(text, 'ctrl |= 1') });
      assert.doesNotMatch(String(h?.contents?.value ?? ''), /83 08 01/);
    } finally {
      untrusted.kill();
    }
  });

  test('hover names the compiled instruction, its bytes, function+offset and verdict', async () => {
    const h: any = await lsp.conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(text, 'ctrl |= 1') });
    const md: string = h.contents.value;
    assert.match(md, /83 08 01/);
    assert.match(md, /rmw_or\+0x4/);
    assert.match(md, /not decodable/);
  });

  test('tdxAudit/compiledForm renders the function with its MMIO instructions marked', async () => {
    const r: any = await lsp.conn.sendRequest('tdxAudit/compiledForm', { uri, position: positionOf(text, 'ctrl |= 1') });
    assert.equal(r.function, 'rmw_or');
    assert.match(r.content, /or dword ptr \[rax\],1.*decode-failed/);
    assert.match(r.content, /d->r->ctrl \|= 1/, 'source line interleaved');
    assert.equal(r.message, '');
  });

  test('fileSummary names the symbols holding the instructions (the object view)', async () => {
    const s: any = await lsp.conn.sendRequest('tdxAudit/fileSummary', { uri });
    assert.equal(s.object.state, 'fresh');
    const rmw = s.objectFunctions.find((f: any) => f.name === 'rmw_or');
    assert.deepEqual(rmw, { name: 'rmw_or', instructions: 1, verdicts: { 'decode-failed': 1 } });
  });

  test('tdxAudit.compileFile compiles from compile_commands.json and re-audits with the new object', async () => {
    rmSync(join(dir, 'forms.o'));
    writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify([{ directory: dir, file: 'forms.c', arguments: ['gcc', '-O2', '-mno-sse', '-c', '-o', 'forms.o', 'forms.c'] }]));
    const before = lsp.diagnostics.length;
    const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [uri] });
    assert.match(String(msg), /Compiled forms\.c/);
    assert.equal(existsSync(join(dir, 'forms.o')), false, 'the workspace tree is not written');
    const p = await lsp.nextDiagnostics(uri, before);
    assert.ok(p.diagnostics.some((d) => /or dword ptr/.test(String(d.message))));
  });
});
