#!/usr/bin/env node
// Real-world check of the compiled-form join on Debian's 6.1 objects (issue 3's
// "done when"): every io.h accessor call site in the sources maps to its MOV
// instruction(s), every verdict is "emulated", and the object-based function
// list names the functions that hold MMIO instructions.
// Usage: node scripts/kernel/check-objects.mjs [TREE]   (needs `npm run build`;
// TREE defaults to $TDX_KERNEL_DIR/linux-source-6.1 from scripts/kernel/prepare.sh)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelTree } from './tree.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const tree = kernelTree(process.argv[2]);
const FILES = [
  'drivers/ata/libahci.c', 'arch/x86/kernel/apic/io_apic.c', 'drivers/pci/msi/msi.c',
  'arch/x86/pci/mmconfig_64.c', 'lib/iomap.c', 'drivers/watchdog/iTCO_wdt.c',
  'drivers/net/ethernet/intel/e1000e/netdev.c',
];
const IOH = /^((__raw_)?(read|write)[bwlq](_relaxed)?|mmio_config_(read|write)[bwl])$/;
const cli = join(repo, 'dist/cli.js');
const rows = [];
let bad = 0;
for (const f of FILES) {
  const src = join(tree, f);
  const obj = src.replace(/\.c$/, '.o');
  if (!existsSync(obj)) {
    console.error(`missing ${obj}: run scripts/kernel/prepare.sh`);
    bad++;
    continue;
  }
  const t0 = performance.now();
  const out = JSON.parse(execFileSync(process.execPath, [cli, 'scan', src, '--objects', obj, '--format', 'json', '--exit-zero'], { maxBuffer: 1 << 28 }).toString());
  const ms = performance.now() - t0;
  const file = out.files[0];
  // io.h accessor calls in function bodies (macro definitions excluded: gcc records their expansion point).
  const sites = out.sites.filter((s) => s.siteKind === 'call' && IOH.test(s.base) && s.function !== null);
  const key = (s) => `${s.file}:${s.line}:${s.column}`;
  const bySite = new Map();
  for (const i of out.instructions) {
    const k = key(i.site);
    bySite.set(k, [...(bySite.get(k) ?? []), i]);
  }
  const mapped = sites.filter((s) => (bySite.get(key(s)) ?? []).some((i) => /^mov /.test(i.text)));
  const unmapped = sites.filter((s) => !mapped.includes(s));
  const ioInsns = mapped.flatMap((s) => bySite.get(key(s)));
  const nonEmulated = ioInsns.filter((i) => i.verdict !== 'emulated');
  const allVerdicts = {};
  for (const i of out.instructions) allVerdicts[i.verdict] = (allVerdicts[i.verdict] ?? 0) + 1;
  rows.push({
    file: f,
    object: file.object?.state ?? 'none',
    ioh: sites.length,
    mapped: mapped.length,
    insns: ioInsns.length,
    nonEmulated: nonEmulated.length,
    functions: out.objectFunctions.length,
    verdicts: Object.entries(allVerdicts).map(([k, n]) => `${n} ${k}`).join(', '),
    s: (ms / 1000).toFixed(2),
  });
  for (const u of unmapped) {
    const why = out.sites.find((x) => x.line === u.line && x.column === u.column);
    console.log(`  unmapped ${f}:${u.line}:${u.column} ${u.accessor} in ${u.function}: ${why?.message.match(/no [^.]*|inlined [^.]*/)?.[0] ?? ''}`);
  }
  for (const n of nonEmulated) console.log(`  NOT EMULATED ${f}: ${n.function}+0x${n.offset.toString(16)} ${n.text} ${n.verdict}`);
  if (file.object?.state !== 'fresh' || nonEmulated.length) bad++;
  console.log(`  ${f}: object functions holding MMIO/port instructions: ${out.objectFunctions.map((x) => x.name).join(', ')}`);
}
console.log('\n| source | object | io.h call sites | mapped to MOV | MOV instructions | not emulated | object functions | all instructions | s |');
console.log('|---|---|---:|---:|---:|---:|---:|---|---:|');
for (const r of rows) console.log(`| ${r.file} | ${r.object} | ${r.ioh} | ${r.mapped} | ${r.insns} | ${r.nonEmulated} | ${r.functions} | ${r.verdicts} | ${r.s} |`);
process.exit(bad ? 1 : 0);
