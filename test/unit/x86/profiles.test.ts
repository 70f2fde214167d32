// Version-derived profiles: the fact table per branch, the four named aliases,
// the tree's Makefile, and the CLI's choice between --profile and the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  PROFILES, PROFILE_IDS, DEFAULT_PROFILE, KERNEL_FACTS, compareVersions, factHolds, factTable, isProfile, parseProfile,
  profileData, profileForVersion, profileIdFor, behaviourDifferences, type KernelVersion,
} from '../../../server/src/x86/profiles';
import { parseKernelMakefile, readTreeVersion, findTreeVersion, treeProfile } from '../../../server/src/x86/treeVersion';
import { applyTreeProfile, type CommonOptions } from '../../../server/src/cliOptions';

const k = (s: string): KernelVersion => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?$/.exec(s)!;
  const out: KernelVersion = { version: +m[1], patchlevel: +m[2], sublevel: m[3] ? +m[3] : 0 };
  if (m[4]) out.rc = +m[4];
  return out;
};
const tdx = (s: string) => profileForVersion(k(s), 'tdx');
const sev = (s: string) => profileForVersion(k(s), 'sev-es');

test('the four named profiles keep the behaviour they had before versions (aliases)', () => {
  assert.deepEqual(PROFILE_IDS, ['tdx-linux-6.12+', 'tdx-linux-6.1', 'tdx-linux-5.19', 'sev-es']);
  const old = {
    'tdx-linux-6.12+': ['tdx', 'rejected', true, true, false, 'INSN_MMIO_', 'oops', 'tdvmcall'],
    'tdx-linux-6.1': ['tdx', 'rejected', true, true, false, 'MMIO_', 'oops', 'tdvmcall'],
    'tdx-linux-5.19': ['tdx', 'rejected', false, false, true, 'MMIO_', 'oops', 'tdvmcall'],
    'sev-es': ['sev-es', 'emulated', false, false, false, 'INSN_MMIO_', 'terminate-guest', 'ghcb'],
  } as const;
  for (const id of PROFILE_IDS) {
    const p = PROFILES[id];
    assert.deepEqual([p.platform, p.movs, p.pageSplitCheck, p.userHalfRefused, p.r15LeakOnRead, p.enumPrefix, p.failure, p.hypercall], [...old[id]], id);
    assert.equal(p.id, id);
    assert.equal(p.alias, id);
    assert.equal(profileData(id), p);
  }
  assert.equal(DEFAULT_PROFILE, 'tdx-linux-6.12+');
  // An alias and its version differ only in id/alias.
  assert.deepEqual(behaviourDifferences(PROFILES['tdx-linux-6.1'], tdx('6.1.192')), []);
  assert.deepEqual(behaviourDifferences(PROFILES['tdx-linux-6.12+'], tdx('6.12.118')), []);
  assert.deepEqual(behaviourDifferences(PROFILES['sev-es'], sev('6.12.118')), []);
});

test('versions order with -rc before the release', () => {
  assert.ok(compareVersions(k('6.12-rc1'), k('6.12')) < 0);
  assert.ok(compareVersions(k('6.11.10'), k('6.12-rc1')) < 0);
  assert.ok(compareVersions(k('6.1.188'), k('6.1.187')) > 0);
  assert.equal(compareVersions(k('6.6.0'), k('6.6')), 0);
});

test('port I/O fixes: 6.1.188, 6.6.157, 6.12.109 and mainline 7.2 (off-by-one and INL zero-extension together)', () => {
  const cases: [string, boolean][] = [
    ['5.19', true], ['6.1.0', true], ['6.1.187', true], ['6.1.188', false], ['6.1.192', false],
    ['6.6.156', true], ['6.6.157', false], ['6.12.108', true], ['6.12.109', false], ['6.12.118', false],
    ['6.18.0', true], ['7.1.5', true], ['7.2', false], ['7.3-rc1', false],
  ];
  for (const [ver, buggy] of cases) {
    const p = tdx(ver);
    assert.equal(p.portIn.maskExtraBit, buggy, ver);
    assert.equal(p.portIn.inlUpper, buggy ? 'kept' : 'zeroed', ver);
    assert.equal(p.portIn.narrowUpper, 'kept', ver);
  }
});

