// One answer everywhere (issue 11): the instructions a finding carries (diagnostics,
// hover, reports and scan's JSON are all built from them) are exactly the ones Show
// Compiled Form marks in each function, for the dataflow's fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEngine } from '../../server/src/audit/engine';
import { hoverMarkdown } from '../../server/src/audit/hover';
import { headline } from '../../server/src/audit/findings';
import { gcc, skipWithoutGcc } from '../support/gcc';
import { FIXTURES, VARIANTS } from './trace';

const NOT_MMIO = new Set(['CALL', 'PORT_IN', 'PORT_OUT', 'PORT_STRING', 'RDMSR', 'WRMSR', 'CPUID', 'HLT']);

for (const fixture of ['iphase_like.c', 'overlay.c', 'nested.c']) {
  test(`${fixture}: Show Compiled Form marks exactly the instructions the findings carry`, { skip: skipWithoutGcc }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tdx-one-answer-'));
    try {
      const obj = join(dir, fixture.replace(/\.c$/, '.o'));
      gcc([...VARIANTS['O2 no frame pointer']!, '-c', join(FIXTURES, fixture), '-o', obj], dir);
      const engine = await AuditEngine.create({ readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } } });
      engine.configure({ objects: { objects: [obj] } });
      const text = readFileSync(join(FIXTURES, fixture), 'utf8');
      const audit = engine.auditOnce(join(FIXTURES, fixture), text);
      const fromFindings = new Map<string, Set<number>>();
      for (const f of audit.findings) {
        for (const i of f.instructions ?? []) {
          if (NOT_MMIO.has(i.class)) continue;
          if (!fromFindings.has(i.function)) fromFindings.set(i.function, new Set());
          fromFindings.get(i.function)!.add(i.offset);
        }
      }
      assert.ok(fromFindings.size > 2, 'the fixture has MMIO functions');
      for (const [fn, offsets] of fromFindings) {
        const view = engine.compiledForm(audit, text, undefined, fn);
        assert.equal(view.function, fn, view.message);
        const marked = new Set<number>();
        for (const line of view.content.split('\n')) {
          const m = /^\s+\+0x([0-9a-f]+)\s.*\s{2}(ok emulated|~~ misemulated|!! \S+)/.exec(line);
          if (m) marked.add(parseInt(m[1]!, 16));
        }
        assert.deepEqual([...marked].sort((a, b) => a - b), [...offsets].sort((a, b) => a - b), `${fn}:\n${view.content}`);
      }
      // Opened from a site, the view starts at that site's instruction.
      const site = audit.findings.find((f) => f.instructions?.some((i) => !NOT_MMIO.has(i.class)))!;
      const at = engine.compiledForm(audit, text, site.site.range.start);
      const first = site.instructions!.find((i) => !NOT_MMIO.has(i.class))!;
      assert.ok(at.line !== undefined, 'a line to open at');
      assert.match(at.content.split('\n')[at.line!]!, new RegExp(`^\\s+\\+0x${first.offset.toString(16)}\\s`));
      // The hover leads with the verdict and the instruction, says how it was matched, and ends with the rule.
      const hover = hoverMarkdown(audit, site.site.range.start)!;
      const [, second] = hover.split('\n\n');
      assert.equal(second, headline(site.message));
      const iCompiled = hover.indexOf('**Compiled form**');
      assert.ok(iCompiled > 0 && iCompiled < hover.indexOf('| rule |'), hover);
      assert.match(hover, /\| matched \| by MMIO dataflow|\| matched \| inside the accessor/);
      // A client that runs command links (VS Code) gets one to Show Compiled Form at this site; others do not.
      assert.ok(!hover.includes('command:'));
      const linked = hoverMarkdown(audit, site.site.range.start, { uri: 'file:///w/x.c' })!;
      const m = /\[Show Compiled Form at this instruction\]\(command:tdxAudit\.showCompiledForm\?([^)]+)\)/.exec(linked);
      assert.ok(m, linked);
      assert.deepEqual(JSON.parse(decodeURIComponent(m![1]!)), [{ uri: 'file:///w/x.c', line: site.site.range.start.line, character: site.site.range.start.character }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
