// Hostile objects for the ELF/DWARF readers and the decoder glue: the runner's
// hang/crash/OOM detection, symbolBytes bounds, saved regression inputs, and a
// bounded run of the object fuzzer (the long one is `npm run fuzz`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfError, ElfFile } from '../../server/src/binary/index';
import { exerciseObject, ownSeeds, REPO } from './objects';
import { runFuzz, summary } from './runner';

const seeds = ownSeeds();
const noGcc = seeds.length ? false : 'gcc not found: no seeds';

test('the runner reports a hang, a crash and a heap exhaustion, and carries on after each', { timeout: 120_000 }, async () => {
  const logs: string[] = [];
  const r = await runFuzz({ kind: 'selftest', seed: 1, inputs: 10, workers: 1, budgetMs: 1500, memoryMb: 48, payload: {}, log: (l) => logs.push(l), crashDir: join(REPO, 'test-output', 'fuzz', 'selftest') });
  assert.deepEqual(r.hangs.map((h) => h.index), [3], logs.join('\n'));
  assert.deepEqual(r.crashes.map((c) => [c.index, c.kind]).sort(), [[5, 'crash'], [8, 'oom']], logs.join('\n'));
  assert.ok(r.hangs[0]!.file && existsSync(r.hangs[0]!.file), 'the hanging input is saved');
  assert.match(r.crashes.find((c) => c.index === 5)!.message, /TypeError: selftest: boom/);
});

test('symbolBytes: a function symbol past its section, or without one, is an ElfError', { skip: noGcc }, () => {
  const seed = seeds.find((s) => s.label === 'mmio_dev-dwarf5.o')!;
  const elf = ElfFile.parse(seed.data);
  const fn = elf.functionSymbols()[0]!;
  const ok = elf.symbolBytes(fn);
  assert.equal(ok.bytes.length, fn.size);
  assert.equal(ok.address, (BigInt(fn.shndx) << 32n) + fn.value);
  const text = elf.section(fn.shndx);
  assert.throws(() => elf.symbolBytes({ ...fn, value: BigInt(text.size) - 1n }), ElfError);
  assert.throws(() => elf.symbolBytes({ ...fn, size: text.size + 1 }), ElfError);
  assert.throws(() => elf.symbolBytes({ ...fn, value: 0xffffffffffffff00n }), ElfError);
  assert.throws(() => elf.symbolBytes({ ...fn, shndx: 0 }), ElfError);
  assert.throws(() => elf.symbolBytes({ ...fn, shndx: 0xfff1 }), ElfError);
  assert.throws(() => elf.symbolBytes({ ...fn, shndx: elf.sections.length + 3 }), ElfError);
  const bss = elf.sectionByName('.bss');
  if (bss) assert.throws(() => elf.symbolBytes({ ...fn, shndx: bss.index, size: 0 }), ElfError);
  // An executable: the symbol value is a virtual address.
  const exe = ElfFile.parse(seeds.find((s) => s.label === 'exe-dwarf5')!.data);
  const main = exe.functionSymbols().find((s) => s.name === 'main')!;
  const m = exe.symbolBytes(main);
  assert.equal(m.address, main.value);
  assert.equal(m.offset, Number(main.value - exe.section(main.shndx).addr));
  assert.throws(() => exe.symbolBytes({ ...main, value: main.value - exe.section(main.shndx).addr - 1n }), ElfError);
});

test('saved fuzz inputs (test/fixtures/fuzz/*.bin) read or throw a typed error', () => {
  const dir = join(REPO, 'test', 'fixtures', 'fuzz');
  const files = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.bin')) : [];
  for (const n of files) {
    const t0 = performance.now();
    exerciseObject(readFileSync(join(dir, n)));
    assert.ok(performance.now() - t0 < 5000, `${n} within 5 s`);
  }
});

test('bounded object fuzz: 3,000 mutated objects, no untyped exception, no hang', { skip: noGcc, timeout: 240_000 }, async () => {
  const seed = Number(process.env.TDX_AUDIT_FUZZ_SEED ?? 0x0b1ec7) >>> 0;
  console.log(`# object fuzz seed ${seed} (TDX_AUDIT_FUZZ_SEED=${seed} to rerun)`);
  const r = await runFuzz({
    kind: 'objects', seed, inputs: 3000, workers: 1, budgetMs: 10_000,
    payload: { objects: seeds.map((s) => ({ label: s.label, own: true, data: new Uint8Array(s.data) })) },
    log: (l) => console.log(`# ${l}`),
  });
  console.log(`# ${summary(r)}`);
  assert.equal(r.tried, 3000);
  assert.deepEqual(r.crashes.map((c) => `${c.index} (${c.ops}): ${c.message.split('\n').slice(0, 3).join(' | ')}`), []);
  assert.deepEqual(r.hangs.map((c) => `${c.index} (${c.ops}): ${c.message}`), []);
  // The mutations reach past the ELF header: most inputs are read at least in part.
  assert.ok(r.ok > 300 && r.typed > 300, `clean reads ${r.ok}, typed errors ${r.typed}`);
});

test('many zlib bombs in one small file stop at the joint inflation budget with an ElfError', { skip: noGcc }, async () => {
  const { deflateSync } = await import('node:zlib');
  const seed = seeds.find((s) => s.label === 'mmio_dev-dwarf5.o')!;
  // Each debug section becomes a 40 MiB stream of zeros (~40 KiB compressed): each within the
  // per-stream ratio, together far past 64 MiB + 32 x file size.
  const z = deflateSync(Buffer.alloc(40 << 20), { level: 9 });
  let buf = Buffer.from(seed.data);
  const targets = seed.sections.filter((s) => s.name.startsWith('.debug_'));
  for (const s of targets) {
    const hdr = Buffer.alloc(24);
    hdr.writeUInt32LE(1, 0);
    hdr.writeBigUInt64LE(BigInt(40 << 20), 8);
    const at = buf.length + ((8 - (buf.length % 8)) % 8);
    buf = Buffer.concat([buf, Buffer.alloc(at - buf.length), hdr, z]);
    buf.writeBigUInt64LE(BigInt(at), s.hdr + 24);
    buf.writeBigUInt64LE(BigInt(24 + z.length), s.hdr + 32);
    buf.writeBigUInt64LE(BigInt(s.flags | 0x800), s.hdr + 8);
  }
  assert.ok(targets.length >= 3 && buf.length < 1 << 20);
  const elf = ElfFile.parse(buf);
  let inflated = 0;
  let refused: unknown;
  for (const s of elf.sections.filter((x) => x.name.startsWith('.debug_'))) {
    try {
      inflated += elf.sectionData(s).length;
    } catch (e) {
      refused = e;
      break;
    }
  }
  assert.ok(refused instanceof ElfError, `refused with an ElfError: ${String(refused)}`);
  assert.match(refused.message, /inflate to more than/);
  assert.ok(inflated <= (64 << 20) + 32 * buf.length, `inflated ${inflated} bytes before refusing`);
  // The pipeline as a whole ends in typed errors too.
  exerciseObject(buf);
});
