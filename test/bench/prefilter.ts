// The pre-filter on real trees: how many files it skips, and proof that each skipped
// file would have had no site (every skipped file is audited anyway, here only).
// Also counts what the quoted-include chain alone (the filter before the engine's
// exact look) would have let through.
//
//   node --import tsx test/bench/prefilter.ts DIR [DIR ...]
//
// One thread, in-process (a measurement of decisions, not of speed). Prints a
// Markdown table; exits 1 if a skipped file has a site.
import { join } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { batchHost, discoverSources, readSource, SiteFilter, textDecision } from '../../server/src/audit/sources';
import { readTextOrUndefined } from '../../server/src/fs/safeRead';
import { log, TREE } from './lib';

async function main(): Promise<void> {
  const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!dirs.length) dirs.push('drivers/ata', 'drivers/pci', 'drivers/net/ethernet/intel', 'drivers/virtio', 'arch/x86');
  const engine = await AuditEngine.create(batchHost());
  engine.configure({ followIncludes: true, headerCache: false });
  const filter = new SiteFilter((p) => readTextOrUndefined(p), (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
  const chain = new SiteFilter((p) => readTextOrUndefined(p));
  console.log('| tree | .c/.h files | name something | parsed before (quoted chain) | parsed now | skipped now | sites in skipped files | sites in parsed files |');
  console.log('|---|---|---|---|---|---|---|---|');
  let bad = 0;
  for (const d of dirs) {
    const files = discoverSources([join(TREE, d)]);
    let names = 0;
    let chainPass = 0;
    let pass = 0;
    let lostSites = 0;
    let sites = 0;
    for (const f of files) {
      const src = readSource(f);
      if ('why' in src) continue;
      const t = src.text;
      if (textDecision(t) === 'parse') names++;
      if (chain.mayHoldSites(f, t)) chainPass++;
      const p = filter.mayHoldSites(f, t);
      if (p) pass++;
      const n = engine.auditOnce(f, t).analysis.sites.length;
      if (p) sites += n;
      else if (n > 0) {
        lostSites += n;
        log(`skipped with ${n} sites: ${f}`);
      }
    }
    bad += lostSites;
    console.log(`| ${d} | ${files.length} | ${names} | ${chainPass} | ${pass} | ${files.length - pass} | **${lostSites}** | ${sites} |`);
  }
  process.exitCode = bad ? 1 : 0;
}

void main();
