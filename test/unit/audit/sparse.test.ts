// A linked image read section by section (objects.ts readSparse) answers every
// question the audit asks exactly as the whole file does, holding no relocation,
// location-list or data bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBinary } from '../../../server/src/binary/index';
import { readSparse } from '../../../server/src/audit/objects';
import { gcc, hasGcc } from '../../support/gcc';


test('a sparse read of an executable gives the same symbols, line rows and inline chains as a full read', { skip: hasGcc ? false : 'gcc is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-sparse-'));
  try {
    const src = join(dir, 'prog.c');
    writeFileSync(src, [
      'static inline __attribute__((always_inline)) void w(unsigned v, volatile unsigned *p) { *p = v; }',
      'const char table[4096] = "data that the audit never reads";',
      'int main(int argc, char **argv) { w(argc, (volatile unsigned *)argv); return table[argc]; }',
      '',
    ].join('\n'));
    // --emit-relocs keeps .rela sections in the executable, as vmlinux has them.
    gcc(['-O2', '-g', '-Wl,--emit-relocs', src, '-o', join(dir, 'prog')], dir);
    const path = join(dir, 'prog');
    const full = openBinary(new Uint8Array(readFileSync(path)));
    const sparseBuf = readSparse(path, statSync(path).size);
    assert.ok(sparseBuf, 'an ELF64 executable is read sparsely');
    const sparse = openBinary(new Uint8Array(sparseBuf.buffer, sparseBuf.byteOffset, sparseBuf.byteLength));
    const syms = (b: typeof full) => b.elf.functionSymbols().map((s) => `${s.name}@${s.value}+${s.size}`).sort();
    assert.deepEqual(syms(sparse), syms(full));
    const cuF = full.dwarf.compileUnits();
    const cuS = sparse.dwarf.compileUnits();
    assert.equal(cuS.length, cuF.length);
    const rows = (b: typeof full) => b.dwarf.compileUnits().flatMap((u) => b.dwarf.lineRows(u).map((x) => `${x.address}:${x.line}:${x.column}`));
    assert.deepEqual(rows(sparse), rows(full));
    const main = full.elf.functionSymbols().find((s) => s.name === 'main')!;
    assert.deepEqual(sparse.dwarf.inlineChain(main.value + 1n), full.dwarf.inlineChain(main.value + 1n));
    // The data and relocation bytes were not read.
    const rela = full.elf.sections.find((s) => s.name.startsWith('.rela.debug_info'));
    const rodata = full.elf.sections.find((s) => s.name === '.rodata');
    for (const s of [rela, rodata]) {
      if (!s) continue;
      assert.ok(sparseBuf.subarray(s.offset, s.offset + s.size).every((b) => b === 0), `${s.name} left unread`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
