// The small tree the export tests audit: a git root with drivers/net holding foo_nic.c
// and the tdx_io.h it includes (test/fixtures/drivers), and other.c (OTHER): an
// accessor call, a read-modify-write of an __iomem struct field and a return of readl.
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const FIX = resolve(__dirname, '../fixtures/drivers');

export const OTHER = '#include "tdx_io.h"\nstruct regs { u32 ctrl; };\nint other(void __iomem *p, struct regs __iomem *r) { writel(1, p + 8); r->ctrl |= 4; return readl(p); }\n';

/** A fresh tree (real path, under the system temp folder, `prefix` naming it); the caller removes it. */
export function exportTree(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, 'drivers', 'net'), { recursive: true });
  copyFileSync(join(FIX, 'foo_nic.c'), join(dir, 'drivers', 'net', 'foo_nic.c'));
  copyFileSync(join(FIX, 'tdx_io.h'), join(dir, 'drivers', 'net', 'tdx_io.h'));
  writeFileSync(join(dir, 'drivers', 'net', 'other.c'), OTHER);
  return dir;
}
