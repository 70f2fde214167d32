// The editor's whole-workspace export after the background index, with the index's
// report rows reused (index/spool.ts) and without (the same build, its spool folder
// unmakeable: XDG_CACHE_HOME names a file), in the same run.
//
//   node --import tsx test/bench/export-reuse.ts [DIR ...] [--reuse-only] [--write]   (default: drivers/net)
//
// --reuse-only measures the reuse mode alone (the server's RSS after indexing and
// after exporting a large tree such as drivers/, when the peer would take too long).
//
// Per mode: `node dist/server.js --stdio` under nice + GNU time, one workspace folder
// (untrusted, default settings, as server-index.ts), waits for the "Workspace index"
// log line, waits TDX_BENCH_IDLE_S (default 40) so the index's worker threads end,
// then asks tdxAudit/exportReport for the whole folder in all four formats. Export
// time is the request's wall time; its CPU time is the server's utime+stime
// (/proc/PID/stat) across the request; RSS is VmRSS after the index, when idle,
// right after the export and TDX_BENCH_AFTER_S (default 30) seconds later. Peak RSS (GNU time) covers the worker threads.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTree, fmtMiB, fmtMs, fmtRatio, gitHead, log, machine, Md, NICE, ROOT, spawnBenchServer, timedChildPid, vmRssKiB, writeSection } from './lib';

interface Run {
  mode: 'reuse' | 'no reuse';
  indexMs: number;
  indexLog: string;
  rssIndexKiB: number;
  rssIdleKiB: number;
  exportMs: number;
  exportCpuS: number;
  rssExportKiB: number;
  /** VmRSS TDX_BENCH_AFTER_S (default 30) seconds after the export answered. */
  rssLaterKiB: number;
  peakKiB: number;
  cpuS: number;
  findings: number;
  reuse: string;
  load: string;
}

const TICK = 100; // USER_HZ on Linux

function cpuS(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return NaN;
  }
}
const loadNow = () => loadavg().map((x) => x.toFixed(2)).join(' ');

function measure(dir: string, mode: Run['mode'], idleS: number, server: string, afterS: number): Promise<Run> {
  const tdir = mkdtempSync(join(tmpdir(), 'tdx-bench-export-'));
  const timeFile = join(tdir, 'time');
  // Without reuse: the spool folder cannot be made (the cache "folder" is a file), so the index writes no rows and the export audits every file.
  const cache = join(tdir, 'cache');
  if (mode === 'no reuse') writeFileSync(cache, '');
  const srv = spawnBenchServer(server, timeFile, { ...process.env, XDG_CACHE_HOME: cache });
  const { child, send, request } = srv;
  const t0 = performance.now();
  return new Promise<Run>((res, rej) => {
    const partial: Partial<Run> = { mode, load: loadNow() };
    srv.onLog = (s) => {
      if (!s.startsWith('Workspace index:') || partial.indexLog) return;
      partial.indexMs = performance.now() - t0;
      partial.indexLog = s;
      const pid = timedChildPid(child.pid);
      partial.rssIndexKiB = vmRssKiB(pid);
      void (async () => {
        await new Promise((r) => setTimeout(r, idleS * 1000));
        partial.rssIdleKiB = vmRssKiB(pid);
        const c0 = cpuS(pid);
        const e0 = performance.now();
        const r = (await request('tdxAudit/exportReport', { outputDir: pathToFileURL(join(tdir, 'out')).href, formats: ['sarif', 'html', 'markdown', 'json'], overwrite: true })) as { findings?: number; reuse?: string } | null;
        partial.exportMs = performance.now() - e0;
        partial.exportCpuS = cpuS(pid) - c0;
        partial.rssExportKiB = vmRssKiB(pid);
        partial.findings = r?.findings ?? NaN;
        partial.reuse = r?.reuse ?? '';
        await new Promise((res) => setTimeout(res, afterS * 1000));
        partial.rssLaterKiB = vmRssKiB(pid);
        await request('shutdown', null);
        send({ method: 'exit' });
      })();
    };
    child.on('close', () => {
      try {
        const t = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
        partial.peakKiB = t[0]!;
        partial.cpuS = t[1]! + t[2]!;
      } catch {
        /* killed */
      }
      rmSync(tdir, { recursive: true, force: true });
      if (partial.exportMs === undefined) rej(new Error(`server ended before exporting ${dir}`));
      else res(partial as Run);
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
  const idleS = Number(process.env.TDX_BENCH_IDLE_S ?? 40);
  const afterS = Number(process.env.TDX_BENCH_AFTER_S ?? 30);
  const server = process.env.TDX_BENCH_SERVER ?? join(ROOT, 'dist/server.js');
  const md = new Md();
  md.line('### Editor export after the workspace index: rows reused vs audited again');
  md.line();
  md.line(`${machine()}; tdx-audit ${gitHead()}. \`node dist/server.js --stdio\` under nice ${NICE}, one workspace folder, untrusted (source audit), default settings; index, ${idleS} s idle (the index's threads end), then tdxAudit/exportReport of the whole folder in all four formats. "no reuse" is the same build with its spool folder unmakeable (XDG_CACHE_HOME names a file), so every file is audited again, as before this change. Both modes in the same run, one after the other.`);
  md.line();
  md.line(`| folder | mode | index | export wall | export CPU s | ratio (export wall) | RSS indexed | RSS idle | RSS after export | RSS ${afterS} s later | peak RSS | total CPU s | findings | load avg at start | export says |`);
  md.line('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const d of dirs.length ? dirs : [join(tree, 'drivers', 'net')]) {
    const runs: Run[] = [];
    for (const mode of process.argv.includes('--reuse-only') ? (['reuse'] as const) : (['no reuse', 'reuse'] as const)) {
      log(`export ${mode}: ${d}`);
      runs.push(await measure(d, mode, idleS, server, afterS));
    }
    const base = runs[0]!.exportMs;
    for (const m of runs) {
      md.line(`| ${d.startsWith(tree) ? d.slice(tree.length + 1) + '/' : d} | ${m.mode} | ${fmtMs(m.indexMs)} | ${fmtMs(m.exportMs)} | ${m.exportCpuS.toFixed(1)} | ${fmtRatio(m.exportMs / base)} | ${fmtMiB(m.rssIndexKiB)} | ${fmtMiB(m.rssIdleKiB)} | ${fmtMiB(m.rssExportKiB)} | ${fmtMiB(m.rssLaterKiB)} | ${fmtMiB(m.peakKiB)} | ${m.cpuS.toFixed(1)} | ${m.findings} | ${m.load} | ${m.reuse.replace(/\|/g, '\\|')} |`);
    }
  }
  md.line();
  md.line(`Load average at the end: ${loadNow()}.`);
  writeSection('export-reuse', md.text());
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
