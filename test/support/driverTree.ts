// A small kernel-like tree of our fixtures for CLI runs: a `.git` marks its root, and
// each folder under drivers/ gets copies of the fixture files named for it.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** Where the fixture files come from, by folder under the repository. */
export const FIXTURE_DIRS = {
  drivers: join(ROOT, 'test/fixtures/drivers'),
  provenance: join(ROOT, 'test/fixtures/drivers/provenance'),
  example: join(ROOT, 'examples/acme_wdt'),
} as const;

/**
 * Makes `tree` (under a caller's temporary folder) with `drivers/<folder>/<file>` for
 * every `[folder, from, files]`; returns how many files were copied.
 */
export function driverTree(tree: string, parts: readonly (readonly [folder: string, from: keyof typeof FIXTURE_DIRS, files: readonly string[]])[]): number {
  mkdirSync(join(tree, '.git'), { recursive: true });
  let n = 0;
  for (const [folder, from, files] of parts) {
    const to = join(tree, 'drivers', folder);
    mkdirSync(to, { recursive: true });
    for (const f of files) {
      copyFileSync(join(FIXTURE_DIRS[from], f), join(to, f));
      n++;
    }
  }
  return n;
}

/** The tree both cache tests (scan's and report's) audit: a NIC, the example watchdog and the provenance shapes. */
export const CACHE_TREE = [
  ['net', 'drivers', ['foo_nic.c', 'tdx_io.h']],
  ['watchdog', 'example', ['acme_wdt.c', 'acme_io.h']],
  ['prov', 'provenance', ['global_irq.c', 'member.c', 'prov_io.h']],
] as const;