test('the user-half check (CVE-2024-47727): 6.12-rc1, 6.1.113, 6.6.54', () => {
  const cases: [string, boolean][] = [
    ['5.19', false], ['6.1.112', false], ['6.1.113', true], ['6.6.53', false], ['6.6.54', true],
    ['6.11.9', false], ['6.12-rc1', true], ['6.12.0', true],
  ];
  for (const [ver, on] of cases) assert.equal(tdx(ver).userHalfRefused, on, ver);
  assert.equal(sev('6.12.118').userHalfRefused, false, 'a TDX check');
});

test('the mmio_read R15 leak: fixed in 6.11-rc7, 6.1.110, 6.6.51, 6.10.10', () => {
  const cases: [string, boolean][] = [
    ['5.19-rc1', true], ['6.1.109', true], ['6.1.110', false], ['6.6.50', true], ['6.6.51', false],
    ['6.10.9', true], ['6.10.10', false], ['6.11-rc6', true], ['6.11-rc7', false], ['6.12.0', false],
  ];
  for (const [ver, leak] of cases) assert.equal(tdx(ver).r15LeakOnRead, leak, ver);
});

test('page-split check from 5.19-rc3; enum rename in 6.2; __iowrite32_copy inline from 6.10', () => {
  assert.equal(tdx('5.19-rc1').pageSplitCheck, false);
  assert.equal(tdx('5.19-rc1').addrRefFailure, 'not-computed');
  assert.equal(tdx('5.19-rc3').pageSplitCheck, true);
  assert.equal(tdx('5.19').addrRefFailure, 'page-split-efault');
  assert.equal(tdx('6.1.192').enumPrefix, 'MMIO_');
  assert.equal(tdx('6.2').enumPrefix, 'INSN_MMIO_');
  assert.equal(tdx('6.9.12').iowrite32CopyInline, false);
  assert.equal(tdx('6.10').iowrite32CopyInline, true);
  assert.equal(sev('6.1.192').iowrite32CopyInline, false);
});

test('platform behaviour comes from the platform, in every version', () => {
  for (const ver of ['5.19', '6.1.50', '6.6.100', '6.12.118', '7.2']) {
    const t = tdx(ver), s = sev(ver);
    assert.equal(t.writeImmValue, 'immediate-value');
    assert.equal(s.writeImmValue, 'immediate1-bytes');
    assert.equal(s.movsIgnoresOverrides, true);
    assert.equal(t.movsIgnoresOverrides, false);
    assert.equal(s.addrRefFailure, 'es-unsupported');
    assert.deepEqual(s.portIn, { maskExtraBit: false, inlUpper: 'zeroed', narrowUpper: 'zeroed' });
    assert.equal(t.stringIo, 'rejected');
    assert.equal(s.stringIo, 'emulated');
    assert.equal(t.cpuidNoZeroExtend, true, 'handle_cpuid is still unfixed');
    assert.equal(t.msrReadZeroExtends, true);
    assert.equal(s.msrReadZeroExtends, false);
    assert.equal(t.hlt, 'tdvmcall');
    assert.equal(s.hlt, 'automatic-exit');
    assert.equal(s.decodeFailedWarns, false);
    assert.equal(t.unrollsStringIo, true);
    assert.equal(s.unrollsStringIo, false);
    assert.equal(t.decodeFailedWarns, true);
  }
});

test('the fact table per branch (mainline, 5.19, 6.1.y, 6.6.y, 6.12.y)', () => {
  const row = (id: string, branch: string) => factTable().find((r) => r.id === id && r.branch === branch)!;
  assert.deepEqual(row('tdx-port-in-mask-off-by-one', 'mainline'), { id: 'tdx-port-in-mask-off-by-one', platform: 'tdx', branch: 'mainline', introduced: 'always', fixed: '7.2' });
  assert.equal(row('tdx-port-in-mask-off-by-one', '6.1.y').fixed, '6.1.188');
  assert.equal(row('tdx-port-in-mask-off-by-one', '6.6.y').fixed, '6.6.157');
  assert.equal(row('tdx-port-inl-no-zero-extend', '6.12.y').fixed, '6.12.109');
  assert.equal(row('tdx-port-inl-no-zero-extend', '5.19').fixed, null);
  assert.equal(row('tdx-user-half-refused', '6.12.y').introduced, '6.12');
  assert.equal(row('tdx-user-half-refused', '6.6.y').introduced, '6.6.54');
  assert.equal(row('tdx-user-half-refused', '5.19').introduced, null);
  assert.equal(row('tdx-mmio-read-r15-leak', 'mainline').fixed, '6.11-rc7');
  assert.equal(row('tdx-cpuid-no-zero-extend', '6.12.y').fixed, null);
  assert.equal(row('tdx-page-split-check', '5.19').introduced, '5.19', 'the 5.19 release has it (rc3)');
  assert.equal(row('tdx-page-split-check', 'mainline').introduced, '5.19-rc3');
  assert.equal(factTable().length, KERNEL_FACTS.length * 5);
  for (const f of KERNEL_FACTS) {
    assert.ok(f.source.startsWith('arch/') || f.source.startsWith('lib/'), f.id);
    assert.ok(f.evidence.length > 0, f.id);
  }
  assert.equal(factHolds('tdx-cpuid-no-zero-extend', k('7.3')), true);
});

