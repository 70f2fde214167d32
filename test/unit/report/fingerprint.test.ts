import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseExpression } from '../../../server/src/audit/report/fingerprint';
import { DRIVER, KERNEL_MAKEFILE, makeTree, modelOf } from './helpers';

const byKey = (m: Awaited<ReturnType<typeof modelOf>>) => m.findings.map((f) => `${f.function}|${f.expression}|${f.ordinal}|${f.fingerprint}`);

test('normalised expressions ignore formatting and comments but keep meaningful spaces', () => {
  assert.equal(normaliseExpression('writel( v,\n\t\tbase  +  0x08 /* ctrl */ )'), 'writel(v,base+0x08)');
  assert.equal(normaliseExpression('writel(v, base + 0x08) // tail'), 'writel(v,base+0x08)');
  assert.equal(normaliseExpression('readl((unsigned long) x)'), 'readl((unsigned long)x)');
});

test('fingerprints survive unrelated lines inserted above, and re-indentation of the site', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  const before = await modelOf(root, ['drivers/acme/acme.c']);
  const moved = DRIVER.replace('// test driver\n', '// test driver\n/* a new comment\n * spanning lines */\nstatic int unrelated;\n\n')
    .replace('int acme_probe(void __iomem *base, u32 *buf)\n{\n', 'int acme_probe(void __iomem *base, u32 *buf)\n{\n\tint unused = 0;\n\n')
    .replace('\twritel(v, base + 0x08);\n\twritel', '\twritel(v,\n\t       base + 0x08);\n\twritel');
  writeFileSync(join(root, 'drivers/acme/acme.c'), moved);
  const after = await modelOf(root, ['drivers/acme/acme.c']);
  assert.ok(before.findings.length >= 6, `findings: ${before.findings.length}`);
  // Lines moved ...
  assert.notDeepEqual(after.findings.map((f) => f.range.start.line), before.findings.map((f) => f.range.start.line));
  // ... fingerprints did not.
  assert.deepEqual(byKey(after), byKey(before));
});

test('a changed expression gets a new fingerprint; identical expressions are told apart by ordinal', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  const before = await modelOf(root, ['drivers/acme/acme.c']);
  const twins = before.findings.filter((f) => f.expression === 'writel(v,base+0x08)');
  assert.deepEqual(twins.map((f) => f.ordinal), [0, 1]);
  assert.notEqual(twins[0].fingerprint, twins[1].fingerprint);
  assert.equal(new Set(before.findings.map((f) => f.fingerprint)).size, before.findings.length, 'fingerprints are unique');

  writeFileSync(join(root, 'drivers/acme/acme.c'), DRIVER.replace('readl(base + 0x04)', 'readl(base + 0x0c)'));
  const after = await modelOf(root, ['drivers/acme/acme.c']);
  const oldRead = before.findings.find((f) => f.accessor === 'readl')!;
  const newRead = after.findings.find((f) => f.accessor === 'readl')!;
  assert.equal(newRead.expression, 'readl(base+0x0c)');
  assert.notEqual(newRead.fingerprint, oldRead.fingerprint);
  // The other sites keep theirs.
  const rest = (m: typeof before) => m.findings.filter((f) => f.accessor !== 'readl').map((f) => f.fingerprint);
  assert.deepEqual(rest(after), rest(before));
});

test('the same function and expression in two files have different fingerprints', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/a/x.c': DRIVER, 'drivers/b/x.c': DRIVER });
  const m = await modelOf(root, ['drivers/a/x.c', 'drivers/b/x.c']);
  const a = m.findings.filter((f) => f.file === 'drivers/a/x.c').map((f) => f.fingerprint);
  const b = m.findings.filter((f) => f.file === 'drivers/b/x.c').map((f) => f.fingerprint);
  assert.equal(a.length, b.length);
  assert.ok(a.every((fp) => !b.includes(fp)));
});

test('findingFingerprints (for the language server) agree with the report model', async () => {
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const { findingFingerprints } = await import('../../../server/src/audit/report/fingerprint');
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  const m = await modelOf(root, ['drivers/acme/acme.c']);
  const e = await AuditEngine.create({ readFile: () => undefined });
  const a = e.auditOnce(join(root, 'drivers/acme/acme.c'), DRIVER);
  // Cloned apart, as an audit crossing a worker or the wire would be: sites are matched by position then.
  const fps = findingFingerprints('drivers/acme/acme.c', DRIVER, { analysis: structuredClone(a.analysis), findings: structuredClone(a.findings) });
  assert.deepEqual([...fps].sort(), m.findings.map((f) => f.fingerprint).sort());
});
