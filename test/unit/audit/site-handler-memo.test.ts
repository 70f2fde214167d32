// findings.ts's siteHandler answers each (profile, rule, kind, accessor, port) once
// and remembers it: the remembered answer must be what the site's own instruction
// gives, for every site that differs in anything siteInstruction reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siteHandler, siteInstruction } from '../../../server/src/audit/findings';
import { handleOnce } from '../../../server/src/x86/handlers';
import { PROFILES, type Profile } from '../../../server/src/x86/profiles';
import type { Site } from '../../../server/src/c/types';

const R = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };

function site(over: Partial<Site>): Site {
  return { kind: 'call', accessor: 'readl', base: 'readl', accessorKind: 'mmio-read', width: 4, rule: 'tdx-ve-mmio', function: 'f', range: R, callRange: R, address: 'p', via: [], ...over };
}

const SITES: Site[] = [
  site({}),
  site({ accessor: 'readb', base: 'readb', width: 1 }),
  site({ accessor: 'writel', base: 'writel', accessorKind: 'mmio-write' }),
  // A constant port below 0x100 is an imm8 IN/OUT, other ports the DX form.
  site({ accessor: 'outb', base: 'outb', accessorKind: 'port-out', width: 1, rule: 'tdx-ve-port-io', address: '0x80' }),
  site({ accessor: 'outb', base: 'outb', accessorKind: 'port-out', width: 1, rule: 'tdx-ve-port-io', address: '0x3f8' }),
  site({ accessor: 'inl', base: 'inl', accessorKind: 'port-in', rule: 'tdx-ve-port-io', address: '0xcf8' }),
  site({ accessor: 'inl', base: 'inl', accessorKind: 'port-in', rule: 'tdx-ve-port-io', address: '0x70' }),
  site({ accessor: 'inl', base: 'inl', accessorKind: 'port-in', rule: 'tdx-ve-port-io', address: 'port' }),
  // The same accessor name but a wrapper's site (base is the accessor), and a dereference (no instruction).
  site({ accessor: 'my_read', base: 'readl', via: [{ name: 'my_read', file: 'f.c', range: R, callee: 'readl' }] }),
  site({ kind: 'iomem-deref', accessor: 'load', base: 'deref', rule: 'tdx-iomem-deref', width: 0 }),
  site({ kind: 'iomem-libc', accessor: 'memcpy', base: 'memcpy', accessorKind: 'mmio-string', rule: 'tdx-iomem-libc', width: 0 }),
  site({ accessor: '__iowrite32_copy', base: '__iowrite32_copy', accessorKind: 'mmio-string', rule: 'tdx-movs-copy', width: 4 }),
  site({ accessor: 'iosubmit_cmds512', base: 'iosubmit_cmds512', accessorKind: 'mmio-string', rule: 'tdx-movdir64b', width: 64 }),
];

test('siteHandler answers, remembered or not, what the site\'s own instruction gives, on every profile', () => {
  const profiles = Object.keys(PROFILES) as Profile[];
  assert.ok(profiles.length >= 2);
  // Twice over, in two orders: the second pass is answered from the memo.
  for (const order of [SITES, [...SITES].reverse(), SITES]) {
    for (const profile of profiles) {
      for (const s of order) {
        const bytes = siteInstruction(s);
        const want = bytes ? handleOnce(bytes, profile).view : undefined;
        assert.equal(siteHandler(s, profile), want, `${s.accessor} ${s.address} ${s.rule} on ${profile}`);
      }
    }
  }
  // The ports differ: one site's answer is not another's.
  const imm = siteHandler(SITES[3]!, profiles[0]!);
  const dx = siteHandler(SITES[4]!, profiles[0]!);
  assert.ok(imm && dx && imm.text !== dx.text, `${imm?.text} / ${dx?.text}`);
});
