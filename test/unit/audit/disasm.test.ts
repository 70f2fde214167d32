// The compiled-form view (server/src/audit/disasm.ts) against binutils on
// fixtures gcc compiles at test time, and its TextMate grammar
// (syntaxes/tdx-disasm.tmLanguage.json) tokenized by vscode-textmate with the
// Oniguruma WASM build, as VS Code runs it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createOnigScanner, createOnigString, loadWASM } from 'vscode-oniguruma';
import { INITIAL, Registry, parseRawGrammar, type IGrammar, type StateStack } from 'vscode-textmate';
import { openBinary, type BinaryObject } from '../../../server/src/binary/index';
import { functionAt, listFunctions, renderFunction } from '../../../server/src/audit/disasm';
import { CATALOGUE } from '../../../server/src/c/catalogue';
import type { CompiledInstruction } from '../../../server/src/audit/compiled';
import { hasTool, readelfSymbols, run } from '../binary/helpers';
import { GCC_FLAGS, gcc } from '../../support/gcc';

const ROOT = resolve(__dirname, '../../..');
const DRIVERS = join(ROOT, 'test/fixtures/drivers');
const NIC_C = join(DRIVERS, 'foo_nic.c');
const IO_H = join(DRIVERS, 'tdx_io.h');
const REJECT_C = join(ROOT, 'test/fixtures/disasm/tdx_reject.c');
const GRAMMAR = join(ROOT, 'syntaxes/tdx-disasm.tmLanguage.json');

const tools = ['gcc', 'objdump', 'readelf'].filter((t) => !hasTool(t));
const skip = tools.length ? `needs ${tools.join(', ')} (not found on PATH): the fixtures are compiled at test time` : false;

let dir = '';
let nicO = '';
let rejectO = '';
let rejectExe = '';
let nic: BinaryObject;
let reject: BinaryObject;
let rejectLinked: BinaryObject;

