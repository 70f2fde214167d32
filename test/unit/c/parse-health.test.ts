// Parse health (issue 14, item 4): kernel shapes from Debian 6.1's drivers/ that gave a
// file its first ERROR now parse (same length, same lines, sites at their columns), and
// a site tree-sitter could not place is still reported, marked as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CParser, countErrors } from '../../../server/src/c/parser';
import { callsInErrors, errorRegions } from '../../../server/src/c/errorRegions';
import { prepare } from '../../../server/src/c/annotations';
import { findingFor } from '../../../server/src/audit/findings';
import { DEFAULT_CONFIG } from '../../../server/src/audit/engine';
import { engineWith, locate, sitesOf, withTree } from './helpers';

/** Parses `text` as the engine does and says how many ERROR/MISSING nodes are left. */
async function errorsIn(text: string): Promise<number> {
  const p = await CParser.create();
  const r = p.parse(undefined, text);
  try {
    assert.equal(r.prepared.text.length, text.length, 'same length');
    assert.deepEqual(r.prepared.text.split('\n').map((l) => l.length), text.split('\n').map((l) => l.length), 'same lines');
    return countErrors(r.tree);
  } finally {
    r.tree.delete();
  }
}

test('statement-like macros without a semicolon parse and keep the calls after them (iphase.c NVRAM_CLR_CE, skb_queue_walk)', async () => {
  const text = [
    'static void f(void __iomem *base, struct sk_buff_head *q)',
    '{',
    '\tstruct sk_buff *skb;',
    '\tNVRAM_CLR_CE',
    '\twritel(1, base + 4);',
    '\tCFG_OR(NVCE) writel(2, base);',
    '\tskb_queue_walk(q, skb) {',
    '\t\treadl(base + skb->len);',
    '\t}',
    'out:\tLOOK',
    '\tDECLARE_X(a) b;',
    '}',
    '',
  ].join('\n');
  assert.equal(await errorsIn(text), 0);
  assert.deepEqual(await sitesOf(text), [['writel', 5, 1], ['writel', 6, 14], ['readl', 8, 2]]);
  // `DECLARE_X(a) b;` is a declaration with a macro type: left to the grammar.
  assert.ok(prepare(text).text.includes('DECLARE_X(a) b;'));
});

test('a conditional group splitting an if/else is read as the statements it joins, a constant #if whose branches each open a block keeps its live branch; a balanced group is left alone', async () => {
  const text = [
    'int f(int a, void __iomem *b)',
    '{',
    '\tif (a) {',
    '\t\ta = 1;',
    '\t}',
    '#ifdef TARGET_MODE',
    '\telse {',
    '\t\twritel(1, b);',
    '\t}',
    '#endif',
    '#if IS_ENABLED(CONFIG_IPV6)',
    '\tif (a == 8)',
    '#endif',
    '\t\ta = readl(b);',
    '#if 1',
    '\tif (a & 66) {',
    '#else',
    '\tif (1) {',
    '#endif',
    '\t\twritew(1, b);',
    '\t}',
    '#ifdef A',
    '\ta = 6;',
    '#else',
    '\ta = 7;',
    '#endif',
    '\treturn a;',
    '}',
    '',
  ].join('\n');
  assert.equal(await errorsIn(text), 0);
  assert.deepEqual(await sitesOf(text), [['writel', 8, 2], ['readl', 14, 6], ['writew', 20, 2]]);
  const p = prepare(text).text.split('\n');
  assert.equal(p[17]!.trim(), '', 'the dead branch of `#if 1` whose branches each open a block goes');
  assert.equal(p[21], '#ifdef A', 'a group of whole statements keeps its directives');
  assert.equal(p[5]!.trim(), '', 'the splitting group loses them');
});

