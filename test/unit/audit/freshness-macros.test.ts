// Functions a file-scope macro pastes together are declared, for DWARF, on the
// macro invocation's line, which cannot name them (3c59x's DEFINE_WINDOW_IO(32)
// makes window_write32): the freshness check must not read that as a stale object
// (Debian's 3c59x.ko, w83627ehf.ko, lpfc.ko and others were reported "does not
// match this source" and lost every compiled form).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditEngine } from '../../../server/src/audit/engine';
import { compileObject, hasGcc } from '../../support/gcc';

const FIX = resolve(__dirname, '../../fixtures/drivers');

const SOURCE = `#include "tdx_io.h"

struct win { void __iomem *base; };

#define DEFINE_WINDOW_IO(size)						\\
static u32 window_read##size(struct win *w, int reg)			\\
{									\\
	return readl(w->base + reg + size);				\\
}
DEFINE_WINDOW_IO(8)
DEFINE_WINDOW_IO(16)
DEFINE_WINDOW_IO(32)

#define MULTI_LINE_OP(name,						\\
		      off)						\\
u32 multi_##name(struct win *w) { return readl(w->base + off); }
MULTI_LINE_OP(status,
	      4)

u32 use_windows(struct win *w)
{
	return window_read8(w, 0) + window_read16(w, 1) + window_read32(w, 2) + multi_status(w);
}

u32 plain_read(struct win *w)
{
	return readl(w->base + 0x40);
}
`;

test('functions made by file-scope macros do not make the object stale', { skip: hasGcc ? false : 'gcc is not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdx-macrofn-'));
  try {
    copyFileSync(join(FIX, 'tdx_io.h'), join(dir, 'tdx_io.h'));
    const src = join(dir, 'win.c');
    writeFileSync(src, SOURCE);
    compileObject('win.c', dir);
    const engine = await AuditEngine.create({ readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } } });
    engine.configure({ objects: {} });
    const a = engine.audit(src, SOURCE, 1);
    assert.equal(a.compiled?.object.state, 'fresh', a.compiled?.object.message);
    const plain = a.findings.find((f) => f.site.function === 'plain_read');
    assert.equal(plain?.instructions?.[0]?.function, 'plain_read', 'compiled forms shown');
    // A real move of the text is still caught.
    const moved = SOURCE.replace('u32 use_windows', '\n\n\n\nu32 use_windows');
    writeFileSync(src, moved);
    const b = engine.audit(src, moved, 2);
    assert.equal(b.compiled?.object.state, 'lines-differ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
