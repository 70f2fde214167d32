// `tdx-audit report` run in-process (runReport) on throwaway trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runReport, parseReportArgs } from '../../../server/src/cli/report';
import { parseJsonReport, type JsonReport } from '../../../server/src/audit/report/json';
import { compileObject, GCC_FLAGS, skipWithoutGcc } from '../../support/gcc';
import { DRIVER, KERNEL_MAKEFILE, makeTree } from './helpers';

function io(tty = false) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s), isTTY: tty, columns: 100 } };
}

const tree = () => makeTree({ Makefile: KERNEL_MAKEFILE, '.config': 'CONFIG_INTEL_TDX_GUEST=y\n', 'drivers/acme/acme.c': DRIVER, 'drivers/acme/quiet.c': 'int nothing(void) { return 0; }\n' });
const readJson = (p: string): JsonReport => parseJsonReport(readFileSync(p, 'utf8'), p);

test('report writes the four formats, with provenance, and prints on stderr (not a terminal) only that --profile disagrees with the tree', async () => {
  const root = tree();
  const out = join(root, 'out');
  const t = io();
  const code = await runReport([join(root, 'drivers'), '--out', out, '--profile', 'tdx-linux-6.1'], t.io);
  // Exits like scan: 1 because the driver has an error finding; --exit-zero makes it 0.
  assert.equal(code, 1, t.err.join(''));
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'out0'), '--profile', 'tdx-linux-6.1', '--exit-zero'], io().io), 0);
  assert.deepEqual(readdirSync(out).sort(), ['tdx-audit.html', 'tdx-audit.json', 'tdx-audit.md', 'tdx-audit.sarif']);
  // 6.1.55 predates the user-half check, the R15 fix and the port-I/O fixes that 6.1.192 (tdx-linux-6.1) has.
  assert.equal(t.err.length, 1, t.err.join(''));
  assert.match(t.err[0]!, /^tdx-audit: --profile tdx-linux-6\.1 \(Linux 6\.1\.192\) disagrees with .*Makefile \(Linux 6\.1\.55-rc2.*; using tdx-linux-6\.1\n$/);
  assert.match(t.out.join(''), /6 findings \(1 error, 1 warning\)/);
  const j = readJson(join(out, 'tdx-audit.json'));
  assert.equal(j.provenance.kernel?.version, '6.1.55-rc2');
  assert.equal(j.provenance.profile, 'tdx-linux-6.1');
  assert.deepEqual(j.provenance.config?.options, { CONFIG_INTEL_TDX_GUEST: 'y' });
  assert.deepEqual(j.provenance.scope, ['drivers']);
  assert.equal(j.findings.length, 6);
  assert.ok(j.findings.every((f) => f.file === 'drivers/acme/acme.c' && f.line > 0 && f.fingerprint));
  assert.equal(JSON.parse(readFileSync(join(out, 'tdx-audit.sarif'), 'utf8')).runs[0].results.length, 6);
  assert.match(readFileSync(join(out, 'tdx-audit.html'), 'utf8'), /^<!doctype html>/);
  assert.match(readFileSync(join(out, 'tdx-audit.md'), 'utf8'), /^## tdx-audit report/);
});

