// The workspace view over the index: triage decisions apply to files only the index
// has read (by the fingerprints its workers computed), and what the view shows is
// built once per change, not once per request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkspaceView, type TriageLookup } from '../../../server/src/lsp/workspace';
import type { IndexResult } from '../../../server/src/index/indexer';
import type { IndexedFile } from '../../../server/src/index/types';
import { toUri } from '../../../server/src/lsp/files';

function file(path: string, severities: ('error' | 'warning' | 'information')[]): IndexedFile {
  return {
    path, hash: 'h', sites: severities.length, errors: 0, warnings: 0, others: 0, parseErrors: 0, ms: 1,
    findings: severities.map((severity, i) => ({ rule: 'tdx-iomem-deref' as const, severity, line: i, character: 0, function: 'f', accessor: 'p->x', message: 'm', fingerprint: `${path}#${i}` })),
  };
}

function result(files: IndexedFile[]): IndexResult {
  return { files, skipped: 0, capped: false, failures: [], cacheHits: 0, ms: 1, cancelled: false };
}

test('a decision recorded for a file only the index has read moves its finding to triaged', () => {
  const lookup: TriageLookup = (_path, fps) =>
    fps.map((fingerprint) => (fingerprint === '/w/a.c#1' ? { fingerprint, entry: { status: 'safe' as const, time: 't' }, deemphasised: true } : { fingerprint, deemphasised: false }));
  const v = new WorkspaceView(() => true, () => undefined, () => ['/w'], lookup);
  v.setIndexState('done', result([file('/w/a.c', ['error', 'error', 'warning'])]));
  const q = v.query();
  assert.equal(q.totals.errors, 1, 'one error left');
  assert.equal(q.totals.triaged, 1);
  assert.equal(q.totals.warnings, 1);
  const triaged = v.query({ group: 'triaged', uri: toUri('/w/a.c') }).findings!;
  assert.equal(triaged.length, 1);
  assert.equal(triaged[0]!.triage, 'safe');
  assert.equal(triaged[0]!.dismissed, true);
  assert.equal(v.fileCounts().get('/w/a.c')!.counts.triaged, 1, 'the export compares with the same counts');
  v.dispose();
});

test('totals, groups and a file\'s findings are built once per change of the view', () => {
  let lookups = 0;
  const v = new WorkspaceView(() => true, () => undefined, () => ['/w'], (_p, fps) => {
    lookups++;
    return fps.map((fingerprint) => ({ fingerprint, deemphasised: false }));
  });
  v.setIndexState('done', result([file('/w/a.c', ['error']), file('/w/b.c', ['warning', 'warning'])]));
  for (let i = 0; i < 5; i++) v.totals();
  v.query();
  const one = v.query({ group: 'warning', uri: toUri('/w/b.c') });
  assert.equal(one.findings!.length, 2);
  assert.equal(lookups, 2, 'one triage lookup per file, for every request together');
  v.setIndexState('done', result([file('/w/a.c', ['error'])]));
  assert.equal(v.totals().files, 1);
  assert.equal(lookups, 3, 'a new index builds the view again');
  v.dispose();
});
