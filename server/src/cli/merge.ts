// `tdx-audit merge <report.json...> --out DIR [--format sarif,html,markdown,json]
//    [--force] [--baseline FILE] [--exit-zero]`
// Puts the JSON reports of `report --shard K/N` runs (a CI matrix) back together and
// writes the formats a single `report` run over the whole scope would have written,
// byte for byte but for the time stamps (audit/report/merge.ts says what comes from
// where). Exit status as `report`: 0 written, 1 an open error finding, 2 usage or I/O.

import { tryReadText } from '../fs/safeRead';
import { applyBaseline } from '../audit/report/baseline';
import { FORMATS, reportFiles, ReportUsageError } from '../audit/report/build';
import { parseJsonReport, ReportFormatError } from '../audit/report/json';
import { mergeShardReports, MergeError } from '../audit/report/merge';
import type { ReportFormat } from '../lsp/protocol';
import { optionValue } from './options';
import { defaultIO, parseFormats, writeAndSay, type ReportIO } from './report';

export const MERGE_USAGE = 'tdx-audit merge <report.json...> --out DIR [--format sarif,html,markdown,json] [--force] [--baseline FILE] [--exit-zero]';

/** A whole tree's JSON report runs to hundreds of MB; the reader's default cap is for sources. */
const MAX_REPORT_BYTES = 4 * 1024 * 1024 * 1024 - 1;

interface MergeOptions {
  reports: string[];
  out: string;
  formats: ReportFormat[];
  force: boolean;
  baseline?: string;
  exitZero?: boolean;
}

function parseMergeArgs(argv: string[]): MergeOptions {
  const o: MergeOptions = { reports: [], out: '', formats: [...FORMATS], force: false };
  const fail = (m: string) => new ReportUsageError(m);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out' || a === '-o') o.out = optionValue(argv, ++i, a, fail);
    else if (a === '--format') o.formats = parseFormats(optionValue(argv, ++i, a, fail));
    else if (a === '--force') o.force = true;
    else if (a === '--exit-zero') o.exitZero = true;
    else if (a === '--baseline') o.baseline = optionValue(argv, ++i, a, fail);
    else if (a.startsWith('-')) throw new ReportUsageError(`unknown option ${a}`);
    else o.reports.push(a);
  }
  if (!o.reports.length) throw new ReportUsageError('merge needs the JSON reports of the shards');
  if (!o.out) throw new ReportUsageError('merge needs --out DIR');
  if (!o.formats.length) throw new ReportUsageError('--format names no format');
  return o;
}

function readReport(path: string) {
  const r = tryReadText(path, { maxBytes: MAX_REPORT_BYTES });
  if (!('text' in r)) throw new ReportUsageError(`cannot read ${r.why.startsWith(path) ? r.why : `${path}: ${r.why}`}`);
  return parseJsonReport(r.text, path);
}

export async function runMerge(argv: string[], ioOverrides: Partial<ReportIO> = {}): Promise<number> {
  const io: ReportIO = { ...defaultIO(), ...ioOverrides };
  let o: MergeOptions;
  try {
    o = parseMergeArgs(argv);
  } catch (e) {
    io.stderr(`tdx-audit: ${(e as Error).message}\nusage: ${MERGE_USAGE}\n`);
    return 2;
  }
  try {
    let model = mergeShardReports(o.reports.map((p) => ({ source: p, report: readReport(p) })));
    if (o.baseline) model = applyBaseline(model, readReport(o.baseline), o.baseline);
    return await writeAndSay(model, reportFiles(model, o.formats), o, io, new AbortController().signal);
  } catch (e) {
    if (e instanceof ReportUsageError || e instanceof ReportFormatError || e instanceof MergeError) {
      io.stderr(`tdx-audit: ${e.message}\n`);
      return 2;
    }
    io.stderr(`tdx-audit: ${(e as Error).stack ?? e}\n`);
    return 2;
  }
}
