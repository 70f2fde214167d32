import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { buildReportModel, type ReportInputFile, type ReportModel } from '../../../server/src/audit/report/model';
import { collectProvenance, findTreeRoot } from '../../../server/src/audit/report/provenance';
import type { TriageFile } from '../../../server/src/audit/report/triage';
import type { FileCompiled } from '../../../server/src/audit/compiled';

export const KERNEL_MAKEFILE = '# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 55\nEXTRAVERSION = -rc2\nNAME = Curry Ramen\n\nall:\n';

/** A throwaway tree with the given files (relative path -> text). */
export function makeTree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tdx-report-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

let engine: AuditEngine | undefined;
async function sharedEngine(): Promise<AuditEngine> {
  engine ??= await AuditEngine.create({
    readFile: (p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
  });
  return engine;
}

/** Audits the given files of a tree and builds the report model. */
export async function modelOf(
  root: string,
  rels: string[],
  opts: { triage?: TriageFile; compiled?: Record<string, FileCompiled>; now?: Date } = {},
): Promise<ReportModel> {
  const e = await sharedEngine();
  const files: ReportInputFile[] = rels.map((rel) => {
    const path = join(root, rel);
    const text = readFileSync(path, 'utf8');
    const compiled = opts.compiled?.[rel];
    return { path, text, audit: e.auditOnce(path, text), ...(compiled ? { compiled } : {}) };
  });
  const { root: r, kernel } = findTreeRoot([root]);
  // As the CLI does: the objects used are part of the provenance.
  const objects = files.flatMap((f) => (f.compiled ? [{ source: f.path, info: f.compiled.object }] : []));
  const provenance = collectProvenance({ root: r, scope: [root], profile: 'tdx-linux-6.1', kernel, objects, now: opts.now ?? new Date('2025-02-03T04:05:06Z') });
  return buildReportModel({ files, provenance, triage: opts.triage });
}

/** A driver with an emulated accessor, a rejected copy, a raw deref and a helper. */
export const DRIVER = `// test driver
#include "regs.h"

static void acme_kick(void __iomem *base)
{
	writel(1, base + 0x10);
}

int acme_probe(void __iomem *base, u32 *buf)
{
	u32 v = readl(base + 0x04);
	writel(v, base + 0x08);
	writel(v, base + 0x08);
	__iowrite32_copy(base + 0x100, buf, 16);
	acme_kick(base);
	return 0;
}

u32 acme_peek(u32 __iomem *reg)
{
	return *reg;
}
`;
