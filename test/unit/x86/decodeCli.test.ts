import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDecode, parseHex } from '../../../server/src/x86/decodeCli';

function cli(...argv: string[]): { code: number; out: string } {
  let out = '';
  const code = runDecode(argv, (s) => { out += s; });
  return { code, out };
}

test('hex is accepted spaced, packed, 0x-comma and \\x forms', () => {
  for (const s of ['8b 07', '8b07', '0x8b,0x07', '0x8b, 0x7', '\\x8b\\x07', ' 8B07 ']) assert.deepEqual(Array.from(parseHex(s)), [0x8b, 0x07], s);
});

test('bad hex is a clear error with exit code 2', () => {
  for (const bad of ['8b0', 'zz', '0xg1', '', '8b 07 ' + '90 '.repeat(15)]) {
    const r = cli(bad, '--format', 'json');
    assert.equal(r.code, 2, bad);
    assert.match(r.out, /^error: /, bad);
  }
});

test('unknown profile, unknown format and no input exit 2', () => {
  assert.equal(cli('8b07', '--profile', 'tdx-linux-4.0').code, 2);
  assert.equal(cli('8b07', '--format', 'xml').code, 2);
  assert.equal(cli('--format', 'json').code, 2);
  assert.equal(cli('8b07', '--bogus').code, 2);
});

test('--format jsonl prints one object per hex argument with the documented fields', () => {
  const r = cli('8b 07', '88 27', '0f b6 07', '--format', 'jsonl');
  assert.equal(r.code, 0);
  const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.deepEqual(
    lines.map((o) => [o.bytes, o.length, o.text, o.class, o.size, o.verdict, o.misemulation, o.profile]),
    [
      ['8b 07', 2, 'mov eax,[rdi]', 'READ', 4, 'emulated', [], 'tdx-linux-6.12+'],
      ['88 27', 2, 'mov [rdi],ah', 'WRITE', 1, 'misemulated', ['high-byte'], 'tdx-linux-6.12+'],
      ['0f b6 07', 3, 'movzx eax,byte ptr [rdi]', 'READ_ZERO_EXTEND', 1, 'misemulated', ['movzx32-upper'], 'tdx-linux-6.12+'],
    ],
  );
  assert.deepEqual(lines[0].tdvmcall, { r10: 0, r11: 48, r12: 4, r13: 0, r14: 'gpa', r15: 0 });
  assert.deepEqual(lines[0].flags, []);
});

test('--format json always prints an array, also for one input', () => {
  const r = cli('83 0f 01', '--format=json', '--profile=sev-es');
  assert.equal(r.code, 0);
  const arr = JSON.parse(r.out);
  assert.ok(Array.isArray(arr));
  assert.equal(arr.length, 1);
  assert.equal(arr[0].verdict, 'decode-failed');
  assert.equal(arr[0].size, 0);
  assert.equal(arr[0].profile, 'sev-es');
  assert.equal(arr[0].tdvmcall, null);
});

test('--profile changes the MOVS verdict', () => {
  const tdx = JSON.parse(cli('f3a5', '--format', 'json').out)[0];
  const sev = JSON.parse(cli('f3a5', '--format', 'json', '--profile', 'sev-es').out)[0];
  assert.equal(tdx.verdict, 'rejected-movs');
  assert.equal(sev.verdict, 'emulated');
});

test('text format names the class, verdict and misemulation', () => {
  const r = cli('88 27');
  assert.equal(r.code, 0);
  assert.match(r.out, /^88 27  mov \[rdi\],ah  \(2 bytes\)/);
  assert.match(r.out, /class INSN_MMIO_WRITE {2}size 1 {2}verdict misemulated {2}misemulation high-byte/);
  assert.match(r.out, /register slot rsp/);
});
