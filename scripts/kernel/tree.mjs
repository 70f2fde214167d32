// Where the real-kernel scripts find Debian's 6.1 tree (scripts/kernel/prepare.sh
// makes it): the first argument, else $TDX_KERNEL_DIR/linux-source-6.1. Exits 2
// with the step to take when it is not there.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const KERNEL_DIR = process.env.TDX_KERNEL_DIR ?? '/var/tmp/tdx-audit-kernel';

export function kernelTree(arg) {
  const tree = arg ?? join(KERNEL_DIR, 'linux-source-6.1');
  if (!existsSync(join(tree, 'Makefile'))) {
    console.error(`no kernel tree at ${tree}: run scripts/kernel/prepare.sh first`);
    process.exit(2);
  }
  return tree;
}
