// A report's findings kept on disk while the run goes on (issues 15.4 and 16): as
// each file's rows arrive they are written to a spool file, one JSON record per
// finding (and one per file for its "where the #VE lands" rows), and only a
// FindingKey per finding stays in memory. finish() sorts the keys into the model's
// order and gives a ReportDoc (doc.ts) whose finding(i) reads the record back, so
// the writers print exactly what they print from an in-memory model
// (test/unit/report/spool.test.ts) while a whole kernel's findings never sit in
// the heap at once.
//
// The spool lives in a private folder (mkdtemp, mode 0700) under the OS temp folder;
// close() removes it, and whatever a run did not close (an error, a signal that ends
// the process through exit) is removed when the process exits.

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byPosition, keyOf, type FindingKey, type ReportDoc } from './doc';
import { countFindings, findingsOfRows, type FileReportRows, type LandingRow, type ReportFileRow, type ReportFinding } from './model';
import type { ObjectInfo } from '../compiled';
import type { Provenance } from './provenance';
import type { TriageFile } from './triage';

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

/** Pending text is written in pieces of about this many bytes. */
const WRITE_BATCH = 1 << 20;
/** A read fetches at least this much, so records read in file order cost one read per window. */
const READ_WINDOW = 1 << 18;
/** What a read away from the window fetches beyond the record. */
const READ_AHEAD = 1 << 13;

class SpoolFile {
  readonly dir: string;
  private fd: number | undefined;
  private size = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Reused for every read; `window` is the part of it holding the file from `windowAt`. */
  private buffer = Buffer.alloc(0);
  private window = Buffer.alloc(0);
  private windowAt = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'tdx-audit-report-'));
    live.add(this.dir);
    if (!hooked) {
      hooked = true;
      process.on('exit', removeLive);
    }
    this.fd = openSync(join(this.dir, 'findings.jsonl'), 'wx+', 0o600);
  }

  /** Appends one record; returns where it is. */
  append(text: string): { at: number; length: number } {
    const length = Buffer.byteLength(text);
    const at = this.size;
    this.pending.push(text, '\n');
    this.size += length + 1;
    this.pendingBytes += length + 1;
    if (this.pendingBytes >= WRITE_BATCH) this.flush();
    return { at, length };
  }

  flush(): void {
    if (!this.pending.length) return;
    const fd = this.open();
    writeSync(fd, this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
  }

  read(at: number, length: number): string {
    if (at < this.windowAt || at + length > this.windowAt + this.window.length) {
      this.flush();
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
        if (n === 0) throw new Error(`report spool: record at ${at} (${length} bytes) is past the end of ${this.dir}`);
        got += n;
      }
      this.window = this.buffer.subarray(0, got);
      this.windowAt = at;
    }
    const from = at - this.windowAt;
    return this.window.toString('utf8', from, from + length);
  }

  private open(): number {
    if (this.fd === undefined) throw new Error('report spool: used after close');
    return this.fd;
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.pending = [];
    this.buffer = Buffer.alloc(0);
    this.window = Buffer.alloc(0);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this.dir);
  }
}

/**
 * Takes each file's rows as they come (add) and gives the run's document (finish).
 * Triage and build states are applied on the way in, as assembleReportModel does.
 */
export class ReportSpool {
  private readonly file = new SpoolFile();
  private readonly keys: FindingKey[] = [];
  private readonly at: number[] = [];
  private readonly length: number[] = [];
  private readonly functionRecords: { at: number; length: number }[] = [];
  private functionCount = 0;
  private readonly files: ReportFileRow[] = [];
  /** The objects compiled forms came from, per source (the provenance lists them). */
  readonly objects: { source: string; info: ObjectInfo }[] = [];

  constructor(private readonly triage: TriageFile | undefined) {}

  /** Where the spool is (tests check that it goes away). */
  get dir(): string {
    return this.file.dir;
  }

  add(r: FileReportRows): void {
    // All of one file's findings: put in the model's order here, so reading them back
    // in that order reads the spool forward.
    const findings = findingsOfRows(r, this.triage).sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
    for (const f of findings) {
      const where = this.file.append(JSON.stringify(f));
      this.keys.push(this.shared(keyOf(f)));
      this.at.push(where.at);
      this.length.push(where.length);
    }
    if (r.functions.length) {
      this.functionRecords.push(this.file.append(JSON.stringify(r.functions)));
      this.functionCount += r.functions.length;
    }
    this.files.push(r.row);
    if (r.object) this.objects.push({ source: r.path, info: r.object });
  }

  /** The document, findings in the model's order; closing it removes the spool. */
  finish(provenance: Provenance, skipped: { file: string; why: string }[]): ReportDoc {
    this.file.flush();
    const order = this.keys.map((_, i) => i);
    const keys = this.keys;
    // Stable: findings at the same position keep the order they arrived in.
    order.sort((a, b) => byPosition(keys[a]!, keys[b]!));
    const sortedKeys = order.map((i) => keys[i]!);
    const at = Float64Array.from(order, (i) => this.at[i]!);
    const length = Uint32Array.from(order, (i) => this.length[i]!);
    this.keys.length = 0;
    this.at.length = 0;
    this.length.length = 0;
    const file = this.file;
    const records = this.functionRecords;
    return {
      provenance,
      counts: countFindings(sortedKeys),
      keys: sortedKeys,
      finding: (i) => JSON.parse(file.read(at[i]!, length[i]!)) as ReportFinding,
      functionCount: this.functionCount,
      functions: function* () {
        for (const r of records) yield* JSON.parse(file.read(r.at, r.length)) as LandingRow[];
      },
      files: this.files,
      skipped,
      close: () => file.close(),
    };
  }

  private readonly strings = new Map<string, string>();
  private string<T extends string | null>(s: T): T {
    if (s === null) return s;
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit as T;
    this.strings.set(s, s);
    return s;
  }

  /**
   * The key with the strings every finding of a file (or of the run) repeats shared:
   * rows from a worker thread are copies, each finding with its own copy of the file
   * name, function, rule and verdict, and a whole kernel has 170,000 keys.
   */
  private shared(k: FindingKey): FindingKey {
    k.file = this.string(k.file);
    k.function = this.string(k.function);
    k.subsystem = this.string(k.subsystem);
    k.rule = this.string(k.rule);
    k.severity = this.string(k.severity);
    k.verdict = this.string(k.verdict);
    return k;
  }

  /** Removes the spool without making a document (a cancelled or failed run). */
  close(): void {
    this.file.close();
  }
}
