// An adversarial workspace (issue 12): a cloned tree whose names are symlinks to
// /dev/zero, FIFOs, directory loops, huge and sparse files, a 2 GB non-ELF vmlinux, a
// vmlinux symlink loop, a FIFO compile database, with concurrent triage writers.
// The CLI and the server must finish, stay small (RSS sampled from /proc, not
// `ulimit -v`, which breaks WASM), say clearly what they skipped, and lose no
// decision. Limits are generous (2 shared cores): a hang or a blow-up is the target.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sampleRss } from '../support/proc';
import { FIXTURES, LspHarness, SERVER, fileUri } from '../lsp/harness';
import { loadTriage, triagePathFor } from '../../server/src/audit/report/triage';

const CLI = resolve(__dirname, '../../dist/cli.js');
const MAX_RSS_MIB = 600;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The hostile tree. `triage` decides whether .tdx-audit/triage.json is a /dev/zero link. */
function hostileTree(opts: { zeroTriage: boolean }): string {
  const root = mkdtempSync(join(tmpdir(), 'tdx-adversarial-'));
  dirs.push(root);
  const drv = join(root, 'drivers', 'foo');
  mkdirSync(drv, { recursive: true });
  copyFileSync(join(FIXTURES, 'foo_nic.c'), join(drv, 'foo_nic.c'));
  copyFileSync(join(FIXTURES, 'tdx_io.h'), join(drv, 'tdx_io.h'));
  symlinkSync('/dev/zero', join(root, 'Makefile')); // the tree-root search reads it
  symlinkSync('/dev/zero', join(root, '.config'));
  if (opts.zeroTriage) {
    mkdirSync(join(root, '.tdx-audit'));
    symlinkSync('/dev/zero', join(root, '.tdx-audit', 'triage.json'));
  }
  symlinkSync('/dev/zero', join(drv, 'zero.h'));
  symlinkSync('/dev/zero', join(drv, 'z.c'));
  writeFileSync(join(drv, 'inc.c'), '#include "zero.h"\n#include "/dev/zero"\n#include "fifo.h"\n#include "tdx_io.h"\nvoid f(void __iomem *p) { writel(1, p); }\n');
  execFileSync('mkfifo', [join(drv, 'f.c')]);
  execFileSync('mkfifo', [join(drv, 'fifo.h')]);
  execFileSync('mkfifo', [join(root, 'compile_commands.json')]);
  symlinkSync('.', join(drv, 'l1'));
  symlinkSync('.', join(drv, 'l2'));
  symlinkSync('..', join(drv, 'up'));
  // 40 MB of C over the size policy (sparse: stat says 40 MB, the disk holds nothing).
  let fd = openSync(join(drv, 'huge.c'), 'w');
  ftruncateSync(fd, 40 << 20);
  closeSync(fd);
  fd = openSync(join(root, 'vmlinux'), 'w');
  ftruncateSync(fd, 2 * 1024 ** 3);
  closeSync(fd);
  symlinkSync(join(root, 'loop2'), join(root, 'loop1'));
  symlinkSync(join(root, 'loop1'), join(root, 'loop2'));
  return root;
}

function run(argv: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string; peak: number; ms: number }> {
  return new Promise((res) => {
    const t0 = Date.now();
    const c = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const s = sampleRss(c.pid!);
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(kill);
      res({ code, stdout, stderr, peak: s.stop(), ms: Date.now() - t0 });
    });
  });
}

const skip = existsSync(CLI) && existsSync(SERVER) ? false : 'dist/ missing: run npm run build';

