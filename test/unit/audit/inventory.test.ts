// The whole-image inventory (audit/inventory.ts) of a small image linked at the
// kernel's addresses from units that inline io.h-style accessors: read with its
// .debug_info in memory or from the file unit by unit (as vmlinux is), it is the
// same inventory; and passes over disjoint unit sets (the worker threads' shares,
// interleaved) merge into exactly the one-pass inventory, an instruction two units
// share kept once, at its first unit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSectionSource, openBinary } from '../../../server/src/binary/index';
import { codeOf } from '../../../server/src/audit/code';
import { inventory, inventoryPart, mergeInventory, type Inventory } from '../../../server/src/audit/inventory';
import { readSparse, type OpenedObject } from '../../../server/src/audit/objects';
import { gcc, skipWithoutGcc } from '../../support/gcc';

const IO_H = `#define __iomem
#define __always_inline inline __attribute__((__always_inline__))
static __always_inline unsigned int readl(const volatile void __iomem *addr)
{ unsigned int v; asm volatile("movl %1,%0" : "=r"(v) : "m"(*(volatile unsigned int *)addr) : "memory"); return v; }
static __always_inline void writel(unsigned int v, volatile void __iomem *addr)
{ asm volatile("movl %0,%1" : : "r"(v), "m"(*(volatile unsigned int *)addr) : "memory"); }
static __always_inline unsigned char inb(unsigned short port)
{ unsigned char v; asm volatile("inb %w1,%b0" : "=a"(v) : "Nd"(port)); return v; }
static __always_inline void outb(unsigned char v, unsigned short port)
{ asm volatile("outb %b0,%w1" : : "a"(v), "Nd"(port)); }
`;

/** Units in link order; c.c's static inline helper is emitted once per unit that uses it. */
const UNITS: Record<string, string> = {
  'a.c': `#include "asm/io.h"
unsigned int a_status(void __iomem *r) { return readl((char __iomem *)r + 4); }
void a_kick(void __iomem *r, unsigned int v) { writel(v, (char __iomem *)r + 8); outb(1, 0x80); }
`,
  'b.c': `int b_plain(int x) { return x * 3; }
`,
  'c.c': `#include "asm/io.h"
unsigned char c_port(void) { return inb(0x61); }
void c_both(void __iomem *r) { writel(readl(r), (char __iomem *)r + 0x10); }
void entry(void) {}
`,
  'd.c': `#include "asm/io.h"
unsigned int d_status(void __iomem *r) { return readl(r) + inb(0x70); }
`,
};

let dir = '';
let image = '';

before(() => {
  if (skipWithoutGcc) return;
  dir = mkdtempSync(join(tmpdir(), 'tdx-inventory-'));
  mkdirSync(join(dir, 'asm'));
  writeFileSync(join(dir, 'asm/io.h'), IO_H);
  for (const [name, text] of Object.entries(UNITS)) writeFileSync(join(dir, name), text);
  image = join(dir, 'vmlinux');
  gcc(['-O2', '-g', '-mcmodel=kernel', '-fno-pic', '-no-pie', '-nostdlib', '-static', '-Wl,-Ttext=0xffffffff81000000', '-Wl,-e,entry', '-I', dir, ...Object.keys(UNITS), '-o', image], dir);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function opened(fromFile: boolean): OpenedObject {
  const st = statSync(image);
  const data = fromFile ? readSparse(image, st.size, undefined, { infoFromFile: true })! : readFileSync(image);
  const bin = openBinary(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), {
    infoFrom: fromFile ? (sec) => new FileSectionSource(image, sec.offset, sec.size, { size: st.size, mtimeMs: st.mtimeMs }) : undefined,
  });
  return { path: image, mtimeMs: st.mtimeMs, size: st.size, bin, code: codeOf(bin) };
}

const withoutTime = (i: Inventory) => ({ ...i, ms: 0 });

test('the inventory of an image is the same with .debug_info read unit by unit from the file', { skip: skipWithoutGcc }, () => {
  const mem = inventory(opened(false), 'tdx-linux-6.12+');
  const file = opened(true);
  const info = file.bin.elf.sectionByName('.debug_info')!;
  const st = statSync(image);
  const sparse = readSparse(image, st.size, undefined, { infoFromFile: true })!;
  assert.ok(sparse.subarray(info.offset, info.offset + info.size).every((b) => b === 0), '.debug_info left out of the sparse read');
  const got = inventory(file, 'tdx-linux-6.12+');
  assert.deepEqual(withoutTime(got), withoutTime(mem));
  // Something to compare: each accessor of the units that include asm/io.h, and not b.c.
  assert.deepEqual([...new Set(mem.items.map((i) => i.accessor))].sort(), ['inb', 'outb', 'readl', 'writel']);
  assert.deepEqual(mem.units, { total: 4, scanned: 3 });
  assert.ok(mem.items.some((i) => i.function === 'c_both' && i.accessor === 'readl'));
});

test('passes over interleaved unit shares merge into the one-pass inventory', { skip: skipWithoutGcc }, () => {
  const o = opened(true);
  const one = inventory(o, 'tdx-linux-6.12+');
  for (const threads of [2, 3, 4]) {
    const parts = Array.from({ length: threads }, (_, w) => inventoryPart(opened(true), 'tdx-linux-6.12+', (k) => k % threads === w, w === 0));
    assert.deepEqual(withoutTime(mergeInventory(image, 'tdx-linux-6.12+', parts, 0)), withoutTime(one), `${threads} shares`);
  }
  // A share's instruction that an earlier unit of another share also holds is kept once, at that unit.
  const dup = one.items[0]!;
  const first = { total: 2, scanned: 1, empty: 0, units: [{ unit: 0, items: [{ ...dup, site: { file: 'first', line: 1, column: 1 } }] }], asm: [] };
  const later = { total: 2, scanned: 1, empty: 0, units: [{ unit: 1, items: [{ ...dup, site: { file: 'later', line: 2, column: 2 } }] }], asm: [] };
  const merged = mergeInventory(image, 'tdx-linux-6.12+', [later, first], 0);
  assert.equal(merged.items.length, 1);
  assert.equal(merged.items[0]!.site.file, 'first');
});
