import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Site } from '../../../server/src/c/types';
import { emptyKnowledge, knowledgeFromJson, knowledgeToJson, mergeKnowledge, addField } from '../../../server/src/c/knowledge';
import { CATALOGUE } from '../../../server/src/c/catalogue';
import { engineWith } from './helpers';

// Fixtures mark each line that must be a site `/* MMIO` and each that must not `/* RAM`.
const FIX = resolve(__dirname, '../../fixtures/drivers/scopes');

async function sitesOf(name: string, headers: string[] = []) {
  const disk = Object.fromEntries(headers.map((h) => [join(FIX, h), readFileSync(join(FIX, h), 'utf8')]));
  const path = join(FIX, name);
  const src = readFileSync(path, 'utf8');
  const audit = (await engineWith(disk)).auditOnce(path, src);
  return { src, sites: audit.analysis.sites.filter((s) => s.kind !== 'call') };
}

/** For each marked line (1-based), the rules of the dereference sites on it. */
function byMarkedLine(src: string, sites: Site[]) {
  const rows: { line: number; mark: 'MMIO' | 'RAM'; note: string; rules: string[] }[] = [];
  src.split('\n').forEach((text, i) => {
    const m = /\/\* (MMIO|RAM)\b:?\s*(.*?)\s*\*\//.exec(text);
    if (!m) return;
    const rules = sites.filter((s) => s.range.start.line === i).map((s) => s.rule);
    rows.push({ line: i + 1, mark: m[1] as 'MMIO' | 'RAM', note: m[2]!, rules });
  });
  return rows;
}

function assertMarks(src: string, sites: Site[], expectUntyped: RegExp = /untyped/) {
  const rows = byMarkedLine(src, sites);
  assert.ok(rows.length >= 4, 'the fixture marks its lines');
  const wrong = rows.filter((r) => (r.mark === 'MMIO' ? r.rules.length !== 1 : r.rules.length !== 0));
  assert.deepEqual(wrong, [], 'lines whose sites disagree with their mark');
  for (const r of rows.filter((x) => x.mark === 'MMIO')) {
    const want = expectUntyped.test(r.note) ? 'tdx-mmio-untyped-deref' : 'tdx-iomem-deref';
    assert.equal(r.rules[0], want, `line ${r.line} (${r.note})`);
  }
}

test('a name means its innermost visible declaration: case blocks, shadowing blocks, parameters, for-init, globals (arcmsr_hba.c shape)', async () => {
  const { src, sites } = await sitesOf('scoped_names.c');
  assertMarks(src, sites);
});

test('the RAM twin of a case block is silent and the __iomem one is a site, whichever block comes first', async () => {
  const { src, sites } = await sitesOf('scoped_names.c');
  const fns = new Set(sites.map((s) => s.function));
  assert.ok(fns.has('case_blocks') && fns.has('ram_block_first'));
  // Every site's declaration is an __iomem one (a line holding `__iomem`), never a RAM twin's.
  const lines = src.split('\n');
  for (const s of sites.filter((x) => x.rule === 'tdx-iomem-deref')) {
    assert.match(lines[s.declaredAt!.range.start.line]!, /__iomem/, `${s.function}: ${s.address}`);
  }
});

test('a member access is MMIO only through the struct that declares the member __iomem (hyperv_drm_proto.c shape)', async () => {
  const { src, sites } = await sitesOf('member_types.c', ['member_types.h']);
  assertMarks(src, sites);
  const vram = sites.filter((s) => s.declaredAt?.name === 'vram');
  assert.ok(vram.length >= 2 && vram.every((s) => s.declaredAt!.file.endsWith('member_types.h')));
});

test('a typed base decides where a plain twin of the field name used to silence the name match', async () => {
  // Before: `win` was plain in one struct, so no `->win` was a site; now r->win is (its struct says so).
  const { src, sites } = await sitesOf('same_name.c');
  assertMarks(src, sites);
});

test('a base of unknown type still matches the field by name unless the name is also plain somewhere', async () => {
  const e = await engineWith();
  const hdr = 'struct d { unsigned int __iomem *regs; };\n';
  const a = e.auditOnce('/w/u.c', `${hdr}void f(void) { get()->regs[0] = 1; }\n`);
  assert.equal(a.analysis.sites.filter((s) => s.rule === 'tdx-iomem-deref').length, 1);
  const b = e.auditOnce('/w/v.c', `${hdr}struct r { unsigned int *regs; };\nvoid f(void) { get()->regs[0] = 1; }\n`);
  assert.equal(b.analysis.sites.filter((s) => s.rule === 'tdx-iomem-deref').length, 0);
});

test('__iomem fields are kept per struct through merging and the header cache; an old cache line is refused', () => {
  const k = emptyKnowledge();
  const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
  addField(k, { name: 'regs', depth: 1, file: 'a.h', range: at, struct: 'a' });
  addField(k, { name: 'regs', depth: 1, file: 'a.h', range: at, struct: 'a' });
  addField(k, { name: 'regs', depth: 2, file: 'b.h', range: at, struct: 'b' });
  assert.deepEqual(k.fields.get('regs')!.map((d) => d.struct), ['a', 'b']);
  const into = emptyKnowledge();
  addField(into, { name: 'regs', depth: 1, file: 'c.h', range: at, struct: 'c' });
  mergeKnowledge(into, k);
  assert.deepEqual(into.fields.get('regs')!.map((d) => d.struct), ['c', 'a', 'b']);
  const back = knowledgeFromJson(JSON.parse(JSON.stringify(knowledgeToJson(k))), (n) => CATALOGUE.get(n));
  assert.deepEqual(back?.fields.get('regs')!.map((d) => [d.struct, d.depth]), [['a', 1], ['b', 2]]);
  assert.equal(knowledgeFromJson({ f: [['regs', { name: 'regs', depth: 1, file: 'a.h', range: at }]] }, (n) => CATALOGUE.get(n)), undefined);
});

test('a field stored through a base of unknown type is not matched by a known struct that the declarations say is another (iphase.c shape)', async () => {
  const { src, sites } = await sitesOf('typed_slots.c', ['typed_slots.h']);
  assertMarks(src, sites);
});

test("a header's typedef names its struct: the struct's own fields decide, not a same-named plain field elsewhere (iphase.h's IADEV shape)", async () => {
  const { src, sites } = await sitesOf('header_typedef.c', ['header_typedef.h']);
  assertMarks(src, sites);
});

test('an array member of a struct in MMIO is an address: its elements are the accesses, memcmp on it reads MMIO, &arr is the array (gma500, smem, ws16c48, oxu210hp shapes)', async () => {
  const { src, sites } = await sitesOf('array_members.c');
  assertMarks(src, sites);
  const lines = src.split('\n');
  const memcmpLine = lines.findIndex((l) => l.includes('memcmp(vbt->signature'));
  const at = sites.filter((s) => s.range.start.line === memcmpLine);
  assert.deepEqual(at.map((s) => s.accessor), ['memcmp'], 'memcmp on the array, not a load of it');
});
