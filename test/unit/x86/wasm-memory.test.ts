// The audit decodes every instruction of every object file it reads; a leaked
// WASM object per instruction would grow iced-x86's linear memory for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeWalker, decodeAt } from '../../../server/src/x86/iced';
import { classifyMmio } from '../../../server/src/x86/classify';
import { emulate, patternRegs } from '../../../server/src/x86/emulate';

// iced-x86's generated JS exports its WASM instance as __wasm (not in its .d.ts).
const wasmBytes = (): number =>
  (require('iced-x86') as { __wasm: { memory: { buffer: ArrayBuffer } } }).__wasm.memory.buffer.byteLength;

const SAMPLES = [
  [0x8b, 0x07], [0x88, 0x27], [0x0f, 0xb6, 0x07], [0xc7, 0x07, 1, 0, 0, 0], [0x83, 0x0f, 0x01], [0xf3, 0xa5],
  [0xc5, 0xf8, 0xc6, 0x07, 0x01], [0x62, 0xf2, 0x7d, 0x48, 0x8a, 0x07], [0xf0, 0x89, 0x0f], [0x66, 0x0f, 0x38, 0xf8, 0x07],
].map((b) => Uint8Array.from(b));

function body(n: number): Uint8Array {
  const parts = SAMPLES.slice();
  const out: number[] = [];
  for (let i = 0; out.length < n; i++) out.push(...parts[i % parts.length]);
  return Uint8Array.from(out);
}

test('walking 200k instructions does not grow WASM memory after warm-up', () => {
  const code = body(800_000);
  const walk = () => {
    const w = new CodeWalker(code);
    let n = 0;
    try { for (const _ of w.walk()) n++; } finally { w.free(); }
    return n;
  };
  walk();
  const before = wasmBytes();
  const n = walk();
  assert.ok(n >= 200_000, `walked ${n}`);
  assert.equal(wasmBytes(), before);
});

test('200k classifyMmio / decodeAt calls and 20k emulations leave WASM memory where warm-up left it', () => {
  const regs = patternRegs(); regs[7] = 0xffffc90000001000n;
  const round = (n: number) => {
    for (let i = 0; i < n; i++) {
      const b = SAMPLES[i % SAMPLES.length];
      classifyMmio(b);
      if (i % 10 === 0) emulate(b, { regs, deviceValue: 1n, gpa: 0x1000n });
    }
    for (let i = 0; i < n / 10; i++) decodeAt(SAMPLES[i % SAMPLES.length], 0);
  };
  round(20_000);
  const before = wasmBytes();
  round(200_000);
  assert.equal(wasmBytes(), before);
});
