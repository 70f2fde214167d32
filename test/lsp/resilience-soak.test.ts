// Soak: thousands of rapid incremental edits to the built server. Memory stays flat
// (server RSS from /proc/<pid>/status), no diagnostics are lost (every burst's last
// version is published), none are stale (publish versions never go back) and the
// final diagnostics equal a fresh audit of the final text.
// TDX_AUDIT_SOAK_EDITS sets the number of edits (default 2,000; `npm run fuzz` runs 10,000).
// The server runs with its JS heap capped, so a leak kills it instead of just growing RSS.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic, TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol/node';
import { FIXTURES, LspHarness, REPO, SERVER, fileUri } from './harness';
import { mulberry32, Pick } from '../fuzz/prng';

const EDITS = Number(process.env.TDX_AUDIT_SOAK_EDITS ?? 2000);
const BURST = 50;
const HEAP_MB = 64;
const TEXT = readFileSync(join(FIXTURES, 'foo_nic.c'), 'utf8');

let lsp: LspHarness | undefined;
after(() => lsp?.kill());

const fmt = (d: Diagnostic) => `${d.code} ${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character}`;

function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** LSP position of a UTF-16 offset (the text has '\n' line ends only). */
function pos(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  let line = 0;
  for (let i = before.indexOf('\n'); i !== -1; i = before.indexOf('\n', i + 1)) line++;
  return { line, character: offset - (nl + 1) };
}

test(`soak: ${EDITS} rapid incremental edits, flat memory, no lost or stale diagnostics`, { timeout: 30 * 60_000 }, async () => {
  assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`npm run build\` first`);
  // A small old-space cap makes a leak fail the run (the server dies) instead of hiding in
  // a heap V8 is merely slow to collect; the audit itself needs ~15 MB of JS heap.
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --max-old-space-size=${HEAP_MB}`.trim();
  try {
    lsp = LspHarness.spawn({ debounceMs: 30 });
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  await lsp.initialize(REPO);
  const pid = lsp.child.pid!;
  const uri = fileUri(join(REPO, 'test-output', 'soak', 'soak.c'));
  await lsp.open(uri, TEXT, 1);
  await lsp.diagnosticsFor(uri, 1);
  const seed = Number(process.env.TDX_AUDIT_FUZZ_SEED ?? 0x50a4) >>> 0;
  console.log(`# soak seed ${seed}`);
  const p = new Pick(mulberry32(seed));
  let text = TEXT;
  let version = 1;
  // The last insertion, undone by the next edit half of the time, so the text stays a driver.
  let pending: { at: number; len: number } | undefined;
  const samples: number[] = [];
  const from = lsp.diagnostics.length;
  const apply = (at: number, del: number, ins: string): TextDocumentContentChangeEvent => {
    const change = { range: { start: pos(text, at), end: pos(text, at + del) }, text: ins };
    text = text.slice(0, at) + ins + text.slice(at + del);
    return change;
  };
  /** A random offset that does not split a surrogate pair. */
  const offset = () => {
    let at = p.int(text.length + 1);
    if (at > 0 && at < text.length && /[\udc00-\udfff]/.test(text[at]!)) at--;
    return at;
  };
  let sent = 0;
  while (sent < EDITS) {
    for (let k = 0; k < BURST && sent < EDITS; k++, sent++) {
      const changes: TextDocumentContentChangeEvent[] = [];
      if (pending && p.chance(0.5)) {
        changes.push(apply(pending.at, pending.len, ''));
        pending = undefined;
      } else {
        const ins = p.one(['x', ' ', '\n', '(', ';', '😀', '中', '\twritel(1, fp->regs);\n', '/* c */', '\t']);
        const at = offset();
        changes.push(apply(at, 0, ins));
        pending = { at, len: ins.length };
        if (p.chance(0.1)) {
          // A second change in the same notification, applied after the first.
          const at2 = offset();
          changes.push(apply(at2, 0, ' '));
          pending = undefined;
        }
      }
      await lsp.change(uri, ++version, changes);
    }
    // No lost diagnostics: the burst's last version is published.
    await lsp.diagnosticsFor(uri, version, 60_000);
    if (sent % 500 === 0 || sent === EDITS) {
      const kb = rssKb(pid);
      if (kb !== undefined) samples.push(kb);
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  const pubs = lsp.diagnostics.slice(from).filter((d) => d.uri === uri);
  const versions = pubs.map((d) => d.version!);
  for (let i = 1; i < versions.length; i++) {
    assert.ok(versions[i]! >= versions[i - 1]!, `stale publish: version ${versions[i]} after ${versions[i - 1]}`);
  }
  assert.equal(versions[versions.length - 1], version, 'the last publish is for the final version');
  assert.equal(lsp.exitCode, undefined, `the server (heap capped at ${HEAP_MB} MB) is alive`);
  const fresh = fileUri(join(REPO, 'test-output', 'soak', 'fresh.c'));
  await lsp.open(fresh, text, 1);
  assert.deepEqual(pubs[pubs.length - 1]!.diagnostics.map(fmt).sort(), (await lsp.diagnosticsFor(fresh, 1)).map(fmt).sort(), 'final diagnostics equal a fresh audit');
  console.log(`# ${EDITS} edits, ${pubs.length} publishes; server RSS (MB) every 500 edits: ${samples.map((k) => (k / 1024).toFixed(0)).join(' ')}`);
  if (samples.length >= 3) {
    // Flat after warm-up: the first sample includes the WASM heaps' growth to their working size.
    const warm = samples[0]!;
    const peak = Math.max(...samples.slice(1));
    assert.ok(peak - warm < Math.max(48 * 1024, warm * 0.3), `RSS grew from ${(warm / 1024).toFixed(0)} MB to ${(peak / 1024).toFixed(0)} MB`);
  }
});
