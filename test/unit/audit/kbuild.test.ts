// What the TD kernel builds (audit/kbuild.ts) and the driver allow-list
// (audit/allowList.ts), on a tree we write: Kbuild's rules one by one, the
// conditions we refuse to guess, and a hostile Makefile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDotConfig, treeKbuild } from '../../../server/src/audit/kbuild';
import { allowed, parseAllowList } from '../../../server/src/audit/allowList';

let root = '';
const put = (rel: string, text: string) => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
};

before(() => {
  root = mkdtempSync(join(tmpdir(), 'tdx-audit-kbuild-'));
  put('Makefile', 'VERSION = 6\nPATCHLEVEL = 1\n');
  put('drivers/Makefile', [
    '# SPDX-License-Identifier: GPL-2.0',
    'obj-y\t\t\t\t+= base/ net/',
    'obj-$(CONFIG_ATA_OVER_ETH)\t+= block/aoe/',
    'obj-$(CONFIG_WIDGET) += widget/',
  ].join('\n'));
  put('drivers/base/Makefile', 'obj-y := core.o \\\n\tbus.o\n');
  put('drivers/net/Makefile', [
    'obj-$(CONFIG_FOO_NIC) += foo_nic.o',
    'foo_nic-y := foo_main.o foo_hw.o',
    'foo_nic-$(CONFIG_FOO_NIC_PTP) += foo_ptp.o',
    'obj-m += always_mod.o',
    'ifdef CONFIG_NET_EXTRA',
    'obj-y += extra.o',
    'else',
    'obj-y += no_extra.o',
    'endif',
    'ifeq ($(ARCH),x86)',
    'obj-y += x86_only.o',
    'endif',
    'obj-$(subst m,y,$(CONFIG_BAR)) += bar.o',
    'ccflags-y += -DDEBUG foo_hw.o',
    'obj-$(CONFIG_SUBDIR_OBJS) += sub/deep.o',
    'obj-y += gem/',
    'gem-y += \\',
    '\tgem/gem_a.o',
    'foo_nic-y += $(gem-y) $(addprefix x/,y.o)',
  ].join('\n'));
  put('drivers/net/gem/Makefile', 'obj-y += gem_own.o\n');
  put('drivers/block/aoe/Makefile', 'obj-$(CONFIG_ATA_OVER_ETH)\t+= aoe.o\naoe-y := aoeblk.o aoenet.o\n');
  put('drivers/widget/Kbuild', 'obj-$(CONFIG_WIDGET_CORE) += widget_core.o\n');
  put('drivers/widget/Makefile', 'obj-y += widget_core.o widget_extra.o\n'); // Kbuild wins
  put('drivers/orphan/Makefile', 'obj-y += lost.o\n'); // no Makefile enters drivers/orphan/
});
after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const config = parseDotConfig([
  '# CONFIG_NOT_SET is not set',
  'CONFIG_FOO_NIC=m',
  'CONFIG_ATA_OVER_ETH=y',
  'CONFIG_WIDGET=y',
  'CONFIG_WIDGET_CORE=y',
  'CONFIG_NET_EXTRA=y',
  'CONFIG_BAR=m',
  'CONFIG_SUBDIR_OBJS=y',
  'CONFIG_NAME="x"',
].join('\n'));
const state = (f: string) => treeKbuild(root).verdict(f, config).state;

test('obj-y in a folder the top Makefile enters is built in, across continuation lines', () => {
  assert.equal(state('drivers/base/core.c'), 'built-in');
  assert.equal(state('drivers/base/bus.c'), 'built-in');
});

test('a composite object takes its parts; a part gated by an unset symbol is not built', () => {
  assert.equal(state('drivers/net/foo_main.c'), 'module');
  assert.equal(state('drivers/net/foo_hw.c'), 'module');
  assert.equal(state('drivers/net/foo_ptp.c'), 'not-built');
  assert.deepEqual(treeKbuild(root).objectsOf('drivers/net/foo_hw.c'), ['foo_nic']);
});

test('obj-m is a module whatever else', () => {
  assert.equal(state('drivers/net/always_mod.c'), 'module');
});

test('ifdef CONFIG_X is read; its else branch and ifeq on a variable are unknown, never guessed', () => {
  assert.equal(state('drivers/net/extra.c'), 'built-in');
  assert.equal(state('drivers/net/no_extra.c'), 'unknown');
  assert.equal(state('drivers/net/x86_only.c'), 'unknown');
  assert.equal(state('drivers/net/bar.c'), 'unknown', 'an expression around the symbol is not evaluated');
});

