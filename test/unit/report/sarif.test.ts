// SARIF output validated against the SARIF 2.1.0 JSON schema (the schemastore
// 2.1.0-rtm.5 schema, draft-04, as shipped in the @microsoft/jest-sarif package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import type * as Sarif from 'sarif';
import { sarifText, toSarif } from '../../../server/src/audit/report/sarif';
import { FINGERPRINT_KEY } from '../../../server/src/audit/report/fingerprint';
import { emptyTriage, setTriage } from '../../../server/src/audit/report/triage';
import { applyBaseline } from '../../../server/src/audit/report/baseline';
import { toJsonReport } from '../../../server/src/audit/report/json';
import { DRIVER, KERNEL_MAKEFILE, makeTree, modelOf } from './helpers';

const SCHEMA_PATH = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

function validator() {
  // unicodeRegExp off: the schema's language-tag pattern is not valid with the u flag.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
}

async function sample() {
  const root = makeTree({
    Makefile: KERNEL_MAKEFILE,
    'arch/x86/include/asm/io.h': 'build_mmio_write(writel, "l", unsigned int, "r", :"memory")\n',
    'drivers/acme/regs.h': '#define ACME_WR(b, v) writel((v), (b))\nstatic inline void acme_out(void __iomem *b, u32 v) { writel(v, b + 4); }\n',
    'drivers/acme/acme.c': DRIVER + 'void use(void __iomem *b) { acme_out(b, 3); }\n',
    'drivers/acme/odd name%.c': 'void o(void __iomem *b) { iosubmit_cmds512(b, 0, 1); }\n',
  });
  return { root, model: await modelOf(root, ['drivers/acme/acme.c', 'drivers/acme/odd name%.c']) };
}

test('the SARIF log validates against the SARIF 2.1.0 schema', async () => {
  const { model } = await sample();
  const log = JSON.parse(sarifText(model));
  const validate = validator();
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
  // The validator is not vacuous: a result without a message is rejected.
  const broken = structuredClone(log) as { runs: { results: { message?: unknown }[] }[] };
  delete broken.runs[0].results[0].message;
  assert.equal(validate(broken), false);
});

test('SARIF: stable rule ids with help, locations, related locations, fingerprints and properties', async () => {
  const { root, model } = await sample();
  const log: Sarif.Log = toSarif(model);
  const run = log.runs[0];
  const rules = run.tool.driver.rules!;
  assert.ok(rules.some((r) => r.id === 'tdx-movs-copy'));
  for (const r of rules) {
    assert.ok(r.shortDescription?.text && r.fullDescription?.text && r.help?.markdown, r.id);
    assert.match(r.id, /^tdx-[a-z0-9-]+$/);
  }
  assert.match(rules.find((r) => r.id === 'tdx-movs-copy')!.help!.markdown!, /arch\/x86\/coco\/tdx\/tdx\.c/);
  assert.equal(run.originalUriBaseIds!['%SRCROOT%'].uri, `file://${root}/`);

  const results = run.results!;
  assert.equal(results.length, model.findings.length);
  for (const r of results) {
    assert.equal(rules[r.ruleIndex!].id, r.ruleId);
    assert.match(r.partialFingerprints![FINGERPRINT_KEY], /^[0-9a-f]{32}$/);
    assert.equal(r.properties!.profile, 'tdx-linux-6.1');
  }
  const copy = results.find((r) => r.ruleId === 'tdx-movs-copy')!;
  assert.equal(copy.level, 'error');
  assert.equal(copy.properties!.verdict, 'rejected-movs');
  const loc = copy.locations![0];
  assert.equal(loc.physicalLocation!.artifactLocation!.uri, 'drivers/acme/acme.c');
  assert.equal(loc.physicalLocation!.artifactLocation!.uriBaseId, '%SRCROOT%');
  assert.equal(loc.physicalLocation!.region!.startLine, 14);
  assert.equal(loc.physicalLocation!.region!.startColumn, 2);
  assert.deepEqual(loc.logicalLocations, [{ name: 'acme_probe', kind: 'function' }]);

  // The wrapper's body and the io.h line are related locations of the wrapper call.
  const viaWrapper = results.find((r) => r.locations![0].logicalLocations?.[0].name === 'use')!;
  const rel = viaWrapper.relatedLocations!.map((l) => [l.physicalLocation!.artifactLocation!.uri, l.physicalLocation!.region!.startLine, l.message!.text]);
  assert.deepEqual(rel, [
    ['drivers/acme/regs.h', 2, 'writel() called inside acme_out'],
    ['arch/x86/include/asm/io.h', 1, 'writel defined here'],
  ]);
  // A path with a space and % is a valid URI reference.
  const odd = results.find((r) => r.ruleId === 'tdx-movdir64b')!;
  assert.equal(odd.locations![0].physicalLocation!.artifactLocation!.uri, 'drivers/acme/odd%20name%25.c');
});

test('SARIF: a finding whose accessor is one instruction carries the handler record: exit, hypercall, verdict, outcome', async () => {
  const { model } = await sample();
  const results = toSarif(model).runs[0].results!;
  const movdir = results.find((r) => r.ruleId === 'tdx-movdir64b')!;
  const h = (movdir.properties as { handler?: { verdict: string; hypercall: string; outcome: { result: string } } }).handler;
  assert.ok(h, 'iosubmit_cmds512 is MOVDIR64B: its record is there');
  assert.equal(h.verdict, 'decode-failed');
  assert.equal(h.outcome.result, 'fails');
  const write = results.find((r) => r.ruleId === 'tdx-ve-mmio')!;
  assert.match((write.properties as { handler: { hypercall: string } }).handler.hypercall, /^TDVMCALL R10=0 R11=48/);
});

test('SARIF: triaged safe findings are suppressed, not dropped; baseline state is carried', async () => {
  const { root, model } = await sample();
  const deref = model.findings.find((f) => f.rule === 'tdx-iomem-deref')!;
  const triage = setTriage(emptyTriage(), deref.fingerprint, 'safe', { comment: 'debug-only path' });
  const m = await modelOf(root, ['drivers/acme/acme.c', 'drivers/acme/odd name%.c'], { triage });
  const base = toJsonReport(m);
  base.findings = base.findings.filter((f) => f.rule !== 'tdx-movdir64b');
  const log = toSarif(applyBaseline(m, base, 'old.json'));
  const results = log.runs[0].results!;
  const r = results.find((x) => x.ruleId === 'tdx-iomem-deref')!;
  assert.deepEqual(r.suppressions, [{ kind: 'external', status: 'accepted', justification: 'safe: debug-only path' }]);
  assert.equal(results.find((x) => x.ruleId === 'tdx-movdir64b')!.baselineState, 'new');
  assert.equal(results.find((x) => x.ruleId === 'tdx-movs-copy')!.baselineState, 'unchanged');
  const validate = validator();
  assert.ok(validate(JSON.parse(JSON.stringify(log))), JSON.stringify(validate.errors));
});