const readSource = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
const fileLines = (p: string): string[] => readFileSync(p, 'utf8').split('\n');
/** 1-based number of the first line of `path` containing `needle`. */
const lineOf = (path: string, needle: string): number => {
  const i = fileLines(path).findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} not in ${path}`);
  return i + 1;
};

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tdx-audit-disasm-'));
  nicO = join(dir, 'foo_nic.o');
  rejectO = join(dir, 'tdx_reject.o');
  gcc([...GCC_FLAGS.plain, '-c', NIC_C, '-o', nicO], dir);
  gcc([...GCC_FLAGS.plain, '-c', REJECT_C, '-o', rejectO], dir);
  // Linked like a vmlinux: virtual addresses, no relocations left to read.
  rejectExe = join(dir, 'tdx_reject');
  gcc(['-O2', '-g', '-nostdlib', '-static', '-Wl,-e,ring_reset', REJECT_C, '-o', rejectExe], dir);
  nic = openBinary(readFileSync(nicO));
  reject = openBinary(readFileSync(rejectO));
  rejectLinked = openBinary(readFileSync(rejectExe));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ parsing both sides

interface ObjdumpInsn {
  offset: number;
  bytes: string;
  text: string;
  /** Innermost function per `--inlines` (the `name():` headers). */
  innermost: string;
  /** `file:line` per `-l`, basename only. */
  location: string;
  relocs: { type: string; target: string }[];
}

/** `objdump -d -l --inlines -r -M intel` of one function, section offsets. */
function objdumpFunction(path: string, fn: string): ObjdumpInsn[] {
  const out: ObjdumpInsn[] = [];
  let inFn = false;
  let innermost = '';
  let location = '';
  for (const l of run('objdump', ['-d', '-l', '--inlines', '-r', '-M', 'intel', path]).split('\n')) {
    const head = /^[0-9a-f]+ <(.+)>:$/.exec(l);
    if (head) {
      inFn = head[1] === fn;
      continue;
    }
    if (!inFn) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([A-Za-z_][\w.]*)\(\):$/.exec(l))) innermost = m[1]!;
    else if ((m = /^(\/\S+):(\d+)(?: \(discriminator \d+\))?$/.exec(l))) location = `${basename(m[1]!)}:${m[2]}`;
    else if ((m = /^\t+[0-9a-f]+: (R_X86_64_\w+)\t(\S+)$/.exec(l))) out[out.length - 1]!.relocs.push({ type: m[1]!, target: m[2]! });
    else if ((m = /^ *([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*(?:\t(.*))?$/.exec(l))) {
      const bytes = m[2]!.trim();
      if (m[3] === undefined) out[out.length - 1]!.bytes += ' ' + bytes; // objdump wraps long instructions
      else out.push({ offset: parseInt(m[1]!, 16), bytes, text: m[3].trim(), innermost, location, relocs: [] });
    }
  }
  return out;
}

interface RenderedInsn {
  offset: number;
  bytes: string;
  text: string;
  marker: string | undefined;
  /** The last `; file:line` above it. */
  location: string;
  line: string;
}

function parseRendered(content: string): RenderedInsn[] {
  const out: RenderedInsn[] = [];
  let location = '';
  for (const l of content.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^; (\S+):(\d+)$/.exec(l))) location = `${basename(m[1]!)}:${m[2]}`;
    else if ((m = /^ +\+0x([0-9a-f]+) {2,}([0-9a-f]{2}(?: [0-9a-f]{2})*) {2,}(.+?)(?: {2,}((?:!!|~~|ok|->) .*))?$/.exec(l))) {
      out.push({ offset: parseInt(m[1]!, 16), bytes: m[2]!, text: m[3]!, marker: m[4], location, line: l });
    }
  }
  return out;
}

function symbol(path: string, name: string): { value: number; size: number } {
  const s = readelfSymbols(path).find((x) => x.name === name && x.type === 'FUNC');
  assert.ok(s, `no FUNC symbol ${name} in ${path}`);
  return { value: Number(s.value), size: s.size };
}

const PROFILE = 'tdx-linux-6.12+' as const;

// ------------------------------------------------------------------ foo_nic.o

test('instruction lines have objdump -d boundaries and bytes, symbol-relative', { skip }, () => {
  for (const fn of ['foo_open', 'foo_fill_ring', 'foo_mac0']) {
    const sym = symbol(nicO, fn);
    const want = objdumpFunction(nicO, fn)
      .filter((i) => i.offset < sym.value + sym.size) // objdump also shows the alignment padding after the symbol
      .map((i) => [i.offset - sym.value, i.bytes]);
    const got = parseRendered(renderFunction(nic, nicO, fn, { profile: PROFILE }).content).map((i) => [i.offset, i.bytes]);
    assert.ok(want.length >= 3, `objdump found ${fn}`);
    assert.deepEqual(got, want, fn);
  }
});

test('each instruction sits under the line row objdump -l gives it, with that line of the source', { skip }, () => {
  const sym = symbol(nicO, 'foo_open');
  const want = objdumpFunction(nicO, 'foo_open').filter((i) => i.offset < sym.value + sym.size);
  const content = renderFunction(nic, nicO, 'foo_open', { profile: PROFILE, readSource }).content;
  const got = parseRendered(content);
  assert.deepEqual(got.map((i) => i.location), want.map((i) => i.location));
  // Every `; | text` is the named line of the named file.
  const lines = content.split('\n');
  const files: Record<string, string[]> = { 'foo_nic.c': fileLines(NIC_C), 'tdx_io.h': fileLines(IO_H) };
  let checked = 0;
  for (let i = 0; i + 1 < lines.length; i++) {
    const m = /^; (\S+):(\d+)$/.exec(lines[i]!);
    if (!m) continue;
    const src = /^; \| (.*)$/.exec(lines[i + 1]!);
    assert.ok(src, `source text under ${lines[i]}`);
    assert.equal(src[1], files[m[1]!]![Number(m[2]) - 1]!.trimEnd(), lines[i]);
    checked++;
  }
  assert.ok(checked >= 5, `${checked} source lines checked`);
  assert.match(content, /^; \| \twritel\(val, fp->regs \+ reg\);$/m);
});

test('inline boundaries name the accessor, where it is declared and where it was called', { skip }, () => {
  const content = renderFunction(nic, nicO, 'foo_open', { profile: PROFILE }).content;
  const writelDecl = lineOf(IO_H, 'build_mmio_write(writel,');
  const readlDecl = lineOf(IO_H, 'build_mmio_read(readl,');
  const writelCall = lineOf(NIC_C, 'writel(val, fp->regs + reg);');
  const readlCall = lineOf(NIC_C, 'return readl(fp->regs + reg);');
  const resetCall = lineOf(NIC_C, '\tfoo_reset_hw(fp);');
  assert.match(content, new RegExp(`^; inlined from writel \\(tdx_io\\.h:${writelDecl}\\) into foo_writel at foo_nic\\.c:${writelCall}:\\d+$`, 'm'));
  assert.match(content, new RegExp(`^; inlined from readl \\(tdx_io\\.h:${readlDecl}\\) into foo_readl at foo_nic\\.c:${readlCall}:\\d+$`, 'm'));
  assert.match(content, new RegExp(`^; inlined from foo_reset_hw \\(foo_nic\\.c:\\d+\\) into foo_open at foo_nic\\.c:${resetCall}:\\d+$`, 'm'));
  assert.match(content, /^; back in foo_open$/m);
});

test('without marks, the memory access inside each inlined io.h accessor is marked with its verdict', { skip }, () => {
  const sym = symbol(nicO, 'foo_open');
  // Expected from binutils alone: innermost frame a catalogued MMIO accessor, and a memory operand off the stack.
  const want = objdumpFunction(nicO, 'foo_open')
    .filter((i) => i.offset < sym.value + sym.size)
    .filter((i) => CATALOGUE.get(i.innermost)?.kind.startsWith('mmio-') && /\[(?![^\]]*\b(?:rsp|rbp|rip)\b)[^\]]*\]/.test(i.text))
    .map((i) => [i.offset - sym.value, i.innermost]);
  assert.equal(want.length, 3, 'two writel and one readl in foo_open');
  const content = renderFunction(nic, nicO, 'foo_open', { profile: PROFILE }).content;
  const got = parseRendered(content).filter((i) => i.marker);
  assert.deepEqual(got.map((i) => [i.offset, i.marker!.split(/\s+/).pop()]), want);
  for (const i of got) assert.match(i.marker!, i.text.startsWith('mov [') ? /^ok emulated {2}WRITE size 4 {2}writel$/ : /^ok emulated {2}READ size 4 {2}readl$/);
  assert.match(content, /^# mmio {6}3 marked \(3 emulated\), inferred from inlined io\.h accessors$/m);
  // A raw __iomem dereference is not an accessor instance: only the join (marks) can tie it to a site.
  assert.equal(parseRendered(renderFunction(nic, nicO, 'foo_kick', { profile: PROFILE }).content).filter((i) => i.marker).length, 0);
});

test('marks from the join replace the inferred ones and are keyed by DWARF address', { skip }, () => {
  const sym = symbol(nicO, 'foo_open');
  const mmio = parseRendered(renderFunction(nic, nicO, 'foo_open', { profile: PROFILE }).content).filter((i) => i.marker);
  const first = mmio[0]!;
  const address = nic.addressOf('.text', sym.value + first.offset);
  assert.equal(address >> 32n > 0n, true, 'a .o uses synthetic section<<32 addresses');
  const mark: CompiledInstruction = {
    object: nicO, function: 'foo_open', offset: first.offset, section: '.text', address: '0x' + address.toString(16),
    bytes: first.bytes, text: first.text, class: 'MOVS', size: 4, verdict: 'rejected-movs', misemulation: [], flags: [],
    summary: 'test', file: NIC_C, line: 43, column: 2, inlineChain: ['writel', 'foo_writel', 'foo_open'], match: 'inlined-accessor',
  };
  const content = renderFunction(nic, nicO, 'foo_open', { profile: PROFILE, marks: new Map([[mark.address, mark]]) }).content;
  const got = parseRendered(content).filter((i) => i.marker);
  assert.deepEqual(got.map((i) => [i.offset, i.marker]), [[first.offset, '!! rejected-movs  MOVS size 4  writel']]);
  assert.match(content, /^# mmio {6}1 marked \(1 rejected-movs\), from the audit join$/m);
});

test('call and tail-call targets are read from the RELA entries, as objdump -r shows them', { skip }, () => {
  const sym = symbol(nicO, 'foo_fill_ring');
  const want = objdumpFunction(nicO, 'foo_fill_ring').filter((i) => /^(?:call|jmp)\s/.test(i.text) && i.relocs.length);
  assert.ok(want.length >= 2, 'foo_fill_ring calls __iowrite32_copy and tail-calls memcpy_toio');
  const got = new Map(parseRendered(renderFunction(nic, nicO, 'foo_fill_ring', { profile: PROFILE }).content).map((i) => [i.offset, i.text]));
  for (const w of want) {
    assert.match(w.relocs[0]!.type, /^R_X86_64_(?:PLT32|PC32)$/);
    const target = w.relocs[0]!.target.replace(/-0x4$/, ''); // PC32/PLT32 addend -4: the call lands on the symbol itself
    assert.equal(got.get(w.offset - sym.value), `${w.text.split(/\s+/)[0]} ${target}`);
  }
  assert.deepEqual(want.map((w) => w.relocs[0]!.target), ['__iowrite32_copy-0x4', 'memcpy_toio-0x4']);
});

test('the header names object, function, section, size, profile and compiler', { skip }, () => {
  const sym = symbol(nicO, 'foo_poll');
  const r = renderFunction(nic, nicO, 'foo_poll', { profile: 'tdx-linux-5.19' });
  assert.equal(r.function, 'foo_poll');
  const head = r.content.split('\n').slice(0, 8).join('\n');
  assert.match(head, /^# tdx-audit compiled form: foo_poll$/m);
  assert.match(head, new RegExp(`^# object {4}${nicO.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(head, new RegExp(`^# section {3}\\.text\\+0x${sym.value.toString(16)}, ${sym.size} bytes$`, 'm'));
  assert.match(head, /^# profile {3}tdx-linux-5\.19$/m);
  assert.match(head, /^# compiler {2}GNU C\S* \d+\.\d+.* -O2/m);
  assert.throws(() => renderFunction(nic, nicO, 'no_such_fn', { profile: PROFILE }), /no function symbol no_such_fn/);
});

