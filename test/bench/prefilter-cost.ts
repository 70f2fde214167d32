// The pre-filter's cost on a real tree, in one thread: the read of every .c/.h file,
// the text's own decision and the header look, each timed apart, and every
// decision written out (so two builds can be compared decision by decision).
//
//   node --import tsx test/bench/prefilter-cost.ts DIR [--header-cache-dir D] [--out FILE] [--passes N]
//
// A measurement of CPU, not of decisions' correctness (test/bench/prefilter.ts
// audits every skipped file). Files are not audited: the audit's own reuse of the
// filter's walk is not part of what is timed.
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { batchHost, discoverSources, readSource, SiteFilter, textDecision } from '../../server/src/audit/sources';
import { readTextOrUndefined } from '../../server/src/fs/safeRead';
import { TREE } from './lib';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  const dir = process.argv[2] ?? 'drivers';
  const cacheDir = arg('--header-cache-dir');
  const passes = Number(arg('--passes') ?? '1');
  const engine = await AuditEngine.create(batchHost());
  engine.configure({ followIncludes: true, ...(cacheDir ? { headerCache: true, headerCacheDir: cacheDir } : { headerCache: false }) });
  const files = discoverSources([join(TREE, dir)]);
  for (let pass = 0; pass < passes; pass++) {
    const filter = new SiteFilter((p) => readTextOrUndefined(p), (p, t) => engine.mayHoldSitesThroughHeaders(p, t));
    let tRead = 0;
    let tText = 0;
    let tHeaders = 0;
    const decisions: string[] = [];
    const counts = { skipped: 0, parse: 0, headers: 0, headersPass: 0, skip: 0 };
    const w0 = performance.now();
    for (const f of files) {
      const c0 = cpu();
      const src = readSource(f);
      const c1 = cpu();
      tRead += c1 - c0;
      if ('why' in src) {
        counts.skipped++;
        decisions.push(`${f} skipped ${src.why}`);
        continue;
      }
      const d = textDecision(src.text);
      const c2 = cpu();
      tText += c2 - c1;
      counts[d]++;
      const pass = filter.mayHoldSites(f, src.text);
      tHeaders += cpu() - c2;
      if (d === 'headers' && pass) counts.headersPass++;
      decisions.push(`${f} ${pass ? 'pass' : 'no'}`);
    }
    const all = decisions.join('\n') + '\n';
    const out = arg('--out');
    if (out) writeFileSync(out, all);
    console.log(
      `pass ${pass}: ${files.length} files, wall ${((performance.now() - w0) / 1000).toFixed(2)} s; CPU read ${(tRead / 1000).toFixed(2)} s, text ${(tText / 1000).toFixed(2)} s, ` +
        `filter after read ${(tHeaders / 1000).toFixed(2)} s (text again + headers); ${JSON.stringify(counts)}; decisions ${createHash('sha1').update(all).digest('hex').slice(0, 12)}`,
    );
  }
}

void main();
