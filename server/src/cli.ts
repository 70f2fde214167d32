#!/usr/bin/env node
// The headless entry: the same engine as the language server, for CI and scripts.
// One module per command under cli/ (scan, report, merge, decode, fix; options they share);
// this file only dispatches and prints the usage.
// Exit status: 0 clean, 1 an error-severity finding exists, 2 usage or I/O error.

import { DEFAULT_PROFILE, PROFILE_IDS } from './x86/profiles';
import { runScan, SCAN_USAGE } from './cli/scan';
import { runReport, REPORT_USAGE } from './cli/report';
import { runDecode, DECODE_USAGE } from './cli/decode';
import { runFix, FIX_USAGE } from './cli/fix';
import { runMerge, MERGE_USAGE } from './cli/merge';
import { UsageError } from './cli/options';
import { VERSION } from './cli/scanOutput';
import { reexec, wantsReexec } from './cli/reexec';

const USAGE = `usage:
  ${SCAN_USAGE}
  ${DECODE_USAGE}
  ${REPORT_USAGE.trim()}
  ${MERGE_USAGE}
  ${FIX_USAGE}
profiles: ${PROFILE_IDS.join(', ')}, or tdx-linux-X.Y.Z / sev-es-linux-X.Y.Z (default: the version in the tree's top-level Makefile, else ${DEFAULT_PROFILE})`;

export async function main(argv: string[], write = (s: string) => void process.stdout.write(s), warn = (s: string) => void process.stderr.write(s + '\n')): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'scan':
        return await runScan(rest, write, warn);
      case 'decode':
        return runDecode(rest, write);
      case 'report':
        return await runReport(rest);
      case 'merge':
        return await runMerge(rest);
      case 'fix':
        return await runFix(rest, write, warn);
      case '--version':
        write(VERSION + '\n');
        return 0;
      case undefined:
      case '--help':
      case '-h':
        write(USAGE + '\n');
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${cmd}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      warn(`tdx-audit: ${e.message}\n${USAGE}`);
      return 2;
    }
    warn(`tdx-audit: ${(e as Error).stack ?? e}`);
    return 2;
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  // With more than one worker, started again once with glibc's malloc arenas limited (cli/reexec.ts).
  (wantsReexec(argv) ? reexec(argv) : main(argv)).then((code) => {
    process.exitCode = code;
  });
}