test('functionAt: the symbol holding a line\'s code, inlined helpers resolving to the function they landed in', { skip }, () => {
  assert.equal(functionAt(nic, NIC_C, lineOf(NIC_C, 'writel(val, fp->regs + reg);')), 'foo_open');
  assert.equal(functionAt(nic, NIC_C, lineOf(NIC_C, 'foo_writel(fp, 1, FOO_CTRL);')), 'foo_open'); // in static foo_reset_hw
  assert.equal(functionAt(nic, NIC_C, lineOf(NIC_C, 'return readl(fp->regs + FOO_STATUS);')), 'foo_poll');
  assert.equal(functionAt(nic, 'foo_nic.c', lineOf(NIC_C, 'fp->ovl->ctrl |= 1;')), 'foo_kick');
  // readl is inlined into foo_poll directly and into foo_open through foo_readl: the shallower wins.
  assert.equal(functionAt(nic, IO_H, lineOf(IO_H, 'build_mmio_read(readl,')), 'foo_poll');
  // No rows of its own: the function whose rows span it.
  assert.equal(functionAt(nic, NIC_C, lineOf(NIC_C, '\tu32 st;')), 'foo_open');
  assert.equal(functionAt(nic, NIC_C, lineOf(NIC_C, 'struct foo_regs {')), undefined);
  assert.equal(functionAt(nic, join(dir, 'other.c'), 10), undefined);
});