test('macro arguments holding statements, offsetof designators, pasted names and file-scope macro calls parse', async () => {
  const text = [
    'static DEF_SCSI_QCMD(hptiop_queuecommand)',
    'EPF_NTB_R(spad_count)',
    'static int f(struct x *p, void __iomem *base)',
    '{',
    '\tstatic DEFINE_RATELIMIT_STATE(rs, 5*HZ, 2);',
    '\tDECLARE_BITMAP(ids, 64) = { [0 ... BITS_TO_LONGS(64) - 1] = 0 };',
    '\tint o = offsetof(struct meta, compute[p->idx].mec_hpd);',
    '\tint q = offsetof(typeof(*p), f) + 0x1fUL + 1e+5 + 1.5f;',
    '\tphylink_set(sup, 10000baseT_Full);',
    '\tprintk(KERN_INFO DRV_VERSION);',
    '\tif (nvkm_msec(device, 2000,',
    '\t\tu32 tmp = readl(base + 0x10);',
    '\t\tif (tmp & 1)',
    '\t\t\tbreak;',
    '\t) < 0)',
    '\t\treturn -EBUSY;',
    '\tPP_ASSERT_WITH_CODE(o == 0, "failed", return o);',
    'out:',
    '#ifdef CONFIG_X',
    '\twritel(1, base);',
    '#endif',
    '\treturn 0;',
    '}',
    '#define DESC_NEEDED TXD(X) /* skb */ + \\',
    '\tMAX * TXD(P) + 1',
    'static const int tbl[] = {',
    '#define R(x) (x) + 1,',
    '\tR(1)',
    '};',
    '',
  ].join('\n');
  assert.equal(await errorsIn(text), 0);
  assert.deepEqual(await sitesOf(text), [['readl', 12, 12], ['writel', 20, 1]]);
});

test('a file-scope macro this file defines over an accessor is not blanked (its invocation may be a wrapper site)', () => {
  const text = '#define IO_MACRO(name, off) static u32 name##_rd(void __iomem *b) { return readl(b + off); }\nIO_MACRO(intrl2, 0x10)\nint x;\n';
  assert.ok(prepare(text).text.includes('IO_MACRO(intrl2, 0x10)'));
  const other = '#define SHOW(name) static int name##_show(void) { return 0; }\nSHOW(intrl2)\nint x;\n';
  assert.ok(!prepare(other).text.includes('SHOW(intrl2)'));
});

test('calls left as loose tokens in an ERROR region are found when unambiguous; prototypes and members are not', async () => {
  const p = await CParser.create();
  // Without the rewrite, `NVRAM_CLR_CE` then `writel(` is an ERROR holding the name and `(`.
  const text = [
    'static void f(void __iomem *base)',
    '{',
    '\tNVRAM_CLR_CE',
    '\twritel(1, base + 4);',
    '}',
    '',
  ].join('\n');
  withTree(p, text, (root) => {
    const regions = errorRegions(root);
    assert.ok(regions.length > 0, 'the raw text has an ERROR');
    const calls = callsInErrors(root, text, regions, (n) => n === 'writel' || n === 'readl');
    assert.deepEqual(calls.map((c) => [c.callee, c.start, c.end, c.args]), [['writel', text.indexOf('writel'), text.indexOf(');') + 1, ['1', 'base + 4']]]);
  });
  for (const junk of ['static u32 NVRAM\nreadl(void __iomem *a)\n{ @ }', 'x = a NVRAM\n\t->readl(base);', 'y = u32 readl(int a) @;']) {
    withTree(p, junk, (root) => assert.deepEqual(callsInErrors(root, junk, errorRegions(root), (n) => n === 'readl'), [], junk));
  }
});

test('a site inside an ERROR region is reported, marked inParseError, and its message says the parser could not fully read it', async () => {
  const text = [
    'static void g(void __iomem *base)',
    '{',
    '\twritel(2, base);',
    '}',
    'static void f(void __iomem *base)',
    '{',
    '\tint x;',
    '\tx = foo(1, ;',
    '\twritel(1, base + 4);',
    '\tx = readl(base);',
    '}',
    '',
  ].join('\n');
  const e = await engineWith();
  const a = e.auditOnce('/t/k.c', text);
  const at = (needle: string, nth = 0) => {
    const pos = locate(text, needle, nth);
    return a.analysis.sites.find((s) => s.range.start.line === pos.line && s.range.start.character === pos.character);
  };
  const w = at('writel', 1);
  const r = at('readl');
  const clean = at('writel');
  assert.ok(w && r && clean, JSON.stringify(a.analysis.sites.map((s) => [s.accessor, s.range.start])));
  assert.equal(w.inParseError, true);
  assert.equal(r.inParseError, true);
  assert.equal(clean.inParseError, undefined, 'a site in a function that parsed is not marked');
  assert.match(findingFor(w, DEFAULT_CONFIG)!.message, /\(in code the parser could not fully read\)/);
  assert.doesNotMatch(findingFor(clean, DEFAULT_CONFIG)!.message, /could not fully read/);
});

