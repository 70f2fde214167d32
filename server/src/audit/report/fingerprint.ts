// Fingerprints that identify a finding across kernel updates. Line numbers move
// whenever anything above a site changes, so a triage keyed on them would be lost on
// every rebase; like smatch's host-input lists, the key is what the code *says*:
// the rule, the file, the enclosing function, the site's expression with formatting
// removed, and which occurrence of that same expression in that function it is.
// Moving, re-indenting or inserting unrelated code keeps the fingerprint; changing
// the expression (another register, another accessor) gives a new one.

import { createHash } from 'node:crypto';
import type { Range, RuleCode, Site } from '../../c/types';
import type { FileAudit } from '../engine';

/** Bumped only if the fingerprint recipe changes (the SARIF partialFingerprints key carries it). */
export const FINGERPRINT_VERSION = 1;
export const FINGERPRINT_KEY = `tdxAudit/v${FINGERPRINT_VERSION}`;

export interface FingerprintParts {
  rule: RuleCode;
  /** Path relative to the tree root, '/'-separated (static functions repeat across files). */
  file: string;
  function: string | null;
  /** Output of normaliseExpression. */
  expression: string;
  /** 0 for the first (function, expression) pair in source order, 1 for the next ... */
  ordinal: number;
}

/**
 * Comments dropped, whitespace runs collapsed, and whitespace next to punctuation
 * removed, so `writel( v,fp->regs+REG )` and `writel(v, fp->regs + REG)` agree while
 * `unsigned long` keeps its space.
 */
export function normaliseExpression(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ')
    .replace(/\\\r?\n/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/ ?([^\w\s]) ?/g, '$1')
    .trim();
}

/** Offset of a 0-based line/UTF-16 column in text, clamped to the text. */
function offsetOf(lineStarts: readonly number[], text: string, p: Range['start']): number {
  const start = lineStarts[Math.min(p.line, lineStarts.length - 1)] ?? 0;
  return Math.min(start + p.character, text.length);
}

export function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** The normalised source text of the site's whole call or dereference expression. */
export function siteExpression(text: string, site: Site, lineStarts: readonly number[] = lineStartsOf(text)): string {
  return siteExpressionWith(text, site, lineStarts, normaliseExpression);
}

function siteExpressionWith(text: string, site: Site, lineStarts: readonly number[], normalise: (raw: string) => string): string {
  const a = offsetOf(lineStarts, text, site.callRange.start);
  const b = offsetOf(lineStarts, text, site.callRange.end);
  const expr = normalise(text.slice(a, b));
  // A site whose range no longer fits the text (stale audit) still gets a stable key.
  return expr || normaliseExpression(`${site.accessor}(${site.address})`);
}

export function fingerprint(p: FingerprintParts): string {
  const h = createHash('sha256');
  // NUL-separated so no field can run into the next.
  h.update([`v${FINGERPRINT_VERSION}`, p.rule, p.file, p.function ?? '', p.expression, String(p.ordinal)].join('\0'));
  return h.digest('hex').slice(0, 32);
}

export interface SiteKey {
  expression: string;
  ordinal: number;
  fingerprint: string;
}

/**
 * What the fingerprints of one document's last keying computed, by content: the
 * normalised expression of each raw call text, and the fingerprint of each
 * (rule, file, function, expression, ordinal). An edit keeps almost every site's
 * text and ordinal, so keying the next version normalises and hashes only the sites
 * whose text or ordinal changed (~38 ms of a 2,640-finding file's keystroke in the
 * language server). Keyed by exactly what the recipe reads, so a hit is the value a
 * fresh computation gives; each keying keeps only its own entries (the memory is
 * one version's worth).
 */
export class FingerprintMemo {
  private expressions = new Map<string, string>();
  private hashes = new Map<string, string>();
  /** Normalisations and hashes computed (not found) by the last keying: tests and measurements. */
  misses = { expressions: 0, hashes: 0 };

