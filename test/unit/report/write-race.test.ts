// Report writes: two runs into one empty folder never both "write" (one would
// silently replace the other), and SIGTERM/SIGHUP leave no temp file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReportFiles } from '../../../server/src/audit/report/write';
import { runReport } from '../../../server/src/cli/report';
import { DRIVER, KERNEL_MAKEFILE, makeTree } from './helpers';

test('two report runs into one empty folder without --force: exactly one writes, the other is told the files exist', async () => {
  for (let round = 0; round < 20; round++) {
    const root = makeTree({});
    const out = join(root, 'out');
    const files = (who: string) => ['a.sarif', 'a.html', 'a.md', 'a.json'].map((name) => ({ name, content: () => `${who}\n`.repeat(1000) }));
    const [x, y] = await Promise.all([writeReportFiles(out, files('x')), writeReportFiles(out, files('y'))]);
    const wrote = [x, y].filter((r) => r.written.length > 0);
    assert.equal(wrote.length, 1, `round ${round}: ${JSON.stringify([x, y])}`);
    const loser = x.written.length ? y : x;
    assert.ok(loser.exists.length > 0);
    // The winner's files are all there, whole and from one run; no temp file is left.
    const who = readFileSync(join(out, 'a.sarif'), 'utf8').slice(0, 1);
    for (const n of ['a.html', 'a.md', 'a.json']) assert.equal(readFileSync(join(out, n), 'utf8').slice(0, 1), who);
    assert.deepEqual(readdirSync(out).sort(), ['a.html', 'a.json', 'a.md', 'a.sarif']);
  }
});

for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${sig} during a report run writes nothing and leaves no temp file`, async () => {
    const files: Record<string, string> = { Makefile: KERNEL_MAKEFILE };
    for (let i = 0; i < 150; i++) files[`drivers/x/f${i}.c`] = DRIVER;
    const root = makeTree(files);
    const err: string[] = [];
    const p = runReport([join(root, 'drivers'), '--out', join(root, 'o')], { stderr: (s) => err.push(s), stdout: () => undefined, isTTY: false, columns: 80 });
    setTimeout(() => process.emit(sig, sig), 30);
    assert.equal(await p, sig === 'SIGTERM' ? 143 : 129);
    assert.match(err.join(''), /interrupted; no report written/);
    assert.ok(!existsSync(join(root, 'o')) || readdirSync(join(root, 'o')).length === 0);
  });
}
