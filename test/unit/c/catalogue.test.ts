import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE, CATALOGUE_NAMES_RE } from '../../../server/src/c/catalogue';

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
