// Worker thread of the workspace indexer: one AuditEngine per thread (its own
// parser and header cache), audits of files the main thread read, with the server
// engine's configuration (objects too, when the indexer passes them). Per file it
// sends a compact summary back and writes the file's report rows to the spool
// (spool.ts), where an export takes them instead of auditing the file again.

import { resolve } from 'node:path';
import { readTextOrUndefined } from '../fs/safeRead';
import { parentPort } from 'node:worker_threads';
import { AuditEngine } from '../audit/engine';
import { batchHost } from '../audit/sources';
import { reportRowsOf, rowScope, type FileReportRows, type RowScope } from '../audit/report/model';
import { deepestFolder, TreeRoots } from './treeRoot';
import { objectSignature, reuseKey, writeEntry } from './spool';
import type { FileAudit } from '../audit/engine';
import type { FromWorker, IndexedFile, ToWorker } from './types';

const port = parentPort!;
let folders: string[] = [];
/** The spool folder rows go to; undefined: none are written. */
let spool: string | undefined;

/**
 * Headers are read only inside the workspace folders (as the server's host does),
 * judged after symlinks are resolved, and only regular files under the size cap: a
 * quoted `zero.h -> /dev/zero` took a worker to 2.5 GB when only the path text was checked.
 */
function readInside(p: string): string | undefined {
  return readTextOrUndefined(resolve(p), { roots: folders });
}

/** Tree roots by the language server's triage rule: fingerprints and rows' paths are relative to them. */
let roots = new TreeRoots((p) => deepestFolder(folders, p));
/** One row scope per root (it caches the kernel's accessor definitions). */
let scopes = new Map<string, RowScope>();
function scopeOf(path: string): RowScope {
  const t = roots.treeOf(path);
  let s = scopes.get(t.root);
  if (!s) scopes.set(t.root, (s = rowScope(t.root, t.kernel)));
  return s;
}

/** What the index keeps of an audit: counts and one small record per finding (types.ts); fingerprints are the rows'. */
function summarise(path: string, hash: string, a: FileAudit, rows: FileReportRows): IndexedFile {
  let errors = 0;
  let warnings = 0;
  for (const f of a.findings) {
    if (f.severity === 'error') errors++;
    else if (f.severity === 'warning') warnings++;
  }
  return {
    path,
    hash,
    sites: a.analysis.sites.length,
    errors,
    warnings,
    others: a.findings.length - errors - warnings,
    parseErrors: a.analysis.parseErrors,
    ms: a.ms,
    findings: a.findings.map((f, i) => ({
      rule: f.rule,
      severity: f.severity,
      line: f.site.range.start.line,
      character: f.site.range.start.character,
      function: f.site.function,
      accessor: f.site.accessor,
      message: f.message,
      // The rows list the audit's findings in its order.
      fingerprint: rows.findings[i]!.fingerprint,
    })),
  };
}

async function main(): Promise<void> {
  // Folders come with the first message; the host reads them when it is called. Not
  // a snapshot: the worker lives across index runs while the user edits headers
  // (kernel-tree headers are still not re-read while a stat says they are unchanged).
  const engine = await AuditEngine.create({ readFile: readInside, tryReadFile: (p) => batchHost(folders).tryReadFile(resolve(p)) });
  const post = (m: FromWorker) => port.postMessage(m);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'config') {
      folders = m.folders.map((f) => resolve(f));
      roots = new TreeRoots((p) => deepestFolder(folders, p));
      scopes = new Map();
      spool = m.spool;
      // The indexer decides whether objects are joined (index/indexer.ts configMessage: no vmlinux).
      engine.configure(m.config);
      return;
    }
    try {
      const config = engine.configuration;
      // Taken before the audit: an object rebuilt while it runs makes the entry stale, not wrong.
      const objects = spool ? objectSignature(engine.objects, m.path, config.objects) : '';
      const entry = (rows: FileReportRows | undefined) => {
        if (spool) writeEntry(spool, { v: 1, path: m.path, hash: m.hash, key: reuseKey(config), root: roots.rootOf(m.path), objects, ...(rows ? { rows } : {}) });
      };
      if (m.headersOnly && !engine.mayHoldSitesThroughHeaders(m.path, m.text)) {
        entry(undefined);
        post({ type: 'no-sites', id: m.id });
        return;
      }
      const a = engine.auditOnce(m.path, m.text);
      const rows = reportRowsOf({ path: m.path, audit: a, text: m.text }, scopeOf(m.path));
      entry(rows);
      const file = summarise(m.path, m.hash, a, rows);
      post({ type: 'result', id: m.id, file });
    } catch (e) {
      post({ type: 'error', id: m.id, path: m.path, message: e instanceof Error ? e.message : String(e) });
    }
  });
  post({ type: 'ready' });
}

void main();