test('a folder entered from a grandparent by its longer path (drivers/Makefile: += block/aoe/)', () => {
  const v = treeKbuild(root).verdict('drivers/block/aoe/aoeblk.c', config);
  assert.equal(v.state, 'built-in');
  assert.deepEqual(treeKbuild(root).pathsFor('drivers/block/aoe/aoeblk.c')[0]!.via, ['drivers/Makefile:3', 'drivers/block/aoe/Makefile:1', 'drivers/block/aoe/Makefile:2']);
  assert.equal(treeKbuild(root).verdict('drivers/block/aoe/aoeblk.c', parseDotConfig('')).state, 'not-built');
});

test('an object of a subfolder named by its parent Makefile (sub/deep.o)', () => {
  assert.equal(state('drivers/net/sub/deep.c'), 'built-in');
});

test('a list reused as $(name) takes its objects; a parent names a subfolder file even when Kbuild descends there', () => {
  assert.equal(state('drivers/net/gem/gem_a.c'), 'module', 'foo_nic-y += $(gem-y), foo_nic is a module');
  assert.deepEqual(treeKbuild(root).objectsOf('drivers/net/gem/gem_a.c'), ['foo_nic']);
  assert.equal(state('drivers/net/gem/gem_own.c'), 'built-in');
});

test('a Kbuild file wins over the Makefile beside it', () => {
  assert.equal(state('drivers/widget/widget_core.c'), 'built-in');
  assert.equal(state('drivers/widget/widget_extra.c'), 'unknown', 'only the Makefile names it');
  assert.equal(treeKbuild(root).verdict('drivers/widget/widget_core.c', parseDotConfig('CONFIG_WIDGET=y')).state, 'not-built');
});

test('flags lists are not object lists, and a folder no Makefile enters says so', () => {
  assert.deepEqual(treeKbuild(root).pathsFor('drivers/net/foo_hw.c').length, 1, 'ccflags-y names foo_hw.o but builds nothing');
  assert.equal(treeKbuild(root).verdict('drivers/orphan/lost.c', config).state, 'unknown');
  assert.match(treeKbuild(root).verdict('drivers/orphan/lost.c', config).why, /no Kbuild Makefile names it/);
});

test('a Makefile that is a FIFO, a link out of the tree, or a self-naming composite does not hang or escape', () => {
  const outside = mkdtempSync(join(tmpdir(), 'tdx-audit-kbuild-out-'));
  try {
    writeFileSync(join(outside, 'Makefile'), 'obj-y += evil.o\n');
    put('hostile/Makefile', 'obj-y += linked/ fifo/ loop/ plain/\n');
    put('hostile/plain/Makefile', 'obj-y += evil.o\n');
    mkdirSync(join(root, 'hostile/linked'), { recursive: true });
    symlinkSync(join(outside, 'Makefile'), join(root, 'hostile/linked/Makefile'));
    mkdirSync(join(root, 'hostile/fifo'), { recursive: true });
    execFileSync('mkfifo', [join(root, 'hostile/fifo/Makefile')]);
    put('hostile/loop/Makefile', 'obj-y += loop.o\nloop-y := loop.o\n');
    assert.equal(state('hostile/plain/evil.c'), 'built-in', 'the same Makefile inside the tree is read');
    assert.equal(state('hostile/linked/evil.c'), 'unknown', 'the link out of the tree is not read');
    assert.equal(state('hostile/fifo/x.c'), 'unknown', 'a FIFO is not opened for reading');
    assert.equal(state('hostile/loop/loop.c'), 'built-in', 'obj-y names loop.o itself; the self-naming composite ends');
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test('the allow-list matches folders, files, driver names (- as _) and bus:name, and says what it ignored', () => {
  const list = parseAllowList([
    '# TD drivers',
    'drivers/virtio/',
    'drivers/net/extra.c',
    'virtio-net, pci:foo-nic',
    '../etc/passwd',
    'bad*name',
  ].join('\n'));
  assert.equal(allowed(list, 'drivers/virtio/virtio_pci_modern.c', []), true);
  assert.equal(allowed(list, 'drivers/virtiox/a.c', []), false, 'a folder prefix ends at its slash');
  assert.equal(allowed(list, 'drivers/net/extra.c', []), true);
  assert.equal(allowed(list, 'drivers/net/virtio_net.c', []), true, 'by stem');
  assert.equal(allowed(list, 'drivers/net/foo_hw.c', treeKbuild(root).objectsOf('drivers/net/foo_hw.c')), true, 'by the module Kbuild links it into');
  assert.equal(allowed(list, 'drivers/net/always_mod.c', ['always_mod']), false);
  assert.deepEqual(list.ignored.map((x) => x.line), [5, 6]);
});
