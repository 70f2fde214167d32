// Header components shared between the worker threads of a run (c/headerShare.ts):
// a component one engine analysed is not analysed again by another that shares the
// buffer, the result is the same as without sharing, and a claim that is never
// published (its owner died), abandoned, or a full table only costs the sharing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditEngine } from '../../../server/src/audit/engine';
import { createHeaderShareBuffer, HeaderShare, shareHeadersOnThisThread } from '../../../server/src/c/headerShare';
import { emptyKnowledge, type Knowledge } from '../../../server/src/c/knowledge';
import { CATALOGUE } from '../../../server/src/c/catalogue';

const MAKEFILE = 'VERSION = 6\nPATCHLEVEL = 1\n';
const FILES: Record<string, string> = {
  '/k/Makefile': MAKEFILE,
  '/k/include/linux/io.h': '#define io_rd(p) readl(p)\nextern void __iomem *io_base;\n',
  '/k/include/linux/dev.h': '#include <linux/io.h>\nstatic inline u32 dev_rd(void __iomem *p) { return io_rd(p + 4); }\n',
  '/k/drivers/a.c': '#include <linux/dev.h>\nvoid f(void __iomem *p) { dev_rd(p); io_rd(io_base); }\n',
  '/k/drivers/b.c': '#include <linux/dev.h>\nvoid g(void __iomem *p) { io_rd(p); }\n',
};
const KEY = (n: number) => n.toString(16).padStart(8, '0').repeat(5);

function knowledgeWithWrapper(): Knowledge {
  const k = emptyKnowledge();
  k.wrappers.set('w_rd', { name: 'w_rd', accessor: CATALOGUE.get('readl')!, addrArgs: [0], chain: [], isMacro: true });
  return k;
}

async function audits(share: SharedArrayBuffer | undefined) {
  shareHeadersOnThisThread(share);
  try {
    const headerReads: string[] = [];
    const readFile = (p: string) => {
      if (p.endsWith('.h')) headerReads.push(p);
      return FILES[p];
    };
    const e = await AuditEngine.create({ readFile, snapshot: true });
    const out = ['/k/drivers/a.c', '/k/drivers/b.c'].map((f) => e.auditOnce(f, FILES[f]!).analysis.sites.map((s) => [s.accessor, s.base, s.range.start.line]));
    return { out, analysed: e.headerStats.analysed, headerReads };
  } finally {
    shareHeadersOnThisThread(undefined);
  }
}

test('a second engine sharing the buffer reads and analyses no header the first did, and finds the same sites', async () => {
  const alone = await audits(undefined);
  assert.ok(alone.analysed > 0);
  const buf = createHeaderShareBuffer(64, 1 << 16);
  const first = await audits(buf);
  const second = await audits(buf);
  assert.deepEqual(first.out, alone.out);
  assert.deepEqual(second.out, alone.out);
  assert.equal(first.analysed, alone.analysed);
  assert.equal(second.analysed, 0, 'every component came from the first engine');
  assert.ok(first.headerReads.length > 0);
  assert.deepEqual(second.headerReads, [], 'header facts (hash, includes, and the include search misses) came from the first engine');
  assert.deepEqual(
    second.out[0]!.map((s) => s[0]),
    ['dev_rd', 'io_rd'],
  );
});

test('a published component arrives whole; a claim is the duty to publish', () => {
  const buf = createHeaderShareBuffer(8, 4096);
  const a = new HeaderShare(buf);
  const b = new HeaderShare(buf);
  assert.deepEqual(a.claim(KEY(1)), { mine: true });
  a.publish(KEY(1), knowledgeWithWrapper());
  const got = b.claim(KEY(1));
  assert.ok(got && 'knowledge' in got);
  assert.equal(got.knowledge.wrappers.get('w_rd')!.accessor, CATALOGUE.get('readl'));
  assert.equal(b.received, 1);
});

test('a claim never published (its thread died) is waited for only until the deadline, then analysed locally', () => {
  const buf = createHeaderShareBuffer(8, 4096);
  const owner = new HeaderShare(buf);
  const waiter = new HeaderShare(buf, 30);
  assert.deepEqual(owner.claim(KEY(2)), { mine: true });
  const t0 = Date.now();
  assert.equal(waiter.claim(KEY(2)), undefined);
  assert.ok(Date.now() - t0 >= 25);
  // Given up for everyone: the next thread does not wait again.
  const t1 = Date.now();
  assert.equal(new HeaderShare(buf, 10_000).claim(KEY(2)), undefined);
  assert.ok(Date.now() - t1 < 5_000);
});

test('an abandoned claim, a full table and a full data area cost the sharing, never a wrong answer', () => {
  const buf = createHeaderShareBuffer(2, 64);
  const a = new HeaderShare(buf);
  const b = new HeaderShare(buf, 10_000);
  assert.deepEqual(a.claim(KEY(3)), { mine: true });
  a.abandon(KEY(3));
  assert.equal(b.claim(KEY(3)), undefined, 'abandoned: analysed locally, at once');
  // The other slot, then none left.
  assert.deepEqual(a.claim(KEY(4)), { mine: true });
  assert.equal(b.claim(KEY(5)), undefined, 'table full');
  // 64 bytes cannot hold this component: it is given up, not truncated.
  const big = knowledgeWithWrapper();
  for (let i = 0; i < 10; i++) big.wrappers.set(`w${i}`, { ...big.wrappers.get('w_rd')!, name: `w${i}` });
  a.publish(KEY(4), big);
  assert.equal(b.claim(KEY(4)), undefined);
  assert.equal(b.claim('not-a-hex-key'), undefined);
});
