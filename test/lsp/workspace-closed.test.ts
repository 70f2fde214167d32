// The workspace view keeps the entry of a document the editor audited once it is
// closed, while the file on disk is the text it audited (workspace.ts). The text's
// hash is taken at the close, not at every audit: these prove the entry still goes
// exactly when the disk text differs (an unsaved edit dropped, a later change on disk).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkspaceView } from '../../server/src/lsp/workspace';
import type { FileAudit } from '../../server/src/audit/engine';

const audit = (file: string): FileAudit => ({ file, version: 1, analysis: { sites: [], functions: [], parseErrors: 0 }, findings: [], ms: 0 });

test('a closed document keeps its view entry while the disk holds the audited text, and loses it otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-view-closed-'));
  const v = new WorkspaceView(() => true, () => undefined, () => [dir], () => undefined);
  try {
    const a = join(dir, 'a.c');
    const b = join(dir, 'b.c');
    writeFileSync(a, 'int a;\n');
    writeFileSync(b, 'int b;\n');
    // a: audited as saved, then edited (the last audit is of the edited text) and saved again.
    v.audited(a, 'int a;\n', audit(a), undefined);
    v.audited(a, 'int a2;\n', audit(a), undefined);
    writeFileSync(a, 'int a2;\n');
    // b: closed with an unsaved edit.
    v.audited(b, 'int b2;\n', audit(b), undefined);
    v.closed(a);
    v.closed(b);
    assert.ok(v.fileCounts().has(a), 'the disk holds the last audited text: the entry stays');
    assert.ok(!v.fileCounts().has(b), 'an unsaved edit: the entry goes');
    v.changedOnDisk(a);
    assert.ok(v.fileCounts().has(a), 'a change event with the same text keeps it');
    writeFileSync(a, 'int a3;\n');
    v.changedOnDisk(a);
    assert.ok(!v.fileCounts().has(a), 'another text on disk: the entry goes');
  } finally {
    v.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
