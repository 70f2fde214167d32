// Peak memory and time of the language server's background workspace index on a tree
// (issue 4: "peak memory of the CLI and of the server on all of drivers/").
//
//   node --import tsx test/bench/server-index.ts [DIR ...] [--write]   (default: all of drivers/)
//
// Starts `node dist/server.js --stdio` under nice + GNU time, initializes it with DIR as
// the only workspace folder (no client configuration: default settings, index enabled),
// waits for the server's "Workspace index: ..." log line, asks tdxAudit/workspaceSummary,
// then shutdown/exit. Peak RSS covers the index worker threads (threads of the process).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  summary: { totals?: { files: number; sites: number }; skipped?: number; capped?: boolean; ms?: number } | null;
}

export function measureServerIndex(dir: string, timeoutMs = 3_600_000): Promise<IndexMeasure> {
  const tdir = mkdtempSync(join(tmpdir(), 'tdx-bench-srv-'));
  const timeFile = join(tdir, 'time');
  const child = spawn('nice', ['-n', String(NICE), '/usr/bin/time', '-o', timeFile, '-f', '%M %U %S', process.execPath, join(ROOT, 'dist/server.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
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
    onLog = (s) => {
      if (!s.startsWith('Workspace index:')) return;
      indexMs = performance.now() - t0;
      logLine = s;
      void (async () => {
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
      else res({ dir, indexMs, wallMs, maxRssKiB, cpuS, logLine, summary });
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
  md.line(`${machine()}; tdx-audit ${gitHead()}. \`node dist/server.js --stdio\`, one workspace folder, default settings (index on, worker threads one per core), untrusted (source audit only).`);
  md.line();
  md.line('| folder | index time (initialize → "Workspace index" log) | CPU s | peak RSS | index log |');
  md.line('|---|---|---|---|---|');
  for (const d of dirs.length ? dirs : [join(tree, 'drivers')]) {
    log(`server index: ${d}`);
    const m = await measureServerIndex(d);
    md.line(`| ${d.startsWith(tree) ? d.slice(tree.length + 1) + '/' : d} | ${fmtMs(m.indexMs)} | ${m.cpuS.toFixed(1)} | ${fmtMiB(m.maxRssKiB)} | ${m.logLine.replace(/\|/g, '\\|')} |`);
  }
  writeSection('server', md.text());
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