test("a site's address is the text as written where a rewrite changed an argument (offsetof designator, pasted name)", async () => {
  const text = 'int f(void __iomem *b)\n{\n\treturn readl(b + offsetof(struct scu, type.ssp.off)) + readl(b + 1000baseT_Full);\n}\n';
  const e = await engineWith();
  const a = e.auditOnce('/t/k.c', text);
  assert.deepEqual(a.analysis.sites.map((s) => s.address), ['b + offsetof(struct scu, type.ssp.off)', 'b + 1000baseT_Full']);
});

test('a statement-like macro right after else parses and keeps the call after it (iphase.c IF_ERR)', async () => {
  const text = 'void f(int i, void __iomem *b)\n{\n\tif (i)\n\t\ti = 1;\n\telse\n\t\tIF_ERR(printk("ABR %x\\n", i);)\n\twritew(1, b);\n}\n';
  assert.equal(await errorsIn(text), 0);
  assert.deepEqual(await sitesOf(text), [['writew', 7, 1]]);
});

/** Asserts every snippet parses without an ERROR/MISSING node (each names the rewrite it needs). */
async function allParse(cases: Record<string, string>): Promise<void> {
  for (const [why, text] of Object.entries(cases)) assert.equal(await errorsIn(text), 0, why);
}

test('type and string spellings parse: __alignof__, typeof as a type, __stringify and pr_fmt beside strings, annotation words, type arguments', async () => {
  await allParse({
    'alignof of an expression (virtio_net.c)': 'int f(struct s *p) { return __alignof__(*p) + __alignof__ *p->q; }\n',
    'typeof as a declaration type and in a cast (xen_wdt.c, ipvlan_core.c)': 'void f(struct s *p) { typeof(p->id) id = p->id; p->h = (typeof(p->h))~0U; const typeof(*p) *q = p; }\n',
    '__stringify between strings, over two lines (caamhash.c, uio_pci_generic.c)': 'void f(int n) { pr_debug("a@" __stringify(__LINE__) ": ", n); dev_warn(d, "more than " __stringify(\n\tMAX_MAPS) " maps\\n"); }\n',
    'KERN_ prefix before pr_fmt, pr_fmt before a string (evbug.c, telemetry/core.c)': 'void f(int n) { printk(KERN_DEBUG pr_fmt("Event %d\\n"), n); pr_info(pr_fmt(DRIVER_NAME) " Init\\n"); }\n',
    'driver-local annotation words (cfi_util.c __xipram, bond_3ad.c __long_aligned)': 'int __xipram f(int a) { return a; }\nconst u8 m[8] __long_aligned = { 1 };\nINDIRECT_CALLABLE_SCOPE bool g(void) { return 0; }\n',
    'alloc_percpu and friends take a type (irq-gic.c, md/dm.c, ess.c)': 'void f(struct g *g, struct mb *mb) { g->b = alloc_percpu(void __iomem *); g->c = alloc_percpu(unsigned long); g->n = BITS_PER_TYPE(unsigned long); g->s = smtod(mb, struct smt_sba_chg *); }\n',
    'struct/enum argument in an initializer and a file-scope macro call (uverbs_std_types_cq.c, interval trees)': 'static const struct a x[] = { UVERBS_ATTR_FLAGS_IN(X, enum ib_flags), UVERBS_ATTR_TYPE(struct ib_resp) };\nINTERVAL_TREE_DEFINE(struct serial_info, node, sector_t, _last, START, LAST, static, it)\n',
  });
  // A prototype's unnamed `struct foo` parameter is a parameter, left alone.
  assert.ok(prepare('int f(int a);\nvoid g(struct foo, int);\n').text.includes('struct foo'));
});

