// The join of source sites with the instructions gcc really emitted, on fixtures
// compiled here at test time (gcc -O2 -g), each form getting the verdict the
// kernel's #VE handler would give it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine, hoverMarkdown, type FileAudit, type Finding } from '../../../server/src/audit/engine';
import { copyDirection } from '../../../server/src/audit/compiled/match';
import { ObjectStore } from '../../../server/src/audit/objects';
import { locate } from '../c/helpers';
import { gcc, hasGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures');
const skip = hasGcc ? false : 'gcc is not installed: the compiled-form tests need it to build their fixtures';


let dir = '';
let engine: AuditEngine;
const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

function audit(name: string): { a: FileAudit; text: string } {
  const p = join(dir, 'compiled', name);
  const text = readFileSync(p, 'utf8');
  return { a: engine.audit(p, text, 1), text };
}

function findingAt(a: FileAudit, text: string, needle: string): Finding {
  const pos = locate(text, needle);
  const f = a.findings.find((x) => x.site.range.start.line === pos.line);
  assert.ok(f, `no finding on the line of ${needle}`);
  return f;
}

describe('compiled forms of sites (gcc fixtures)', { skip }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-join-'));
    mkdirSync(join(dir, 'compiled'));
    mkdirSync(join(dir, 'drivers'));
    for (const f of ['forms.c', 'forms_avx.c', 'forms_io.h']) copyFileSync(join(FIX, 'compiled', f), join(dir, 'compiled', f));
    for (const f of ['tdx_io.h', 'foo_nic.c']) copyFileSync(join(FIX, 'drivers', f), join(dir, 'drivers', f));
    // Kernel-like: no SSE in general code; rep_4byte makes gcc copy with `rep movsl`.
    gcc(['-O2', '-g', '-mno-sse', '-mstringop-strategy=rep_4byte', '-c', 'forms.c', '-o', 'forms.o'], join(dir, 'compiled'));
    gcc(['-O2', '-g', '-mavx2', '-c', 'forms_avx.c', '-o', 'forms_avx.o'], join(dir, 'compiled'));
    gcc(['-O2', '-g', '-c', 'foo_nic.c', '-o', 'foo_nic.o'], join(dir, 'drivers'));
    engine = await AuditEngine.create({ readFile: read });
    engine.configure({ objects: {} });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an io.h writel maps to its MOV store, emulated, in the function holding it', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'writel(v, d->base + 4)');
    assert.equal(f.instructions?.length, 1);
    const i = f.instructions![0]!;
    assert.equal(i.function, 'plain_write');
    assert.equal(i.class, 'WRITE');
    assert.equal(i.size, 4);
    assert.equal(i.verdict, 'emulated');
    assert.match(i.text, /^mov \[r\w+\+4\],esi$/);
    assert.equal(f.severity, 'information');
    assert.equal(a.compiled?.object.state, 'fresh');
  });

  test('a read-modify-write on an __iomem field is an OR on memory: DECODE_FAILED, an Error naming it', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'd->r->ctrl |= 1');
    assert.deepEqual(f.instructions?.map((i) => [i.text, i.class, i.verdict]), [['or dword ptr [rax],1', 'DECODE_FAILED', 'decode-failed']]);
    assert.equal(f.severity, 'error');
    assert.match(f.message, /or dword ptr \[rax\],1.*rmw_or\+0x4/);
  });

  test('a byte read into a 32-bit register is MOVZX: READ_ZERO_EXTEND, mis-emulated upper bits, a Warning', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'd->r->mac[2]');
    assert.equal(f.instructions?.length, 1);
    const i = f.instructions![0]!;
    assert.match(i.text, /^movzx eax,byte ptr/);
    assert.equal(i.class, 'READ_ZERO_EXTEND');
    assert.deepEqual(i.misemulation, ['movzx32-upper']);
    assert.equal(f.severity, 'warning');
  });

  test('a store from AH is decoded but emulated wrongly (high-byte)', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, '__writeb(v, d->base + 1)');
    const i = f.instructions![0]!;
    assert.match(i.text, /,ah$/);
    assert.equal(i.verdict, 'misemulated');
    assert.deepEqual(i.misemulation, ['high-byte']);
    assert.equal(f.severity, 'warning');
  });

  test('a memcpy to MMIO compiled to rep movsl is MOVS: rejected; the source-buffer loads are not counted', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'memcpy((void *)d->r->ring');
    const movs = f.instructions!.filter((i) => i.class === 'MOVS');
    assert.equal(movs.length, 1);
    assert.match(movs[0]!.text, /^rep movsd/);
    assert.equal(movs[0]!.verdict, 'rejected-movs');
    assert.ok(f.instructions!.every((i) => i.class === 'MOVS' || i.class === 'WRITE'), 'only the device side of the copy');
    assert.equal(f.severity, 'error');
  });

  test('MOVDIR64B from iosubmit_cmds512 is not decodable; the pointer load beside it is not the access', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'iosubmit_cmds512(d->base');
    assert.deepEqual(f.instructions?.map((i) => [i.text.split(' ')[0], i.verdict]), [['movdir64b', 'decode-failed']]);
    assert.equal(f.severity, 'error');
  });

  test('an AVX copy to MMIO stores with VEX vmovdqu: not decodable; its loads from the source are left out', () => {
    const { a, text } = audit('forms_avx.c');
    const f = findingAt(a, text, 'memcpy((void *)r->ring');
    assert.ok(f.instructions!.length >= 1);
    for (const i of f.instructions!) {
      assert.match(i.text, /^vmovdqu \[rdi/);
      assert.equal(i.verdict, 'decode-failed');
    }
  });

  test('an out-of-line accessor is the call (a tail jmp here), named through the relocation', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'ioread32(d->base)');
    assert.equal(f.instructions?.length, 1);
    assert.equal(f.instructions![0]!.callee, 'ioread32');
    assert.equal(f.instructions![0]!.verdict, 'out-of-line');
    assert.match(f.instructions![0]!.text, /^(jmp|call) ioread32$/);
  });

  test('sites in a static inline helper own an instruction in every caller it was inlined into', () => {
    const p = join(dir, 'drivers', 'foo_nic.c');
    const text = readFileSync(p, 'utf8');
    const a = engine.audit(p, text, 1);
    const f = findingAt(a, text, 'writel(val, fp->regs + reg)');
    assert.ok(f.instructions!.length >= 2, `expected an instance per inlined call, got ${f.instructions!.length}`);
    assert.ok(f.instructions!.every((i) => i.function === 'foo_open' && i.verdict === 'emulated'));
    assert.ok(f.instructions!.some((i) => i.inlineChain.join('<') === 'writel<foo_writel<foo_reset_hw<foo_open'));
    // Port I/O and MSR accessors map to IN/OUT and RDMSR.
    assert.equal(findingAt(a, text, 'inb(fp->io_port + 1)').instructions?.[0]?.text, 'in al,dx');
    assert.equal(findingAt(a, text, 'native_read_msr(').instructions?.[0]?.text, 'rdmsr');
    // The object-based function view names the symbols holding the instructions.
    assert.ok(a.compiled!.functions.some((fn) => fn.name === 'foo_open' && fn.instructions >= 3));
  });

  test('calls inside a multi-line macro call map through the line gcc records (the macro\'s)', () => {
    const { a, text } = audit('forms.c');
    const f = findingAt(a, text, 'readl(d->base + 0x10)');
    assert.ok(f.instructions?.length, f.compiledNote);
    assert.ok(f.instructions!.every((i) => i.function === 'in_macro_args' && /^mov e\w\w,\[/.test(i.text)));
    assert.match(f.compiledNote ?? '', /macro call starting at line/);
  });

  test('a register read twice through a plain pointer but once in the binary is called out', () => {
    const { a, text } = audit('forms.c');
    const lines = [locate(text, 'u32 a = d->r->status').line, locate(text, 'u32 b = d->r->status').line];
    const fs = a.findings.filter((f) => lines.includes(f.site.range.start.line));
    assert.equal(fs.length, 2);
    const withInsn = fs.filter((f) => f.instructions?.length);
    const without = fs.filter((f) => !f.instructions?.length);
    assert.equal(withInsn.length, 1, 'gcc keeps one load');
    assert.match(without[0]!.compiledNote ?? '', /reads `d->r->status` again here, but the binary reads it once/);
  });

  test('hover shows bytes, Intel syntax, function+offset, class, TDVMCALL, RIP and the verdict', () => {
    const { a, text } = audit('forms.c');
    const md = hoverMarkdown(a, locate(text, 'ctrl |= 1'))!;
    assert.match(md, /or dword ptr \[rax\],1/);
    assert.match(md, /83 08 01/);
    assert.match(md, /rmw_or\+0x4/);
    assert.match(md, /DECODE_FAILED/);
    assert.match(md, /not decodable/);
    assert.match(md, /forms\.o/);
    const mdw = hoverMarkdown(a, locate(text, 'writel(v'))!;
    assert.match(mdw, /\| TDVMCALL \| TDVMCALL R10=0 R11=48 \(EXIT_REASON_EPT_VIOLATION\) R12=4 R13=1 /);
    assert.match(mdw, /RIP \| \+3/);
  });

  test('a saved text whose functions moved makes the object stale: no instruction shown, and a reason', () => {
    // An unsaved edit is mapped through (edited-text.test.ts); a saved file the object
    // was not built from is not: the object is stale until rebuilt.
    const moved = join(dir, 'moved');
    mkdirSync(moved, { recursive: true });
    copyFileSync(join(dir, 'compiled', 'forms_io.h'), join(moved, 'forms_io.h'));
    copyFileSync(join(dir, 'compiled', 'forms.o'), join(moved, 'forms.o'));
    const p = join(moved, 'forms.c');
    const text = readFileSync(join(dir, 'compiled', 'forms.c'), 'utf8').replace('void plain_write', '\n\n\nvoid plain_write').replace('u32 plain_read', '\n\nu32 plain_read');
    writeFileSync(p, text);
    const a = engine.audit(p, text, 2);
    assert.equal(a.compiled?.object.state, 'lines-differ');
    assert.match(a.compiled!.object.message, /does not match this source.*rebuild the object/);
    assert.ok(a.findings.every((f) => !f.instructions));
    assert.match(hoverMarkdown(a, locate(text, 'writel(v'))!, /does not match/);
  });

  test('an object older than its source is reported with its age', () => {
    const p = join(dir, 'compiled', 'forms.c');
    const obj = join(dir, 'compiled', 'forms.o');
    const old = new Date(Date.now() - 3 * 3600_000);
    utimesSync(obj, old, old);
    try {
      const a = engine.audit(p, readFileSync(p, 'utf8'), 3);
      assert.equal(a.compiled?.object.state, 'older-than-source');
      assert.match(a.compiled!.object.message, /older than the source \(by 3 h\)/);
    } finally {
      const now = new Date();
      utimesSync(obj, now, now);
    }
  });

  test('missing, foreign-architecture and debug-less objects each say what is wrong', () => {
    const store = new ObjectStore();
    const src = join(dir, 'compiled', 'forms.c');
    const none = store.find(join(dir, 'compiled', 'nothere.c'), {});
    assert.equal(none.info.state, 'missing');
    assert.match(none.info.message, /no object found for nothere\.c/);

    const nodebug = join(dir, 'nodebug');
    mkdirSync(nodebug);
    copyFileSync(src, join(nodebug, 'forms.c'));
    for (const h of ['forms_io.h']) copyFileSync(join(dir, 'compiled', h), join(nodebug, h));
    gcc(['-O2', '-I', join(dir, 'compiled'), '-c', join(nodebug, 'forms.c'), '-o', join(nodebug, 'forms.o')], join(dir, 'compiled'));
    const nd = store.find(join(nodebug, 'forms.c'), {});
    assert.equal(nd.info.state, 'unusable');
    assert.match(nd.info.message, /no DWARF/);

    const arm = join(dir, 'arm');
    mkdirSync(arm);
    const bytes = readFileSync(join(dir, 'compiled', 'forms.o'));
    bytes.writeUInt16LE(183, 18); // e_machine = EM_AARCH64
    writeFileSync(join(arm, 'forms.o'), bytes);
    const ar = store.find(join(arm, 'forms.c'), {});
    assert.equal(ar.info.state, 'unusable');
    assert.match(ar.info.message, /x86-64/);

    const stripped = join(dir, 'stripped');
    mkdirSync(stripped);
    copyFileSync(join(dir, 'compiled', 'forms.o'), join(stripped, 'forms.o'));
    if (spawnSync('strip', ['-s', join(stripped, 'forms.o')]).status === 0) {
      const st = store.find(join(stripped, 'forms.c'), {});
      assert.equal(st.info.state, 'unusable');
      assert.match(st.info.message, /is stripped/);
    }

    const junk = join(dir, 'junk');
    mkdirSync(junk);
    writeFileSync(join(junk, 'forms.o'), bytes.subarray(0, 100));
    const jk = store.find(join(junk, 'forms.c'), {});
    assert.equal(jk.info.state, 'unusable');
  });

  test('--objects DIR finds the object by name and path under another tree', () => {
    const store = new ObjectStore();
    const build = join(dir, 'build', 'compiled');
    mkdirSync(build, { recursive: true });
    copyFileSync(join(dir, 'compiled', 'forms.o'), join(build, 'forms.o'));
    const elsewhere = join(dir, 'src', 'compiled');
    mkdirSync(elsewhere, { recursive: true });
    copyFileSync(join(dir, 'compiled', 'forms.c'), join(elsewhere, 'forms.c'));
    // The DWARF names the original path; an object under --objects still matches by its tail.
    const r = store.find(join(dir, 'compiled', 'forms.c'), { objects: [join(dir, 'build')] });
    assert.equal(r.info.state, 'fresh');
    assert.ok(r.info.path === join(dir, 'compiled', 'forms.o') || r.info.path === join(build, 'forms.o'));
    const viaBuildDir = store.find(join(elsewhere, 'forms.c'), { buildDir: join(dir, 'build'), sourceRoot: join(dir, 'src') });
    assert.equal(viaBuildDir.info.origin, 'build-dir');
  });
});

describe('copyDirection', () => {
  test('the destination of memcpy/memset is written, other arguments read', () => {
    const line = '\tmemcpy((void *)d->r->ring, src, 256);';
    assert.equal(copyDirection(line, line.indexOf('d->r')), 'W');
    const line2 = '\tmemcpy(buf, (void *)d->r->ring, 256);';
    assert.equal(copyDirection(line2, line2.indexOf('d->r')), 'R');
    const line3 = '\tif (memcmp(p->mac, want, 6))';
    assert.equal(copyDirection(line3, line3.indexOf('p->mac')), 'R');
    assert.equal(copyDirection('\tx = p->status;', 5), undefined);
  });
});
