// Freshness per function (compiled/freshness.ts lineMap, compiled/edited.ts): an
// unsaved edit shifts the object's lines instead of voiding the whole file, so
// functions the edit did not touch keep their compiled forms and only the edited
// ones wait for a save and a rebuild. The object is built here with gcc.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine, type FileAudit, type Finding } from '../../../server/src/audit/engine';
import { editedWithin, lineMap } from '../../../server/src/audit/compiled/freshness';
import { locate } from '../c/helpers';
import { compileObject, hasGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures/drivers');
const skip = hasGcc ? false : 'gcc is not installed: these tests build their object with it';

describe('lineMap: edited lines back to saved lines', () => {
  test('an insertion shifts the lines below it; a deletion is marked where it was', () => {
    const saved = ['a', 'b', 'c', 'd', 'e', 'f'].join('\n');
    const edited = ['a', 'b', 'NEW', 'c', 'd', 'f'].join('\n');
    const m = lineMap(saved, edited)!;
    assert.deepEqual([...m.toSaved], [0, 1, -1, 2, 3, 5]);
    assert.deepEqual([...m.toEdited], [0, 1, 3, 4, -1, 5]);
    assert.deepEqual([...m.deletedBefore], [5]);
    assert.equal(editedWithin(m, 0, 1), false);
    assert.equal(editedWithin(m, 2, 2), true, 'the inserted line');
    assert.equal(editedWithin(m, 3, 4), false, 'c and d moved but are unchanged');
    assert.equal(editedWithin(m, 4, 5), true, 'e was deleted between d and f');
  });

  test('two edits far apart leave the lines between them mapped (not one changed block)', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i}`);
    const edited = [...lines];
    edited.splice(300, 1, 'changed 300');
    edited.splice(10, 0, 'new A', 'new B');
    const m = lineMap(lines.join('\n'), edited.join('\n'))!;
    assert.equal(m.toSaved[12], 10);
    assert.equal(m.toSaved[301], 299);
    assert.equal(m.toSaved[302], -1);
    assert.equal(m.toSaved[303], 301);
    assert.equal(editedWithin(m, 50, 250), false);
  });

  test('a text that shares nothing past the edit budget has no map', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a${i}`).join('\n');
    const b = Array.from({ length: 3000 }, (_, i) => `b${i}`).join('\n');
    assert.equal(lineMap(a, b), undefined);
  });
});

let dir = '';
let engine: AuditEngine;
let src = '';
let saved = '';
const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

function findingAt(a: FileAudit, text: string, needle: string): Finding {
  const pos = locate(text, needle);
  const f = a.findings.find((x) => x.site.range.start.line === pos.line);
  assert.ok(f, `no finding on the line of ${needle}`);
  return f;
}

describe('an unsaved edit keeps the compiled forms of the functions it did not touch (gcc fixture)', { skip }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-edited-'));
    for (const f of ['foo_nic.c', 'tdx_io.h']) copyFileSync(join(FIX, f), join(dir, f));
    compileObject('foo_nic.c', dir);
    src = join(dir, 'foo_nic.c');
    saved = readFileSync(src, 'utf8');
    engine = await AuditEngine.create({ readFile: read });
    engine.configure({ objects: {} });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('lines added above every function and inside one: only that function loses its forms', () => {
    const edited = saved
      .replace('#define FOO_CTRL', '/* a comment\n * of three lines\n */\n#define FOO_CTRL')
      .replace('\tfp->ovl->ctrl |= 1;', '\tfp->up = 2;\n\tfp->ovl->ctrl |= 1;');
    const a = engine.audit(src, edited, 2);
    assert.equal(a.compiled?.object.state, 'fresh', a.compiled?.object.message);
    assert.match(a.compiled!.object.message, /1 function edited since it was built \(foo_kick\)/);
    const poll = findingAt(a, edited, 'readl(fp->regs + FOO_STATUS)');
    assert.equal(poll.instructions?.[0]?.function, 'foo_poll', poll.compiledNote);
    // An instruction DWARF puts on a line of this file is shown where that line is now.
    const mac = findingAt(a, edited, 'fp->ovl->mac[0]');
    assert.ok(mac.instructions?.length, mac.compiledNote);
    assert.equal(mac.instructions![0]!.line, locate(edited, 'fp->ovl->mac[0]').line + 1);
    assert.ok(findingAt(a, edited, 'inb(fp->io_port + 1)').instructions?.length, 'a function below the edit');
    const kick = findingAt(a, edited, 'fp->ovl->ctrl |= 1');
    assert.ok(!kick.instructions?.length);
    assert.match(kick.compiledNote ?? '', /foo_kick was edited since foo_nic\.o was built/);
    // The same sites, unedited, all had forms: the edit is what took foo_kick's away.
    const before = engine.audit(src, saved, 3);
    assert.ok(findingAt(before, saved, 'fp->ovl->ctrl |= 1').instructions?.length);
  });

  test('lines deleted inside a function take its forms only', () => {
    const edited = saved.replace('\tfoo_reset_hw(fp);\n', '');
    const a = engine.audit(src, edited, 4);
    assert.ok(!findingAt(a, edited, 'foo_readl(fp, FOO_STATUS)').instructions?.length);
    assert.match(findingAt(a, edited, 'foo_readl(fp, FOO_STATUS)').compiledNote ?? '', /foo_open was edited/);
    assert.equal(findingAt(a, edited, 'readl(fp->regs + FOO_STATUS)').instructions?.[0]?.function, 'foo_poll');
  });

  test('Show Compiled Form finds the function at a line the edit moved', () => {
    const edited = saved.replace('#define FOO_CTRL', '\n\n\n\n\n#define FOO_CTRL');
    const a = engine.audit(src, edited, 5);
    const r = engine.compiledForm(a, edited, locate(edited, 'readl(fp->regs + FOO_STATUS)'));
    assert.equal(r.function, 'foo_poll', r.message);
  });
});
