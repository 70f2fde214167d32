// What a batch run's header index keeps for the run (each header's include lines,
// each include's resolution, the include graph) must not keep the texts those came
// from: V8 makes a regex group of 13 characters or more a slice of its parent string,
// and a spec kept as sliced held the whole text of every header and audited file
// (85 of a scan worker's 118 MB of live heap after 12,000 files of drivers/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HeaderIndex } from '../../../server/src/c/headerIndex';
import { emptyKnowledge } from '../../../server/src/c/knowledge';
import { includeDirectives, kernelContext } from '../../../server/src/c/includePath';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / (1 << 20);
};

/** A text of about 1 MB whose include names are long enough to be sliced out of it. */
const big = (includes: string, i: number) => `${includes}/* ${'x'.repeat(1 << 20)} ${i} */\n`;

test("include directives do not keep their text alive", () => {
  const before = heapMb();
  const kept = [];
  for (let i = 0; i < 64; i++) kept.push(includeDirectives(big(`#include <linux/a_rather_long_header_name_${i}.h>\n#include "local_header_of_the_driver.h"\n`, i)));
  const grown = heapMb() - before;
  assert.equal(kept.length, 64);
  assert.equal(kept[5]![0]!.spec, 'linux/a_rather_long_header_name_5.h');
  assert.ok(grown < 16, `64 texts of 1 MB are not held by their directives (heap grew ${grown.toFixed(1)} MB)`);
});

test("a snapshot index's facts, resolutions and graph do not keep header or file texts alive", () => {
  const before = heapMb();
  const files = new Map<string, string>();
  for (let i = 0; i < 48; i++) {
    files.set(`/k/include/linux/header_number_${i}.h`, big(`#include <linux/header_number_${i + 1}.h>\n#include "neighbour_of_number_${i}.h"\n`, i));
    files.set(`/k/include/linux/neighbour_of_number_${i}.h`, '#define nb_rd(p) readl(p)\n');
  }
  files.set('/k/include/linux/header_number_48.h', '#define deep_rd(p) readl(p)\n');
  const ctx = kernelContext('/k');
  const idx = new HeaderIndex(() => emptyKnowledge(), { snapshot: true });
  const read = (p: string) => (files.has(p) ? { text: files.get(p)! } : { why: 'no such file', missing: true });
  for (let i = 0; i < 48; i += 4) {
    // Each file's own include is resolved from its folder (kept by the index): the file's text must go.
    const r = idx.importsOf(`/k/drivers/d${i}/f.c`, big(`#include <linux/header_number_${i}.h>\n#include "a_local_header_of_this_file.h"\n`, i), ctx, read, (p) => p);
    assert.ok(r.headers >= 48 - i, `the walk from header ${i} reached the chain's rest`);
  }
  files.clear();
  const grown = heapMb() - before;
  assert.ok(grown < 16, `60 texts of 1 MB are not held by the index (heap grew ${grown.toFixed(1)} MB)`);
});
