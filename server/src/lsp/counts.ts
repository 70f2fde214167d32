// One way to count findings for every view of them: the Problems panel (through the
// diagnostics' severities), the status item, List Sites, the workspace tree view and
// the export's summary. A finding someone marked safe, excluded or trusted is shown
// as a faded hint (diagnostics.ts), so it is counted as triaged, not by its severity:
// after a triage every view says the same number of errors. A finding in a file the
// TD kernel's .config does not build is likewise shown, faded, and not open work:
// it is counted apart as not built (a triage decision on it wins: it is the more
// specific statement, and it outlives a change of .config).

import type { Severity } from '../audit/engine';
import type { FindingCounts, FindingGroup } from './protocol';

export interface Countable {
  severity: Severity;
  /** Marked safe, excluded or trusted (triage DEEMPHASISED). */
  dismissed?: boolean;
  /** In a file the .config does not build (kernelBuild.ts). */
  notBuilt?: boolean;
}

/** The workspace view's group of a finding. */
export function groupOf(f: Countable): FindingGroup {
  return f.dismissed ? 'triaged' : f.notBuilt ? 'not-built' : f.severity;
}

export function emptyCounts(): FindingCounts {
  return { sites: 0, errors: 0, warnings: 0, others: 0, triaged: 0, notBuilt: 0 };
}

export function countFindings(findings: Iterable<Countable>, sites: number): FindingCounts {
  const c = emptyCounts();
  c.sites = sites;
  for (const f of findings) addFinding(c, f);
  return c;
}

export function addFinding(c: FindingCounts, f: Countable): void {
  const g = groupOf(f);
  if (g === 'triaged') c.triaged++;
  else if (g === 'not-built') c.notBuilt++;
  else if (g === 'error') c.errors++;
  else if (g === 'warning') c.warnings++;
  else c.others++;
}

export function addCounts(into: FindingCounts, c: FindingCounts): void {
  into.sites += c.sites;
  into.errors += c.errors;
  into.warnings += c.warnings;
  into.others += c.others;
  into.triaged += c.triaged;
  into.notBuilt += c.notBuilt;
}
