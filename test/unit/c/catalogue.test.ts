import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOGUE, CATALOGUE_NAMES_RE, accessorFor } from '../../../server/src/c/catalogue';
import { DEFAULT_PROFILE, profileData, type Profile } from '../../../server/src/x86/profiles';
import { treeProfile } from '../../../server/src/x86/treeVersion';

const REQUIRED = `readb readw readl readq writeb writew writel writeq readb_relaxed readl_relaxed writel_relaxed
writeq_relaxed __raw_readb __raw_readl __raw_readq __raw_writel __raw_writeq __readl __writel ioread8 ioread16
ioread32 ioread64 ioread16be ioread32be ioread64be ioread64_lo_hi ioread64_hi_lo iowrite8 iowrite16 iowrite32
iowrite64 iowrite16be iowrite32be iowrite64be ioread8_rep ioread16_rep ioread32_rep iowrite8_rep iowrite16_rep
iowrite32_rep readsb readsw readsl readsq writesb writesw writesl writesq lo_hi_readq hi_lo_readq lo_hi_writeq
hi_lo_writeq memcpy_fromio memcpy_toio memset_io __iowrite32_copy __ioread32_copy __iowrite64_copy
iosubmit_cmds512 mmio_config_readb mmio_config_readw mmio_config_readl mmio_config_writeb mmio_config_writew
mmio_config_writel inb inw inl outb outw outl insb insw insl outsb outsw outsl rdmsr wrmsr rdmsrl wrmsrl
rdmsr_safe native_read_msr native_write_msr cpuid cpuid_count cpuid_eax cpuid_ebx cpuid_ecx cpuid_edx
native_halt safe_halt`.split(/\s+/);

test('the catalogue covers every accessor the foundation issue names', () => {
  const missing = REQUIRED.filter((n) => !CATALOGUE.has(n));
  assert.deepEqual(missing, []);
});

test('io.h MOV accessors carry their access width and the EPT-violation exit', () => {
  for (const [n, w] of [['readb', 1], ['readw', 2], ['readl', 4], ['readq', 8], ['writeq', 8], ['__raw_writew', 2]] as const) {
    const a = CATALOGUE.get(n)!;
    assert.equal(a.width, w, n);
    assert.equal(a.exitReason, 48, n);
    assert.equal(a.inline, true, n);
  }
  assert.equal(CATALOGUE.get('readl')!.kind, 'mmio-read');
  assert.equal(CATALOGUE.get('writel')!.kind, 'mmio-write');
  assert.equal(CATALOGUE.get('writel')!.addrArg, 1);
});

test('out-of-line iomap accessors are marked so the #VE is known to land in the callee', () => {
  assert.equal(CATALOGUE.get('ioread32')!.inline, false);
  assert.equal(CATALOGUE.get('iowrite16be')!.width, 2);
});

test('rep-movs copy and MOVDIR64B are error rules without any object file', () => {
  assert.equal(CATALOGUE.get('__iowrite32_copy')!.rule, 'tdx-movs-copy');
  assert.equal(CATALOGUE.get('iosubmit_cmds512')!.rule, 'tdx-movdir64b');
  assert.equal(CATALOGUE.get('__ioread32_copy')!.rule, 'tdx-ve-mmio-string');
});

test('port I/O, MSR, CPUID and HLT carry their own exit reasons', () => {
  assert.equal(CATALOGUE.get('inb')!.exitReason, 30);
  assert.equal(CATALOGUE.get('outl')!.addrArg, 1);
  assert.equal(CATALOGUE.get('rdmsrl')!.exitReason, 31);
  assert.equal(CATALOGUE.get('wrmsrl')!.exitReason, 32);
  assert.equal(CATALOGUE.get('cpuid_eax')!.exitReason, 10);
  assert.equal(CATALOGUE.get('safe_halt')!.exitReason, 12);
  assert.equal(CATALOGUE.get('insw')!.rule, 'tdx-ve-port-string');
});

test('the pre-filter regex matches whole accessor names only', () => {
  assert.ok(CATALOGUE_NAMES_RE.test('x = readl(p);'));
  assert.ok(!CATALOGUE_NAMES_RE.test('x = my_readlx(p);'));
});

// --- What each accessor compiles to, per kernel version (Debian 6.1.192 / 6.12.118 sources) ---

const K = (version: number, patchlevel: number, sublevel = 0, rc?: number) => ({ version, patchlevel, sublevel, ...(rc === undefined ? {} : { rc }) });

test('__iowrite32_copy: a CALL to iomap_copy_64.S up to 6.9, an inline `rep ; movsl` from 6.10 (6.10-rc1 included)', () => {
  const at = (k: ReturnType<typeof K>) => accessorFor('__iowrite32_copy', k)!;
  for (const k of [K(6, 1, 192), K(6, 6, 60), K(6, 9, 12)]) {
    assert.equal(at(k).inline, false, JSON.stringify(k));
    assert.match(at(k).source!, /^arch\/x86\/lib\/iomap_copy_64\.S/);
    assert.match(at(k).compiles, /^out of line: `movl %edx,%ecx; rep movsl; RET`/);
  }
  for (const k of [K(6, 10, 0, 1), K(6, 10), K(6, 12, 118), K(7, 1)]) {
    assert.equal(at(k).inline, true, JSON.stringify(k));
    assert.match(at(k).source!, /^arch\/x86\/include\/asm\/io\.h/);
    assert.match(at(k).compiles, /^inline in the caller: `asm volatile\("rep ; movsl"\)`/);
  }
  // Whatever the version, MOVS on MMIO is the same error rule and the same element width.
  assert.equal(at(K(6, 1, 192)).rule, 'tdx-movs-copy');
  assert.equal(at(K(6, 12, 118)).width, 4);
});

