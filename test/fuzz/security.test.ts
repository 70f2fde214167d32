// Security of the compile step, end to end: shell syntax in compile_commands.json is
// never executed, whether it arrives as a "command" string or as literal "arguments".
// (Report export refusing symlinks out of its folder: test/unit/report/write.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasGcc } from '../support/gcc';

const compilePresent = existsSync(join(__dirname, '../../server/src/audit/compile.ts'));

test('compile commands with `; touch` and `$(...)` never run them', { skip: !compilePresent ? 'server/src/audit/compile.ts absent' : !hasGcc ? 'gcc is not installed' : false }, async () => {
  const { compileEntry, findCompileEntry } = await import('../../server/src/audit/compile');
  const dir = mkdtempSync(join(tmpdir(), 'tdx-sec-'));
  try {
    writeFileSync(join(dir, 'a.c'), 'int f(void) { return 1; }\n');
    const m = (n: string) => join(dir, `marker-${n}`);
    const db = [
      { directory: dir, file: 'a.c', command: `gcc -c a.c -o a.o; touch ${m('semi')}` },
      { directory: dir, file: 'b.c', command: `gcc -DX=$(touch ${m('subst')}) -c b.c` },
      { directory: dir, file: 'c.c', command: `gcc -DX=\`touch ${m('tick')}\` -c c.c` },
      // As argv, the same text reaches gcc as literal arguments and no shell sees it.
      { directory: dir, file: 'd.c', arguments: ['gcc', `-DX=$(touch ${m('argv-subst')})`, '-c', 'd.c', ';', 'touch', m('argv-semi')] },
    ];
    for (const n of ['b.c', 'c.c', 'd.c']) writeFileSync(join(dir, n), 'int g(void) { return 2; }\n');
    writeFileSync(join(dir, 'compile_commands.json'), JSON.stringify(db));
    for (const n of ['a.c', 'b.c', 'c.c']) {
      const e = findCompileEntry(join(dir, n), [join(dir, 'compile_commands.json')]);
      assert.ok(e, n);
      // Command strings with shell syntax are refused, never run.
      await assert.rejects(compileEntry(e, { timeoutMs: 20_000 }), n);
    }
    // As argv, ';', 'touch' and the marker are other input files, left out by the
    // argument filter (compileArgs.ts); the $(...) define is a literal string to gcc.
    const d = findCompileEntry(join(dir, 'd.c'), [join(dir, 'compile_commands.json')]);
    assert.ok(d);
    const r = await compileEntry(d, { timeoutMs: 20_000 });
    assert.deepEqual(r.dropped.map((x) => x.arg), [';', 'touch', m('argv-semi')]);
    rmSync(join(r.object, '..'), { recursive: true, force: true });
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('marker-')), []);
    assert.equal(existsSync(join(dir, 'a.o')), false, 'nothing written into the tree');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
