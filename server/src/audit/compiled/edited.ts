// The join for a buffer edited since it was saved. The object was built from
// the saved text (or older), so its line rows name saved lines: each site of a
// function the edit did not touch is moved back to its saved line, joined there
// against the saved text, and its instructions' lines moved forward again. Only
// sites of functions the edit wrote into lose their compiled forms until the
// file is saved and the object rebuilt.

import { basename } from 'node:path';
import type { FunctionView, Position, Range, Site } from '../../c/types';
import type { CompiledInstruction, FileCompiled, SiteCompiled } from '../compiled';
import { sameFile } from './facts';
import { editedWithin, lineMap, type LineMap } from './freshness';
import { compiledFormsFor, type JoinInput } from './match';

export interface EditedJoinInput extends JoinInput {
  /** The edited text's functions (the parse of `text`), to tell which ones the edit touched. */
  functions: readonly FunctionView[];
}

/** compiledFormsFor, through the edits between the saved text and `text` when they differ. */
export function compiledFormsThroughEdits(input: EditedJoinInput): FileCompiled {
  const saved = input.choice.object ? input.diskText?.() : undefined;
  if (saved === undefined || saved === input.text) return compiledFormsFor(input);
  // The same swap the engine makes, so the two texts differ only where the user edited.
  const savedText = saved.includes('\r') ? saved.replace(/\r(?!\n)/g, '\n') : saved;
  const map = lineMap(savedText, input.text);
  if (!map) return compiledFormsFor(input);
  const touched = new Set<string>();
  for (const f of input.functions) if (editedWithin(map, f.range.start.line, f.range.end.line)) touched.add(f.name);

  const kept: { site: Site; index: number }[] = [];
  const edited: { index: number; fn: string | null }[] = [];
  input.sites.forEach((site, index) => {
    const moved = site.function !== null && touched.has(site.function) ? undefined : toSaved(site, map);
    if (moved) kept.push({ site: moved, index });
    else edited.push({ index, fn: site.function });
  });
  const r = compiledFormsFor({ ...input, text: savedText, sites: kept.map((k) => k.site), diskText: () => savedText });
  // The saved text is not the object's either: nothing to carry over.
  if (!r.sites.length && r.object.state !== 'fresh' && r.object.state !== 'older-than-source') return r;
  const object = input.choice.object!;
  const sites: SiteCompiled[] = r.sites.map((sc) => ({
    ...sc,
    siteIndex: kept[sc.siteIndex]!.index,
    instructions: sc.instructions.map((i) => toEdited(i, map, input.source)),
  }));
  for (const e of edited) {
    sites.push({
      siteIndex: e.index,
      instructions: [],
      note: e.fn
        ? `${e.fn} was edited since ${basename(object.path)} was built: its compiled form comes back when the file is saved and the object rebuilt`
        : `this line was edited since ${basename(object.path)} was built`,
    });
  }
  sites.sort((a, b) => a.siteIndex - b.siteIndex);
  const names = [...new Set(edited.map((e) => e.fn).filter((n): n is string => !!n))];
  const message = names.length
    ? `${object.path}: ${names.length} function${names.length === 1 ? '' : 's'} edited since it was built (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}) ${names.length === 1 ? 'has' : 'have'} no compiled form until a save and a rebuild; the others keep theirs`
    : r.object.message;
  return { ...r, object: { ...r.object, message }, sites };
}

/** The site at its saved lines, or undefined when one of its lines is new. */
function toSaved(site: Site, map: LineMap): Site | undefined {
  const pos = (p: Position): Position | undefined => {
    const l = map.toSaved[p.line];
    return l === undefined || l < 0 ? undefined : { line: l, character: p.character };
  };
  const range = (r: Range): Range | undefined => {
    const start = pos(r.start);
    const end = pos(r.end);
    return start && end ? { start, end } : undefined;
  };
  const r = range(site.range);
  const c = range(site.callRange);
  return r && c ? { ...site, range: r, callRange: c } : undefined;
}

/** An instruction's DWARF line in this file, moved to where that line is in the edited text. */
function toEdited(i: CompiledInstruction, map: LineMap, source: string): CompiledInstruction {
  if (!sameFile(i.file, source) || i.line <= 0) return i;
  const l = map.toEdited[i.line - 1];
  return l === undefined || l < 0 ? i : { ...i, line: l + 1 };
}

/** The saved line (0-based) of an edited line, for look-ups by line in the object (Show Compiled Form). */
export function savedLineOf(saved: string | undefined, edited: string, line: number): number {
  if (saved === undefined || saved === edited) return line;
  const map = lineMap(saved.includes('\r') ? saved.replace(/\r(?!\n)/g, '\n') : saved, edited);
  const l = map?.toSaved[line];
  return l === undefined || l < 0 ? line : l;
}
