// The region audit's foresight: words provenance will make facts of, guessed from the
// kept bodies' text before the parse.
//
// audit/regions.ts parses a file with the bodies that cannot matter blanked, then
// unblanks every body naming a word the result made matter and parses again. Most of
// those later rounds were for provenance facts (c/provenance.ts) that one body stores
// and another reads: `p->regs = ioremap(...)` in probe, `p->regs` in an interrupt
// handler. Here the same flows are read lexically (c/lexFlows.ts) from the bodies that
// name a source (a mapping API, an `__iomem` name) and followed, as provenance follows
// them, to the words other bodies must name to read them:
//  - `a->f = <source>` / `a.f = <source>`: the field `f` (provenance's `F:` slot);
//  - `x = <source>` / `T *x = <source>`: `x` within the body (a local; a chain of them);
//  - `return <source>`: the function's name (`R:`: its callers get the value);
//  - `helper(..., <source>, ...)` with `helper` a static function of the file: the
//    helper's body, its parameters sources within it (`L` slots: only the helper reads them);
//  - a macro of the file naming a source (regions.ts closes the sources over macros).
// Each guessed word is a seed (its bodies are kept) and a source (followed further).
// A guess is a word, not a fact: a wrong one keeps a body that need not be kept (the
// parse costs more), a missed one leaves the word to the region audit's next round
// (the fixpoint stays the safety net).

import { itemsOf, lexFlows, parameterNamesOf, valueCarries, type LexCall, type LexFlow } from '../c/lexFlows';
import { headerNames } from '../c/regions';

/** A file-scope function body as the region audit delimits it. */
export interface ForeseenBody {
  open: number;
  close: number;
  /** The definition's text before its `{`. */
  header: string;
}

interface BodyFlows<B extends ForeseenBody> {
  body: B;
  flows: LexFlow[];
  calls: LexCall[];
  /** Per flow / call: 1 once followed. */
  flowDone: Uint8Array;
  callDone: Uint8Array;
  /** Names that carry a source within this body (locals given one, a helper's parameters). */
  locals: Set<string>;
}

const STATIC_RE = /\bstatic\b/;

export class Foresight<B extends ForeseenBody> {
  /** Words whose value may carry MMIO provenance. */
  readonly sources = new Set<string>();
  private readonly queue: string[] = [];
  private readonly read = new Map<B, BodyFlows<B>>();
  private readonly dirty = new Set<BodyFlows<B>>();
  /** The file's static functions by the names their headers declare. */
  private readonly statics = new Map<string, B>();
  private grew = false;

  constructor(
    private readonly text: string,
    bodies: readonly B[],
    /** Which bodies name each word. */
    private readonly namedBy: ReadonlyMap<string, readonly B[]>,
    /** A source whatever the bodies say: mapping APIs of MMIO, `__iomem` names. */
    isSource: (w: string) => boolean,
    /** A mapping API that returns normal memory. */
    isMemoryMapping: (w: string) => boolean,
    /** Names a value passes through when called (the file's macros). */
    private readonly transparent: (w: string) => boolean,
    /** Makes `w` a seed (regions.ts keeps the bodies naming it). */
    private readonly addSeed: (w: string) => void,
    /** Keeps `body` (a static helper given a source as an argument). */
    private readonly keep: (body: B, why: string) => void,
  ) {
    for (const b of bodies) if (STATIC_RE.test(b.header)) for (const n of headerNames(b.header)) if (!this.statics.has(n)) this.statics.set(n, b);
    for (const w of namedBy.keys()) if (isSource(w)) this.addSource(w);
    // A field given normal memory by a mapping API (`s->buf = memremap(...)`): provenance
    // records it (`M:buf`, never taken as MMIO) and every body naming it matters. Such a
    // value carries nothing further: a seed, not a source.
    for (const w of namedBy.keys()) {
      if (!isMemoryMapping(w)) continue;
      for (const b of namedBy.get(w)!) {
        for (const flow of this.flowsOf(b).flows) {
          if (flow.kind === 'field' && valueCarries(text, flow.from, flow.end, isMemoryMapping, () => false)) addSeed(flow.to);
        }
      }
    }
    this.grew = false;
  }

  /** Makes `w` a source (and a seed). */
  addSource(w: string): void {
    if (this.sources.has(w)) return;
    this.sources.add(w);
    this.queue.push(w);
    this.addSeed(w);
    this.grew = true;
  }

  /**
   * Follows every flow that the sources known reach, to a fixpoint; true when it found
   * a new source or kept a body since the last call.
   */
  settle(): boolean {
    while (this.queue.length || this.dirty.size) {
      while (this.queue.length) {
        const w = this.queue.pop()!;
        for (const b of this.namedBy.get(w) ?? []) this.dirty.add(this.flowsOf(b));
      }
      for (const next of this.dirty) {
        this.dirty.delete(next);
        this.follow(next);
        break;
      }
    }
    const grew = this.grew;
    this.grew = false;
    return grew;
  }

  private flowsOf(body: B): BodyFlows<B> {
    let f = this.read.get(body);
    if (!f) {
      const { flows, calls } = lexFlows(this.text, body.open + 1, body.close);
      f = {
        body, flows, calls, flowDone: new Uint8Array(flows.length), callDone: new Uint8Array(calls.length), locals: new Set(),
      };
      this.read.set(body, f);
    }
    return f;
  }

  /** The body's flows and calls that a source reaches, followed until nothing more is. */
  private follow(f: BodyFlows<B>): void {
    const carries = (w: string) => this.sources.has(w) || f.locals.has(w);
    for (let changed = true; changed; ) {
      changed = false;
      for (let k = 0; k < f.flows.length; k++) {
        if (f.flowDone[k]) continue;
        const flow = f.flows[k]!;
        if (!valueCarries(this.text, flow.from, flow.end, carries, this.transparent)) continue;
        f.flowDone[k] = 1;
        if (flow.kind === 'field') this.addSource(flow.to);
        else if (flow.kind === 'name') {
          if (!f.locals.has(flow.to)) {
            f.locals.add(flow.to);
            changed = true;
          }
        } else for (const h of headerNames(f.body.header)) this.addSource(h);
      }
      for (let k = 0; k < f.calls.length; k++) {
        if (f.callDone[k]) continue;
        const call = f.calls[k]!;
        const target = this.statics.get(call.name);
        if (!target) {
          f.callDone[k] = 1;
          continue;
        }
        // The parameters whose arguments carry carry the value within the helper.
        const params = parameterNamesOf(target.header);
        const given = itemsOf(this.text, call.from, call.end).flatMap(([a, b], i) => (i < params.length && valueCarries(this.text, a, b, carries, this.transparent) ? [params[i]!] : []));
        if (!given.length) continue;
        const t = this.flowsOf(target);
        const before = t.locals.size;
        for (const w of given) t.locals.add(w);
        if (t.locals.size === before) continue;
        this.keep(target, `param of ${call.name}`);
        this.grew = true;
        if (t === f) changed = true;
        else this.dirty.add(t);
      }
    }
  }
}