test('listFunctions lists the FUNC symbols readelf shows', { skip }, () => {
  const want = readelfSymbols(nicO).filter((s) => s.type === 'FUNC').map((s) => s.name).sort();
  const got = listFunctions(nic);
  assert.deepEqual(got.map((f) => f.id).sort(), want);
  const poll = got.find((f) => f.name === 'foo_poll')!;
  assert.equal(poll.section, '.text');
  assert.equal(poll.size, symbol(nicO, 'foo_poll').size);
});

// ------------------------------------------------------------------ rejected forms

test('rep movsl and MOVDIR64B in inline asm are marked rejected, a high-byte store misemulated', { skip }, () => {
  const marked = (fn: string, profile: Parameters<typeof renderFunction>[3]['profile'] = PROFILE) =>
    parseRendered(renderFunction(reject, rejectO, fn, { profile }).content).filter((i) => i.marker).map((i) => [i.bytes, i.text, i.marker]);
  assert.deepEqual(marked('ring_copy'), [['f3 a5', 'rep movsd [rdi],[rsi]', '!! rejected-movs  MOVS size 4  __iowrite32_copy']]);
  assert.deepEqual(marked('ring_submit'), [['66 0f 38 f8 02', 'movdir64b rax,[rdx]', '!! decode-failed  DECODE_FAILED size 0  iosubmit_cmds512']]);
  assert.deepEqual(marked('status_hi'), [['88 67 08', 'mov [rdi+8],ah', '~~ misemulated: high-byte  WRITE size 1  writeb']]);
  // The profile decides: SEV-ES's #VC handler emulates MOVS one element at a time.
  assert.deepEqual(marked('ring_copy', 'sev-es'), [['f3 a5', 'rep movsd [rdi],[rsi]', 'ok emulated  MOVS size 4  __iowrite32_copy']]);
});

