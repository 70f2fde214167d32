// vmlinux benchmark (issue 4): the whole-kernel binary inventory of Debian's vmlinux
// (`tdx-audit scan --vmlinux FILE`, no sources) against `objdump -d` of the same file
// in the same run (objdump only disassembles: no line or inline information).
//
//   npm run bench:vmlinux [-- --write]      (TDX_BENCH_RUNS_VMLINUX=N, default 3)
//   TDX_BENCH_BASELINE_CLI=/path/to/older/dist/cli.js adds an older build's inventory
//   to the same run (before -> after, measured alongside).
//   The CLI runs with its default (one thread); the same build with --jobs 2 (units split
//   over two worker threads) is measured alongside, and both inventories must be the same.
//
// When the CLI does not (yet) accept `scan --vmlinux FILE` without sources, the
// stand-in is measured instead and labelled as such: the bundled decode-worker.ts
// walking every function symbol of the image with one CodeWalker and classifying
// every instruction with a non-stack, non-RIP-relative memory operand (no DWARF).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { bundleWorker, ensureVmlinux, firstLine, fmtMiB, fmtMs, fmtRatio, gitHead, log, machine, Md, measure, median, ROOT, writeSection } from './lib';

/** Does the built CLI take `scan --vmlinux FILE` with no source paths? (its usage text says so) */
export function cliHasInventory(cli: string): boolean {
  let help = '';
  try {
    help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    help = String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
  }
  return /scan --vmlinux FILE/.test(help);
}

/** Debian's debug vmlinux images this machine may have, newest ABI first (TDX_VMLINUX wins). */
const DEBIAN_VMLINUX = ['/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64', '/usr/lib/debug/lib/modules/6.1.0-57-amd64/vmlinux', '/usr/lib/debug/boot/vmlinux-6.1.0-56-amd64'];

