// x86 __iowrite32_copy by kernel version, joined on fixtures compiled here: up to
// 6.9 a CALL to the out-of-line `rep movsl` of arch/x86/lib/iomap_copy_64.S, from
// 6.10 an inline `asm volatile("rep ; movsl")` (arch/x86/include/asm/io.h) whose #VE
// lands in the driver's own function. The profile names the version; the object is
// what the compiler did.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine, type Finding } from '../../../server/src/audit/engine';
import { inventory } from '../../../server/src/audit/inventory';
import { codeOf } from '../../../server/src/audit/code';
import { openBinary } from '../../../server/src/binary/index';
import type { Profile } from '../../../server/src/x86/profiles';
import { compileObject, GCC_FLAGS, skipWithoutGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures/versions');
let dir = '';

const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

/** The finding of the `callee(` call in `file`, audited under `profile` with the .o beside it. */
async function copyFinding(file: string, profile: Profile, callee = '__iowrite32_copy'): Promise<Finding> {
  const engine = await AuditEngine.create({ readFile: read });
  engine.configure({ objects: {}, profile });
  const p = join(dir, file);
  const text = readFileSync(p, 'utf8');
  const a = engine.audit(p, text, 1);
  assert.equal(a.compiled?.object.state, 'fresh', `${file}: the object beside it is read`);
  const line = text.split('\n').findIndex((l) => l.includes(`${callee}(`));
  const f = a.findings.find((x) => x.site.range.start.line === line);
  assert.ok(f, `${file}: a finding at the ${callee} call`);
  return f;
}

describe('__iowrite32_copy per kernel version (gcc fixtures)', { skip: skipWithoutGcc }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-accver-'));
    for (const f of ['copy_io.h', 'mbox_612.c', 'mbox_61.c', 'q64.c']) copyFileSync(join(FIX, f), join(dir, f));
    compileObject('mbox_612.c', dir);
    compileObject('mbox_61.c', dir);
    compileObject('q64.c', dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('6.12: the inline `rep movsl` is joined to the call site, in the driver\'s function, and rejected', async () => {
    const f = await copyFinding('mbox_612.c', 'tdx-linux-6.12.118');
    assert.deepEqual(
      f.instructions?.map((i) => [i.function, i.bytes, i.text, i.class, i.size, i.verdict, i.match]),
      [['mbox_post', 'f3 a5', 'rep movsd [rdi],[rsi]', 'MOVS', 4, 'rejected-movs', 'inlined-accessor']],
    );
    assert.equal(f.instructions![0]!.callee, undefined, 'not a call: the MOVS is in mbox_post itself');
    assert.equal(f.rule, 'tdx-movs-copy');
    assert.equal(f.severity, 'error');
  });

  test('6.1: the call site is a CALL to the out-of-line __iowrite32_copy of iomap_copy_64.S', async () => {
    const f = await copyFinding('mbox_61.c', 'tdx-linux-6.1.192');
    assert.deepEqual(f.instructions?.map((i) => [i.function, i.text, i.class, i.verdict, i.callee]), [['mbox_post', 'call __iowrite32_copy', 'CALL', 'out-of-line', '__iowrite32_copy']]);
    assert.match(f.instructions![0]!.calleeNote ?? '', /^out of line: `movl %edx,%ecx; rep movsl; RET`/);
    assert.match(f.instructions![0]!.calleeNote ?? '', /rejects it \(-EINVAL\)/);
    // The MOVS is rejected wherever it runs: the site is an error without seeing the callee.
    assert.equal(f.severity, 'error');
  });

  test('a CALL under a profile whose kernel inlines it says the object and the profile disagree', async () => {
    const f = await copyFinding('mbox_61.c', 'tdx-linux-6.12.118');
    assert.equal(f.instructions?.[0]?.class, 'CALL');
    assert.match(f.instructions![0]!.calleeNote ?? '', /^out of line in this object, but 6\.12\.118 \(the profile's kernel\) builds __iowrite32_copy inline \(arch\/x86\/include\/asm\/io\.h/);
  });

  test('the object decides what is there: a 6.12-built inline MOVS is still found under a 6.1 profile', async () => {
    const f = await copyFinding('mbox_612.c', 'tdx-linux-6.1.192');
    assert.deepEqual(f.instructions?.map((i) => [i.function, i.class, i.verdict]), [['mbox_post', 'MOVS', 'rejected-movs']]);
  });

  test('SEV-ES on 6.12: the same inline MOVS is emulated by the #VC handler', async () => {
    const f = await copyFinding('mbox_612.c', 'sev-es-linux-6.12.118');
    assert.deepEqual(f.instructions?.map((i) => [i.class, i.verdict]), [['MOVS', 'emulated']]);
  });

  test('ioread64/iowrite64 join to the CALL of the _lo_hi function io-64-nonatomic-lo-hi.h renames them to', async () => {
    for (const [name, callee] of [['iowrite64', 'iowrite64_lo_hi'], ['ioread64', 'ioread64_lo_hi']]) {
      const f = await copyFinding('q64.c', 'tdx-linux-6.12.118', name);
      assert.deepEqual(f.instructions?.map((i) => [i.function, i.class, i.verdict, i.callee]), [['q64_kick', 'CALL', 'out-of-line', callee]], name);
      assert.match(f.instructions![0]!.calleeNote ?? '', /lib\/iomap\.c/);
    }
  });

  test('the whole-image inventory finds the 6.10+ inline `rep movsl` and says what the site\'s join says: it runs in a TDX guest', () => {
    // The inventory reads only units whose line table names an accessor header: the same
    // mailbox, with copy_io.h where the kernel has it (arch/x86/include/asm/io.h).
    const inv = join(dir, 'inv');
    mkdirSync(join(inv, 'asm'), { recursive: true });
    copyFileSync(join(FIX, 'copy_io.h'), join(inv, 'asm', 'io.h'));
    writeFileSync(join(inv, 'mbox.c'), readFileSync(join(FIX, 'mbox_612.c'), 'utf8').replace('"copy_io.h"', '"asm/io.h"'));
    const path = join(inv, compileObject('mbox.c', inv, [...GCC_FLAGS.plain, '-I', inv]));
    const bin = openBinary(new Uint8Array(readFileSync(path)));
    const st = statSync(path);
    const got = inventory({ path, mtimeMs: st.mtimeMs, size: st.size, bin, code: codeOf(bin) }, 'tdx-linux-6.12.118');
    const movs = got.items.filter((i) => i.accessor === '__iowrite32_copy');
    assert.deepEqual(movs.map((i) => [i.function, i.class, i.verdict, i.unreached]), [['mbox_post', 'MOVS', 'rejected-movs', undefined]]);
  });
});
