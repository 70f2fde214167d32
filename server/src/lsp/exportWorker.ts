// Worker thread of Export Audit Report (exportThread.ts starts it, one per export):
// an engine of its own, set up as the server's (its configuration, header reads
// inside the workspace folders, open buffers first), runs the export's assembly
// (exportAssembly.ts) and sends back the outcome. The thread is ended as soon as it
// has answered, and everything it held goes with it.

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { AuditEngine } from '../audit/engine';
import { DocumentStore } from './documents';
import { assembleExport } from './exportAssembly';
import type { ExportWorkerInput, FromExportWorker, ToExportWorker } from './exportThread';
import { uriToPath, WorkspaceFiles } from './files';

const port = parentPort!;
const post = (m: FromExportWorker) => port.postMessage(m);

async function main(input: ExportWorkerInput): Promise<void> {
  const ac = new AbortController();
  port.on('message', (m: ToExportWorker) => {
    if (m.type === 'cancel') ac.abort();
  });
  const documents = new DocumentStore();
  for (const [uri, text] of input.buffers) documents.open({ textDocument: { uri, languageId: 'c', version: 0, text } });
  const files = new WorkspaceFiles(documents, (message) => post({ type: 'log', message }));
  files.setFolders(input.folders.map((f) => pathToFileURL(f).href));
  const engine = await AuditEngine.create(files);
  engine.configure(input.config);
  for (const image of input.images ?? []) engine.objects.shareImage(image);
  const byPath = new Map(input.buffers.map(([uri, text]) => [uriToPath(uri), text] as const));
  let last = 0;
  const outcome = await assembleExport(input.job, engine, {
    signal: ac.signal,
    textOf: (f) => byPath.get(f),
    buffers: byPath,
    progress: (done, total, file) => {
      const now = Date.now();
      if (now - last < 50 && done < total) return;
      last = now;
      post({ type: 'progress', done, total, file });
    },
  });
  for (const path of engine.objects.imagesFromOtherThreads()) post({ type: 'log', message: `Export Audit Report: ${path} opened from the server's copy, not read again` });
  post({ type: 'done', outcome });
}

main(workerData as ExportWorkerInput).catch((e: unknown) => post({ type: 'failed', message: e instanceof Error ? e.message : String(e) }));
