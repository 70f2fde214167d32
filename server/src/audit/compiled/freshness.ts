// Is the object still the text being audited: every function DWARF declares in
// this file still named on its line, every inlined call still on a line that
// exists; an older object whose records all still match is shown with its age.
// And, for a buffer edited since it was saved, which lines of the edited text
// are which lines of the saved one (lineMap), so that functions the edit did not
// touch keep their compiled forms (compiled/edited.ts).
import type { DwarfUnit } from '../../binary/index';
import type { ObjectInfo } from '../compiled';
import type { ObjectChoice, OpenedObject } from '../objects';
import { sameFile, unitFactsOf } from './facts';


export interface LineCheck {
  checked: number;
  mismatched: { line: number; name: string }[];
}


/**
 * Compares what the object's DWARF records about this file with the text: each
 * function declared in it must still be named on its DW_AT_decl_line, and each
 * inlined call must still sit on a line that exists. Function names are robust
 * to macros (gcc records the expansion point for inlined calls, so a call's
 * column may show a macro name instead of the function).
 */
export function checkLines(o: OpenedObject, units: DwarfUnit[], source: string, text: string): LineCheck {
  const lines = text.split(/\r?\n/);
  const out: LineCheck = { checked: 0, mismatched: [] };
  const seen = new Set<string>();
  for (const cu of units) {
    for (const { name, line, file } of unitFactsOf(o, cu).decls) {
      if (!sameFile(file, source) || seen.has(`${name}:${line}`)) continue;
      // Names a macro made (BUILD_BUG_ON's __compiletime_assert_N) appear nowhere in the text.
      if (!text.includes(name)) continue;
      seen.add(`${name}:${line}`);
      const lt = lines[line - 1];
      const named = lt !== undefined && new RegExp(`\\b${name}\\b`).test(lt);
      // A function a file-scope macro pastes together (3c59x's DEFINE_WINDOW_IO(32) makes
      // window_write32, PCI_OP_WRITE(dword, ...) pci_bus_write_config_dword) is declared
      // on the macro's line, which cannot name it: not a sign of staleness.
      if (!named && lt !== undefined && inMacroInvocation(lines, line - 1)) continue;
      out.checked++;
      if (!named) out.mismatched.push({ line, name });
    }
    for (const inst of unitFactsOf(o, cu).instances) {
      if (!inst.name || !inst.callLine || !sameFile(inst.callFile, source)) continue;
      if (inst.callLine > lines.length) {
        out.checked++;
        out.mismatched.push({ line: inst.callLine, name: inst.name });
      }
    }
  }
  return out;
}

/**
 * Whether 0-based line `l` is in the argument list of a file-scope macro
 * invocation: a line starting with `NAME(` at most three lines above (or on it),
 * with no statement or block ending between.
 */
function inMacroInvocation(lines: readonly string[], l: number): boolean {
  for (let k = l; k >= 0 && k >= l - 3; k--) {
    const t = lines[k]!;
    if (k < l && /[;{}]\s*(\\)?\s*$/.test(t)) return false;
    if (/^[A-Za-z_]\w*\s*\(/.test(t)) return true;
  }
  return false;
}

/** Fills in the staleness of a found object against the text being audited. */
export function judgeFreshness(choice: ObjectChoice, source: string, text: string, diskText?: () => string | undefined): ObjectInfo {
  const info = { ...choice.info };
  if (!choice.object) return info;
  const check = checkLines(choice.object, choice.units, source, text);
  const bad = check.mismatched.length;
  if (bad > 0 && bad > Math.max(0, Math.floor(check.checked / 10))) {
    const first = check.mismatched[0]!;
    const disk = diskText?.();
    const edited = disk !== undefined && disk !== text;
    return {
      ...info,
      state: 'lines-differ',
      message:
        `${choice.object.path} does not match ${edited ? 'the edited text' : 'this source'}: ` +
        `${bad} of ${check.checked} functions and calls it records are not where the text has them (e.g. ${first.name} at line ${first.line}); ` +
        (edited ? 'save and rebuild the object' : 'rebuild the object'),
    };
  }
  const age = info.mtimeMs !== undefined && info.sourceMtimeMs !== undefined ? olderThanSource(info.mtimeMs, info.sourceMtimeMs) : undefined;
  if (age !== undefined && unedited(text, diskText)) {
    // Older, but every inlined call it records still sits where the text has it: the
    // instructions are shown, with the age in the message.
    info.state = 'older-than-source';
    info.message = `${choice.object.path} is older than the source (by ${age}); the ${check.checked} functions it records are still where the text has them`;
  }
  return info;
}

/**
 * All the freshness check takes from the two files' times: the age it shows when the
 * object is older than the source by more than a second, else undefined. (The result
 * cache keys on this, not on the times: cli/resultKeys.ts ObjectDigests.)
 */
export function olderThanSource(objectMtimeMs: number, sourceMtimeMs: number): string | undefined {
  return objectMtimeMs + 1000 < sourceMtimeMs ? formatAge(sourceMtimeMs - objectMtimeMs) : undefined;
}

function unedited(text: string, diskText: (() => string | undefined) | undefined): boolean {
  const disk = diskText?.();
  return disk === undefined || disk === text;
}

export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}