test('profile ids: named, versioned, and junk', () => {
  for (const ok of ['tdx-linux-6.1', 'sev-es', 'tdx-linux-6.1.192', 'sev-es-linux-6.12.118', 'tdx-linux-5.19.0-rc1', 'tdx-linux-6.12']) assert.ok(isProfile(ok), ok);
  for (const bad of ['tdx-linux-5.18.19', 'tdx-linux-5.19.0-rc0', 'sev-es-linux-5.9.16', 'tdx-linux-4.0', 'tdx', 'tdx-linux-', 'tdx-linux-6', 'sev-snp-linux-6.1.1', 'tdx-linux-6.1.1.1', 'tdx-linux-6.1.x', 'TDX-linux-6.1.1', '__proto__', 'constructor']) assert.ok(!isProfile(bad), bad);
  assert.deepEqual(parseProfile('tdx-linux-5.19.0-rc1')?.kernel, { version: 5, patchlevel: 19, sublevel: 0, rc: 1 });
  assert.equal(profileIdFor(k('6.1.192'), 'tdx'), 'tdx-linux-6.1.192');
  const p = profileData('sev-es-linux-6.1.192');
  assert.equal(p.id, 'sev-es-linux-6.1.192');
  assert.equal(p.alias, null);
  assert.equal(p.enumPrefix, 'MMIO_');
  assert.equal(profileData('tdx-linux-6.1.100'), profileData('tdx-linux-6.1.100'), 'derived once');
  assert.throws(() => profileData('nope' as never), /unknown profile/);
});

test('no platform difference in server/src/x86 comes from comparing a profile id', () => {
  const dir = join(__dirname, '../../../server/src/x86');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.doesNotMatch(text, /(id|profile)\s*[!=]==\s*'sev-es'|'sev-es'\s*[!=]==/, f);
  }
});

