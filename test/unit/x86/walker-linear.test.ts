// CodeWalker's linear walk leaves the decoder where the last valid instruction
// ended instead of repositioning it per instruction, and x86/iced.ts requires
// iced-x86 on the first decode, not when it is imported. Proves that a linear
// walk (across undecodable bytes and a truncated instruction) gives exactly what
// decoding each offset on its own gives, that out-of-order and repeated at()
// calls agree too, and that importing the module loads no WASM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { CodeWalker, decodeAt, decodeFunction } from '../../../server/src/x86/iced';

// mov eax,[rdi+10h]; 06 (invalid in 64-bit mode); jmp +2; 0f ff (ud0 without ModRM:
// invalid); call rel32; mov rax,imm64 cut off after 5 bytes (truncated at the end).
const MIXED = Uint8Array.from([
  0x8b, 0x47, 0x10, 0x06, 0xeb, 0x02, 0x0f, 0xff, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x48, 0xb8, 0x01, 0x02, 0x03,
]);
const BASE = 0xffffffff81000000n;

test('a linear walk decodes what decoding each offset alone decodes, across invalid and truncated bytes', () => {
  const walked = decodeFunction(MIXED, BASE);
  assert.ok(walked.some((i) => !i.valid), 'the fixture has undecodable bytes');
  assert.ok(walked.length >= 6);
  for (const w of walked) assert.deepEqual(w, decodeAt(MIXED, w.offset, BASE), `offset ${w.offset}`);
});

test('at() out of order and twice at one offset agrees with a fresh decode', () => {
  const w = new CodeWalker(MIXED, BASE);
  try {
    for (const off of [8, 0, 0, 4, 3, 13, 8, 4]) assert.deepEqual(w.at(off), decodeAt(MIXED, off, BASE), `offset ${off}`);
  } finally {
    w.free();
  }
});

test('importing x86/iced.ts loads no iced-x86; the first decode does', () => {
  const mod = resolve(__dirname, '../../../server/src/x86/iced.ts');
  const script = `const m = require(${JSON.stringify(mod)});
const loaded = () => Object.keys(require.cache).some((k) => /iced-x86/.test(k));
const before = loaded();
m.decodeAt(Uint8Array.from([0x90]), 0);
console.log(JSON.stringify({ before, after: loaded() }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { before: false, after: true });
});
