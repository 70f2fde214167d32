// Reading the source text around a site, shared by the join (match.ts) and the
// object-side cross-check (objectOnly.ts).

/**
 * The 0-based line where a call that is still open at (line, col) starts: walks
 * back over at most 40 lines counting parentheses (strings and comments are rare
 * enough in argument lists to ignore here).
 */
export function openCallStart(lines: readonly string[], line: number, col: number): number | undefined {
  let depth = 0;
  for (let l = line; l >= 0 && l >= line - 40; l--) {
    const t = l === line ? lines[l]!.slice(0, col) : lines[l] ?? '';
    for (let i = t.length - 1; i >= 0; i--) {
      const c = t[i];
      if (c === ')') depth++;
      else if (c === '(') {
        if (depth === 0) return l === line ? undefined : l;
        depth--;
      } else if ((c === ';' || c === '{' || c === '}') && depth === 0) return undefined;
    }
  }
  return undefined;
}
