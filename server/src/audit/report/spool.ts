// A report's findings kept on disk while the run goes on (issues 15.4 and 16): each
// file's rows are written to a spool file by the thread that audited them (a CLI
// worker, or this thread), one JSON record per finding (and one per file for its
// "where the #VE lands" rows); only where each record is and what its key needs
// crosses to the main thread, which keeps it in columns (about 40 bytes a finding).
// finish() makes the keys, sorts them into the model's order and gives a ReportDoc
// (doc.ts) whose finding(i) reads the record back, so the writers print exactly
// what they print from an in-memory model (test/unit/report/spool.test.ts) while a
// whole kernel's findings never sit in the heap at once, nor a large driver's rows
// in the main thread's heap (issue 15: report's peak on drivers/).
//
// The spool lives in a private folder (mkdtemp, mode 0700) under the OS temp folder,
// made by the main thread; close() removes it, and whatever a run did not close (an
// error, a signal that ends the process through exit) is removed when the process exits.

import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { byPosition, rowKeyOf, type FindingKey, type ReportDoc, type RowKey } from './doc';
import { countFindings, deemphasisedOf, type FileBuild, type FileReportRows, type LandingRow, type ReportFileRow, type ReportVerdict, type RowFinding } from './model';
import type { Severity } from '../engine';
import type { RuleCode } from '../../c/types';
import type { ObjectInfo } from '../compiled';
import type { Provenance } from './provenance';
import { entryOf, type TriageFile } from './triage';

/** Folders of spools not closed yet: removed at exit. */
const live = new Set<string>();
let hooked = false;
function removeLive(): void {
  for (const d of live) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove any more.
    }
  }
  live.clear();
}

/** A read fetches at least this much, so records read in file order cost one read per window. */
const READ_WINDOW = 1 << 18;
/** What a read away from the window fetches beyond the record. */
const READ_AHEAD = 1 << 13;

/** A spool folder of its own: private (mkdtemp, 0700), removed at close or at exit. */
function makeSpoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-audit-report-'));
  live.add(dir);
  if (!hooked) {
    hooked = true;
    process.on('exit', removeLive);
  }
  return dir;
}

function removeSpoolDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}

/** Records read back from one file of the spool (written by a RowSpoolWriter of this thread or of a worker). */
class SpoolReader {
  private fd: number | undefined;
  /** Reused for every read; `window` is the part of it holding the file from `windowAt`. */
  private buffer = Buffer.alloc(0);
  private window = Buffer.alloc(0);
  private windowAt = 0;

  constructor(private readonly path: string) {}

  read(at: number, length: number): string {
    if (at < this.windowAt || at + length > this.windowAt + this.window.length) {
      // Reading on from the window (the model's order walks the spool forward) fetches a
      // whole window; a jump (the failing sites, grouped by function) fetches the record
      // and a little more, so scattered reads do not each copy a window.
      const onward = at >= this.windowAt && at <= this.windowAt + this.window.length + READ_AHEAD;
      const want = Math.max(length, onward ? READ_WINDOW : READ_AHEAD);
      if (this.buffer.length < want) this.buffer = Buffer.allocUnsafe(Math.max(want, READ_WINDOW));
      let got = 0;
      // A short read happens only at the file's end: the record itself is whole.
      while (got < length) {
        const n = readSync(this.open(), this.buffer, got, want - got, at + got);
        if (n === 0) throw new Error(`report spool: record at ${at} (${length} bytes) is past the end of ${this.path}`);
        got += n;
      }
      this.window = this.buffer.subarray(0, got);
      this.windowAt = at;
    }
    const from = at - this.windowAt;
    return this.window.toString('utf8', from, from + length);
  }

  private open(): number {
    this.fd ??= openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    return this.fd;
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.buffer = Buffer.alloc(0);
    this.window = Buffer.alloc(0);
  }
}

/** Where one finding's record is, with what its key needs (the rest of the finding stays on disk). */
export interface SpooledFinding extends RowKey {
  at: number;
  length: number;
}

/**
 * One file's rows once written to the spool by the thread that audited them: what
 * crosses from a worker to the main thread instead of the rows themselves (a large
 * driver's rows are megabytes; this is a few dozen bytes per finding).
 */