test('the catalogue\'s __iowrite32_copy boundary is the profile table\'s iowrite32-copy-inline fact', () => {
  for (const s of ['5.19', '6.1.192', '6.6.100', '6.9.12', '6.10-rc1', '6.10', '6.11.5', '6.12.118', '7.0']) {
    const p = profileData(`tdx-linux-${s}` as Profile);
    assert.equal(accessorFor('__iowrite32_copy', p.kernel)!.inline, p.iowrite32CopyInline, s);
  }
});

test('a tree\'s Makefile picks the version, and with it the form: 6.1 out of line, 6.12 inline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-cat-tree-'));
  try {
    for (const [sub, pl, sl, inline] of [['a', 1, 192, false], ['b', 12, 118, true]] as const) {
      mkdirSync(join(dir, sub, 'drivers'), { recursive: true });
      writeFileSync(join(dir, sub, 'Makefile'), `# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = ${pl}\nSUBLEVEL = ${sl}\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n`);
      writeFileSync(join(dir, sub, 'drivers', 'x.c'), '');
      const r = treeProfile([join(dir, sub, 'drivers', 'x.c')], DEFAULT_PROFILE, false);
      assert.equal(r.profile, `tdx-linux-6.${pl}.${sl}`);
      assert.equal(accessorFor('__iowrite32_copy', profileData(r.profile).kernel)!.inline, inline, sub);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the other string/bulk accessors are out of line in 6.1 and 6.12 alike, each citing its source', () => {
  for (const k of [K(6, 1, 192), K(6, 12, 118)]) {
    for (const n of ['__iowrite64_copy', '__ioread32_copy', 'memcpy_toio', 'memcpy_fromio', 'memset_io',
      'ioread8_rep', 'ioread16_rep', 'ioread32_rep', 'iowrite8_rep', 'iowrite16_rep', 'iowrite32_rep']) {
      const a = accessorFor(n, k)!;
      assert.equal(a.inline, false, `${n} ${k.patchlevel}`);
      assert.ok(a.source && /^(lib|arch)\//.test(a.source), `${n}: ${a.source}`);
    }
    assert.match(accessorFor('memcpy_toio', k)!.source!, /arch\/x86\/lib\/iomem\.c, identical in 6\.1\.192 and 6\.12\.118/);
    assert.match(accessorFor('ioread32_rep', k)!.compiles, /mmio_insl, a loop of single 4-byte __raw_readl MOVs/);
    assert.equal(accessorFor('iosubmit_cmds512', k)!.inline, true);
  }
  // __iowrite64_copy never got an x86 version: the generic loop, weak before 6.10, #ifndef from it.
  assert.match(accessorFor('__iowrite64_copy', K(6, 1, 192))!.source!, /__attribute__\(\(weak\)\)/);
  assert.match(accessorFor('__iowrite64_copy', K(6, 12, 118))!.source!, /#ifndef __iowrite64_copy/);
  assert.match(accessorFor('iosubmit_cmds512', K(6, 12, 118))!.source!, /movdir64b_io/);
  // Without a version, or for an accessor whose form never changed, the version-neutral row.
  assert.equal(accessorFor('__iowrite32_copy'), CATALOGUE.get('__iowrite32_copy'));
  assert.equal(accessorFor('readl', K(6, 12, 118)), CATALOGUE.get('readl'));
});

test('x86-64 ioread64_lo_hi & co are lib/iomap.c calls doing one 8-byte readq/writeq on MMIO, not two inline halves', () => {
  for (const n of ['ioread64_lo_hi', 'ioread64_hi_lo', 'ioread64be_lo_hi', 'iowrite64_lo_hi', 'iowrite64be_hi_lo']) {
    const a = CATALOGUE.get(n)!;
    assert.equal(a.inline, false, n);
    assert.equal(a.width, 8, n);
    assert.match(a.compiles, /^call to lib\/iomap\.c /, n);
  }
  // io-64-nonatomic's lo_hi_readq really is two 32-bit halves inline.
  assert.deepEqual([CATALOGUE.get('lo_hi_readq')!.inline, CATALOGUE.get('lo_hi_readq')!.width], [true, 4]);
});

test('ioread64 & co name the two lib/iomap.c functions a call really lands on', () => {
  assert.deepEqual(CATALOGUE.get('ioread64')!.callees, ['ioread64_lo_hi', 'ioread64_hi_lo']);
  assert.deepEqual(CATALOGUE.get('iowrite64be')!.callees, ['iowrite64be_lo_hi', 'iowrite64be_hi_lo']);
  assert.equal(CATALOGUE.get('ioread64')!.width, 8);
  assert.equal(CATALOGUE.get('ioread32')!.callees, undefined);
});
