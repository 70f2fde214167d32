// Peak memory and time of the language server's background workspace index on a tree
// (issue 4: "peak memory of the CLI and of the server on all of drivers/").
//
//   node --import tsx test/bench/server-index.ts [DIR ...] [--write]   (default: all of drivers/)
//
// Starts `node dist/server.js --stdio` under nice + GNU time, initializes it with DIR as
// the only workspace folder (no client configuration: default settings, index enabled),
// waits for the server's "Workspace index: ..." log line, asks tdxAudit/workspaceSummary,
// then shutdown/exit. Peak RSS covers the index worker threads (threads of the process).
// The server's resident memory is also read from /proc when the index finishes and
// again after TDX_BENCH_IDLE_S seconds (default 45) of idleness, when the indexer has
// ended its worker threads (index/indexer.ts): what an editor session keeps.
// TDX_BENCH_SERVER=/other/dist/server.js measures another build the same way.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTree, fmtMiB, fmtMs, gitHead, log, machine, Md, ROOT, spawnBenchServer, timedChildPid, vmRssKiB, writeSection } from './lib';

export interface IndexMeasure {
  dir: string;
  indexMs: number;
  wallMs: number;
  maxRssKiB: number;
  cpuS: number;
  logLine: string;
  /** VmRSS of the server process when the index log line arrived, and after the idle wait (KiB). */
  rssAtIndexKiB: number;
  rssIdleKiB: number;
  summary: { totals?: { files: number; sites: number }; skipped?: number; capped?: boolean; ms?: number } | null;
}

export function measureServerIndex(dir: string, timeoutMs = 3_600_000, server = join(ROOT, 'dist/server.js'), idleS = Number(process.env.TDX_BENCH_IDLE_S ?? 45)): Promise<IndexMeasure> {
  const tdir = mkdtempSync(join(tmpdir(), 'tdx-bench-srv-'));
  const timeFile = join(tdir, 'time');
  const srv = spawnBenchServer(server, timeFile);
  const { child, send, request } = srv;
  const t0 = performance.now();
  return new Promise<IndexMeasure>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill();
      rej(new Error(`server index of ${dir} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    let indexMs = NaN;
    let logLine = '';
    let summary: IndexMeasure['summary'] = null;
    let rssAtIndexKiB = NaN;
    let rssIdleKiB = NaN;
    srv.onLog = (s) => {
      if (!s.startsWith('Workspace index:')) return;
      indexMs = performance.now() - t0;
      logLine = s;
      rssAtIndexKiB = vmRssKiB(timedChildPid(child.pid));
      void (async () => {
        await new Promise((r) => setTimeout(r, idleS * 1000));
        rssIdleKiB = vmRssKiB(timedChildPid(child.pid));
        summary = (await request('tdxAudit/workspaceSummary', null)) as IndexMeasure['summary'];
        await request('shutdown', null);
        send({ method: 'exit' });
      })();
    };
    child.on('close', () => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      let maxRssKiB = NaN, cpuS = NaN;
      try {
        const t = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
        maxRssKiB = t[0]!;
        cpuS = t[1]! + t[2]!;
      } catch { /* killed */ }
      rmSync(tdir, { recursive: true, force: true });
      if (!logLine) rej(new Error(`server exited before indexing ${dir}`));
      else res({ dir, indexMs, wallMs, maxRssKiB, cpuS, logLine, summary, rssAtIndexKiB, rssIdleKiB });
    });
    const uri = pathToFileURL(dir).href;
    void request('initialize', {
      processId: process.pid, rootUri: uri, workspaceFolders: [{ uri, name: 'bench' }],
      capabilities: { workspace: { workspaceFolders: true } }, initializationOptions: { trusted: false },
    }).then(() => send({ method: 'initialized', params: {} }));
  });
}

async function main(): Promise<void> {
  const tree = ensureTree();
  const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const md = new Md();
  md.line('### Language server: background workspace index');
  md.line();
  const server = process.env.TDX_BENCH_SERVER ?? join(ROOT, 'dist/server.js');
  const idleS = Number(process.env.TDX_BENCH_IDLE_S ?? 45);
  md.line(`${machine()}; tdx-audit ${gitHead()}. \`node ${server === join(ROOT, 'dist/server.js') ? 'dist/server.js' : server} --stdio\`, one workspace folder, default settings (index on, worker threads one per core), untrusted (source audit only). Load average at the start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  md.line();
  md.line(`| folder | index time (initialize → "Workspace index" log) | CPU s | peak RSS | RSS when indexed | RSS after ${idleS} s idle | index log |`);
  md.line('|---|---|---|---|---|---|---|');
  for (const d of dirs.length ? dirs : [join(tree, 'drivers')]) {
    log(`server index: ${d}`);
    const m = await measureServerIndex(d, undefined, server, idleS);
    md.line(`| ${d.startsWith(tree) ? d.slice(tree.length + 1) + '/' : d} | ${fmtMs(m.indexMs)} | ${m.cpuS.toFixed(1)} | ${fmtMiB(m.maxRssKiB)} | ${fmtMiB(m.rssAtIndexKiB)} | ${fmtMiB(m.rssIdleKiB)} | ${m.logLine.replace(/\|/g, '\\|')} |`);
  }
  md.line();
  md.line(`Load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  writeSection('server', md.text());
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