test('an executable renders from virtual addresses: objdump boundaries, the same marks', { skip }, () => {
  for (const fn of ['ring_copy', 'ring_submit', 'status_hi', 'ring_reset']) {
    const sym = symbol(rejectExe, fn);
    assert.ok(sym.value > 0x100000, 'linked at a virtual address');
    const want = objdumpFunction(rejectExe, fn).filter((i) => i.offset < sym.value + sym.size).map((i) => [i.offset - sym.value, i.bytes]);
    const linked = renderFunction(rejectLinked, rejectExe, fn, { profile: PROFILE, readSource }).content;
    assert.deepEqual(parseRendered(linked).map((i) => [i.offset, i.bytes]), want, fn);
    // Same code, same verdicts, same source lines as from the .o.
    const fromObject = renderFunction(reject, rejectO, fn, { profile: PROFILE, readSource }).content;
    const body = (c: string) => c.slice(c.indexOf('\n\n'));
    assert.equal(body(linked), body(fromObject), fn);
  }
});

test('branch targets without relocations and RIP-relative globals are named from the symbol table', { skip }, () => {
  for (const [path, obj] of [[rejectO, reject], [rejectExe, rejectLinked]] as const) {
    for (const fn of ['ring_reset', 'ring_tick']) {
      const sym = symbol(path, fn);
      const mine = new Map(parseRendered(renderFunction(obj, path, fn, { profile: PROFILE }).content).map((i) => [i.offset, i.text]));
      let checked = 0;
      for (const i of objdumpFunction(path, fn)) {
        const br = /^(call|jmp|j\w+)\s+[0-9a-f]+ <(.+)>$/.exec(i.text);
        if (br && !i.relocs.length) {
          const inside = br[2]!.startsWith(`${fn}+`);
          assert.equal(mine.get(i.offset - sym.value), `${br[1]} ${inside ? br[2]!.slice(fn.length) : br[2]}`, `${path} ${i.text}`);
          checked++;
        }
        const rip = /\[rip\+0x[0-9a-f]+\]/.test(i.text) ? (i.relocs[0]?.target.replace(/-0x4$/, '') ?? /# [0-9a-f]+ <(.+)>$/.exec(i.text)?.[1]) : undefined;
        if (rip) {
          assert.match(mine.get(i.offset - sym.value)!, new RegExp(`\\[rip\\+${rip}\\]`), `${path} ${i.text}`);
          checked++;
        }
      }
      assert.equal(checked, 2, `${path} ${fn}: two calls to ring_kick, two accesses to ring_ticks`);
    }
  }
});

// ------------------------------------------------------------------ grammar

interface RawRule {
  match?: string;
  begin?: string;
  end?: string;
  while?: string;
  patterns?: RawRule[];
  captures?: Record<string, RawRule>;
  beginCaptures?: Record<string, RawRule>;
  endCaptures?: Record<string, RawRule>;
  repository?: Record<string, RawRule>;
}

function regexesOf(rule: RawRule, out: string[] = []): string[] {
  for (const k of ['match', 'begin', 'end', 'while'] as const) if (rule[k] !== undefined) out.push(rule[k]!);
  for (const p of rule.patterns ?? []) regexesOf(p, out);
  for (const c of [rule.captures, rule.beginCaptures, rule.endCaptures, rule.repository]) for (const r of Object.values(c ?? {})) regexesOf(r, out);
  return out;
}

let onig: Promise<void> | undefined;
function onigLib() {
  onig ??= loadWASM(readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')));
  return onig.then(() => ({ createOnigScanner, createOnigString }));
}

test('the grammar is valid JSON whose regexes compile (Oniguruma, and as JS RegExps)', async () => {
  const g = JSON.parse(readFileSync(GRAMMAR, 'utf8')) as RawRule & { scopeName: string };
  assert.equal(g.scopeName, 'source.tdx-disasm');
  const res = regexesOf(g);
  assert.ok(res.length >= 15, `${res.length} regexes`);
  await onigLib();
  for (const re of res) {
    // Oniguruma proper: what VS Code runs.
    assert.doesNotThrow(() => createOnigScanner([re]).dispose(), re);
    // JS: \G (anchor at the capture start) has no JS spelling; it only constrains where a match starts.
    assert.doesNotThrow(() => new RegExp(re.replace(/\\G/g, '')), re);
  }
  // Every include names a repository entry (or the embedded C grammar).
  const includes = JSON.stringify(g).match(/"include":\s*"([^"]+)"/g)!.map((s) => s.replace(/.*"([^"]+)"$/, '$1'));
  for (const inc of includes) assert.ok(inc === 'source.c' || (inc.startsWith('#') && g.repository![inc.slice(1)]), inc);
});

async function grammar(): Promise<IGrammar> {
  const registry = new Registry({
    onigLib: onigLib(),
    // The embedded C grammar ships with VS Code, not here: an unknown include is skipped.
    loadGrammar: async (scope) => (scope === 'source.tdx-disasm' ? parseRawGrammar(readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null),
  });
  const g = await registry.loadGrammar('source.tdx-disasm');
  assert.ok(g);
  return g;
}

/** Tokenizes a document; scopesOf(line, text) gives the scopes of the token where `text` starts in the first line containing it. */
function tokenize(g: IGrammar, content: string) {
  const lines = content.split('\n');
  let state: StateStack = INITIAL;
  const tokens = lines.map((l) => {
    const r = g.tokenizeLine(l, state);
    state = r.ruleStack;
    return r.tokens;
  });
  return {
    lines, tokens,
    scopesOf(linePattern: RegExp, text: string): string[] {
      const i = lines.findIndex((l) => linePattern.test(l));
      assert.ok(i >= 0, `no line ${linePattern}`);
      const at = lines[i]!.indexOf(text);
      assert.ok(at >= 0, `${text} not in ${lines[i]}`);
      return tokens[i]!.find((t) => t.startIndex <= at && at < t.endIndex)!.scopes;
    },
  };
}

test('tokenized as VS Code does: markers, mnemonics, registers, operands and source comments get their scopes', { skip }, async () => {
  const g = await grammar();
  const content = [
    renderFunction(reject, rejectO, 'ring_copy', { profile: PROFILE, readSource }).content,
    renderFunction(reject, rejectO, 'status_hi', { profile: PROFILE, readSource }).content,
    renderFunction(nic, nicO, 'foo_open', { profile: PROFILE, readSource }).content,
    renderFunction(nic, nicO, 'foo_fill_ring', { profile: PROFILE, readSource }).content,
  ].join('\n');
  const t = tokenize(g, content);
  const has = (scopes: string[], s: string) => assert.ok(scopes.some((x) => x.split(' ').includes(s) || x === s), `${s} not in ${scopes.join(' | ')}`);

  const movs = /rep movsd/;
  has(t.scopesOf(movs, '!! rejected-movs'), 'invalid.illegal.rejected.tdx-disasm');
  has(t.scopesOf(movs, 'rep '), 'keyword.other.prefix.tdx-disasm');
  has(t.scopesOf(movs, 'movsd'), 'keyword.other.mnemonic.tdx-disasm');
  has(t.scopesOf(movs, 'MOVS'), 'support.constant.mmio-class.tdx-disasm');
  has(t.scopesOf(movs, '__iowrite32_copy'), 'entity.name.function.accessor.tdx-disasm');
  has(t.scopesOf(movs, '+0x'), 'constant.numeric.offset.tdx-disasm');
  has(t.scopesOf(movs, 'f3 a5'), 'comment.other.bytes.tdx-disasm');
  has(t.scopesOf(/~~ misemulated/, '~~ misemulated: high-byte'), 'markup.changed.misemulated.tdx-disasm');
  has(t.scopesOf(/~~ misemulated/, 'ah'), 'variable.language.register.tdx-disasm');
  const store = /mov \[rdx\],eax {2}ok emulated/;
  has(t.scopesOf(store, 'ok emulated'), 'markup.inserted.emulated.tdx-disasm');
  has(t.scopesOf(store, 'mov'), 'keyword.other.mnemonic.tdx-disasm');
  has(t.scopesOf(store, 'rdx'), 'variable.language.register.tdx-disasm');
  has(t.scopesOf(store, 'rdx'), 'meta.memory-operand.tdx-disasm');
  has(t.scopesOf(store, 'eax'), 'variable.language.register.tdx-disasm');
  has(t.scopesOf(/add rdi,100h/, '100h'), 'constant.numeric.hex.tdx-disasm');
  has(t.scopesOf(/mov dword ptr \[rdi\+14h\],1/, 'dword ptr'), 'storage.type.size.tdx-disasm');
  has(t.scopesOf(/call __iowrite32_copy/, 'call'), 'keyword.control.mnemonic.tdx-disasm');
  has(t.scopesOf(/call __iowrite32_copy/, '__iowrite32_copy'), 'entity.name.function.reference.tdx-disasm');
  has(t.scopesOf(/^; foo_nic\.c:\d+$/, ';'), 'comment.line.semicolon.location.tdx-disasm');
  has(t.scopesOf(/^; foo_nic\.c:\d+$/, 'foo_nic.c'), 'string.unquoted.filename.tdx-disasm');
  has(t.scopesOf(/^; \| \twritel/, 'writel'), 'meta.embedded.line.c');
  has(t.scopesOf(/^; \| \twritel/, ';'), 'comment.line.semicolon.tdx-disasm');
  has(t.scopesOf(/^; inlined from writel/, 'writel'), 'entity.name.function.inlined.tdx-disasm');
  has(t.scopesOf(/^; inlined from writel/, 'inlined from'), 'keyword.control.inline.tdx-disasm');
  has(t.scopesOf(/^; back in/, 'back in'), 'keyword.control.inline.tdx-disasm');
  has(t.scopesOf(/^# profile/, 'profile'), 'keyword.other.header.tdx-disasm');
  has(t.scopesOf(/^# tdx-audit compiled form/, 'ring_copy'), 'entity.name.function.tdx-disasm');
  has(t.scopesOf(/^foo_open:$/, 'foo_open'), 'entity.name.function.tdx-disasm');
  // Every non-empty line is claimed by one of the line rules (nothing falls through to the bare root scope).
  t.lines.forEach((l, i) => {
    if (l === '') return;
    assert.ok(t.tokens[i]!.every((tok) => tok.scopes.length > 1), `line not recognised: ${l}`);
  });
  // An instruction line never matches as a marker by accident: the unmarked ones carry no verdict scope.
  const plain = t.lines.findIndex((l) => /push r12$/.test(l));
  assert.ok(t.tokens[plain]!.every((tok) => !tok.scopes.some((s) => /invalid|markup/.test(s))));
});