test('an existing report is kept without --force and replaced with it', async () => {
  const root = tree();
  const out = join(root, 'out');
  assert.equal(await runReport([join(root, 'drivers'), '--out', out, '--format', 'json,markdown', '--exit-zero'], io().io), 0);
  writeFileSync(join(out, 'tdx-audit.md'), 'edited by hand\n');
  const t = io();
  assert.equal(await runReport([join(root, 'drivers'), '--out', out, '--format', 'json,markdown'], t.io), 2);
  assert.match(t.err.join(''), /not overwriting existing report files \(use --force\)/);
  assert.match(t.err.join(''), /tdx-audit\.md/);
  assert.equal(readFileSync(join(out, 'tdx-audit.md'), 'utf8'), 'edited by hand\n');
  assert.equal(await runReport([join(root, 'drivers'), '--out', out, '--format', 'json,markdown', '--force', '--exit-zero'], io().io), 0);
  assert.match(readFileSync(join(out, 'tdx-audit.md'), 'utf8'), /## tdx-audit report/);
});

test('--baseline reports new, fixed and unchanged; the tree triage file is applied', async () => {
  const root = tree();
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'r1'), '--format', 'json'], io().io), 1);
  const first = readJson(join(root, 'r1/tdx-audit.json'));
  const deref = first.findings.find((f) => f.rule === 'tdx-iomem-deref')!;
  mkdirSync(join(root, '.tdx-audit'));
  writeFileSync(join(root, '.tdx-audit/triage.json'), JSON.stringify({ version: 1, entries: { [deref.fingerprint]: { status: 'safe', comment: 'debug only' } } }));
  writeFileSync(
    join(root, 'drivers/acme/acme.c'),
    '/* moved */\n\n' + DRIVER.replace('\t__iowrite32_copy(base + 0x100, buf, 16);\n', '').replace('\tacme_kick(base);\n', '\tacme_kick(base);\n\tiosubmit_cmds512(base, buf, 1);\n'),
  );
  const t = io();
  const code = await runReport([join(root, 'drivers'), '--out', join(root, 'r2'), '--format', 'json,markdown', '--baseline', join(root, 'r1/tdx-audit.json')], t.io);
  // With a baseline only a new error fails the run: here the new MOVDIR64B is one.
  assert.equal(code, 1, t.err.join(''));
  assert.match(t.out.join(''), /against the baseline 1 new, 1 fixed, 5 unchanged/);
  const second = readJson(join(root, 'r2/tdx-audit.json'));
  assert.deepEqual(second.findings.filter((f) => f.baseline === 'new').map((f) => f.rule), ['tdx-movdir64b']);
  assert.deepEqual(second.baseline!.fixed.map((f) => f.rule), ['tdx-movs-copy']);
  const d = second.findings.find((f) => f.fingerprint === deref.fingerprint)!;
  assert.deepEqual(d.triage, { status: 'safe', comment: 'debug only' });
  assert.notEqual(d.line, deref.line, 'the deref moved and kept its fingerprint');
  assert.match(readFileSync(join(root, 'r2/tdx-audit.md'), 'utf8'), /1 new\*\*, 1 fixed, 5 unchanged/);
});

test('a broken triage file or baseline is an error that names the file, and nothing is written', async () => {
  const root = tree();
  mkdirSync(join(root, '.tdx-audit'));
  writeFileSync(join(root, '.tdx-audit/triage.json'), '{ "version": 1, "entries": { ');
  const t = io();
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'o')], t.io), 2);
  assert.match(t.err.join(''), /triage\.json: not valid JSON/);
  assert.equal(existsSync(join(root, 'o')), false);
  writeFileSync(join(root, '.tdx-audit/triage.json'), '{"version":1,"entries":{}}');
  writeFileSync(join(root, 'b.json'), '{"runs":[]}');
  const t2 = io();
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'o'), '--baseline', join(root, 'b.json')], t2.io), 2);
  assert.match(t2.err.join(''), /b\.json: not a tdx-audit JSON report/);
  assert.equal(existsSync(join(root, 'o')), false);
});

test('a progress bar is drawn on a terminal, and an interrupted run writes nothing', async () => {
  const root = tree();
  const t = io(true);
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'o'), '--format', 'json', '--exit-zero'], t.io), 0);
  const err = t.err.join('');
  assert.match(err, /\r\x1b\[2Kreport \[#+-*\] \d\/2 drivers\/acme\//);
  assert.ok(err.endsWith('\r\x1b[2K'), 'the bar is cleared at the end');

  const ac = new AbortController();
  ac.abort();
  const t2 = io();
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'o2')], { ...t2.io, signal: ac.signal }), 130);
  assert.match(t2.err.join(''), /interrupted; no report written/);
  assert.equal(existsSync(join(root, 'o2')), false);
});

