// Real-world check of the language server on a kernel folder, as an editor would
// drive it: initialize on the folder, wait for the background index, export the
// report in all four formats, and print times and the server's peak memory.
// Usage: node --import tsx scripts/kernel/lsp-workspace.ts <folder> [outDir]
// (needs `npm run build`; not part of the default tests)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LspHarness, fileUri } from '../../test/lsp/harness';

async function main(): Promise<void> {
  const root = resolve(process.argv[2] ?? '.');
  const out = resolve(process.argv[3] ?? '/tmp/tdx-audit-lsp-report');
  const lsp = LspHarness.spawn({ debounceMs: 50 });
  const t0 = Date.now();
  await lsp.initialize(root);
  let s: any = null;
  while (!s) {
    s = await lsp.conn.sendRequest('tdxAudit/workspaceSummary');
    if (!s) await new Promise((r) => setTimeout(r, 200));
  }
  const tIndex = (Date.now() - t0) / 1000;
  const t1 = Date.now();
  const r: any = await lsp.conn.sendRequest('tdxAudit/exportReport', { outputDir: fileUri(out), formats: ['sarif', 'html', 'markdown', 'json'], overwrite: true });
  const tExport = (Date.now() - t1) / 1000;
  const status = readFileSync(`/proc/${lsp.child.pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+)/.exec(status)?.[1];
  console.log(`folder ${root}`);
  console.log(`index: ${tIndex.toFixed(1)} s, ${s.totals.files} files with sites (${s.skipped} skipped by the pre-filter), ${s.totals.sites} sites, ${s.totals.errors} errors, ${s.failures.length} failures`);
  console.log(`export: ${tExport.toFixed(1)} s, ${r?.written?.length ?? 0} files, ${r?.findings ?? 0} findings -> ${out}`);
  console.log(`server peak RSS (main process, workers included): ${hwm ? (Number(hwm) / 1024).toFixed(0) : '?'} MB`);
  await lsp.shutdown().catch(() => undefined);
  lsp.kill();
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
