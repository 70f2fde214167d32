// The errors-first order every writer renders: failing sites by worst function,
// then warnings with the likeliest failure first, then the informational count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportSections, tierCounts, tierOf } from '../../../server/src/audit/report/sections';
import { KERNEL_MAKEFILE, makeTree, modelOf } from './helpers';

const SRC = `void aaa_load(u32 __iomem *r, u32 *out)
{
	*out = *r;
}
void mmm_store(u32 __iomem *r)
{
	*r = 4;
}
void zzz_rmw(u32 __iomem *r)
{
	*r |= 1;
}
void quiet(void __iomem *b)
{
	writel(1, b);
	writel(2, b + 4);
}
void movs(void __iomem *b, u32 *buf)
{
	__iowrite32_copy(b, buf, 4);
}
`;

test('warnings: a read-modify-write (likely oops) comes before loads and stores the compiler may keep as MOV', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/x/x.c': SRC });
  const m = await modelOf(root, ['drivers/x/x.c']);
  const s = reportSections(m);
  assert.deepEqual(s.failing.map((g) => g.function), ['movs']);
  assert.deepEqual(s.warnings.map((g) => g.function), ['zzz_rmw', 'aaa_load', 'mmm_store']);
  assert.match(s.warnings[0].rows[0].finding.message, /^likely oops: /);
  assert.deepEqual(tierCounts(s), { failing: 1, failingOpen: 1, warnings: 3, warningsOpen: 3, info: 2 });
  assert.deepEqual(s.info.byRule, [['tdx-ve-mmio', 2]]);
  assert.deepEqual(m.findings.map(tierOf).filter((t) => t === 'info').length, 2);
});