test('SIGINT during the scan stops it and writes nothing', async () => {
  // Enough files that the scan is still running when the signal arrives.
  const files: Record<string, string> = { Makefile: KERNEL_MAKEFILE };
  for (let i = 0; i < 150; i++) files[`drivers/x/f${i}.c`] = DRIVER;
  const root = makeTree(files);
  const t = io();
  const p = runReport([join(root, 'drivers'), '--out', join(root, 'o')], t.io);
  setTimeout(() => process.emit('SIGINT'), 30);
  assert.equal(await p, 130);
  assert.equal(existsSync(join(root, 'o')), false);
});

test('usage errors exit 2 with the usage line', async () => {
  for (const argv of [[], ['x.c'], ['x.c', '--out'], ['x.c', '--out', 'o', '--format', 'pdf'], ['x.c', '--out', 'o', '--profile', 'tdx-9'], ['x.c', '--out', 'o', '--objects', '/no/such/dir']]) {
    const t = io();
    assert.equal(await runReport(argv, t.io), 2, argv.join(' '));
    assert.match(t.err.join(''), /usage: tdx-audit report/);
  }
  assert.deepEqual(parseReportArgs(['a', '-o', 'o', '--format', 'sarif,json,sarif']).formats, ['sarif', 'json']);
});

test('with --objects the report carries the compiled instructions, the compiler and object freshness', { skip: skipWithoutGcc }, async () => {
  const FIX = resolve(__dirname, '../../fixtures/drivers');
  const root = makeTree({ Makefile: KERNEL_MAKEFILE });
  const d = join(root, 'drivers/foo');
  mkdirSync(d, { recursive: true });
  for (const f of ['tdx_io.h', 'foo_nic.c']) copyFileSync(join(FIX, f), join(d, f));
  compileObject('foo_nic.c', d);
  const t = io();
  const code = await runReport([join(d, 'foo_nic.c'), '--out', join(root, 'o'), '--objects', d, '--format', 'json,html', '--exit-zero'], t.io);
  assert.equal(code, 0, t.err.join(''));
  const j = readJson(join(root, 'o/tdx-audit.json'));
  assert.equal(j.provenance.objects.length, 1);
  assert.equal(j.provenance.objects[0].state, 'fresh', j.provenance.objects[0].message);
  assert.match(j.provenance.compilers[0] ?? '', /GNU C/);
  const poll = j.findings.find((f) => f.function === 'foo_poll' && f.accessor === 'readl')!;
  assert.ok(poll.compiled && poll.compiled.instructions.length > 0, JSON.stringify(poll.compiled));
  const i = poll.compiled.instructions[0];
  assert.match(i.text, /^mov /);
  assert.equal(i.verdict, 'emulated');
  assert.equal(poll.verdictFrom, 'compiled');
  assert.ok(j.functions.some((f) => f.from === 'object'));
  assert.ok(statSync(join(root, 'o/tdx-audit.html')).size > 0);
});

test('buildReport (the editor path): a caller engine and unsaved buffers are used, progress is reported per file', async () => {
  const root = tree();
  const { AuditEngine } = await import('../../../server/src/audit/engine');
  const { buildReport } = await import('../../../server/src/audit/report/build');
  const engine = await AuditEngine.create({ readFile: () => undefined });
  engine.configure({ profile: 'sev-es', severity: { 'tdx-ve-mmio': 'off' } });
  const seen: string[] = [];
  const acme = join(root, 'drivers/acme/acme.c');
  const run = await buildReport(
    { paths: [join(root, 'drivers')], formats: ['json'], profile: 'tdx-linux-6.12+', followIncludes: true, objects: [] },
    { engine, textOf: (p) => (p === acme ? 'void f(void __iomem *b) { outb(1, 0x80); writel(1, b); }\n' : undefined), progress: (i, n, f) => void seen.push(`${i}/${n} ${f}`) },
  );
  assert.notEqual(run, 'cancelled');
  if (run === 'cancelled') return;
  assert.deepEqual(seen, ['1/2 drivers/acme/acme.c', '2/2 drivers/acme/quiet.c']);
  assert.equal(run.model!.provenance.profile, 'sev-es');
  assert.deepEqual(run.model!.findings.map((f) => f.rule), ['tdx-ve-port-io']);
  assert.deepEqual(run.files.map((f) => f.name), ['tdx-audit.json']);
});

