// Object-like macro bodies (`#define REG0 ( outb(inb(qbase + 0xd) & 0x7f, qbase + 0xd), ... )`,
// `#define TR_DELAY do { inb(tr->isa.io); } while (0)`): their calls are sites like those
// of a function-like macro's body, and analyze.ts parses them the same way. Found from the
// text, not by walking every `#define` node: a header of register numbers has tens of
// thousands of object-like defines and none with a call.
import type { Node } from './parser';

export interface ObjectMacro {
  name: string;
  /** The define's value (its body), in the file's tree. */
  bodyNode: Node;
}

/** `#define NAME` then a space (not `(`: that is a function-like macro), then the body with its continuations. */
const OBJECT_DEFINE_RE = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(?=[ \t])((?:[^\n\\]|\\(?:\r?\n)?)*)/gm;
/** A call in a body: a name then `(`. */
const CALL_SHAPE_RE = /[A-Za-z_]\w*\s*\(/;

/** Object-like macros whose body has a call in it, with the body's node in `root`'s tree. */
export function objectLikeMacros(root: Node, text: string): ObjectMacro[] {
  const out: ObjectMacro[] = [];
  for (const m of text.matchAll(OBJECT_DEFINE_RE)) {
    if (!CALL_SHAPE_RE.test(m[2]!)) continue;
    let n: Node | null = root.descendantForIndex(m.index! + m[0].indexOf(m[1]!, m[0].indexOf('define') + 6));
    while (n && n.type !== 'preproc_def') n = n.parent;
    const value = n?.childForFieldName('value');
    if (value) out.push({ name: m[1]!, bodyNode: value });
  }
  return out;
}
