// Is the object still the text being audited: every function DWARF declares in
// this file still named on its line, every inlined call still on a line that
// exists; an older object whose records all still match is shown with its age.
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
      out.checked++;
      const lt = lines[line - 1];
      if (lt === undefined || !new RegExp(`\\b${name}\\b`).test(lt)) out.mismatched.push({ line, name });
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
  if (info.mtimeMs !== undefined && info.sourceMtimeMs !== undefined && info.mtimeMs + 1000 < info.sourceMtimeMs && unedited(text, diskText)) {
    // Older, but every inlined call it records still sits where the text has it: the
    // instructions are shown, with the age in the message.
    info.state = 'older-than-source';
    info.message = `${choice.object.path} is older than the source (by ${formatAge(info.sourceMtimeMs - info.mtimeMs)}); the ${check.checked} functions it records are still where the text has them`;
  }
  return info;
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

