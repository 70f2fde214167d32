// Finding a source's compile unit as a debugger does (objects.ts matchUnits): a
// tree moved after its build, a build under a Debian-style prefix matched by the
// path under the tree root, an explicit path map, and one clear line when nothing
// matches. Fixtures are compiled here with gcc, in one folder and moved to another.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { copyDriverFixture, gcc, hasGcc } from '../../support/gcc';
import { AuditEngine, type FileAudit } from '../../../server/src/audit/engine';
import type { ObjectSearch } from '../../../server/src/audit/objects';
import { suggestMapping } from '../../../server/src/audit/objects';
import { locate } from '../c/helpers';

const FIX = resolve(__dirname, '../../fixtures/drivers');
const skip = hasGcc ? false : 'gcc is not installed: these tests build their objects with it';
/** The prefix Debian's kernel packages name their sources under. */
const DEBIAN = '/build/linux-6.1/debian/build/build_amd64_none_amd64';

const copySources = (to: string): void => copyDriverFixture(to, FIX);

let dir = '';
const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

async function auditWith(path: string, objects: ObjectSearch): Promise<{ a: FileAudit; engine: AuditEngine; text: string }> {
  const engine = await AuditEngine.create({ readFile: read });
  engine.configure({ objects });
  const text = readFileSync(path, 'utf8');
  return { a: engine.audit(path, text, 1), engine, text };
}

/** The object was used (the sources were copied after it was built, so it may be older). */
function assertUsed(a: FileAudit): void {
  assert.ok(a.compiled?.object.state === 'fresh' || a.compiled?.object.state === 'older-than-source', a.compiled?.object.message);
}

/** The instructions of the readl in foo_poll. */
function pollRead(a: FileAudit, text: string) {
  const pos = locate(text, 'readl(fp->regs + FOO_STATUS)');
  const f = a.findings.find((x) => x.site.range.start.line === pos.line);
  assert.ok(f, 'the readl site');
  return f;
}

