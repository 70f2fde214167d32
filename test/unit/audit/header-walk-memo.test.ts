// An editor's engine keeps a file's header walk between two audits while its host's
// headerEpoch (lsp/files.ts: changes on disk the client reports, other open
// documents' edits) and the file's include lines stay the same: at a keystroke the
// walk of a NIC driver's ~970 kernel headers cost more than the audit of the edit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditEngine } from '../../../server/src/audit/engine';
import { readTextOrUndefined } from '../../../server/src/fs/safeRead';
import { DocumentStore } from '../../../server/src/lsp/documents';
import { WorkspaceFiles } from '../../../server/src/lsp/files';

const SRC = '#include "regs.h"\nvoid f(void __iomem *p) { rd_a(p); rd_b(p); }\n';

async function withTree(run: (dir: string, hdr: string, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-walks-'));
  try {
    const hdr = join(dir, 'regs.h');
    writeFileSync(hdr, '#define rd_a(p) readl(p)\n');
    await run(dir, hdr, join(dir, 'x.c'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the walk is kept while the epoch and the include lines stay, and done again when either changes', async () => {
  await withTree(async (_dir, hdr, file) => {
    let epoch = 0;
    const reads: string[] = [];
    const e = await AuditEngine.create({ readFile: (p) => (p.endsWith('.h') && reads.push(p), readTextOrUndefined(p)), headerEpoch: () => epoch });
    assert.equal(e.audit(file, SRC, 1).analysis.sites.length, 1);
    assert.deepEqual(reads, [hdr]);
    reads.length = 0;
    assert.equal(e.audit(file, SRC.replace('rd_b(p);', 'rd_b(p); rd_a(p);'), 2).analysis.sites.length, 2, 'an edit in a body');
    assert.deepEqual(reads, [], 'same epoch, same include lines: no header read');
    // Changed on disk and reported: walked again, the new wrapper seen.
    writeFileSync(hdr, '#define rd_a(p) readl(p)\n#define rd_b(p) readw(p)\n');
    epoch++;
    assert.equal(e.audit(file, SRC, 3).analysis.sites.length, 2);
    assert.deepEqual(reads, [hdr]);
    reads.length = 0;
    // An include line moved (what is not followed is said at its line): walked again.
    const moved = '\n' + SRC + '#include "absent.h"\n';
    const a = e.audit(file, moved, 4);
    assert.deepEqual(reads, [hdr, join(_dir, 'absent.h')]);
    assert.equal(a.notFollowed?.[0]?.line, 3);
  });
});

test('without an epoch (no watchers: nothing reports disk changes) every audit walks again', async () => {
  await withTree(async (_dir, hdr, file) => {
    const reads: string[] = [];
    const e = await AuditEngine.create({ readFile: (p) => (p.endsWith('.h') && reads.push(p), readTextOrUndefined(p)), headerEpoch: () => undefined });
    e.audit(file, SRC, 1);
    writeFileSync(hdr, '#define rd_a(p) readl(p)\n#define rd_b(p) readw(p)\n');
    assert.equal(e.audit(file, SRC + '\n', 2).analysis.sites.length, 2, 'the header change is seen without a report');
    assert.equal(reads.length, 2);
  });
});

test("the workspace's epoch moves with disk changes and other documents' edits, not with the audited document's own", async () => {
  await withTree(async (dir, hdr, file) => {
    const docs = new DocumentStore();
    const files = new WorkspaceFiles(docs, () => undefined);
    files.setFolders([pathToFileURL(dir).href]);
    const uri = pathToFileURL(file).href;
    const hdrUri = pathToFileURL(hdr).href;
    assert.equal(files.headerEpoch(uri), undefined, 'no watchers registered: no epoch');
    files.watching = true;
    docs.open({ textDocument: { uri, languageId: 'c', version: 1, text: SRC } });
    const e0 = files.headerEpoch(uri);
    docs.change({ textDocument: { uri, version: 2 }, contentChanges: [{ text: SRC + '\n' }] });
    assert.equal(files.headerEpoch(uri), e0, "the file's own edit");
    docs.open({ textDocument: { uri: hdrUri, languageId: 'c', version: 1, text: '#define rd_b(p) readw(p)\n' } });
    const e1 = files.headerEpoch(uri);
    assert.notEqual(e1, e0, 'a header opened (its buffer is what the walk reads now)');
    docs.change({ textDocument: { uri: hdrUri, version: 2 }, contentChanges: [{ text: '' }] });
    const e2 = files.headerEpoch(uri);
    assert.notEqual(e2, e1, 'a header edited');
    files.changedOnDisk();
    assert.notEqual(files.headerEpoch(uri), e2, 'a change on disk');
    // End to end: the engine on this host sees the header buffer's edit at once.
    const e = await AuditEngine.create(files);
    docs.change({ textDocument: { uri: hdrUri, version: 3 }, contentChanges: [{ text: '#define rd_a(p) readl(p)\n' }] });
    assert.equal(e.audit(uri, SRC, 1).analysis.sites.length, 1);
    docs.change({ textDocument: { uri: hdrUri, version: 4 }, contentChanges: [{ text: '#define rd_a(p) readl(p)\n#define rd_b(p) readw(p)\n' }] });
    assert.equal(e.audit(uri, SRC, 2).analysis.sites.length, 2, "the header buffer's edit is seen");
  });
});
