// Shared helpers of the corpus benchmarks (objects.ts, sources.ts, vmlinux.ts):
// locating (or preparing) Debian's 6.1 corpus, running a peer or our own code in a
// child process under /usr/bin/time (wall time measured here, peak RSS from time's
// %M, so both sides are measured by the same tool), and bundling a worker with
// esbuild so our side runs as plain node (no tsx transform in its time or memory).
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const KDIR = process.env.TDX_KERNEL_DIR ?? '/var/tmp/tdx-audit-kernel';
export const TREE = join(KDIR, 'linux-source-6.1');
/** Every child runs under `nice` (the machine's 2 cores are shared). */
export const NICE = Number(process.env.TDX_BENCH_NICE ?? 10);

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Spread of repeated measurements, as (max-min)/median. */
export function spread(xs: number[]): number {
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}

export const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
export const fmtMiB = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;
export const fmtRatio = (r: number): string => `${r < 0.1 ? r.toFixed(3) : r.toFixed(2)}×`;

/** A command's path, or undefined. */
export function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function firstLine(cmd: string, args: string[]): string {
  try {
    const r = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return r.split('\n')[0]!.trim();
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`.split('\n')[0]!.trim();
  }
}

/**
 * The prepared tree with the given objects built: runs scripts/kernel/prepare.sh
 * when anything is missing (root is needed only for its apt phase).
 */
export function ensureTree(objects: string[] = []): string {
  const ok = () => existsSync(join(TREE, 'Makefile')) && existsSync(join(TREE, '.config')) && objects.every((o) => existsSync(join(TREE, o)));
  if (!ok()) {
    log(`corpus incomplete under ${TREE}: running scripts/kernel/prepare.sh (minutes on first run)`);
    execFileSync('bash', [join(ROOT, 'scripts/kernel/prepare.sh')], { stdio: ['ignore', process.stderr, process.stderr] });
    if (!ok()) throw new Error(`prepare.sh did not produce the corpus under ${TREE}`);
  }
  return TREE;
}

/** Debian's vmlinux with DWARF: $TDX_VMLINUX, the default path, or scripts/kernel/fetch-vmlinux.sh. */
export function ensureVmlinux(): string {
  const env = process.env.TDX_VMLINUX;
  if (env) {
    if (!existsSync(env)) throw new Error(`TDX_VMLINUX=${env} does not exist`);
    return env;
  }
  const def = '/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64';
  if (existsSync(def)) return def;
  log('no debug vmlinux found: running scripts/kernel/fetch-vmlinux.sh (~860 MB download)');
  const out = execFileSync('bash', [join(ROOT, 'scripts/kernel/fetch-vmlinux.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', process.stderr] });
  const path = out.trim().split('\n').pop()!.trim();
  if (!existsSync(path)) throw new Error(`fetch-vmlinux.sh printed ${path}, which does not exist`);
  return path;
}

/** apt-get install a peer when missing (root only); returns its path or undefined. */
export function ensurePeer(cmd: string, pkg: string): string | undefined {
  let p = which(cmd);
  if (p) return p;
  if (process.getuid?.() === 0) {
    log(`installing ${pkg} for the ${cmd} comparison`);
    try {
      execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', pkg], {
        stdio: ['ignore', 'ignore', process.stderr], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch (e) {
      log(`apt-get install ${pkg} failed: ${(e as Error).message}`);
    }
    p = which(cmd);
  }
  if (!p) log(`${cmd} not found (Debian package ${pkg}); its column is left out`);
  return p;
}

export interface Measured {
  /** Wall time from spawn to exit, ms. */
  wallMs: number;
  /** Peak RSS of the child, KiB (GNU time %M). */
  maxRssKiB: number;
  /** User + system CPU seconds (GNU time %U + %S). */
  cpuS: number;
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Discard stdout instead of collecting it. */
  discard?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Runs argv under `nice -n NICE /usr/bin/time -f '%M %U %S'`; wall from here. */
export function measure(argv: string[], opts: RunOptions = {}): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-bench-time-'));
  const timeFile = join(dir, 'time');
  const full = ['nice', '-n', String(NICE), '/usr/bin/time', '-o', timeFile, '-f', '%M %U %S', ...argv];
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0]!, full.slice(1), {
      cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', opts.discard ? 'ignore' : 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => { if (err.length < 1 << 20) err += b.toString(); });
    child.on('error', rej);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      let maxRssKiB = NaN;
      let cpuS = NaN;
      try {
        const t = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
        maxRssKiB = t[0]!;
        cpuS = t[1]! + t[2]!;
      } catch { /* time wrote nothing: killed */ }
      rmSync(dir, { recursive: true, force: true });
      res({ wallMs, maxRssKiB, cpuS, code: code ?? -1, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** Bundles a worker entry with esbuild into a temp dir (with iced's WASM beside it); returns the .js path. */
export async function bundleWorker(entry: string, name: string): Promise<string> {
  const esbuild = await import('esbuild');
  const dir = join(tmpdir(), 'tdx-audit-bench');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `${name}.js`);
  await esbuild.build({
    entryPoints: [entry], outfile, bundle: true, platform: 'node', target: 'node18', format: 'cjs',
    alias: { 'web-tree-sitter': join(ROOT, 'node_modules/web-tree-sitter/tree-sitter.cjs') },
    logLevel: 'warning', absWorkingDir: ROOT,
    // A bench that bundles itself (bigfile.ts) imports this file: esbuild stays out of its bundle.
    external: ['esbuild'],
  });
  for (const [from, to] of [
    ['node_modules/iced-x86/iced_x86_bg.wasm', 'iced_x86_bg.wasm'],
    ['node_modules/web-tree-sitter/tree-sitter.wasm', 'tree-sitter.wasm'],
    ['node_modules/tree-sitter-c/tree-sitter-c.wasm', 'tree-sitter-c.wasm'],
  ]) copyFileSync(join(ROOT, from), join(dir, to));
  return outfile;
}

export function machine(): string {
  const c = cpus();
  let os = '';
  try {
    os = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? '';
  } catch { /* not Linux */ }
  return `${c.length} cores (${c[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${os}, node ${process.version}, load ${readLoad()}`;
}

function readLoad(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

export function gitHead(): string {
  try {
    return execFileSync('git', ['-C', ROOT, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

/**
 * With `--write` on the command line (or TDX_BENCH_WRITE=1), replaces the text between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in BENCHMARKS.md with `md`.
 */
export function writeSection(name: string, md: string): void {
  if (!process.argv.includes('--write') && process.env.TDX_BENCH_WRITE !== '1') return;
  const file = join(ROOT, 'BENCHMARKS.md');
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const block = `${start}\n${md.trim()}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
  log(`wrote section ${name} of BENCHMARKS.md`);
}

/** Collects Markdown lines, echoing each to stdout. */
export class Md {
  readonly lines: string[] = [];
  line(s = ''): void {
    this.lines.push(s);
    process.stdout.write(s + '\n');
  }
  text(): string {
    return this.lines.join('\n');
  }
}

/**
 * The language server bundle `server` over stdio, under nice and GNU time (`timeFile`
 * gets "%M %U %S": peak KiB, user and system seconds): `request` sends a request and
 * resolves with its result, `onLog` receives window/logMessage lines, and the
 * server's own requests (configuration, progress) are answered null.
 */
export function spawnBenchServer(server: string, timeFile: string, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn('nice', ['-n', String(NICE), '/usr/bin/time', '-o', timeFile, '-f', '%M %U %S', process.execPath, server, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let buf = Buffer.alloc(0);
  let nextId = 1;
  const pending = new Map<number, (r: unknown) => void>();
  const send = (msg: object) => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }));
    child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    child.stdin.write(body);
  };
  const request = (method: string, params: unknown) =>
    new Promise<unknown>((res) => {
      const id = nextId++;
      pending.set(id, res);
      send({ id, method, params });
    });
  const io = { child, send, request, onLog: undefined as ((s: string) => void) | undefined };
  child.stdout.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const h = buf.indexOf('\r\n\r\n');
      if (h < 0) break;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, h).toString())?.[1]);
      if (buf.length < h + 4 + len) break;
      const msg = JSON.parse(buf.subarray(h + 4, h + 4 + len).toString()) as { id?: number; method?: string; params?: { message?: string }; result?: unknown };
      buf = buf.subarray(h + 4 + len);
      if (msg.method === 'window/logMessage' && msg.params?.message) io.onLog?.(msg.params.message);
      else if (msg.method && msg.id !== undefined) send({ id: msg.id, result: null }); // client requests (configuration, progress create)
      else if (msg.id !== undefined && pending.has(msg.id)) {
        pending.get(msg.id)!(msg.result);
        pending.delete(msg.id);
      }
    }
  });
  child.stderr.on('data', () => undefined);
  return io;
}

/** The node process GNU time runs (its child), from the pid of `time` under nice. */
export function timedChildPid(timePid: number | undefined): number | undefined {
  try {
    return Number(readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS of a process in KiB, or NaN. */
export function vmRssKiB(pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