describe('object units matched like a debugger (gcc fixtures)', { skip }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tdx-paths-'));
    // Built where it was written, with the path as given (relative: DW_AT_name foo_nic.c under comp_dir).
    copySources(join(dir, 'built-rel', 'drivers'));
    gcc(['-O2', '-g', '-c', 'foo_nic.c', '-o', 'foo_nic.o'], join(dir, 'built-rel', 'drivers'));
    // Built from an absolute path: DW_AT_name is the whole path of the build tree.
    copySources(join(dir, 'built-abs', 'drivers'));
    gcc(['-O2', '-g', '-c', join(dir, 'built-abs', 'drivers', 'foo_nic.c'), '-o', 'foo_nic.o'], join(dir, 'built-abs', 'drivers'));
    // Built under a distribution's prefix: DW_AT_name /build/linux-6.1/debian/build/.../drivers/foo_nic.c.
    copySources(join(dir, 'built-deb', 'drivers'));
    gcc(['-O2', '-g', `-fdebug-prefix-map=${join(dir, 'built-deb')}=${DEBIAN}`, '-c', join(dir, 'built-deb', 'drivers', 'foo_nic.c'), '-o', 'foo_nic.o'], join(dir, 'built-deb', 'drivers'));
    // The objects of that build, in a folder of their own (as a -dbg package ships them).
    mkdirSync(join(dir, 'objs', 'drivers'), { recursive: true });
    copyFileSync(join(dir, 'built-deb', 'drivers', 'foo_nic.o'), join(dir, 'objs', 'drivers', 'foo_nic.o'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a tree moved after its build (relative DW_AT_name): the object beside the source gives compiled forms, not "optimised out"', async () => {
    const tree = join(dir, 'moved-rel');
    copySources(join(tree, 'drivers'));
    copyFileSync(join(dir, 'built-rel', 'drivers', 'foo_nic.o'), join(tree, 'drivers', 'foo_nic.o'));
    const { a, text, engine } = await auditWith(join(tree, 'drivers', 'foo_nic.c'), {});
    assertUsed(a);
    const f = pollRead(a, text);
    assert.ok(f.instructions?.length, `instructions for the readl (note: ${f.compiledNote})`);
    assert.equal(f.instructions![0]!.function, 'foo_poll');
    assert.doesNotMatch(f.compiledNote ?? '', /optimised out/);
    const choice = engine.objects.find(join(tree, 'drivers', 'foo_nic.c'), {});
    assert.equal(choice.unitPath, join(dir, 'built-rel', 'drivers', 'foo_nic.c'));
  });

  test('a tree moved after its build (absolute DW_AT_name): the object beside the source is its unit by file name', async () => {
    const tree = join(dir, 'moved-abs');
    copySources(join(tree, 'drivers'));
    copyFileSync(join(dir, 'built-abs', 'drivers', 'foo_nic.o'), join(tree, 'drivers', 'foo_nic.o'));
    const src = join(tree, 'drivers', 'foo_nic.c');
    const { a, text, engine } = await auditWith(src, {});
    assertUsed(a);
    assert.equal(pollRead(a, text).instructions?.[0]?.function, 'foo_poll');
    assert.equal(engine.objects.find(src, {}).matchedBy, 'file-name');
  });

  test('a Debian-style DW_AT_name is matched by the path under the tree root', async () => {
    const tree = join(dir, 'linux-source');
    copySources(join(tree, 'drivers'));
    const src = join(tree, 'drivers', 'foo_nic.c');
    const search = { sourceRoot: tree, objects: [join(dir, 'objs')] };
    const { a, text, engine } = await auditWith(src, search);
    assertUsed(a);
    assert.equal(a.compiled?.object.path, join(dir, 'objs', 'drivers', 'foo_nic.o'));
    assert.equal(pollRead(a, text).instructions?.[0]?.function, 'foo_poll');
    const choice = engine.objects.find(src, search);
    assert.equal(choice.matchedBy, 'tail');
    assert.equal(choice.unitPath, `${DEBIAN}/drivers/foo_nic.c`);
  });

  test('with no tree root and no mapping, one line says which path the object names and which the file has', async () => {
    const tree = join(dir, 'elsewhere');
    copySources(join(tree, 'net'));
    const src = join(tree, 'net', 'foo_nic.c');
    const { a, text } = await auditWith(src, { objects: [join(dir, 'objs')] });
    assert.equal(a.compiled?.object.state, 'missing');
    const m = a.compiled!.object.message;
    assert.ok(m.includes(`names ${DEBIAN}/drivers/foo_nic.c`), m);
    assert.ok(m.includes(`this file is ${src}`), m);
    assert.ok(m.includes(`--path-map ${DEBIAN}/drivers=${tree}/net`), m);
    assert.doesNotMatch(m, /\n/);
    assert.ok(!pollRead(a, text).instructions?.length);
  });

  test('tdxAudit.objects.pathMap / --path-map FROM=TO maps the object\'s path to the file', async () => {
    const tree = join(dir, 'elsewhere');
    const src = join(tree, 'net', 'foo_nic.c');
    const search = { objects: [join(dir, 'objs')], pathMap: [{ from: `${DEBIAN}/drivers`, to: join(tree, 'net') }] };
    const { a, text, engine } = await auditWith(src, search);
    assertUsed(a);
    assert.equal(pollRead(a, text).instructions?.[0]?.function, 'foo_poll');
    assert.equal(engine.objects.find(src, search).matchedBy, 'path-map');
    // A mapping that does not lead to this file changes nothing.
    const wrong = await auditWith(src, { objects: [join(dir, 'objs')], pathMap: [{ from: `${DEBIAN}/drivers`, to: join(tree, 'sound') }] });
    assert.equal(wrong.a.compiled?.object.state, 'missing');
  });

  test('a module is found under /lib/modules-style kernel/<source folder>, the Debian name matched by the tree tail', async () => {
    const mods = join(dir, 'modules', 'kernel');
    mkdirSync(join(mods, 'drivers'), { recursive: true });
    mkdirSync(join(mods, 'sound'), { recursive: true });
    // A module is a relocatable object like a .o; ld -r makes one of a different name.
    const ld = spawnSync('ld', ['-r', join(dir, 'built-deb', 'drivers', 'foo_nic.o'), '-o', join(mods, 'drivers', 'foonet.ko')], { encoding: 'utf8' });
    assert.equal(ld.status, 0, ld.stderr);
    copyFileSync(join(mods, 'drivers', 'foonet.ko'), join(mods, 'sound', 'decoy.ko'));
    const tree = join(dir, 'linux-source');
    const src = join(tree, 'drivers', 'foo_nic.c');
    const search = { sourceRoot: tree, objects: [join(dir, 'modules')] };
    const { a, text, engine } = await auditWith(src, search);
    assertUsed(a);
    assert.equal(a.compiled?.object.origin, 'module');
    assert.equal(a.compiled?.object.path, join(mods, 'drivers', 'foonet.ko'));
    assert.equal(pollRead(a, text).instructions?.[0]?.function, 'foo_poll');
    // A module of another folder is not a candidate at all.
    assert.ok(!engine.objects.candidates(src, search).some((c) => c.path.includes('decoy')));
  });

  test('under a known tree root, a relative unit name is the file only when the whole path under the root is its tail', async () => {
    // Kbuild names vmlinux's units from the tree root: lib/foo_nic.c is not arch/mips/lib/foo_nic.c.
    mkdirSync(join(dir, 'kb', 'lib'), { recursive: true });
    copySources(join(dir, 'kb', 'lib'));
    const img = join(dir, 'kb', 'image.o');
    gcc(['-O2', '-g', '-c', 'lib/foo_nic.c', '-o', img], join(dir, 'kb'));
    const tree = join(dir, 'kbtree');
    copySources(join(tree, 'arch', 'mips', 'lib'));
    copySources(join(tree, 'lib'));
    const search = { sourceRoot: tree, objects: [img] };
    const engine = await AuditEngine.create({ readFile: read });
    const other = engine.objects.find(join(tree, 'arch', 'mips', 'lib', 'foo_nic.c'), { sourceRoot: tree, vmlinux: img });
    assert.equal(other.object, undefined, 'not joined with another file of the same name');
    assert.doesNotMatch(other.info.message, / names /, 'and no path-map advice for a file of another folder');
    assert.equal(engine.objects.find(join(tree, 'lib', 'foo_nic.c'), search).matchedBy, 'tail');
  });

  test('suggestMapping names the differing heads of two paths', () => {
    assert.deepEqual(suggestMapping('/b/x/drivers/ata/libahci.c', '/home/me/linux/drivers/ata/libahci.c'), { from: '/b/x', to: '/home/me/linux' });
    assert.equal(suggestMapping('/a/foo.c', '/b/bar.c'), undefined);
  });
});
