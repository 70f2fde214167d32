// npm run bench: full parse + audit time against a raw tree-sitter parse of the same
// files (the peer, measured in the same run), and edit -> findings time for an
// incremental edit. Uses Debian's 6.1 tree when scripts/kernel/prepare.sh has made
// it ($TDX_KERNEL_DIR), else the bundled fixtures. Figures go to stdout as Markdown.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Parser, Language } from 'web-tree-sitter';
import { AuditEngine } from '../../server/src/audit/engine';

const ROOT = resolve(__dirname, '../..');
const TREE = join(process.env.TDX_KERNEL_DIR ?? '/var/tmp/tdx-audit-kernel', 'linux-source-6.1');
const KERNEL_FILES = [
  'drivers/ata/libahci.c', 'arch/x86/kernel/apic/io_apic.c', 'drivers/pci/msi/msi.c',
  'arch/x86/pci/mmconfig_64.c', 'drivers/watchdog/iTCO_wdt.c', 'lib/iomap.c',
  'drivers/net/ethernet/intel/e1000e/netdev.c', 'drivers/net/ethernet/intel/e1000e/ich8lan.c',
  'drivers/net/ethernet/intel/e1000e/mac.c', 'drivers/net/ethernet/intel/e1000e/phy.c',
];
const files = existsSync(join(TREE, 'Makefile'))
  ? KERNEL_FILES.map((f) => join(TREE, f))
  : [join(ROOT, 'test/fixtures/drivers/foo_nic.c'), join(ROOT, 'examples/acme_wdt/acme_wdt.c')];
const RUNS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main() {
  await Parser.init();
  const C = await Language.load(require.resolve('tree-sitter-c/tree-sitter-c.wasm'));
  const raw = new Parser();
  raw.setLanguage(C);
  const engine = await AuditEngine.create({ readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined) });

  console.log(`corpus: ${files[0].startsWith(TREE) ? 'Debian linux-source-6.1' : 'bundled fixtures'}, ${RUNS} runs each, median\n`);
  console.log('| file | lines | tree-sitter parse ms | tdx-audit parse+audit ms | ratio | incremental edit→findings ms | sites |');
  console.log('|---|---|---|---|---|---|---|');
  let sumRaw = 0;
  let sumOurs = 0;
  const edits: number[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const rawT: number[] = [];
    const ours: number[] = [];
    let sites = 0;
    for (let i = 0; i < RUNS + 2; i++) {
      let t = performance.now();
      const tree = raw.parse(text)!;
      const dr = performance.now() - t;
      tree.delete();
      t = performance.now();
      const a = engine.auditOnce(f, text);
      const dOurs = performance.now() - t;
      sites = a.findings.length;
      if (i >= 2) {
        rawT.push(dr);
        ours.push(dOurs);
      }
    }
    // Incremental: keep the document open, insert a new accessor call in the middle
    // of the file and time the re-audit (what the server runs after the debounce).
    const key = `bench:${f}`;
    engine.audit(key, text, 0);
    const lines = text.split('\n');
    const mid = lines.findIndex((l, i) => i > lines.length / 2 && /^\t\w.*;\s*$/.test(l));
    const editT: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const edited = [...lines.slice(0, mid + 1), `\twritel(${i}, (void *)0);`, ...lines.slice(mid + 1)].join('\n');
      const t = performance.now();
      engine.audit(key, edited, i + 1);
      editT.push(performance.now() - t);
      engine.audit(key, text, i + 100);
    }
    engine.forget(key);
    const r = median(rawT);
    const o = median(ours);
    const e = median(editT);
    sumRaw += r;
    sumOurs += o;
    edits.push(e);
    const name = f.startsWith(TREE) ? f.slice(TREE.length + 1) : f.slice(ROOT.length + 1);
    console.log(`| ${name} | ${lines.length} | ${r.toFixed(2)} | ${o.toFixed(2)} | ${(o / r).toFixed(2)}× | ${e.toFixed(2)} | ${sites} |`);
  }
  console.log(`| **all** | | ${sumRaw.toFixed(1)} | ${sumOurs.toFixed(1)} | **${(sumOurs / sumRaw).toFixed(2)}×** | median ${median(edits).toFixed(2)} | |`);
  const mem = process.memoryUsage();
  console.log(`\nmemory: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
