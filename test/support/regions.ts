// The region audit (server/src/audit/regions.ts) beside the whole-file audit of the
// same text: tests assert the two analyses are equal and say which bodies were kept.
import assert from 'node:assert/strict';
import { AuditEngine } from '../../server/src/audit/engine';
import type { RegionStats } from '../../server/src/audit/regions';
import type { SourceAnalysis } from '../../server/src/c/types';
import { analyseInRegions } from '../../server/src/audit/regions';
import { CParser } from '../../server/src/c/parser';
import { emptyKnowledge } from '../../server/src/c/knowledge';

export interface Compared {
  on: SourceAnalysis;
  off: SourceAnalysis;
  stats: RegionStats;
  /** Per kept body, by the function name before its `(`: why it was kept (`seed w`, `matter w`), or 'blanked'. */
  bodies: Map<string, string>;
}

/**
 * Audits `files[path]` with `auditOnce` twice (regions on and off) on an engine
 * whose disk is `files`, asserts the analyses are equal, and returns what the region
 * audit kept and why.
 */
export async function compareRegions(files: Record<string, string>, path: string): Promise<Compared> {
  const read = (p: string) => files[p];
  const on = await AuditEngine.create({ readFile: read });
  const off = await AuditEngine.create({ readFile: read });
  off.configure({ regions: false });
  on.configure({ regions: true });
  const text = files[path]!;
  const a = on.auditOnce(path, text).analysis;
  const b = off.auditOnce(path, text).analysis;
  assert.deepEqual(a, b, 'the region audit differs from the whole-file audit');
  const stats: RegionStats = { chars: 0, blanked: 0, rounds: 0, kept: new Map() };
  // The same analysis again, for its reasons (what the engine imported: the headers in `files`).
  const imports = (on as unknown as { importsOf(f: string, t: string): { knowledge: ReturnType<typeof emptyKnowledge> } }).importsOf(path, text);
  const parser = await CParser.create();
  const r = analyseInRegions(parser, path, path, text, imports.knowledge, stats);
  parser.forget(path);
  assert.deepEqual(on.lastRegions && { ...on.lastRegions, kept: undefined }, { ...stats, kept: undefined });
  const bodies = new Map<string, string>();
  for (const m of text.matchAll(/([A-Za-z_]\w*)\s*\([^;{}\n]*\)\s*\{/g)) {
    const open = m.index! + m[0].length - 1;
    bodies.set(m[1]!, stats.kept!.get(open) ?? (r ? 'blanked' : 'whole'));
  }
  return { on: a, off: b, stats, bodies };
}
