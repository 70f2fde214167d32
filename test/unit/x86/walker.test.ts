import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeWalker, decodeAt, decodeFunction, deviceMemoryAccesses } from '../../../server/src/x86/iced';
import { classifyMmio } from '../../../server/src/x86/classify';

// push rbp; mov rbp,rsp; mov eax,[rdi+10h]; mov [rbp-4],eax; movzx ecx,word [rsi]; mov [rip+0x100],ecx; pop rbp; ret
const BODY = Uint8Array.from([
  0x55, 0x48, 0x89, 0xe5, 0x8b, 0x47, 0x10, 0x89, 0x45, 0xfc, 0x0f, 0xb7, 0x0e, 0x89, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x5d, 0xc3,
]);

test('decodeFunction returns instruction boundaries and Intel text for a whole body', () => {
  const ins = decodeFunction(BODY, 0xffffffff81000000n);
  assert.deepEqual(ins.map((i) => i.offset), [0, 1, 4, 7, 10, 13, 19, 20]);
  assert.deepEqual(ins.map((i) => i.text), [
    'push rbp', 'mov rbp,rsp', 'mov eax,[rdi+10h]', 'mov [rbp-4],eax', 'movzx ecx,word ptr [rsi]',
    'mov [0FFFFFFFF81000113h],ecx', 'pop rbp', 'ret',
  ]);
  assert.equal(ins[2].ip, 0xffffffff81000004n);
});

test('memory accesses report width, direction and whether they are stack or RIP-relative', () => {
  const ins = decodeFunction(BODY);
  assert.deepEqual(ins[2].memory.map((m) => [m.width, m.access, m.stack]), [[4, 'R', false]]);
  assert.deepEqual(ins[3].memory.map((m) => [m.width, m.access, m.stack]), [[4, 'W', true]]);
  assert.deepEqual(ins[4].memory.map((m) => [m.width, m.access, m.base]), [[2, 'R', 'rsi']]);
  assert.equal(ins[5].memory[0].ripRelative, true);
  // The audit join: memory touched, not a stack slot, not a global.
  assert.deepEqual(ins.map((i) => deviceMemoryAccesses(i).length), [0, 0, 1, 0, 1, 0, 0, 0]);
});

test('string instructions report their implicit memory operands', () => {
  const ins = decodeAt(Uint8Array.of(0xf3, 0xa5), 0);
  assert.deepEqual(ins.memory.map((m) => [m.base, m.access, m.width, m.string]), [['rdi', 'W', 4, true], ['rsi', 'R', 4, true]]);
});

test('a walked instruction carries its bytes, which classify the same as the standalone form', () => {
  const w = new CodeWalker(BODY);
  try {
    const i = w.at(10);
    assert.deepEqual(Array.from(i.bytes), [0x0f, 0xb7, 0x0e]);
    assert.deepEqual(classifyMmio(i.bytes).misemulation, ['movzx32-upper']);
  } finally {
    w.free();
  }
});

test('the walker steps over undecodable bytes one at a time', () => {
  const ins = decodeFunction(Uint8Array.of(0x06, 0x8b, 0x07));
  assert.equal(ins[0].valid, false);
  assert.equal(ins[1].offset, 1);
  assert.equal(ins[1].text, 'mov eax,[rdi]');
});
