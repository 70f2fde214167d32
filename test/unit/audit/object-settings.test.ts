// tdxAudit.objects.pathMap (lsp/config.ts) and the CLI's --path-map / --no-objects
// (cliOptions.ts) become the same ObjectSearch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { parsePathMap, parseSettings } from '../../../server/src/lsp/config';
import { commonOption, objectSearchOf, parsePathMapping, type CommonOptions } from '../../../server/src/cliOptions';

test('pathMap is read from the {FROM: TO} object VS Code sends, and from [{from, to}] and ["FROM=TO"]', () => {
  assert.deepEqual(parseSettings({ objects: { pathMap: { '/build/x': '${workspaceFolder}/linux' } } }).objects.pathMap, [{ from: '/build/x', to: '${workspaceFolder}/linux' }]);
  assert.deepEqual(parseSettings({ 'objects.pathMap': [{ from: '/a', to: '/b' }, '/c=/d'] }).objects.pathMap, [{ from: '/a', to: '/b' }, { from: '/c', to: '/d' }]);
  // Malformed entries are dropped, never passed on.
  assert.deepEqual(parsePathMap([{ from: 1, to: '/b' }, '=/x', '/y=', 'noequals', null, { from: ' ', to: '/z' }]), []);
  assert.deepEqual(parsePathMap('/a=/b'), []);
  assert.equal(parseSettings({ objects: {} }).objects.pathMap, undefined);
  assert.equal(parsePathMap(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`/f${i}`, `/t${i}`]))).length, 64);
});

test('--path-map FROM=TO is repeatable; TO is resolved, FROM kept as the object names it', () => {
  const o: CommonOptions = { profile: 'tdx-linux-6.12+', followIncludes: true, objects: [] };
  const fail = (m: string) => new Error(m);
  const argv = ['--path-map', '/build/x=src', '--path-map', '/b=c=/d'];
  for (let i = 0; i < argv.length; i++) i = commonOption(argv, i, o, fail);
  assert.deepEqual(o.pathMap, [{ from: '/build/x', to: 'src' }, { from: '/b', to: 'c=/d' }]);
  const s = objectSearchOf(o, '/tree', fail)!;
  assert.deepEqual(s.pathMap, [{ from: '/build/x', to: resolve('src') }, { from: '/b', to: resolve('c=/d') }]);
  assert.equal(s.sourceRoot, '/tree');
  assert.deepEqual(s.objects, []);
  assert.equal(parsePathMapping('nothing'), undefined);
  assert.throws(() => commonOption(['--path-map', '=x'], 0, o, fail), /--path-map takes FROM=TO/);
});

test('by default the CLI looks beside the sources; --no-objects looks nowhere and refuses objects named with it', () => {
  const fail = (m: string) => new Error(m);
  const base: CommonOptions = { profile: 'tdx-linux-6.12+', followIncludes: true, objects: [] };
  assert.deepEqual(objectSearchOf(base, undefined, fail), { objects: [] });
  assert.equal(objectSearchOf({ ...base, noObjects: true }, '/t', fail), undefined);
  assert.throws(() => objectSearchOf({ ...base, noObjects: true, vmlinux: '/v' }, '/t', fail), /cannot go with --vmlinux/);
});
