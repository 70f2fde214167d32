// Where Export Audit Report writes by default: ~/tdx-audit-reports/<workspace folder
// name>. Outside the tree, so that a report never lands in a kernel tree's `git
// status`, is never picked up by the next walk of the tree as a source, and is never
// in a folder `make clean` removes; under the home folder rather than the OS temp
// folder, which is cleared at reboot while a report is something a maintainer
// attaches to a review days later. Shared by the server (a request without a folder)
// and the VS Code client (the folder it offers first); node:path and node:os only.

import { homedir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';

export const DEFAULT_EXPORT_FOLDER = '~/tdx-audit-reports/${workspaceFolderBasename}';

/**
 * The folder tdxAudit.export.folder names (default DEFAULT_EXPORT_FOLDER): `~` is
 * the home folder, `${workspaceFolderBasename}` the first folder's name ('workspace'
 * without one), `${workspaceFolder}` its path, and a relative path is under the home
 * folder, never under the tree.
 */
export function exportFolder(setting: string | undefined, folders: readonly string[], home = homedir()): string {
  const first = folders[0];
  const name = first ? basename(first) || 'workspace' : 'workspace';
  let p = (setting?.trim() || DEFAULT_EXPORT_FOLDER).replace(/\$\{workspaceFolderBasename\}/g, name);
  if (first) p = p.replace(/\$\{workspaceFolder\}/g, first);
  if (p === '~' || p.startsWith('~/')) p = join(home, p.slice(1));
  return isAbsolute(p) ? p : join(home, p);
}