  /** Starts a keying: entries not used by it are dropped at its end. */
  begin(): { expression(raw: string): string; fingerprint(p: FingerprintParts): string; end(): void } {
    const misses = { expressions: 0, hashes: 0 };
    const expressions = carried(this.expressions, normaliseExpression, () => misses.expressions++);
    const hashes = carried(this.hashes, fingerprint, () => misses.hashes++);
    return {
      expression: (raw) => expressions.get(raw, raw),
      fingerprint: (p) => hashes.get([p.rule, p.file, p.function ?? '', p.expression, String(p.ordinal)].join('\0'), p),
      end: () => {
        this.expressions = expressions.next;
        this.hashes = hashes.next;
        this.misses = misses;
      },
    };
  }
}

/**
 * One keying's lookup by `key`: found in this keying or the last one (`prev`), else
 * computed from `input` (and counted by `miss`); `next` holds what this keying used.
 */
function carried<I>(prev: ReadonlyMap<string, string>, compute: (input: I) => string, miss: () => void) {
  const next = new Map<string, string>();
  return {
    next,
    get(key: string, input: I): string {
      let v = next.get(key) ?? prev.get(key);
      if (v === undefined) {
        v = compute(input);
        miss();
      }
      next.set(key, v);
      return v;
    },
  };
}

/**
 * Keys for every site of one file. Ordinals count identical (function, expression)
 * pairs in source order over all sites of the analysis, not only reported findings,
 * so a severity override that hides some sites does not renumber the others.
 * `memo`: the same document's previous keying (the language server keys every version);
 * `starts`: the text's line starts when the caller has them (lineStartsOf's answer).
 */
export function siteKeys(file: string, text: string, sites: readonly Site[], memo?: FingerprintMemo, starts: readonly number[] = lineStartsOf(text)): SiteKey[] {
  const order = sites
    .map((s, i) => ({ s, i }))
    .sort((x, y) => x.s.callRange.start.line - y.s.callRange.start.line || x.s.callRange.start.character - y.s.callRange.start.character || x.i - y.i);
  const seen = new Map<string, number>();
  const out: SiteKey[] = new Array(sites.length);
  const m = memo?.begin();
  for (const { s, i } of order) {
    const expression = m ? siteExpressionWith(text, s, starts, m.expression) : siteExpression(text, s, starts);
    const k = `${s.function ?? ''}\0${expression}`;
    const ordinal = seen.get(k) ?? 0;
    seen.set(k, ordinal + 1);
    const parts = { rule: s.rule, file, function: s.function, expression, ordinal };
    out[i] = { expression, ordinal, fingerprint: m ? m.fingerprint(parts) : fingerprint(parts) };
  }
  m?.end();
  return out;
}

/**
 * Fingerprints of a file's findings, parallel to audit.findings (for the language
 * server: a diagnostic's triage status, and the code action that sets it).
 * `file` is relative to the tree root (provenance.ts findTreeRoot / relativeTo).
 */
export function findingFingerprints(file: string, text: string, audit: Pick<FileAudit, 'analysis' | 'findings' | 'lines'>, memo?: FingerprintMemo): string[] {
  const sites = audit.analysis.sites;
  // The engine's line starts of the text it audited (a 10,000-line file's scan per keystroke otherwise).
  const keys = siteKeys(file, text, sites, memo, audit.lines?.text === text ? audit.lines.starts : undefined);
  const index = new Map<Site, number>();
  sites.forEach((s, i) => {
    if (!index.has(s)) index.set(s, i);
  });
  return audit.findings.map((f) => {
    let i = index.get(f.site) ?? -1;
    if (i < 0) i = sites.findIndex((s) => s.rule === f.rule && s.callRange.start.line === f.site.callRange.start.line && s.callRange.start.character === f.site.callRange.start.character);
    return i >= 0 ? keys[i].fingerprint : siteKeys(file, text, [f.site])[0].fingerprint;
  });
}