test('macro-argument shapes parse: empty arguments keep their places, an operator argument, goto in a macro argument', async () => {
  await allParse({
    'empty last argument after a newline (ci_smumgr.c PP_ASSERT_WITH_CODE)': 'void f(int r) {\n\tPP_ASSERT_WITH_CODE((r == 0),\n\t\t"failed",\n\t\t);\n}\n',
    'empty first argument without space before the comma (netconsole.c CONFIGFS_ATTR)': 'CONFIGFS_ATTR(, enabled);\nFSG_MODULE_PARAMETERS(/* no prefix */, mod_data);\n',
    'trailing comma before ) with a comment (pfc-sh7722.c GROUP)': 'static const struct r c[] = { { PINMUX_CFG_REG("P", 1, GROUP(A, 0, B,\n\t\t/* RESERVED [2] */ )) } };\n',
    'operator arguments (nouveau NVBO_TD32, V4L2_FRACT_COMPARE)': 'void f(void *bo) { if (NVBO_TD32(bo, 0, N, _0, STATUS, ==, BEGUN)) g(); t = V4L2_FRACT_COMPARE(t, <, m) ? m : t; }\n',
    'goto as a macro argument (smu7_powertune.c)': 'int f(int r) { PP_ASSERT_WITH_CODE((r == 0), "failed.", goto error); return 0; error: return r; }\n',
  });
  // The empty argument becomes a 0 in its own space: the arguments after it keep their index.
  const t = prepare('CONFIGFS_ATTR(, enabled);\nvoid f(void) { W(a,\n\t); }\n').text;
  assert.ok(t.startsWith('CONFIGFS_ATTR(0,enabled);'), t);
  assert.ok(/W\(a,\n0\); \}/.test(t), t);
  // A call without arguments is not an empty argument.
  assert.equal(prepare('void f(void) { g(); h( ); }\n').text, 'void f(void) { g(); h( ); }\n');
});

test('declaration shapes parse: enum lists of macro calls, initializer lists of macros without commas, per-cpu definitions with an initializer, struct_group, unnamed bit-fields, static const macro declarations', async () => {
  await allParse({
    'macro calls as enumerators (pfc-r8a7790.c GP_ALL, tcpm.c FOREACH_STATE)': 'enum {\n\tPINMUX_RESERVED = 0,\n\tGP_ALL(DATA),\n\tPINMUX_DATA_END,\n};\nenum tcpm_state {\n\tFOREACH_STATE(GENERATE_ENUM)\n\tX(A) Y(B)\n};\n',
    'initializer macros without commas (rtl8188ee/pwrseq.c, spi-nor/issi.c)': 'struct c t[] = {\n\tTRANS_CARDEMU_TO_ACT\n\tTRANS_END\n};\nstatic const struct i p[] = {\n\t{ "is25lp256", INFO(0x9d6019, 0, 64 * 1024, 512)\n\t\tPARSE_SFDP\n\t\tFIXUP_FLAGS(SPI_NOR_4B_OPCODES) },\n};\n',
    'DEFINE_PER_CPU with an initializer (random.c, arch_topology.c)': 'static DEFINE_PER_CPU(struct crng, crngs) = {\n\t.lock = 0,\n};\nstatic DEFINE_PER_CPU(u32, freq_factor) = 1;\n',
    'struct_group members (sata_fsl.c)': 'struct command_desc {\n\tu8 cfis[8 * 4];\n\tstruct_group(cdb,\n\t\tu8 acmd[4 * 4];\n\t\tu8 fill[4 * 4];\n\t);\n\tu32 prdt[8];\n};\n',
    'unnamed bit-fields (chsc.c, n64joy.c, ca8210.c)': 'struct s {\n\tu16 :10;\n\tu8 a;\n\tunsigned int: 16; /* unused */\n\tu8 /* reserved */ : 1;\n\tunsigned flag : 1;\n};\n',
    'static const macro declaration (em28xx-audio.c)': 'static const DECLARE_TLV_DB_SCALE(em28xx_db_scale, -3450, 150, 0);\n',
  });
  // A named bit-field is a member, left alone.
  assert.ok(prepare('struct s { unsigned flag : 1; };\n').text.includes('unsigned flag : 1;'));
});

test('a statement macro without its semicolon before else or } parses and the calls around it stay sites (3w-9xxx.c TW_PRINTK)', async () => {
  const text = [
    'static void f(void __iomem *base, int r)',
    '{',
    '\tif (r)',
    '\t\tTW_PRINTK(h, TW_DRIVER, 0x13, "No valid response")',
    '\telse',
    '\t\twritel(1, base);',
    '\tif (r) {',
    '\t\treadl(base);',
    '\t\tDBG_OUT(r)',
    '\t}',
    '}',
    '',
  ].join('\n');
  assert.equal(await errorsIn(text), 0);
  assert.deepEqual(await sitesOf(text), [['writel', 6, 2], ['readl', 8, 2]]);
});

