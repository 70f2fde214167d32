// Worker thread of the workspace indexer: one AuditEngine per thread (its own
// parser and header cache), source-only audits of files the main thread read.

import { resolve } from 'node:path';
import { readTextOrUndefined } from '../fs/safeRead';
import { parentPort } from 'node:worker_threads';
import { AuditEngine } from '../audit/engine';
import { batchHost } from '../audit/sources';
import { findingFingerprints } from '../audit/report/fingerprint';
import { relativeTo } from '../audit/report/provenance';
import { deepestFolder, TreeRoots } from './treeRoot';
import type { FileAudit } from '../audit/engine';
import type { FromWorker, IndexedFile, ToWorker } from './types';

const port = parentPort!;
let folders: string[] = [];

/**
 * Headers are read only inside the workspace folders (as the server's host does),
 * judged after symlinks are resolved, and only regular files under the size cap: a
 * quoted `zero.h -> /dev/zero` took a worker to 2.5 GB when only the path text was checked.
 */
function readInside(p: string): string | undefined {
  return readTextOrUndefined(resolve(p), { roots: folders });
}

/** Tree roots by the language server's triage rule: fingerprints are keyed on them. */
let roots = new TreeRoots((p) => deepestFolder(folders, p));
const rootOf = (path: string) => roots.rootOf(path);

/** What the index keeps of an audit: counts and one small record per finding (types.ts). */
function summarise(path: string, hash: string, text: string, a: FileAudit): IndexedFile {
  const fps = a.findings.length ? findingFingerprints(relativeTo(rootOf(path), path), text, a) : [];
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
      fingerprint: fps[i]!,
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
      // The index is the source view; objects are joined when a file is opened.
      engine.configure({ ...m.config, objects: undefined });
      return;
    }
    try {
      if (m.headersOnly && !engine.mayHoldSitesThroughHeaders(m.path, m.text)) {
        post({ type: 'no-sites', id: m.id });
        return;
      }
      const a = engine.auditOnce(m.path, m.text);
      const file = summarise(m.path, m.hash, m.text, a);
      post({ type: 'result', id: m.id, file });
    } catch (e) {
      post({ type: 'error', id: m.id, path: m.path, message: e instanceof Error ? e.message : String(e) });
    }
  });
  post({ type: 'ready' });
}

void main();
