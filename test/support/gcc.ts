// Building fixture objects with the host gcc: one place for every test that compiles
// C (whether gcc is there, the flags the fixtures are built with, and a failure that
// shows gcc's own message instead of a bare exit status).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** gcc runs here. Checked once per process. */
export const hasGcc: boolean = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;

/** For `test(name, { skip: skipWithoutGcc }, ...)`: false, or the reason to skip. */
export const skipWithoutGcc: false | string = hasGcc ? false : 'gcc is not installed: needed to build the fixture object';

/**
 * Flag sets the fixtures are compiled with:
 * - `plain`: -O2 -g, as a distribution kernel module (foo_nic.c);
 * - `forms`: the kernel's -mno-sse plus rep movs for copies, so forms.c yields the
 *   MOVS, RMW and MOVZX forms the #VE handler rejects or mis-emulates.
 */
export const GCC_FLAGS = {
  plain: ['-O2', '-g'],
  forms: ['-O2', '-g', '-mno-sse', '-mstringop-strategy=rep_4byte'],
} as const;

/** Runs gcc with args in cwd; throws with gcc's stderr when it fails. */
export function gcc(args: readonly string[], cwd: string, timeoutMs = 60_000): void {
  const r = spawnSync('gcc', [...args], { cwd, encoding: 'utf8', timeout: timeoutMs });
  if (r.error) throw new Error(`gcc ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`gcc ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
}

/** Compiles one source to an object beside it (`foo.c` -> `foo.o` in cwd); returns the object's name. */
export function compileObject(source: string, cwd: string, flags: readonly string[] = GCC_FLAGS.plain): string {
  const out = source.replace(/\.c$/, '') + '.o';
  gcc([...flags, '-c', source, '-o', out], cwd);
  return out;
}

/** Copies foo_nic.c and the tdx_io.h it includes (test/fixtures/drivers) into `to`. */
export function copyDriverFixture(to: string, fixtures: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of ['foo_nic.c', 'tdx_io.h']) copyFileSync(join(fixtures, f), join(to, f));
}

/**
 * A fresh temporary folder `d` holding a git-rooted tree with the driver fixture in
 * tree/drivers/net (copyDriverFixture), for the tests that build its object: the
 * folder, drivers/net, foo_nic.c in it, and a cache path beside the tree. The caller
 * removes `d`.
 */
export function driverFixtureTree(prefix: string, fixtures: string): { d: string; net: string; nic: string; cache: string } {
  const d = mkdtempSync(join(tmpdir(), prefix));
  const net = join(d, 'tree', 'drivers', 'net');
  mkdirSync(join(d, 'tree', '.git'), { recursive: true });
  copyDriverFixture(net, fixtures);
  return { d, net, nic: join(net, 'foo_nic.c'), cache: join(d, 'cache') };
}

/**
 * Copies forms.c, forms_io.h and the tdx_io.h it includes (test/fixtures/compiled,
 * drivers) into one flat folder `to`: forms_io.h's include of ../drivers/tdx_io.h
 * then points beside it.
 */
export function copyFormsFixture(to: string, fixtures: string): void {
  mkdirSync(to, { recursive: true });
  copyFileSync(join(fixtures, 'compiled', 'forms.c'), join(to, 'forms.c'));
  writeFileSync(join(to, 'forms_io.h'), readFileSync(join(fixtures, 'compiled', 'forms_io.h'), 'utf8').replace('"../drivers/tdx_io.h"', '"tdx_io.h"'));
  copyFileSync(join(fixtures, 'drivers', 'tdx_io.h'), join(to, 'tdx_io.h'));
}

/**
 * A linked executable with DWARF, padded with a hole to `mb` MB: past the size from
 * which a linked image is read section by section and can be shared between threads
 * (audit/objects.ts readSharedImage, ObjectStore.sharedImages). The section headers
 * stay where they are.
 */
export function paddedImage(dir: string, mb = 80): string {
  writeFileSync(join(dir, 'img.c'), 'volatile int x;\nint main(void) { return x; }\n');
  gcc(['-O2', '-g', 'img.c', '-o', 'img'], dir);
  const p = join(dir, 'img');
  truncateSync(p, mb << 20);
  return p;
}
