// Export Audit Report's default folder (tdxAudit.export.folder): outside the tree,
// under the home folder, with the workspace folder's name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportFolder } from '../../server/src/lsp/exportFolder';

test('the default export folder is ~/tdx-audit-reports/<workspace folder name>, never inside the tree', () => {
  assert.equal(exportFolder(undefined, ['/src/linux-6.1'], '/home/k'), '/home/k/tdx-audit-reports/linux-6.1');
  assert.equal(exportFolder('', [], '/home/k'), '/home/k/tdx-audit-reports/workspace');
  assert.equal(exportFolder('   ', ['/src/a'], '/home/k'), '/home/k/tdx-audit-reports/a');
});

test('the setting expands ~, ${workspaceFolder} and ${workspaceFolderBasename}; a relative path is under the home folder', () => {
  assert.equal(exportFolder('/srv/reports/${workspaceFolderBasename}', ['/src/linux'], '/home/k'), '/srv/reports/linux');
  assert.equal(exportFolder('~/r', ['/src/linux'], '/home/k'), '/home/k/r');
  assert.equal(exportFolder('${workspaceFolder}/out', ['/src/linux'], '/home/k'), '/src/linux/out', 'inside the tree only when asked for');
  assert.equal(exportFolder('reports', ['/src/linux'], '/home/k'), '/home/k/reports', 'relative: not under the tree');
});