/**
 * Where the lines of an edited buffer were in the saved text. `toSaved[j]` is
 * the 0-based saved line that edited line j still is, or -1 when the edit wrote
 * it; `deletedBefore` holds the edited lines before which saved lines were
 * removed (edited.length for the end). The diff is by lines (Myers' O(ND)
 * algorithm after the common head and tail are cut off), so an edit shifts the
 * lines below it and leaves their text, and the functions on them, untouched.
 */
export interface LineMap {
  toSaved: Int32Array;
  /** Inverse: `toEdited[i]` is the edited line saved line i became, or -1 when the edit removed or rewrote it. */
  toEdited: Int32Array;
  deletedBefore: Set<number>;
}

/** Past this many differing lines the buffer is a different text, not an edit of the saved one. */
const MAX_EDIT_DISTANCE = 2000;

/** The line map from `saved` to `edited`; undefined when they differ in more than MAX_EDIT_DISTANCE lines. */
export function lineMap(saved: string, edited: string): LineMap | undefined {
  const a = saved.split(/\r?\n/);
  const b = edited.split(/\r?\n/);
  const toSaved = new Int32Array(b.length).fill(-1);
  const toEdited = new Int32Array(a.length).fill(-1);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const pairs: [number, number][] = [];
  for (let i = 0; i < head; i++) pairs.push([i, i]);
  // Lines as numbers: equal text, equal id.
  const ids = new Map<string, number>();
  const id = (t: string) => {
    let v = ids.get(t);
    if (v === undefined) ids.set(t, (v = ids.size));
    return v;
  };
  const mid = myers(a.slice(head, a.length - tail).map(id), b.slice(head, b.length - tail).map(id), MAX_EDIT_DISTANCE);
  if (!mid) return undefined;
  for (const [i, j] of mid) pairs.push([i + head, j + head]);
  for (let t = tail; t > 0; t--) pairs.push([a.length - t, b.length - t]);
  const deletedBefore = new Set<number>();
  let pi = -1;
  let pj = -1;
  for (const [i, j] of [...pairs, [a.length, b.length] as [number, number]]) {
    if (i - pi > 1) deletedBefore.add(pj + 1);
    if (i < a.length) {
      toSaved[j] = i;
      toEdited[i] = j;
    }
    pi = i;
    pj = j;
  }
  return { toSaved, toEdited, deletedBefore };
}

/** Whether the edit wrote or removed a line within edited lines [first, last] (0-based, inclusive). */
export function editedWithin(map: LineMap, first: number, last: number): boolean {
  for (let j = Math.max(0, first); j <= last && j < map.toSaved.length; j++) if (map.toSaved[j] === -1) return true;
  for (const d of map.deletedBefore) if (d > first && d <= last) return true;
  return false;
}

/**
 * Matched (a index, b index) pairs of a shortest edit script, in order; undefined
 * past `maxD` differences. Keeps only the diagonals each step reached (O(D²) memory).
 */
function myers(a: number[], b: number[], maxD: number): [number, number][] | undefined {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  if (max === 0) return [];
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= Math.min(max, maxD); d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        trace.push(v.slice(off - d, off + d + 1));
        return backtrack(trace, n, m);
      }
    }
    trace.push(v.slice(off - d, off + d + 1));
  }
  return undefined;
}

function backtrack(trace: Int32Array[], n: number, m: number): [number, number][] {
  const out: [number, number][] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1]!;
    const at = (k: number) => prev[k + d - 1]!;
    const k = x - y;
    const pk = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const px = at(pk);
    const py = px - pk;
    // The snake after the edit step, then the step itself.
    const sx = pk === k + 1 ? px : px + 1;
    while (x > sx) {
      x--;
      y--;
      out.push([x, y]);
    }
    x = px;
    y = py;
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    out.push([x, y]);
  }
  return out.reverse();
}