export interface SpooledRows {
  path: string;
  file: string;
  row: ReportFileRow;
  object?: ObjectInfo;
  /** The spool file holding the records: a name in the run's spool folder. */
  spool: string;
  /** The file's findings in line order (RowFinding records: triage and build are the run's, added when read). */
  findings: SpooledFinding[];
  /** The "where the #VE lands" rows, one record. */
  functions?: { at: number; length: number; count: number };
}

/** One file's findings in the model's order within a file: line, then column; stable. */
const byLine = (a: RowFinding, b: RowFinding) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character;

let writers = 0;

/**
 * Writes rows into a spool folder, one file per writer (so per thread): a worker
 * audits a file, writes its rows here and sends only where they are (SpooledRows).
 * Each file's records go out in one write before the result is sent, and the file is
 * not held open between files: a worker terminated or dead after any file leaves
 * whole records of the files it answered for, and none half-written that anyone reads
 * (a file its worker died on is written again, by another writer, from scratch).
 */
export class RowSpoolWriter {
  readonly name = `rows-${process.pid}-${threadId}-${++writers}.jsonl`;
  private size = 0;
  private created = false;

  constructor(private readonly dir: string) {}

  write(r: FileReportRows): SpooledRows {
    const parts: string[] = [];
    const findings: SpooledFinding[] = [];
    let at = this.size;
    const put = (text: string) => {
      const length = Buffer.byteLength(text);
      parts.push(text, '\n');
      const where = { at, length };
      at += length + 1;
      return where;
    };
    for (const f of [...r.findings].sort(byLine)) {
      findings.push({ ...put(JSON.stringify(f)), ...rowKeyOf(f) });
    }
    const functions = r.functions.length ? { ...put(JSON.stringify(r.functions)), count: r.functions.length } : undefined;
    if (parts.length) this.append(Buffer.from(parts.join('')));
    this.size = at;
    return {
      path: r.path,
      file: r.file,
      row: r.row,
      ...(r.object ? { object: r.object } : {}),
      spool: this.name,
      findings,
      ...(functions ? { functions } : {}),
    };
  }