test('statement shapes parse: runs of statement macros, a macro wrapping whole statements, conditionals inside an expression or as a loop body, a bare macro before a directive', async () => {
  const text = [
    'static int f(void __iomem *base, int st, int length)',
    '{',
    '\tDEB(const char *stp;)',
    '\tint r = 0;',
    '\tif (st < 1)',
    '\t\tIF_CBR(printk("small %d\\n", st);)',
    '\tswitch (st) {',
    '\tPHY_STATE_STR(DOWN)',
    '\tPHY_STATE_STR(READY)',
    '\t}',
    '\tr =',
    '#if (PAGE_SIZE < 8192)',
    '\t\treadl(base);',
    '#else',
    '\t\t0;',
    '#endif',
    '\twhile (length--)',
    '#ifdef ONE_AT_A_TIME_RX',
    '\t\twritel(r, base);',
    '#else',
    '\t\twritel(0, base);',
    '#endif',
    '\tswitch (st) {',
    '#define M(_name, _id) case _id: return 1;',
    '\tMBOX_MESSAGES',
    '#undef M',
    '\t}',
    '\treturn r;',
    '}',
    '',
  ].join('\n');
  assert.equal(await errorsIn(text), 0);
  assert.deepEqual(await sitesOf(text), [['readl', 13, 2], ['writel', 19, 2], ['writel', 21, 2]]);
  // Neither a function-pointer cast nor a macro whose last argument is a statement is taken apart.
  await allParse({
    'function-pointer casts (tpm-chip.c, vmlogrdr.c)': 'void f(struct d *dev) { g(dev, (void (*)(void *)) put_device); dev->release = (void (*)(struct device *))kfree; }\n',
    'PP_ASSERT_WITH_CODE with a statement last (ci_smumgr.c)': 'int f(int result) { PP_ASSERT_WITH_CODE((0 == result), "can not get ULV voltage value", return result;); return 0; }\n',
  });
});

test('file-scope and list shapes parse: lower-case generator macros this file defines, braced initializers as macro arguments, KERN_ prefixes in a static string, trailing empty arguments, macros without commas in arguments and after a list', async () => {
  await allParse({
    'a lower-case generator macro defined in the file, called alone (libata-transport.c)': '#define ata_bitfield_name_search(title, table) static int f_##title(void) { return 0; }\nata_bitfield_name_search(class, ata_class_names)\nstatic int g(void) { return 0; }\n',
    'a braced initializer as a file-scope macro argument (surface_dtx.c)': 'SSAM_DEFINE_SYNC_REQUEST_N(ssam_bas_latch_lock, {\n\t.target_category = SSAM_SSH_TC_BAS,\n\t.command_id = 0x06,\n});\n',
    'KERN_INFO before a static string (natsemi.c)': 'static const char version[] =\n  KERN_INFO DRV_NAME " dp8381x driver, version " DRV_VERSION ", " DRV_RELDATE "\\n";\n',
    'a trailing empty argument without a space (process_pptables_v1_0.c, sunxi_nand.c)': 'void f(int r) { PP_ASSERT_WITH_CODE(r == 0, "exceeds!",); }\nstatic const struct p q = NAND_OP_PARSER(\n\tNAND_OP_PARSER_PATTERN(x,\n\t\tNAND_OP_PARSER_PAT_WAITRDY_ELEM(true)),\n);\n',
    'macros without commas inside a macro argument (pfc-r8a7796.c GROUP)': 'static const struct c r[] = {\n\t{ PINMUX_CFG_REG("IPSR0", 0xe6060200, 32, 4, GROUP(\n\t\tIP0_31_28\n\t\tIP0_27_24\n\t\tIP0_23_20))\n\t},\n};\n',
    'a macro after the last } of a list (floppy.c)': 'static struct p params[] = {\n\t{"L40SX", 0, 0}\n\n\tEXTRA_FLOPPY_PARAMS\n};\n',
    'an initializer macro before a brace (pfc-r8a7790.c PINMUX_BIAS_REG)': 'static const struct b regs[] = {\n\t{ PINMUX_BIAS_REG("PUPR0", 0xe6060100, "N/A", 0) {\n\t\t[0] = 1,\n\t} },\n};\n',
  });
  // A lower-case call at file scope is left alone when no #define of it is in the file (a prototype may follow).
  assert.ok(prepare('foo_bar(class, names)\nstatic int g(void);\n').text.includes('foo_bar(class, names)'));
});
