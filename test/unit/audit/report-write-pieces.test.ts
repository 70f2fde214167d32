// Report files written in pieces (report/write.ts) go through one reused 1 MiB buffer
// instead of a string joined per batch (issue 15: those strings piled up in the main
// thread's heap while a drivers/ report was written). The bytes must be the pieces'
// bytes exactly: multi-byte characters at the buffer's edge, a piece that fills it to
// the byte, a piece larger than the buffer, empty pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReportFiles } from '../../../server/src/audit/report/write';

const MiB = 1 << 20;

test('report pieces written through the buffer are the pieces\' bytes, across its edges and past its size', async () => {
  const pieces: string[] = [];
  // Up to one byte short of the buffer, then a 4-byte character that cannot fit.
  pieces.push('a'.repeat(MiB - 1), '😀', '');
  // Two-byte characters straddling the next edge.
  for (let i = 0; i < 40_000; i++) pieces.push(`é${i}ü`);
  // A piece that fills a buffer to the byte, one larger than the buffer, and a tail.
  pieces.push('b'.repeat(MiB), 'ç'.repeat(MiB), 'end\n');
  const dir = mkdtempSync(join(tmpdir(), 'tdx-report-pieces-'));
  try {
    const r = await writeReportFiles(dir, [{ name: 'r.json', content: { chunks: () => pieces } }]);
    assert.equal(r.written.length, 1);
    const want = Buffer.from(pieces.join(''));
    const got = readFileSync(join(dir, 'r.json'));
    assert.equal(got.length, want.length);
    assert.ok(got.equals(want), 'the same bytes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled write of pieces stops at a batch and leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-report-pieces-'));
  const ac = new AbortController();
  let made = 0;
  function* pieces() {
    for (let i = 0; i < 10_000; i++) {
      made++;
      if (i === 100) ac.abort();
      yield 'x'.repeat(4096);
    }
  }
  try {
    const r = await writeReportFiles(dir, [{ name: 'r.json', content: { chunks: pieces } }], { signal: ac.signal });
    assert.equal(r.cancelled, true);
    assert.ok(made < 10_000, `stopped after ${made} pieces`);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
