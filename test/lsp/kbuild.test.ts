// What the TD kernel builds, in the editor (issue 16 item 5): in a kernel tree with a
// .config, every diagnostic of a file the .config does not build is faded
// (DiagnosticTag.Unnecessary), information at most, says "not built in this .config:
// <why>", and is counted apart (status item, List Sites, TDX Findings) as reports
// count it; the hover says so, and names allow-listed drivers. The Kbuild map is read
// once per tree and read again only when a Makefile or .config changes (the file
// watcher). Over stdio against the built server, on test/fixtures/kbuild (a top
// Makefile with VERSION/PATCHLEVEL, drivers/foo/Makefile with
// `obj-$(CONFIG_FOO) += foo.o` and `obj-y += bar.o`).

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Diagnostic } from 'vscode-languageserver-protocol/node';
import type { FileSummary, WorkspaceFindings } from '../../server/src/lsp/protocol';
import { addFinding, emptyCounts, groupOf } from '../../server/src/lsp/counts';
import { LspHarness, SERVER, fileUri, positionOf } from './harness';

const TREE = resolve(__dirname, '../fixtures/kbuild');
const UNNECESSARY = 1; // DiagnosticTag.Unnecessary
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of the fixture tree with `.config` from one of its config files (or none). */
function tree(config: 'foo-not-set' | 'foo-module' | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-lsp-kbuild-'));
  dirs.push(dir);
  cpSync(TREE, dir, { recursive: true });
  if (config) writeFileSync(join(dir, '.config'), readFileSync(join(TREE, `${config}.config`)));
  return dir;
}

const src = (dir: string, name: 'foo' | 'bar') => join(dir, 'drivers', 'foo', `${name}.c`);

async function openFile(h: LspHarness, path: string): Promise<{ uri: string; text: string; diags: Diagnostic[] }> {
  const uri = fileUri(path);
  const text = readFileSync(path, 'utf8');
  await h.open(uri, text, 1);
  return { uri, text, diags: await h.diagnosticsFor(uri, 1) };
}

const hoverAt = async (h: LspHarness, uri: string, text: string, needle: string): Promise<string> => {
  const r = (await h.conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(text, needle) })) as { contents: { value: string } } | null;
  return r?.contents.value ?? '';
};

/** Publishes the watcher event and waits for the file's next diagnostics. */
async function watched(h: LspHarness, uri: string, changed: string, type: 1 | 2 | 3 = 2): Promise<Diagnostic[]> {
  const n = h.diagnostics.length;
  await h.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(changed), type }] });
  return (await h.nextDiagnostics(uri, n)).diagnostics;
}