test('report exits 1 on error findings like scan, but not for errors a baseline already had or a reviewer marked safe', async () => {
  const root = makeTree({ Makefile: KERNEL_MAKEFILE, 'drivers/acme/acme.c': DRIVER });
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'a'), '--format', 'json'], io().io), 1);
  // The same tree against its own report: every error is unchanged, so CI passes.
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'b'), '--format', 'json', '--baseline', join(root, 'a/tdx-audit.json')], io().io), 0);
  // Every error triaged safe: nothing left to fail on.
  const j = readJson(join(root, 'a/tdx-audit.json'));
  const entries = Object.fromEntries(j.findings.filter((f) => f.severity === 'error').map((f) => [f.fingerprint, { status: 'safe' }]));
  mkdirSync(join(root, '.tdx-audit'), { recursive: true });
  writeFileSync(join(root, '.tdx-audit/triage.json'), JSON.stringify({ version: 1, entries }));
  assert.equal(await runReport([join(root, 'drivers'), '--out', join(root, 'c'), '--format', 'json'], io().io), 0);
});

test('a report of compiled drivers opens with the rejected and mis-emulated instructions, grouped by function; headers are not missing objects', { skip: skipWithoutGcc }, async () => {
  const FIX = resolve(__dirname, '../../fixtures');
  const root = makeTree({ Makefile: KERNEL_MAKEFILE });
  // forms_io.h includes ../drivers/tdx_io.h: the fixtures keep their relative layout.
  for (const [dir, files] of [['drivers/compiled', ['forms.c', 'forms_io.h']], ['drivers/drivers', ['foo_nic.c', 'tdx_io.h']]] as const) {
    mkdirSync(join(root, dir), { recursive: true });
    for (const f of files) copyFileSync(join(FIX, dir.split('/')[1], f), join(root, dir, f));
  }
  compileObject('forms.c', join(root, 'drivers/compiled'), GCC_FLAGS.forms);
  compileObject('foo_nic.c', join(root, 'drivers/drivers'));
  const t = io();
  const code = await runReport([join(root, 'drivers'), '--out', join(root, 'o'), '--objects', join(root, 'drivers'), '--format', 'json,markdown,html'], t.io);
  assert.equal(code, 1, 'decode-failed instructions are errors');
  const md = readFileSync(join(root, 'o/tdx-audit.md'), 'utf8');
  const failing = md.slice(md.indexOf('### Will fail in a TDX guest'), md.indexOf('### ', md.indexOf('### Will fail') + 4));
  const rows = failing.split('\n').filter((l) => l.startsWith('| `'));
  // Worst first: every decode-failed row before any rejected-movs, those before mis-emulated.
  const verdicts = rows.map((r) => /\*\*([\w-]+)\*\*/.exec(r)![1]);
  const order = ['decode-failed', 'rejected-movs', 'misemulated', 'out-of-line'];
  assert.deepEqual([...verdicts].sort((a, b) => order.indexOf(a) - order.indexOf(b)), verdicts, verdicts.join(', '));
  assert.ok(rows.some((r) => /^\| `foo_kick` \| drivers\/drivers\/foo\\_nic\.c:\d+:\d+ \| `or dword ptr \[rax\],1` at `foo_kick\+0x[0-9a-f]+` /.test(r)), rows.join('\n'));
  assert.ok(rows.some((r) => r.includes('**misemulated**') && r.includes('`movzx ')), rows.join('\n'));
  assert.ok(md.indexOf('### Will fail') < md.indexOf('### Informational'));
  const j = readJson(join(root, 'o/tdx-audit.json'));
  assert.equal(j.findings[0].verdict, 'decode-failed');
  assert.match(j.findings[0].message, /^oops: `[^`]+` cannot be decoded — \w+\+0x[0-9a-f]+\. /);
  assert.ok(!j.provenance.objects.some((o) => o.source.endsWith('.h')), 'a header is not listed as a missing object');
  const html = readFileSync(join(root, 'o/tdx-audit.html'), 'utf8');
  assert.ok(html.indexOf('id="failing-table"') < html.indexOf('id="findings-table"'));
});