test('the tree version comes from the top-level Makefile', () => {
  assert.deepEqual(parseKernelMakefile('# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\nNAME = Curry Ramen\n'), { version: 6, patchlevel: 1, sublevel: 192 });
  assert.deepEqual(parseKernelMakefile('VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\nEXTRAVERSION = -rc1\n'), { version: 6, patchlevel: 12, sublevel: 0, rc: 1 });
  assert.equal(parseKernelMakefile('all:\n\techo hi\n'), null);
  assert.equal(parseKernelMakefile('VERSION = x\nPATCHLEVEL = 1\n'), null);

  const root = mkdtempSync(join(tmpdir(), 'tdx-tree-'));
  try {
    writeFileSync(join(root, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 150\nEXTRAVERSION =\n');
    mkdirSync(join(root, 'drivers/net'), { recursive: true });
    writeFileSync(join(root, 'drivers/net/Makefile'), 'obj-y += foo.o\n');
    writeFileSync(join(root, 'drivers/net/foo.c'), 'int x;\n');
    const r = readTreeVersion(root);
    assert.ok(r.version);
    assert.equal(r.version.sublevel, 150);
    const found = findTreeVersion(join(root, 'drivers/net/foo.c'));
    assert.equal(found?.root, root);
    assert.equal(found?.version.sublevel, 150);
    assert.equal(readTreeVersion(join(root, 'drivers')).version, null);

    // A Makefile that is /dev/zero or a FIFO is refused, never read.
    const hostile = join(root, 'hostile');
    mkdirSync(hostile);
    symlinkSync('/dev/zero', join(hostile, 'Makefile'));
    const z = readTreeVersion(hostile);
    assert.equal(z.version, null);
    const fifo = join(root, 'fifo');
    mkdirSync(fifo);
    if (spawnSync('mkfifo', [join(fifo, 'Makefile')]).status === 0) assert.equal(readTreeVersion(fifo).version, null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('scan takes the tree\'s profile unless --profile is given; a disagreeing --profile is said once', () => {
  const root = mkdtempSync(join(tmpdir(), 'tdx-tree-'));
  try {
    writeFileSync(join(root, 'Makefile'), 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 150\nEXTRAVERSION =\n');
    mkdirSync(join(root, 'drivers'));
    const opts = (): CommonOptions => ({ profile: DEFAULT_PROFILE, followIncludes: true, objects: [] });
    const warned: string[] = [];

    const a = opts();
    assert.deepEqual(applyTreeProfile(a, [join(root, 'drivers'), root], (s) => warned.push(s)), { root, version: '6.1.150' });
    assert.equal(a.profile, 'tdx-linux-6.1.150');
    assert.equal(warned.length, 0);

    const b = { ...opts(), profile: 'tdx-linux-6.12+' as const, profileExplicit: true };
    applyTreeProfile(b, [join(root, 'drivers'), root], (s) => warned.push(s));
    assert.equal(b.profile, 'tdx-linux-6.12+');
    assert.equal(warned.length, 1);
    assert.match(warned[0], /--profile tdx-linux-6\.12\+ \(Linux 6\.12\.118\) disagrees with .*Makefile \(Linux 6\.1\.150, profile tdx-linux-6\.1\.150\) on .*portIn.*; using tdx-linux-6\.12\+/);

    // Same behaviour, different version: nothing to say.
    warned.length = 0;
    const c = { ...opts(), profile: 'tdx-linux-6.1.149' as const, profileExplicit: true };
    applyTreeProfile(c, [root], (s) => warned.push(s));
    assert.equal(warned.length, 0);

    // The same rule for the server and reports: treeProfile() returns what the CLI applies.
    const tp = treeProfile([root], 'sev-es', true);
    assert.equal(tp.profile, 'sev-es');
    assert.deepEqual(tp.tree, { root, makefile: join(root, 'Makefile'), version: '6.1.150' });
    assert.match(tp.disagreement!, /--profile sev-es \(Linux 6\.12\.118\) disagrees .* on enumPrefix/);
    assert.deepEqual(treeProfile([tmpdir()], 'tdx-linux-6.1', false), { profile: 'tdx-linux-6.1', tree: null, disagreement: null });

    // An SEV profile keeps its platform and takes the tree's version.
    const d = { ...opts(), profile: 'sev-es' as const };
    applyTreeProfile(d, [root], () => {});
    assert.equal(d.profile, 'sev-es-linux-6.1.150');

    // A tree older than the platform's guest keeps the profile, and says so.
    writeFileSync(join(root, 'Makefile'), 'VERSION = 5\nPATCHLEVEL = 15\nSUBLEVEL = 0\n');
    warned.length = 0;
    const old = opts();
    applyTreeProfile(old, [root], (s) => warned.push(s));
    assert.equal(old.profile, DEFAULT_PROFILE);
    assert.match(warned[0], /Linux 5\.15\.0, which has no TDX guest; using tdx-linux-6\.12\+/);

    const e = opts();
    assert.equal(applyTreeProfile(e, [tmpdir()], () => {}), null);
    assert.equal(e.profile, DEFAULT_PROFILE);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the profile and the report read a kernel Makefile the same way, := and ?= included', async () => {
  const { parseKernelMakefile: reportVersion } = await import('../../../server/src/audit/report/provenance');
  for (const [text, profile, report] of [
    ['VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n', '6.1.192', '6.1.192'],
    ['VERSION := 6\nPATCHLEVEL := 12\nSUBLEVEL := 118\nEXTRAVERSION :=\n', '6.12.118', '6.12.118'],
    ['VERSION ?= 6\nPATCHLEVEL ?= 8\nSUBLEVEL ?= 0\nEXTRAVERSION = -rc3\n', '6.8.0-rc3', '6.8.0-rc3'],
    ['VERSION = six\nPATCHLEVEL = 1\n', null, null],
  ] as const) {
    const k = parseKernelMakefile(text);
    const r = reportVersion(text, 'M');
    assert.equal(k ? `${k.version}.${k.patchlevel}.${k.sublevel}${k.rc !== undefined ? `-rc${k.rc}` : ''}` : null, profile, text);
    assert.equal(r ? r.version : null, report, text);
  }
});