describe('the CLI on a hostile tree', { skip }, () => {
  test('scan finishes, stays small, lists every file once and says what it skipped and why', async () => {
    const root = hostileTree({ zeroTriage: true });
    const r = await run([CLI, 'scan', root, '--format', 'json', '--exit-zero']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.peak < MAX_RSS_MIB, `peak RSS ${r.peak.toFixed(0)} MiB`);
    const j = JSON.parse(r.stdout);
    const files = (j.files as { file: string }[]).map((f) => f.file);
    assert.equal(files.filter((f) => f.endsWith('foo_nic.c')).length, 1, `foo_nic.c once: ${files.join(', ')}`);
    assert.match(r.stderr, /f\.c: skipped: a FIFO, not a regular file/);
    assert.match(r.stderr, /z\.c: skipped: a character device, not a regular file/);
    assert.match(r.stderr, /huge\.c: skipped: too large \(40 MB > 32 MB\)/);
  });

  test('report finishes with the /dev/zero Makefile, .config and triage.json, naming the triage problem', async () => {
    const root = hostileTree({ zeroTriage: true });
    const r = await run([CLI, 'report', root, '--out', join(root, 'out'), '--format', 'json']);
    assert.ok(r.peak < MAX_RSS_MIB, `peak RSS ${r.peak.toFixed(0)} MiB`);
    assert.match(r.stderr, /triage\.json: skipped: a character device, not a regular file/);
  });

  test('a 2 GB non-ELF vmlinux is refused after its header, a vmlinux loop is said as a loop', async () => {
    const root = hostileTree({ zeroTriage: false });
    const big = await run([CLI, 'scan', '--vmlinux', join(root, 'vmlinux')]);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /not an ELF file/);
    assert.ok(big.peak < 200, `peak RSS ${big.peak.toFixed(0)} MiB`);
    const loop = await run([CLI, 'scan', '--vmlinux', join(root, 'loop1')]);
    assert.match(loop.stderr, /symlink loop/);
  });
});

describe('the server on a hostile tree', { skip }, () => {
  test('diagnostics and hover work, the index ends, memory stays bounded, problems are logged not fatal', async () => {
    const root = hostileTree({ zeroTriage: true });
    const lsp = LspHarness.spawn({ debounceMs: 50, objects: { enable: true, vmlinux: join(root, 'vmlinux') }, compile: { onSave: true } });
    const s = sampleRss(lsp.child.pid!);
    try {
      await lsp.initialize(root);
      const uri = fileUri(join(root, 'drivers', 'foo', 'inc.c'));
      await lsp.open(uri, readFileSync(join(root, 'drivers', 'foo', 'inc.c'), 'utf8'), 1);
      const d = await lsp.diagnosticsFor(uri, 1, 60_000);
      assert.ok(d.some((x) => x.code === 'tdx-ve-mmio'), JSON.stringify(d));
      const hover = await lsp.conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 30 } });
      assert.ok(hover, 'hover answers');
      // The FIFO compile database is refused, not waited on.
      const msg = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.compileFile', arguments: [uri] });
      assert.ok(typeof msg === 'string');
      const idx = await lsp.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.reindexWorkspace', arguments: [] });
      assert.match(String(idx), /Indexed/);
      await lsp.waitFor('the triage problem in the log', () => lsp.logs.find((l) => /triage\.json: skipped: a character device/.test(l)), 30_000);
      assert.ok(s.peak < MAX_RSS_MIB, `server peak RSS ${s.peak.toFixed(0)} MiB`);
    } finally {
      s.stop();
      lsp.kill();
    }
  });

  test('two servers setting 14 decisions each on one tree: all 28 are on disk', async () => {
    const root = hostileTree({ zeroTriage: false });
    writeFileSync(join(root, 'drivers', 'foo', 'Makefile'), 'obj-y += foo_nic.o\n');
    rmSync(join(root, 'Makefile'));
    writeFileSync(join(root, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\n');
    const servers = [LspHarness.spawn({ debounceMs: 50 }), LspHarness.spawn({ debounceMs: 50 })];
    try {
      await Promise.all(servers.map((l) => l.initialize(root)));
      const uri = fileUri(join(root, 'drivers', 'foo', 'foo_nic.c'));
      const answers = await Promise.all(
        servers.flatMap((l, k) =>
          Array.from({ length: 14 }, (_, i) =>
            l.conn.sendRequest('workspace/executeCommand', { command: 'tdxAudit.setTriage', arguments: [uri, `${k}${'0'.repeat(29)}${String(i).padStart(2, '0')}`, 'safe'] }),
          ),
        ),
      );
      assert.ok(answers.every((a) => /safe: saved/.test(String(a))), JSON.stringify(answers));
      const t = loadTriage(triagePathFor(root))!;
      assert.equal(Object.keys(t.entries).length, 28);
    } finally {
      for (const l of servers) l.kill();
    }
  });
});
