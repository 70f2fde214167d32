// One rule for the tree root that fingerprints are keyed on, shared by the editor's
// triage and the index's workers: the index's fingerprints are the editor's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deepestFolder, treeRootOf, TreeRoots } from '../../../server/src/index/treeRoot';
import { WorkspaceIndexer } from '../../../server/src/index/indexer';
import { TriageStore } from '../../../server/src/lsp/triage';
import { AuditEngine, DEFAULT_CONFIG } from '../../../server/src/audit/engine';

const WORKER = resolve(__dirname, '../../../dist/indexWorker.js');
const TEXT = '#include <linux/io.h>\nint f(void __iomem *p) { return readl(p + 4); }\nvoid g(void __iomem *p) { writel(1, p); }\n';

function tree(): string {
  return realpathSync(mkdtempSync(join(tmpdir(), 'tdx-root-')));
}

test('without a marker the workspace folder is the root, not the file\'s own folder', () => {
  const w = tree();
  try {
    mkdirSync(join(w, 'drv', 'sub'), { recursive: true });
    const f = join(w, 'drv', 'sub', 'a.c');
    assert.equal(treeRootOf(f, w), w);
    assert.equal(treeRootOf(f, undefined), join(w, 'drv', 'sub'), 'outside every folder: the file\'s folder');
    assert.equal(treeRootOf(join(w, 'a.c'), w), w);
  } finally {
    rmSync(w, { recursive: true, force: true });
  }
});

test('a .git or .tdx-audit marker wins over the workspace folder, also in the file\'s own folder', () => {
  const w = tree();
  try {
    mkdirSync(join(w, 'drv', 'sub'), { recursive: true });
    mkdirSync(join(w, 'drv', '.git'));
    assert.equal(treeRootOf(join(w, 'drv', 'sub', 'a.c'), w), join(w, 'drv'));
    assert.equal(treeRootOf(join(w, 'drv', 'a.c'), w), join(w, 'drv'), 'marker beside the file');
    mkdirSync(join(w, 'drv', 'sub', '.tdx-audit'));
    assert.equal(treeRootOf(join(w, 'drv', 'sub', 'a.c'), w), join(w, 'drv', 'sub'));
  } finally {
    rmSync(w, { recursive: true, force: true });
  }
});

test('a kernel Makefile above the folder makes the kernel tree the root', () => {
  const w = tree();
  try {
    mkdirSync(join(w, 'drivers', 'net'), { recursive: true });
    writeFileSync(join(w, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\n');
    assert.equal(treeRootOf(join(w, 'drivers', 'net', 'a.c'), join(w, 'drivers', 'net')), w);
  } finally {
    rmSync(w, { recursive: true, force: true });
  }
});

test('TreeRoots caches per folder and deepestFolder picks the nested workspace folder', () => {
  let asked = 0;
  const roots = new TreeRoots(() => {
    asked++;
    return '/nowhere';
  });
  roots.rootOf('/nowhere/x/a.c');
  roots.rootOf('/nowhere/x/b.c');
  assert.equal(asked, 1);
  assert.equal(deepestFolder(['/w', '/w/in'], '/w/in/a.c'), '/w/in');
  assert.equal(deepestFolder(['/w', '/w/in'], '/w/inner/a.c'), '/w');
  assert.equal(deepestFolder(['/w'], '/v/a.c'), undefined);
});

test('the index\'s fingerprints are the editor triage\'s in a tree without markers', { skip: existsSync(WORKER) ? false : 'dist/indexWorker.js not built (npm run build)' }, async () => {
  const w = tree();
  const ix = new WorkspaceIndexer(WORKER, 1, 0);
  try {
    mkdirSync(join(w, 'drv', 'sub'), { recursive: true });
    const path = join(w, 'drv', 'sub', 'a.c');
    writeFileSync(path, TEXT);
    const r = await ix.index([w], DEFAULT_CONFIG, () => undefined, { cancelled: false });
    const indexed = r.files[0]!.findings.map((f) => f.fingerprint);
    assert.equal(indexed.length, 2);
    const engine = await AuditEngine.create({ readFile: () => undefined });
    const audit = engine.auditOnce(path, readFileSync(path, 'utf8'));
    const triage = new TriageStore(() => true, (p) => deepestFolder([w], p));
    assert.equal(triage.rootOf(path), w);
    assert.deepEqual(triage.forAudit(path, TEXT, audit).items.map((i) => i.fingerprint), indexed);
  } finally {
    ix.dispose();
    rmSync(w, { recursive: true, force: true });
  }
});
