// `report --config` and `--allow-list` (issue 16, item 5): findings in files the
// .config does not build are kept but faded and counted apart (and do not fail the
// run); drivers on the allow-list come first. A kernel-shaped tree we write.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const CLI = resolve(__dirname, '../../dist/cli.js');
let dir = '';
let tree = '';
const put = (rel: string, text: string) => {
  mkdirSync(dirname(join(tree, rel)), { recursive: true });
  writeFileSync(join(tree, rel), text);
};
/** A driver with one error finding from the source alone: a rep movsl copy to MMIO. */
const driver = (name: string) => `struct ${name} { void __iomem *regs; };
void ${name}_fill(struct ${name} *d, const void *buf)
{
	__iowrite32_copy(d->regs, buf, 4);
}
`;

function report(...args: string[]) {
  const out = mkdtempSync(join(dir, 'out-'));
  const r = spawnSync(process.execPath, [CLI, 'report', join(tree, 'drivers'), '--out', out, '--no-objects', '--format', 'json,markdown', ...args], { encoding: 'utf8', timeout: 120_000 });
  const json = r.status === 2 ? undefined : JSON.parse(readFileSync(join(out, 'tdx-audit.json'), 'utf8'));
  const md = r.status === 2 ? '' : readFileSync(join(out, 'tdx-audit.md'), 'utf8');
  return { code: r.status, out: r.stdout, err: r.stderr, json, md };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tdx-build-config-'));
  tree = join(dir, 'linux');
  put('Makefile', 'VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\n');
  put('drivers/Makefile', 'obj-$(CONFIG_AAA) += aaa/\nobj-$(CONFIG_ZZZ) += zzz/\n');
  put('drivers/aaa/Makefile', 'obj-y += aaa.o\n');
  put('drivers/zzz/Makefile', 'obj-$(CONFIG_ZZZ) += zzz.o\n');
  put('drivers/aaa/aaa.c', driver('aaa'));
  put('drivers/zzz/zzz.c', driver('zzz'));
  writeFileSync(join(dir, 'only-aaa.config'), 'CONFIG_AAA=y\n# CONFIG_ZZZ is not set\n');
  writeFileSync(join(dir, 'none.config'), '# CONFIG_AAA is not set\n');
  writeFileSync(join(dir, 'both.config'), 'CONFIG_AAA=y\nCONFIG_ZZZ=m\n');
  writeFileSync(join(dir, 'allow'), '# the TD runs zzz only\nzzz\n');
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const byFile = (json: { findings: { file: string; build?: { state?: string; allowed?: boolean }; severity: string }[] }, f: string) => json.findings.find((x) => x.file.endsWith(f))!;

test('a file the .config does not build keeps its finding, faded and counted apart', () => {
  const r = report('--config', join(dir, 'only-aaa.config'));
  assert.equal(r.code, 1, 'aaa.c is built and has an error');
  assert.equal(byFile(r.json, 'aaa.c').build?.state, 'built-in');
  assert.equal(byFile(r.json, 'zzz.c').build?.state, 'not-built');
  assert.equal(byFile(r.json, 'zzz.c').severity, 'error', 'kept as it is, only faded');
  assert.equal(r.json.summary.notBuilt, 1);
  assert.match(r.out, /1 in files this \.config does not build/);
  assert.match(r.md, /~~drivers\/zzz\/zzz\.c:4:2~~.*not built in this \.config/);
  assert.match(r.md, /\(1 triaged or not built\)/);
});

test('errors only in files the .config does not build do not fail the run', () => {
  const r = report('--config', join(dir, 'none.config'));
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.json.summary.notBuilt, 2);
});

test('the allow-list puts its drivers first, even after another file in path order', () => {
  const plain = report('--config', join(dir, 'both.config'));
  const listed = report('--config', join(dir, 'both.config'), '--allow-list', join(dir, 'allow'));
  const order = (md: string) => [...md.matchAll(/drivers\/(aaa|zzz)\/\1\.c:4/g)].map((m) => m[1]);
  assert.deepEqual(order(plain.md).slice(0, 2), ['aaa', 'zzz']);
  assert.deepEqual(order(listed.md).slice(0, 2), ['zzz', 'aaa']);
  assert.equal(byFile(listed.json, 'zzz.c').build?.allowed, true);
  assert.equal(byFile(listed.json, 'zzz.c').build?.state, 'module');
  assert.equal(byFile(listed.json, 'aaa.c').build?.allowed, false);
  assert.equal(listed.json.summary.allowed, 1);
});

test('a .config or allow-list that cannot be read is a usage error; scan refuses them', () => {
  assert.equal(report('--config', join(dir, 'missing.config')).code, 2);
  assert.equal(report('--allow-list', join(dir, 'missing')).code, 2);
  const r = spawnSync(process.execPath, [CLI, 'scan', join(tree, 'drivers'), '--config', join(dir, 'none.config')], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /give them to `tdx-audit report`/);
});
