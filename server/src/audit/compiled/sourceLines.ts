// Reading the source text around a site (macro calls, DWARF columns), shared by the join (match.ts) and the
// object-side cross-check (objectOnly.ts).

/** Keywords followed by a parenthesis that opens a statement's condition, not a call. */
const CONTROL = new Set(['if', 'while', 'for', 'switch', 'return', 'sizeof', 'typeof', '__typeof__', '_Generic']);

/**
 * The 0-based line where a call that is still open at (line, col) starts: walks
 * back over at most 40 lines counting parentheses (strings and comments are rare
 * enough in argument lists to ignore here). Grouping parentheses on the way out
 * are stepped over; a statement's own `if (` ends the walk.
 */
export function openCallStart(lines: readonly string[], line: number, col: number): number | undefined {
  let depth = 0;
  for (let l = line; l >= 0 && l >= line - 40; l--) {
    const t = l === line ? lines[l]!.slice(0, col) : lines[l] ?? '';
    for (let i = t.length - 1; i >= 0; i--) {
      const c = t[i];
      if (c === ')') depth++;
      else if (c === '(') {
        if (depth > 0) {
          depth--;
          continue;
        }
        const word = /([A-Za-z_]\w*)\s*$/.exec(t.slice(0, i))?.[1];
        // `(readl(p) & M)` inside a macro's arguments: a grouping parenthesis, keep going out.
        if (word === undefined) continue;
        // The condition of a statement is not a call: the site is not inside a macro call.
        if (CONTROL.has(word)) return undefined;
        return l === line ? undefined : l;
      } else if ((c === ';' || c === '{' || c === '}') && depth === 0) return undefined;
    }
  }
  return undefined;
}

/** UTF-16 column (0-based) of a DWARF column (1-based, bytes; gcc counts a tab as 1); -1 for none. */
export function utf16Column(lineText: string, dwarfColumn: number): number {
  if (dwarfColumn <= 0) return -1;
  // Fast path: ASCII line.
  if (!/[^\x00-\x7f]/.test(lineText)) return dwarfColumn - 1;
  const bytes = Buffer.from(lineText, 'utf8');
  return bytes.subarray(0, dwarfColumn - 1).toString('utf8').length;
}
