// The one code index of an object (audit/code.ts): what the join, the inventory and
// the disassembly view all read. Proves that call targets are named from the decoder's
// own branch target (iced's text prints a target whose low 32 bits are zero as "0", and
// a kernel address with a leading 0 the old text match never read), in a .o where gcc
// resolved a static call without a relocation and in an image linked at the kernel's
// addresses, and that the view and the join share one decode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openBinary, type BinaryObject } from '../../../server/src/binary/index';
import { codeOf } from '../../../server/src/audit/code';
import { renderFunction } from '../../../server/src/audit/disasm';
import { gcc, skipWithoutGcc } from '../../support/gcc';
import { hasTool, run } from '../binary/helpers';

const REJECT_C = resolve(__dirname, '../../fixtures/disasm/tdx_reject.c');
/** A loop gcc -O2 compiles with unconditional jumps inside the function. */
const LOOP_C = `extern int g(int);
int walk(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++) {
		if (g(i))
			s += g(i + 1);
		else
			s -= g(i + 2);
		if (s > 1000)
			break;
	}
	return s;
}
`;
const skip = skipWithoutGcc || (hasTool('objdump') ? false : 'objdump is not installed: it is the reference');

let dir = '';
let dotO: BinaryObject;
let loop: BinaryObject;
let kernelImage: BinaryObject;
let kernelImagePath = '';

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tdx-audit-code-'));
  gcc(['-O2', '-g', '-c', REJECT_C, '-o', 'r.o'], dir);
  // Linked where vmlinux is: 0xffffffff81000000 (iced prints such targets as 0FFFF...h).
  kernelImagePath = join(dir, 'r.elf');
  gcc(['-O2', '-g', '-mcmodel=kernel', '-fno-pic', '-no-pie', '-nostdlib', '-static', '-Wl,-Ttext=0xffffffff81000000', '-Wl,-e,ring_reset', REJECT_C, '-o', kernelImagePath], dir);
  writeFileSync(join(dir, 'loop.c'), LOOP_C);
  gcc(['-O2', '-g', '-c', 'loop.c', '-o', 'loop.o'], dir);
  dotO = openBinary(readFileSync(join(dir, 'r.o')));
  loop = openBinary(readFileSync(join(dir, 'loop.o')));
  kernelImage = openBinary(readFileSync(kernelImagePath));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The targets of ring_reset's call and tail jmp, as callTarget names them. */
function callTargets(obj: BinaryObject): (string | undefined)[] {
  const code = codeOf(obj);
  const fn = code.byName('ring_reset')!;
  return code.instructions(fn).filter((i) => i.mnemonic === 'call' || i.mnemonic === 'jmp').map((i) => code.callTarget(fn, i));
}

test('a static call gcc resolved without a relocation is named from the branch target in a .o', { skip }, () => {
  // Precondition, from objdump: no relocation at these calls (else the test proves nothing new).
  const dump = run('objdump', ['-dr', join(dir, 'r.o')]);
  const body = dump.slice(dump.indexOf('<ring_reset>:'));
  assert.doesNotMatch(body.slice(0, body.indexOf('\n\n')), /R_X86_64_(PLT|PC)32\s+ring_kick/);
  assert.deepEqual(callTargets(dotO), ['ring_kick', 'ring_kick']);
});

test('calls in an image linked at kernel addresses are named (a leading-0 hex target)', { skip }, () => {
  const dump = run('objdump', ['-d', kernelImagePath]);
  assert.match(dump, /ffffffff81[0-9a-f]{6} <ring_reset>:/, 'linked at the kernel base');
  assert.deepEqual(callTargets(kernelImage), ['ring_kick', 'ring_kick']);
  const view = renderFunction(kernelImage, kernelImagePath, 'ring_reset', { profile: 'tdx-linux-6.1' }).content;
  assert.match(view, /call ring_kick\n/);
  assert.match(view, /jmp ring_kick\n/);
});

test('the disassembly view and the join read one index and one decode per object', { skip }, () => {
  const code = codeOf(dotO);
  assert.equal(codeOf(dotO), code);
  const fn = code.byIdOrName('ring_copy')!;
  renderFunction(dotO, 'r.o', 'ring_copy', { profile: 'tdx-linux-6.1' });
  const first = code.instructions(fn);
  renderFunction(dotO, 'r.o', 'ring_copy', { profile: 'tdx-linux-6.1' });
  assert.equal(code.instructions(fn), first, 'decoded once, shared');
  code.release();
  assert.notEqual(code.instructions(fn), first, 'release() drops the decode, the index stays');
});

test('a jmp inside its own function is control flow, never a call (the dataflow follows it)', { skip }, () => {
  let inside = 0;
  for (const obj of [dotO, kernelImage, loop]) {
    const code = codeOf(obj);
    for (const fn of code.functions) {
      for (const i of code.instructions(fn)) {
        if (i.mnemonic !== 'jmp' || i.branchTarget === undefined) continue;
        if (i.branchTarget < fn.start || i.branchTarget >= fn.start + BigInt(fn.size)) continue;
        inside++;
        assert.equal(code.callTarget(fn, i), undefined, `${fn.name}: ${i.text}`);
      }
    }
  }
  assert.ok(inside > 0, 'the fixture has jumps inside a function');
});

test('functionAt: an address after a nested entry point belongs to the function around it', { skip }, () => {
  // Hand-written assembly can nest sized symbols: inner [4,8) inside outer [0,20),
  // then tail [20,24). 12 is outer's; a bisection that took the spans as disjoint
  // landed on inner, went right, and found nothing.
  writeFileSync(join(dir, 'nested.s'), [
    '.text', '.globl outer, inner, tail',
    '.type outer,@function', 'outer:', '.fill 4,1,0x90',
    '.type inner,@function', 'inner:', '.fill 4,1,0x90', '.size inner, 4',
    '.fill 12,1,0x90', '.size outer, 20',
    '.type tail,@function', 'tail:', '.fill 3,1,0x90', 'ret', '.size tail, 4', '',
  ].join('\n'));
  gcc(['-c', 'nested.s', '-o', 'nested.o'], dir);
  const code = codeOf(openBinary(readFileSync(join(dir, 'nested.o'))));
  const base = code.byName('outer')!.start;
  const at = (off: number) => code.functionAt(base + BigInt(off))?.name;
  assert.deepEqual([0, 3, 4, 7, 8, 12, 19, 20, 23, 24].map(at), ['outer', 'outer', 'inner', 'inner', 'outer', 'outer', 'outer', 'tail', 'tail', undefined]);
});