async function main(): Promise<void> {
  const runs = Number(process.env.TDX_BENCH_RUNS_VMLINUX ?? 3);
  if (!process.env.TDX_VMLINUX) {
    const local = DEBIAN_VMLINUX.find((p) => existsSync(p));
    if (local) process.env.TDX_VMLINUX = local;
  }
  const vmlinux = ensureVmlinux();
  const cli = join(ROOT, 'dist/cli.js');
  const inventory = process.env.TDX_BENCH_STANDIN === '1' ? false : cliHasInventory(cli);
  const worker = inventory ? '' : await bundleWorker(join(ROOT, 'test/bench/decode-worker.ts'), 'decode-worker');
  const oursArgv = inventory
    ? [process.execPath, cli, 'scan', '--vmlinux', vmlinux, '--format', 'json', '--exit-zero']
    : [process.execPath, '--max-old-space-size=8192', worker, vmlinux];
  const label = inventory ? '`tdx-audit scan --vmlinux` (inventory, DWARF inline instances + classification)' : 'STAND-IN: decode of every function symbol + classify of memory-touching instructions (no DWARF; `scan --vmlinux` not in the CLI yet)';
  log(`vmlinux: ${vmlinux}; ours = ${inventory ? 'scan --vmlinux' : 'stand-in decode worker'}`);

  const baseline = process.env.TDX_BENCH_BASELINE_CLI;
  const baseArgv = baseline ? [process.execPath, baseline, 'scan', '--vmlinux', vmlinux, '--format', 'json', '--exit-zero'] : undefined;
  const bs: number[] = [], bsRss: number[] = [], bsCpu: number[] = [];
  const oneArgv = inventory ? [...oursArgv, '--jobs', '2'] : undefined;
  const one: number[] = [], oneRss: number[] = [], oneCpu: number[] = [];
  let oneOut = '';
  const loadStart = loadavg().map((x) => x.toFixed(2)).join(' ');
  const od: number[] = [], odRss: number[] = [], odCpu: number[] = [];
  const us: number[] = [], usRss: number[] = [], usCpu: number[] = [];
  let last = '';
  // Warm the page cache (605 MB file) so neither side pays the first read.
  execFileSync('sh', ['-c', `cat '${vmlinux}' > /dev/null`]);
  for (let r = 0; r < runs; r++) {
    log(`vmlinux: run ${r + 1}/${runs}`);
    const order = r % 2 === 0 ? ['od', 'us', 'one', 'bs'] : ['bs', 'one', 'us', 'od'];
    for (const who of order) {
      if (who === 'one') {
        if (!oneArgv) continue;
        const m = await measure(oneArgv);
        if (m.code !== 0) throw new Error(`ours --jobs 2 failed (${m.code}): ${m.stderr.slice(0, 2000)}`);
        one.push(m.wallMs); oneRss.push(m.maxRssKiB); oneCpu.push(m.cpuS);
        oneOut = m.stdout.toString();
      } else if (who === 'bs') {
        if (!baseArgv) continue;
        const m = await measure(baseArgv, { discard: true });
        if (m.code !== 0) throw new Error(`baseline failed (${m.code}): ${m.stderr.slice(0, 2000)}`);
        bs.push(m.wallMs); bsRss.push(m.maxRssKiB); bsCpu.push(m.cpuS);
      } else if (who === 'od') {
        const m = await measure(['objdump', '-d', vmlinux], { discard: true });
        if (m.code !== 0) throw new Error(`objdump failed: ${m.stderr.slice(0, 1000)}`);
        od.push(m.wallMs); odRss.push(m.maxRssKiB); odCpu.push(m.cpuS);
      } else {
        const m = await measure(oursArgv);
        if (m.code !== 0) throw new Error(`ours failed (${m.code}): ${m.stderr.slice(0, 2000)}`);
        us.push(m.wallMs); usRss.push(m.maxRssKiB); usCpu.push(m.cpuS);
        last = m.stdout.toString();
      }
    }
  }
  const md = new Md();
  md.line('### vmlinux: whole-kernel inventory vs `objdump -d`');
  md.line();
  md.line(`${machine()}; ${firstLine('objdump', ['--version'])}; ${vmlinux} (${(Number(execFileSync('stat', ['-c', '%s', vmlinux], { encoding: 'utf8' })) / 2 ** 20).toFixed(0)} MiB); tdx-audit ${gitHead()}; ${runs} runs, medians, page cache warm.`);
  md.line();
  md.line('| tool | wall | CPU s | peak RSS | wall ratio to objdump | CPU ratio |');
  md.line('|---|---|---|---|---|---|');
  md.line(`| \`objdump -d\` (disassembly only, to /dev/null) | ${fmtMs(median(od))} | ${median(odCpu).toFixed(1)} | ${fmtMiB(median(odRss))} | 1× | 1× |`);
  md.line(`| ${label} | ${fmtMs(median(us))} | ${median(usCpu).toFixed(1)} | ${fmtMiB(median(usRss))} | **${fmtRatio(median(us) / median(od))}** | ${fmtRatio(median(usCpu) / median(odCpu))} |`);
  if (oneArgv) md.line(`| same, two threads (\`--jobs 2\`) | ${fmtMs(median(one))} | ${median(oneCpu).toFixed(1)} | ${fmtMiB(median(oneRss))} | ${fmtRatio(median(one) / median(od))} | ${fmtRatio(median(oneCpu) / median(odCpu))} |`);
  if (baseArgv) md.line(`| same, baseline build \`${baseline}\` | ${fmtMs(median(bs))} | ${median(bsCpu).toFixed(1)} | ${fmtMiB(median(bsRss))} | ${fmtRatio(median(bs) / median(od))} | ${fmtRatio(median(bsCpu) / median(odCpu))} |`);
  md.line();
  md.line(`All runs (ms): objdump ${od.map((x) => x.toFixed(0)).join(', ')}; ours ${us.map((x) => x.toFixed(0)).join(', ')}${oneArgv ? `; two threads ${one.map((x) => x.toFixed(0)).join(', ')}` : ''}${baseArgv ? `; baseline ${bs.map((x) => x.toFixed(0)).join(', ')}` : ''}. Load at the start: ${loadStart}; at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  if (oneArgv) {
    const strip = (s: string) => s.replace(/^ {2}"ms": \d+,\n/m, '');
    md.line(`Inventory with --jobs 2 and with the default (one thread): ${strip(oneOut) === strip(last) ? 'byte-identical (apart from the time field)' : '**DIFFERENT**'}.`);
  }
  if (baseArgv) md.line(`Before -> after (baseline / ours, same run): wall ${fmtRatio(median(bs) / median(us))}, CPU ${fmtRatio(median(bsCpu) / median(usCpu))}, peak RSS ${fmtMiB(median(bsRss))} -> ${fmtMiB(median(usRss))}.`);
  if (inventory) {
    try {
      const j = JSON.parse(last) as {
        ms?: number; units?: { scanned: number; total: number };
        summary?: { instructions: number; functions: number; byVerdict: Record<string, number>; byClass: Record<string, number> };
      };
      const sm = j.summary;
      if (sm) {
        md.line(`Inventory: ${sm.instructions} accessor instructions in ${sm.functions} functions; verdicts ${Object.entries(sm.byVerdict).map(([k, n]) => `${k} ${n}`).join(', ')}; classes ${Object.entries(sm.byClass).map(([k, n]) => `${k} ${n}`).join(', ')}.`);
      }
      if (j.units) md.line(`DWARF units read: ${j.units.scanned} of ${j.units.total}; the CLI's own in-process time ${fmtMs(j.ms ?? NaN)}.`);
    } catch (e) {
      md.line(`(inventory JSON not parsed: ${(e as Error).message})`);
    }
  } else {
    const w = JSON.parse(last) as { results: { counts: { functions: number; bytes: number; instructions: number; invalid: number; deviceMemory: number; verdicts: Record<string, number> }; ms: number[]; openMs: number }[]; maxRssKiB: number };
    const c = w.results[0]!.counts;
    md.line(`Stand-in counts: ${c.functions} function symbols (aliases once), ${(c.bytes / 2 ** 20).toFixed(1)} MiB of code, ${c.instructions} instructions (${c.invalid} undecodable), ${c.deviceMemory} with a non-stack, non-RIP-relative memory operand classified: ${Object.entries(c.verdicts).map(([k, n]) => `${k} ${n}`).join(', ')}. In-process ${fmtMs(w.results[0]!.ms[0]!)} (ELF open + symbols ${fmtMs(w.results[0]!.openMs)}).`);
  }
  writeSection('vmlinux', md.text());
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
