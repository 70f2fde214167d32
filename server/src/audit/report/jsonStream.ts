// JSON written in pieces: the bytes of JSON.stringify(doc, null, 2), but a large
// array in the document (a whole tree's findings, SARIF results) is a LazyArray whose
// elements are made and printed one at a time, so neither the array of converted
// elements nor the one string of hundreds of MB ever exists. Everything else in the
// document is printed by JSON.stringify itself, re-indented to its depth.

/** An array printed element by element; `items` is iterated once, when printed. */
export class LazyArray<T = unknown> {
  constructor(readonly items: () => Iterable<T>) {}
  /** What JSON.stringify would print for it (for tests, and to join small documents). */
  toJSON(): T[] {
    return [...this.items()];
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof LazyArray) && Object.getPrototypeOf(v) === Object.prototype;

/** Whether a LazyArray is inside v (looked for a few levels down: they sit near the top). */
function holdsLazy(v: unknown, depth = 0): boolean {
  if (v instanceof LazyArray) return true;
  if (depth >= 4) return false;
  if (isPlainObject(v)) return Object.values(v).some((x) => holdsLazy(x, depth + 1));
  if (Array.isArray(v) && v.length <= 16) return v.some((x) => holdsLazy(x, depth + 1));
  return false;
}

/** JSON.stringify(v, null, 2) as it prints at `indent` inside a document. */
const printed = (v: unknown, indent: string): string => {
  const s = JSON.stringify(v, null, 2);
  return indent ? s.replace(/\n/g, `\n${indent}`) : s;
};

/**
 * The pieces of JSON.stringify(doc, null, 2) (without a trailing newline). Plain
 * objects and short arrays holding a LazyArray are walked; every other value is
 * printed whole. Keys whose value JSON leaves out (undefined, functions) are left out.
 */
export function* jsonChunks(doc: unknown, indent = ''): Generator<string> {
  if (doc instanceof LazyArray) {
    const inner = indent + '  ';
    let n = 0;
    for (const item of doc.items()) {
      // An element JSON cannot print (undefined, a function) is null in an array.
      const s = JSON.stringify(item, null, 2);
      yield `${n++ === 0 ? '[\n' : ',\n'}${inner}${s === undefined ? 'null' : s.replace(/\n/g, `\n${inner}`)}`;
    }
    yield n === 0 ? '[]' : `\n${indent}]`;
    return;
  }
  if (!holdsLazy(doc)) {
    yield printed(doc, indent);
    return;
  }
  const inner = indent + '  ';
  if (Array.isArray(doc)) {
    if (!doc.length) {
      yield '[]';
      return;
    }
    yield '[\n';
    for (let i = 0; i < doc.length; i++) {
      yield i === 0 ? inner : `,\n${inner}`;
      const v = doc[i];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') yield 'null';
      else yield* jsonChunks(v, inner);
    }
    yield `\n${indent}]`;
    return;
  }
  const entries = Object.entries(doc as Record<string, unknown>).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
  if (!entries.length) {
    yield '{}';
    return;
  }
  yield '{\n';
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    yield `${i === 0 ? '' : ',\n'}${inner}${JSON.stringify(k)}: `;
    yield* jsonChunks(v, inner);
  }
  yield `\n${indent}}`;
}