  private append(bytes: Buffer): void {
    const path = join(this.dir, this.name);
    // The first write makes the file (never one already there); later ones append to it.
    const fd = openSync(path, this.created ? constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW : constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    this.created = true;
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * The keys of a run's findings while the run goes on, in columns: the strings every
 * finding repeats (file, function, rule, verdict ...) once each, a fingerprint as its
 * 16 bytes, numbers in typed arrays: about 40 bytes a finding instead of a 200-byte
 * object, while the worker auditing the files is alive. The FindingKeys the writers
 * read are made once, in finish(), after the workers are done.
 */
class KeyColumns {
  n = 0;
  private cap = 0;
  /** The index of the added file (its build state). */
  private fileOf = new Uint32Array(0);
  /** Indices into `strings`. */
  private name = new Uint32Array(0);
  private subsystem = new Uint32Array(0);
  private line = new Uint32Array(0);
  private character = new Uint32Array(0);
  /** Indices into `strings` (0: null). */
  private fn = new Uint32Array(0);
  private severity = new Uint16Array(0);
  private verdict = new Uint16Array(0);
  private verdictFrom = new Uint16Array(0);
  private rule = new Uint16Array(0);
  private risk = new Uint8Array(0);
  private fp = new Uint8Array(0);
  /** Fingerprints that are not 32 lowercase hex digits (only tests make them): kept as they are. */
  private readonly oddFp = new Map<number, string>();
  /** Where the record is: which reader, at, length. */
  private source = new Uint32Array(0);
  private at = new Float64Array(0);
  private length = new Uint32Array(0);
  private readonly strings: (string | null)[] = [null];
  private readonly stringIndex = new Map<string, number>();

  private string(s: string | null): number {
    if (s === null) return 0;
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  private grow(): void {
    const cap = Math.max(1024, this.cap * 2);
    const more = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T, per = 1): T => {
      const b = new (a.constructor as new (n: number) => T)(cap * per);
      b.set(a);
      return b;
    };
    this.fileOf = more(this.fileOf);
    this.name = more(this.name);
    this.subsystem = more(this.subsystem);
    this.line = more(this.line);
    this.character = more(this.character);
    this.fn = more(this.fn);
    this.severity = more(this.severity);
    this.verdict = more(this.verdict);
    this.verdictFrom = more(this.verdictFrom);
    this.rule = more(this.rule);
    this.risk = more(this.risk);
    this.fp = more(this.fp, 16);
    this.source = more(this.source);
    this.at = more(this.at);
    this.length = more(this.length);
    this.cap = cap;
  }

  push(file: number, source: number, f: SpooledFinding): void {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    this.fileOf[i] = file;
    this.name[i] = this.string(f.file);
    this.subsystem[i] = this.string(f.subsystem);
    this.line[i] = f.line;
    this.character[i] = f.character;
    this.fn[i] = this.string(f.function);
    this.severity[i] = this.string(f.severity);
    this.verdict[i] = this.string(f.verdict);
    this.verdictFrom[i] = this.string(f.verdictFrom);
    this.rule[i] = this.string(f.rule);
    this.risk[i] = f.risk;
    if (/^[0-9a-f]{32}$/.test(f.fingerprint)) this.fp.set(Buffer.from(f.fingerprint, 'hex'), i * 16);
    else this.oddFp.set(i, f.fingerprint);
    this.source[i] = source;
    this.at[i] = f.at;
    this.length[i] = f.length;
  }

  fileIndex(i: number): number {
    return this.fileOf[i]!;
  }

  /** Where finding i's record is: which reader, at, length. */
  sourceOf(i: number): number {
    return this.source[i]!;
  }

  atOf(i: number): number {
    return this.at[i]!;
  }

  lengthOf(i: number): number {
    return this.length[i]!;
  }

  /** The fields of finding i's key that come from its record (the file's and the run's are added by the caller). */
  fields(i: number) {
    const s = this.strings;
    return {
      file: s[this.name[i]!]!,
      subsystem: s[this.subsystem[i]!]!,
      line: this.line[i]!,
      character: this.character[i]!,
      function: this.fn[i] ? s[this.fn[i]!]! : null,
      severity: s[this.severity[i]!] as Severity,
      verdict: s[this.verdict[i]!] as ReportVerdict,
      verdictFrom: s[this.verdictFrom[i]!] as 'compiled' | 'source',
      rule: s[this.rule[i]!] as RuleCode,
      fingerprint: this.oddFp.get(i) ?? Buffer.from(this.fp.buffer, this.fp.byteOffset + i * 16, 16).toString('hex'),
      risk: this.risk[i]!,
    };
  }

  clear(): void {
    this.n = this.cap = 0;
    this.fileOf = this.name = this.subsystem = this.line = this.character = this.fn = this.source = this.length = new Uint32Array(0);
    this.severity = this.verdict = this.verdictFrom = this.rule = new Uint16Array(0);
    this.risk = this.fp = new Uint8Array(0);
    this.at = new Float64Array(0);
    this.oddFp.clear();
  }
}

/** What a worker may name as its spool file: a plain name RowSpoolWriter makes, never a path. */
const SPOOL_NAME = /^rows-\d+-\d+-\d+\.jsonl$/;

/**
 * One file's rows read back from where a thread spooled them (RowSpoolWriter.write):
 * the rows that thread wrote, findings in the line order it wrote them in (for the
 * result cache, cli/reportCache.ts, which stores what a worker spooled).
 */
export function readSpooledRows(dir: string, s: SpooledRows): FileReportRows {
  if (!SPOOL_NAME.test(s.spool)) throw new Error(`report spool: ${JSON.stringify(s.spool)} is not a spool file name`);
  const reader = new SpoolReader(join(dir, s.spool));
  try {
    const findings = s.findings.map((f) => JSON.parse(reader.read(f.at, f.length)) as RowFinding);
    const functions = s.functions ? (JSON.parse(reader.read(s.functions.at, s.functions.length)) as LandingRow[]) : [];
    return { path: s.path, file: s.file, findings, functions, row: s.row, ...(s.object ? { object: s.object } : {}) };
  } finally {
    reader.close();
  }
}

/**
 * Takes each file's rows as they come (add, or addSpooled for rows a worker wrote
 * itself) and gives the run's document (finish). Triage and build states are
 * applied as assembleReportModel does: to the keys in finish(), to each finding as
 * it is read back.
 */
export class ReportSpool {
  /** Where the spool is: workers write their files here (ReportJobSettings.spoolDir); tests check that it goes away. */
  readonly dir = makeSpoolDir();
  private readonly columns = new KeyColumns();
  /** Spool files by index (KeyColumns' source), and their readers. */
  private readonly sourceIndex = new Map<string, number>();
  private readonly readers: SpoolReader[] = [];
  /** Each added file's build state, by the index KeyColumns keeps per finding. */
  private readonly builds: (FileBuild | undefined)[] = [];
  private readonly functionRecords: { source: number; at: number; length: number }[] = [];
  private functionCount = 0;
  private readonly files: ReportFileRow[] = [];
  /** Rows added on this thread are written by this thread's own writer. */
  private own: RowSpoolWriter | undefined;
  /** The objects compiled forms came from, per source (the provenance lists them). */
  readonly objects: { source: string; info: ObjectInfo }[] = [];

  constructor(private readonly triage: TriageFile | undefined) {}

  /** Rows audited on this thread: written to the spool here. */
  add(r: FileReportRows): void {
    this.own ??= new RowSpoolWriter(this.dir);
    this.addSpooled(this.own.write(r), r.build);
  }

  /** Rows a thread already wrote into this spool's folder (RowSpoolWriter), with the file's build state. */
  addSpooled(s: SpooledRows, build: FileBuild | undefined): void {
    const source = this.source(s.spool);
    const file = this.builds.push(build) - 1;
    for (const f of s.findings) this.columns.push(file, source, f);
    if (s.functions) {
      this.functionRecords.push({ source, at: s.functions.at, length: s.functions.length });
      this.functionCount += s.functions.count;
    }
    this.files.push(s.row);
    if (s.object) this.objects.push({ source: s.path, info: s.object });
  }

  private source(name: string): number {
    let i = this.sourceIndex.get(name);
    if (i === undefined) {
      if (!SPOOL_NAME.test(name)) throw new Error(`report spool: ${JSON.stringify(name)} is not a spool file name`);
      i = this.readers.push(new SpoolReader(join(this.dir, name))) - 1;
      this.sourceIndex.set(name, i);
    }
    return i;
  }

  /** The document, findings in the model's order; closing it removes the spool. */
  finish(provenance: Provenance, skipped: { file: string; why: string }[]): ReportDoc {
    const cols = this.columns;
    const keys: FindingKey[] = new Array(cols.n);
    for (let i = 0; i < cols.n; i++) {
      const c = cols.fields(i);
      const build = this.builds[cols.fileIndex(i)];
      const triage = entryOf(this.triage, c.fingerprint);
      // The fields in keyOf's order, from what findingsOfRows would have made of the row.
      keys[i] = {
        file: c.file,
        line: c.line,
        character: c.character,
        function: c.function,
        severity: c.severity,
        verdict: c.verdict,
        verdictFrom: c.verdictFrom,
        rule: c.rule,
        subsystem: c.subsystem,
        fingerprint: c.fingerprint,
        deemphasised: deemphasisedOf({ triage, build }),
        ...(triage ? { triage } : {}),
        ...(build ? { build } : {}),
        risk: c.risk,
      };
    }
    const order = keys.map((_, i) => i);
    // Stable: findings at the same position keep the order they arrived in.
    order.sort((a, b) => byPosition(keys[a]!, keys[b]!));
    const sortedKeys = order.map((i) => keys[i]!);
    const source = Uint32Array.from(order, (i) => cols.sourceOf(i));
    const at = Float64Array.from(order, (i) => cols.atOf(i));
    const length = Uint32Array.from(order, (i) => cols.lengthOf(i));
    cols.clear();
    const readers = this.readers;
    const records = this.functionRecords;
    return {
      provenance,
      counts: countFindings(sortedKeys),
      keys: sortedKeys,
      finding: (i) => {
        const rf = JSON.parse(readers[source[i]!]!.read(at[i]!, length[i]!)) as RowFinding;
        const k = sortedKeys[i]!;
        // As findingsOfRows makes it: the run's triage and the file's build state after the row's fields.
        return { ...rf, ...(k.triage ? { triage: k.triage } : {}), ...(k.build ? { build: k.build } : {}), deemphasised: k.deemphasised };
      },
      functionCount: this.functionCount,
      functions: function* () {
        for (const r of records) yield* JSON.parse(readers[r.source]!.read(r.at, r.length)) as LandingRow[];
      },
      files: this.files,
      skipped,
      close: () => this.close(),
    };
  }

  /** Removes the spool (after the document is written, or without one: a cancelled or failed run). */
  close(): void {
    for (const r of this.readers) r.close();
    removeSpoolDir(this.dir);
  }
}
