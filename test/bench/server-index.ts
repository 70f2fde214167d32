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
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTree, fmtMiB, fmtMs, gitHead, log, machine, Md, NICE, ROOT, writeSection } from './lib';

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

/** VmRSS (KiB) of the node process under nice -> time (time's child), or NaN. */
function serverRss(timePid: number | undefined): number {
  try {
    const kids = readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    const pid = kids[0];
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

export function measureServerIndex(dir: string, timeoutMs = 3_600_000, server = join(ROOT, 'dist/server.js'), idleS = Number(process.env.TDX_BENCH_IDLE_S ?? 45)): Promise<IndexMeasure> {
  const tdir = mkdtempSync(join(tmpdir(), 'tdx-bench-srv-'));
  const timeFile = join(tdir, 'time');
  const child = spawn('nice', ['-n', String(NICE), '/usr/bin/time', '-o', timeFile, '-f', '%M %U %S', process.execPath, server, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const t0 = performance.now();
  let buf = Buffer.alloc(0);
  let nextId = 1;
  const pending = new Map<number, (r: unknown) => void>();
  const send = (msg: object) => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }));
    child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    child.stdin.write(body);
  };
  const request = (method: string, params: unknown) => new Promise<unknown>((res) => {
    const id = nextId++;
    pending.set(id, res);
    send({ id, method, params });
  });
  let onLog: ((s: string) => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const h = buf.indexOf('\r\n\r\n');
      if (h < 0) break;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, h).toString())?.[1]);
      if (buf.length < h + 4 + len) break;
      const msg = JSON.parse(buf.subarray(h + 4, h + 4 + len).toString()) as { id?: number; method?: string; params?: { message?: string }; result?: unknown };
      buf = buf.subarray(h + 4 + len);
      if (msg.method === 'window/logMessage' && msg.params?.message) onLog?.(msg.params.message);
      else if (msg.method && msg.id !== undefined) send({ id: msg.id, result: null }); // client requests (configuration, progress create)
      else if (msg.id !== undefined && pending.has(msg.id)) {
        pending.get(msg.id)!(msg.result);
        pending.delete(msg.id);
      }
    }
  });
  child.stderr.on('data', () => undefined);
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
    onLog = (s) => {
      if (!s.startsWith('Workspace index:')) return;
      indexMs = performance.now() - t0;
      logLine = s;
      rssAtIndexKiB = serverRss(child.pid);
      void (async () => {
        await new Promise((r) => setTimeout(r, idleS * 1000));
        rssIdleKiB = serverRss(child.pid);
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