describe('not built in this .config', () => {
  before(() => assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`));

  test('a file the .config does not build: every diagnostic faded, information at most, saying why; a built file unchanged', async () => {
    const dir = tree('foo-not-set');
    const h = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
    try {
      await h.initialize(dir);
      const foo = await openFile(h, src(dir, 'foo'));
      const bar = await openFile(h, src(dir, 'bar'));
      assert.equal(foo.diags.length, bar.diags.length, 'the same findings: only their presentation differs');
      assert.ok(bar.diags.some((d) => d.severity === 1) && bar.diags.some((d) => d.severity === 2), 'bar.c (obj-y) keeps its error and warnings');
      assert.ok(bar.diags.every((d) => !d.tags?.length && !/not built/.test(String(d.message))), JSON.stringify(bar.diags));
      for (const d of foo.diags) {
        assert.deepEqual(d.tags, [UNNECESSARY], String(d.message));
        assert.ok((d.severity ?? 0) >= 3, `information at most: ${d.severity} ${d.message}`);
        assert.match(String(d.message), /^\[not built in this \.config: CONFIG_FOO is not set \(drivers\/foo\/Makefile:2\)\] /);
        assert.equal((d.data as { build?: { state?: string } }).build?.state, 'not-built');
      }
      // The rest of the message is the finding's own.
      const copy = foo.diags.find((d) => d.code === 'tdx-movs-copy')!;
      assert.equal(copy.severity, 3, 'an error becomes information, not a hint: it stays in Problems');
      assert.match(String(copy.message), /rep movsl/);
      const info = foo.diags.find((d) => d.code === 'tdx-ve-mmio')!;
      assert.equal(info.severity, 3);

      // Counted apart: no open errors or warnings, every finding not built (status item, List Sites).
      const s = (await h.conn.sendRequest('tdxAudit/fileSummary', { uri: foo.uri })) as FileSummary;
      assert.deepEqual({ errors: s.errors, warnings: s.warnings, others: s.others, triaged: s.triaged, notBuilt: s.notBuilt }, { errors: 0, warnings: 0, others: 0, triaged: 0, notBuilt: foo.diags.length });
      assert.equal(s.build?.state, 'not-built');
      assert.ok(s.items.every((i) => i.notBuilt === true));
      const b = (await h.conn.sendRequest('tdxAudit/fileSummary', { uri: bar.uri })) as FileSummary;
      assert.equal(b.notBuilt, 0);
      assert.equal(b.errors, 1);
      assert.equal(b.build?.state, 'built-in');

      // The workspace view (TDX Findings, the workspace status item): a group of its own.
      const w = (await h.conn.sendRequest('tdxAudit/workspaceFindings', {})) as WorkspaceFindings;
      assert.equal(w.totals.errors, 1, 'only bar.c\'s error is open work');
      assert.equal(w.totals.notBuilt, foo.diags.length);
      assert.deepEqual(w.groups.find((g) => g.group === 'not-built')?.files.map((f) => f.uri), [foo.uri]);
      const listed = (await h.conn.sendRequest('tdxAudit/workspaceFindings', { group: 'not-built', uri: foo.uri })) as WorkspaceFindings;
      assert.equal(listed.findings?.length, foo.diags.length);
      assert.ok(listed.findings!.every((f) => f.notBuilt === true));

      // The hover says it first, with the .config it judged by.
      const hv = await hoverAt(h, foo.uri, foo.text, '__iowrite32_copy');
      assert.match(hv, /\*\*not built in this \.config: CONFIG_FOO is not set \(drivers\/foo\/Makefile:2\)\*\*/);
      assert.ok(hv.includes(join(dir, '.config')), hv);
      assert.ok(hv.indexOf('not built in this .config') < hv.indexOf('rep movsl'), 'before the verdict');
      const hb = await hoverAt(h, bar.uri, bar.text, '__iowrite32_copy');
      assert.match(hb, /Built into the kernel by this \.config \(obj-y\)/);
      assert.doesNotMatch(hb, /not built/);
    } finally {
      h.kill();
    }
  });

  test('a module (CONFIG_FOO=m) is built: nothing faded; without a .config nothing is said', async () => {
    const dir = tree('foo-module');
    const h = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
    try {
      await h.initialize(dir);
      const foo = await openFile(h, src(dir, 'foo'));
      assert.ok(foo.diags.some((d) => d.severity === 1) && foo.diags.every((d) => !d.tags?.length), JSON.stringify(foo.diags));
      assert.match(await hoverAt(h, foo.uri, foo.text, '__iowrite32_copy'), /Built as a module by this \.config \(CONFIG_FOO=m\)/);
    } finally {
      h.kill();
    }
    const bare = tree(undefined);
    const h2 = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
    try {
      await h2.initialize(bare);
      const foo = await openFile(h2, src(bare, 'foo'));
      assert.ok(foo.diags.some((d) => d.severity === 1) && foo.diags.every((d) => !d.tags?.length && !d.data?.build));
      const s = (await h2.conn.sendRequest('tdxAudit/fileSummary', { uri: foo.uri })) as FileSummary;
      assert.equal(s.build, undefined);
      assert.doesNotMatch(await hoverAt(h2, foo.uri, foo.text, '__iowrite32_copy'), /\.config/);
    } finally {
      h2.kill();
    }
  });

  test('a changed .config is read again when the watcher says so (no restart)', async () => {
    const dir = tree('foo-not-set');
    const h = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
    try {
      await h.initialize(dir);
      const foo = await openFile(h, src(dir, 'foo'));
      assert.ok(foo.diags.every((d) => d.tags?.includes(UNNECESSARY)));
      writeFileSync(join(dir, '.config'), readFileSync(join(TREE, 'foo-module.config')));
      const after = await watched(h, foo.uri, join(dir, '.config'));
      assert.ok(after.some((d) => d.severity === 1) && after.every((d) => !d.tags?.length), JSON.stringify(after));
      // And deleted: nothing is known, nothing faded.
      rmSync(join(dir, '.config'));
      const gone = await watched(h, foo.uri, join(dir, '.config'), 3);
      assert.ok(gone.every((d) => !d.tags?.length && !/not built/.test(String(d.message))));
    } finally {
      h.kill();
    }
  });

  test('the Kbuild map is read once per tree: a Makefile edit counts only after the watcher reports it', async () => {
    const dir = tree('foo-module');
    const h = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
    try {
      await h.initialize(dir);
      const foo = await openFile(h, src(dir, 'foo'));
      assert.ok(foo.diags.every((d) => !d.tags?.length));
      // drivers/foo/foo.o now depends on a symbol the .config does not set.
      const mk = join(dir, 'drivers', 'foo', 'Makefile');
      writeFileSync(mk, readFileSync(mk, 'utf8').replace('CONFIG_FOO', 'CONFIG_FOO_NEW'));
      // An edit re-audits the file, but the cached map still says built (nothing re-walked the Makefiles).
      await h.change(foo.uri, 2, [{ text: foo.text + '\n' }]);
      const edited = await h.diagnosticsFor(foo.uri, 2);
      assert.ok(edited.every((d) => !d.tags?.length), 'cached until the watcher says the Makefile changed');
      const after = await watched(h, foo.uri, mk);
      assert.ok(after.length && after.every((d) => d.tags?.includes(UNNECESSARY)), JSON.stringify(after));
      assert.match(String(after[0]!.message), /CONFIG_FOO_NEW is not set \(drivers\/foo\/Makefile:2\)/);
    } finally {
      h.kill();
    }
  });

  test('tdxAudit.build.config and tdxAudit.build.allowList (trusted); an untrusted workspace uses only the tree\'s own .config', async () => {
    const dir = tree('foo-module');
    const settings = { debounceMs: 20, index: { enable: false }, build: { config: 'foo-not-set.config', allowList: '${workspaceFolder}/allow.list' } };
    const h = LspHarness.spawn(settings);
    try {
      await h.initialize(dir);
      const foo = await openFile(h, src(dir, 'foo'));
      assert.ok(foo.diags.every((d) => d.tags?.includes(UNNECESSARY)), 'judged by the named .config, not the tree\'s');
      const hv = await hoverAt(h, foo.uri, foo.text, '__iowrite32_copy');
      assert.ok(hv.includes(join(dir, 'foo-not-set.config')), hv);
      assert.match(hv, /Not on the driver allow-list/);
      const bar = await openFile(h, src(dir, 'bar'));
      assert.match(await hoverAt(h, bar.uri, bar.text, '__iowrite32_copy'), /\*\*Allow-listed\*\*/);
      assert.equal(((bar.diags[0]!.data as { build?: { allowed?: boolean } }).build)?.allowed, true);
      // The export judges by the same .config and list as the diagnostics.
      const out = join(dir, 'out');
      await h.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['json'] });
      const report = JSON.parse(readFileSync(join(out, 'tdx-audit.json'), 'utf8')) as { findings: { file: string; build?: { state?: string; allowed?: boolean } }[] };
      const byFile = (name: string) => report.findings.filter((f) => f.file.endsWith(`${name}.c`));
      assert.ok(byFile('foo').length && byFile('foo').every((f) => f.build?.state === 'not-built' && f.build.allowed === false), JSON.stringify(byFile('foo')[0]?.build));
      assert.ok(byFile('bar').length && byFile('bar').every((f) => f.build?.allowed === true), JSON.stringify(byFile('bar')[0]?.build));
    } finally {
      h.kill();
    }
    const u = LspHarness.spawn(settings);
    try {
      await u.initialize(dir, { trusted: false });
      const foo = await openFile(u, src(dir, 'foo'));
      assert.ok(foo.diags.some((d) => d.severity === 1) && foo.diags.every((d) => !d.tags?.length), 'the tree\'s .config (CONFIG_FOO=m), not the setting\'s');
      const hv = await hoverAt(u, foo.uri, foo.text, '__iowrite32_copy');
      assert.match(hv, /Built as a module/);
      assert.doesNotMatch(hv, /allow-list/i, 'the allow-list a setting names is not read');
      assert.match(hv, /Restricted mode: no object file of this workspace is read/);
    } finally {
      u.kill();
    }
  });

  test('a triage decision on a not-built finding wins: counted as triaged, a hint', async () => {
    const dir = tree('foo-not-set');
    const h = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
    try {
      await h.initialize(dir);
      const foo = await openFile(h, src(dir, 'foo'));
      const d = foo.diags.find((x) => x.code === 'tdx-movs-copy')!;
      const fp = (d.data as { fingerprint: string }).fingerprint;
      const n = h.diagnostics.length;
      await h.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.setTriage', arguments: [foo.uri, fp, 'safe', 'the host copies the ring'] });
      const after = (await h.nextDiagnostics(foo.uri, n)).diagnostics.find((x) => x.code === 'tdx-movs-copy')!;
      assert.equal(after.severity, 4);
      assert.match(String(after.message), /^\[triaged safe: the host copies the ring\] \[not built in this \.config/);
      const s = (await h.conn.sendRequest('tdxAudit/fileSummary', { uri: foo.uri })) as FileSummary;
      assert.equal(s.triaged, 1);
      assert.equal(s.notBuilt, foo.diags.length - 1);
    } finally {
      h.kill();
    }
  });
});

test('a hostile tree: a .config that is a FIFO and a Makefile linked to /dev/zero are skipped, never opened or read whole', { skip: process.platform === 'win32' }, async () => {
  const dir = tree(undefined);
  execFileSync('mkfifo', [join(dir, '.config')]);
  const mk = join(dir, 'drivers', 'foo', 'Makefile');
  rmSync(mk);
  symlinkSync('/dev/zero', mk);
  const h = LspHarness.spawn({ debounceMs: 20, index: { enable: false } });
  try {
    await h.initialize(dir);
    const foo = await openFile(h, src(dir, 'foo'));
    assert.ok(foo.diags.some((d) => d.severity === 1) && foo.diags.every((d) => !d.tags?.length), 'nothing known, nothing faded');
    const s = (await h.conn.sendRequest('tdxAudit/fileSummary', { uri: foo.uri })) as FileSummary;
    assert.equal(s.notBuilt, 0);
    // A .config that becomes readable is picked up (the FIFO replaced by a file).
    rmSync(join(dir, '.config'));
    writeFileSync(join(dir, '.config'), readFileSync(join(TREE, 'foo-not-set.config')));
    const after = await watched(h, foo.uri, join(dir, '.config'));
    // The Makefile naming foo.o is still /dev/zero: Kbuild cannot say, so nothing is faded.
    assert.ok(after.every((d) => !d.tags?.length), JSON.stringify(after));
  } finally {
    h.kill();
  }
});

test('counts.ts: not built is its own group, after a triage decision', () => {
  assert.equal(groupOf({ severity: 'error', notBuilt: true }), 'not-built');
  assert.equal(groupOf({ severity: 'error', notBuilt: true, dismissed: true }), 'triaged');
  const c = emptyCounts();
  for (const f of [{ severity: 'error' as const, notBuilt: true }, { severity: 'hint' as const, notBuilt: true }, { severity: 'error' as const }]) addFinding(c, f);
  assert.deepEqual(c, { sites: 0, errors: 1, warnings: 0, others: 0, triaged: 0, notBuilt: 2 });
});
