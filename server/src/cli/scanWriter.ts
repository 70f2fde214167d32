// `scan`'s output written as files complete, in path order, so that memory is
// bounded by the files in flight and not by the tree (all of drivers/ held every
// file's results and one pretty-printed string of 134k sites). The JSON document
// is the one assembleJson describes: `sites` goes straight to the output; the other
// arrays, which come after it, are spooled to a temp file each and copied at the end.

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { VERSION, type ScanFileResult } from './scanOutput';

type Json = Record<string, unknown>;

/** One array element as JSON.stringify(doc, null, 2) would print it inside a top-level array. */
const element = (v: Json) => JSON.stringify(v, null, 2).replace(/\n/g, '\n    ');

/** An array of the document, written element by element to `out`. */
class ArrayWriter {
  private n = 0;
  constructor(
    private readonly out: (s: string) => void,
    private readonly key: string,
    private readonly last = false,
  ) {}
  add(v: Json): void {
    this.out(`${this.n++ === 0 ? `  ${JSON.stringify(this.key)}: [\n` : ',\n'}    ${element(v)}`);
  }
  close(): void {
    this.out(this.n === 0 ? `  ${JSON.stringify(this.key)}: []${this.last ? '' : ','}\n` : `\n  ]${this.last ? '' : ','}\n`);
  }
}

/** A temp file that collects text and is copied out at the end. */
class Spool {
  private readonly fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w+', 0o600);
  }
  write = (s: string): void => {
    writeSync(this.fd, s);
  };
  /** Copies the spooled text out; a decoder keeps a character cut by a chunk boundary whole. */
  copyTo(out: (s: string) => void): void {
    const buf = Buffer.alloc(1 << 20);
    const dec = new StringDecoder('utf8');
    for (let pos = 0; ; ) {
      const n = readSync(this.fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      out(dec.write(buf.subarray(0, n)));
      pos += n;
    }
    out(dec.end());
    closeSync(this.fd);
  }
}

/** What `--cache` did in a run (the JSON document's last field, present only with --cache). */
export interface CacheCounts {
  /** Files answered from the cache. */
  hits: number;
  /** Files audited (and stored when they could be). */
  audited: number;
}

export interface ScanWriter {
  add(r: ScanFileResult): void;
  finish(skipped: { file: string; why: string }[], cache?: CacheCounts): void;
}

/**
 * JSON: `withObjects` decides, before any file is seen, whether `instructions` and
 * `objectFunctions` are in the document (they are when objects were given).
 */
export function jsonWriter(out: (s: string) => void, profile: string, withObjects: boolean): ScanWriter {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-audit-scan-'));
  const spools = ['functions', 'instructions', 'objectFunctions', 'files'].map((k) => new Spool(join(dir, k)));
  const [fnS, insS, objS, fileS] = spools as [Spool, Spool, Spool, Spool];
  out(`{\n  "tool": "tdx-audit",\n  "version": ${JSON.stringify(VERSION)},\n  "profile": ${JSON.stringify(profile)},\n`);
  const sites = new ArrayWriter(out, 'sites');
  const functions = new ArrayWriter(fnS.write, 'functions');
  const instructions = new ArrayWriter(insS.write, 'instructions');
  const objectFunctions = new ArrayWriter(objS.write, 'objectFunctions');
  const files = new ArrayWriter(fileS.write, 'files');
  return {
    add(r) {
      for (const s of r.sites) sites.add(s);
      for (const f of r.functions) functions.add(f);
      for (const i of r.instructions) instructions.add(i);
      for (const o of r.objectFunctions) objectFunctions.add(o);
      files.add(r.fileEntry);
    },
    finish(skipped, cache) {
      try {
        sites.close();
        functions.close();
        instructions.close();
        objectFunctions.close();
        files.close();
        fnS.copyTo(out);
        if (withObjects) {
          insS.copyTo(out);
          objS.copyTo(out);
        }
        fileS.copyTo(out);
        out(`  "skipped": ${skipped.length ? JSON.stringify(skipped, null, 2).replace(/\n/g, '\n  ') : '[]'}${cache ? `,\n  "cache": ${JSON.stringify({ hits: cache.hits, audited: cache.audited })}` : ''}\n}\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Text: findings lines as files complete, the function views (kept per file) at the end. */
export function textWriter(out: (s: string) => void): ScanWriter & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const objectLanding: string[] = [];
  const landing: string[] = [];
  let withSites = 0;
  return {
    counts,
    add(r) {
      for (const l of r.findingLines) out(l + '\n');
      for (const o of r.objectLanding) objectLanding.push(o.line);
      for (const l of r.landing) landing.push(l.line);
      for (const [k, n] of Object.entries(r.counts)) counts.set(k, (counts.get(k) ?? 0) + n);
      if (r.sites.length) withSites++;
    },
    finish() {
      const lines: string[] = [];
      if (objectLanding.length) lines.push('', 'Where the #VE lands (from the objects: symbols holding the instructions):', ...objectLanding);
      if (landing.length) lines.push('', 'Where the #VE lands (function-level view; static helpers inline into their callers):', ...landing);
      const summary = ['error', 'warning', 'information', 'hint'].map((s) => `${counts.get(s) ?? 0} ${s}`).join(', ');
      lines.push('', `${withSites} file(s) with sites: ${summary}`);
      out(lines.join('\n') + '\n');
    },
  };
}
