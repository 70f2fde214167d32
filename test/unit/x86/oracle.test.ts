// The model against the kernel's own code, run in user space (scripts/kernel/oracle.mjs):
// for each profile, every encoding of a generated corpus (the opcode space under
// prefix and ModRM variants, VEX/EVEX forms, port I/O, the SEV and prefix cases
// of issue 13) goes through the real insn_decode/insn_decode_mmio/handle_mmio/
// handle_io (TDX) and vc_handle_mmio/vc_handle_ioio (SEV), and through
// x86/handlers.ts + x86/emulate.ts. Compared: outcome (handled / which error /
// WARN), class, size, length, the registers afterwards, and the value sent to
// the host. Skips, saying why, without linux-source-6.1/6.12 or a C compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { buildOracle, ORACLE_REGS, ORACLE_RIP, type Oracle, type OracleResult } from '../../../scripts/kernel/oracle.mjs';
import { handle, portInResult, portOutValue, type HandlerRecord } from '../../../server/src/x86/handlers';
import { emulate, effectiveAddress } from '../../../server/src/x86/emulate';
import { cpuDecode } from '../../../server/src/x86/iced';
import { kernelDecode } from '../../../server/src/x86/kernelDecoder';
import { profileData, type Profile } from '../../../server/src/x86/profiles';

const MMIO_ENUM = ['DECODE_FAILED', 'WRITE', 'WRITE_IMM', 'READ', 'READ_ZERO_EXTEND', 'READ_SIGN_EXTEND', 'MOVS'];
const ES = ['ES_OK', 'ES_UNSUPPORTED', 'ES_VMM_ERROR', 'ES_DECODE_FAILED', 'ES_EXCEPTION', 'ES_RETRY'];
const ERRNO: Record<number, string> = { [-22]: '-EINVAL', [-14]: '-EFAULT', [-5]: '-EIO' };
const DEFAULT_GLA = 0xffffc90000001000n;
const DEVICES = [0x8899aabbccddeeffn, 0x0102030405067f70n];

const hex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join('');

/** The corpus: opcode space x prefixes x ModRM forms, VEX/EVEX, port I/O, and the cases. */
function corpus(): number[][] {
  const out: number[][] = [];
  const seen = new Set<string>();
  const add = (b: number[]) => {
    const c = b.slice(0, 15);
    const k = hex(c);
    if (!seen.has(k)) { seen.add(k); out.push(c); }
  };
  const IMM = [0x11, 0x22, 0x33, 0x84, 0x55, 0x66, 0x77, 0x88];
  const PREFIXES = [[], [0x66], [0x67], [0xf3], [0xf0], [0x2e], [0x65], [0x64, 0x65], [0x48], [0x41], [0x44], [0x4c], [0x66, 0x48], [0x48, 0x66], [0x40], [0x26, 0x3e], [0x67, 0x48], [0x65, 0x65]];
  const TAILS = [[0x07], [0x47, 0x10], [0x84, 0x24, 0x10, 0x20, 0x00, 0x00], [0x05, 0x10, 0x00, 0x00, 0x00], [0x27], [0x3f], [0xc7]];
  const MMIO_OPS = new Set([0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0xa4, 0xa5]);
  const MMIO_0F = new Set([0xb6, 0xb7, 0xbe, 0xbf]);
  for (const p of PREFIXES) {
    for (let op = 0; op < 256; op++) {
      const rich = MMIO_OPS.has(op) || (op >= 0xe4 && op <= 0xef) || (op >= 0x6c && op <= 0x6f);
      for (const t of rich ? TAILS : TAILS.slice(0, 2)) add([...p, op, ...t, ...IMM]);
      const rich2 = MMIO_0F.has(op);
      if (rich2 || p.length <= 1) for (const t of rich2 ? TAILS : TAILS.slice(0, 1)) add([...p, 0x0f, op, ...t, ...IMM]);
    }
  }
  // VEX / EVEX forms the kernel keeps one opcode byte of.
  for (const op of [0x10, 0x11, 0x28, 0x29, 0x6f, 0x7f, 0xc6, 0xb6, 0x88, 0x89, 0x8a, 0x8b]) {
    add([0xc5, 0xf8, op, 0x07, ...IMM]);
    add([0xc5, 0xf9, op, 0x07, ...IMM]);
    add([0xc4, 0xe1, 0x79, op, 0x07, ...IMM]);
    add([0xc4, 0xe2, 0x79, op, 0x07, ...IMM]);
    add([0x62, 0xf1, 0x7c, 0x08, op, 0x07, ...IMM]);
    add([0x62, 0xf2, 0x7d, 0x08, op, 0x07, ...IMM]);
  }
  // The cases and a few io.h accessor forms.
  for (const s of ['48c70711223344', '48c707ffffffff', '66c7071122', 'c60711', '64a5', '65a4', '65f3a5', '67a5', '67f3a5', '67890700', '6465890700', '2e3e8b0700', '6465880700',
    '8a07', '668b07', '8b07', '488b07', '8807', '668907', '8907', '488907', '0fb607', '0fb707', '480fbe07', '0fbf07', '88270000', '8a2f0000', '4088270000']) {
    add(s.match(/../g)!.map((x) => parseInt(x, 16)));
  }
  return out;
}

/** TDX exit qualification for a port I/O instruction (what the TDX module reports), +1 (0 = not port I/O). */
function ioKind(r: HandlerRecord, bytes: number[]): number {
  if (r.exit.kind !== 'port-io') return 0;
  const string = r.class === 'PORT_STRING';
  const rep = string && (bytes.includes(0xf3) || bytes.includes(0xf2));
  const port = r.hypercall && r.hypercall.kind === 'tdvmcall' && typeof r.hypercall.r14 === 'string' && r.hypercall.r14.startsWith('0x')
    ? parseInt(r.hypercall.r14, 16) : Number(ORACLE_REGS[2] & 0xffffn);
  return ((r.size - 1) | (r.direction === 'read' ? 8 : 0) | (string ? 16 : 0) | (rep ? 32 : 0) | (port << 16)) + 1;
}

interface Tally { total: number; agree: number; misses: string[] }
const tally = (): Tally => ({ total: 0, agree: 0, misses: [] });
function count(t: Tally, ok: boolean, what: () => string) {
  t.total++;
  if (ok) t.agree++;
  else if (t.misses.length < Number(process.env.TDX_ORACLE_MISSES ?? 12)) t.misses.push(what());
}
const pct = (t: Tally) => (t.total ? (100 * t.agree) / t.total : 100);
const big = (s: string) => BigInt('0x' + s);
const leBytes = (s: string, n: number) => { let v = 0n; for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(s.slice(2 * i, 2 * i + 2), 16)); return v; };
const mask = (n: number) => (n >= 8 ? (1n << 64n) - 1n : (1n << BigInt(8 * n)) - 1n);

function compare(series: '6.1' | '6.12', results: OracleResult[], cases: { bytes: number[]; gla: bigint; dev: bigint }[], profiles: { tdx: Profile; sev: Profile }) {
  const t = { outcome: tally(), cls: tally(), size: tally(), length: tally(), effect: tally(), port: tally() };
  const s = { outcome: tally(), effect: tally(), port: tally() };
  for (let i = 0; i < cases.length; i++) {
    const { bytes, gla, dev } = cases[i];
    const o = results[i];
    const u8 = Uint8Array.from(bytes);
    const name = hex(bytes);
    // --- TDX
    const rt = handle(u8, profiles.tdx, { exit: 'mmio' });
    const decoded = o.d === 0;
    count(t.cls, (decoded ? MMIO_ENUM[o.cls] : 'DECODE_FAILED') === rt.class && decoded === (rt.mmio?.kernel.decoded ?? false), () => `${name}: kernel ${decoded ? MMIO_ENUM[o.cls] : 'insn_decode failed'}, model ${rt.class}${rt.mmio?.kernel.decoded ? '' : ' (no decode)'}`);
    if (decoded && o.cls > 0) count(t.size, o.size === rt.size, () => `${name}: size kernel ${o.size}, model ${rt.size}`);
    const kOk = o.tdx.ret > 0;
    // The record leaves address checks to run time; emulate() applies them to this case's address.
    const e = rt.outcome.result === 'handled' ? emulate(u8, { regs: ORACLE_REGS, deviceValue: dev, gla, gpa: 0x1234000n, rip: ORACLE_RIP, profile: profiles.tdx }) : null;
    const mOk = rt.outcome.result === 'handled' && e?.kernel.status === 'ok';
    const mCode = e?.kernel.status === 'fault' ? e.kernel.errno ?? null : rt.outcome.code;
    const mWarn = e?.kernel.status === 'fault' ? e.kernel.warn : rt.outcome.warn;
    const kCode = kOk ? null : ERRNO[o.tdx.ret] ?? String(o.tdx.ret);
    count(t.outcome, kOk === mOk && (kOk || kCode === mCode) && (o.tdx.warn > 0) === mWarn,
      () => `${name}: kernel ${kOk ? 'handled' : kCode}${o.tdx.warn ? '+WARN' : ''}, model ${mOk ? 'handled' : mCode}${mWarn ? '+WARN' : ''}`);
    if (kOk && mOk && e) {
      count(t.length, o.tdx.ret === rt.rip.bytes, () => `${name}: RIP advance kernel ${o.tdx.ret}, model ${rt.rip.bytes}`);
      const regsOk = e.kernel.regs.every((r, k) => r === big(o.tdx.regs[k]));
      const size = rt.size;
      const sent = e.kernel.access?.direction === 'write' ? (big(o.tdx.hc[5]) & mask(size)) === ((e.kernel.access.value ?? 0n) & mask(size)) : true;
      count(t.effect, regsOk && sent && big(o.tdx.hc[2]) === BigInt(size), () => `${name}: registers/value differ (kernel rax ${o.tdx.regs[0]} r15 ${o.tdx.hc[5]}, model rax ${e.kernel.regs[0].toString(16)} value ${e.kernel.access?.value?.toString(16)})`);
    }
    // --- TDX port I/O
    const rp = handle(u8, profiles.tdx);
    if (rp.exit.kind === 'port-io' && o.tdxio) {
      const ok = o.tdxio.ret > 0;
      let eff = ok === (rp.outcome.result === 'handled') && (ok || rp.outcome.code === ERRNO[o.tdxio.ret]);
      if (ok && eff) {
        const prof = profileData(profiles.tdx);
        if (rp.class === 'PORT_IN') eff = big(o.tdxio.regs[0]) === portInResult(prof, rp.size as 1 | 2 | 4, ORACLE_REGS[0], dev);
        else eff = big(o.tdxio.hc[5]) === portOutValue(prof, rp.size as 1 | 2 | 4, ORACLE_REGS[0]);
        eff &&= big(o.tdxio.hc[2]) === BigInt(rp.size);
      }
      count(t.port, eff, () => `${name}: handle_io ret ${o.tdxio!.ret} rax ${o.tdxio!.regs[0]} r15 ${o.tdxio!.hc[5]}; model ${rp.class}/${rp.size} ${rp.outcome.result}`);
    }
    // --- SEV
    const rs = handle(u8, profiles.sev, { exit: rp.exit.kind === 'port-io' ? 'port-io' : 'mmio' });
    const kRes = o.sev ? ES[o.sev.ret] : 'ES_DECODE_FAILED';
    const mRes = rs.outcome.result === 'handled' ? 'ES_OK' : rs.outcome.result === 'retried' ? 'ES_RETRY' : rs.outcome.code;
    const tallyS = rp.exit.kind === 'port-io' ? s.port : s.outcome;
    count(tallyS, kRes === mRes, () => `${name}: ${rp.exit.kind === 'port-io' ? 'vc_handle_ioio' : 'vc_handle_mmio'} ${kRes}, model ${mRes}`);
    if (o.sev && kRes === 'ES_OK' && mRes === 'ES_OK') {
      if (rs.exit.kind === 'mmio' && rs.class !== 'MOVS') {
        const e = emulate(u8, { regs: ORACLE_REGS, deviceValue: dev, gla, gpa: 0x1234000n, rip: ORACLE_RIP, profile: profiles.sev });
        const regsOk = e.kernel.regs.every((r, k) => r === big(o.sev!.regs[k]));
        const sent = e.kernel.access?.direction === 'write' ? leBytes(o.sev.sent, rs.size) === ((e.kernel.access.value ?? 0n) & mask(rs.size)) : true;
        count(s.effect, regsOk && sent, () => `${name}: SEV registers/value differ (kernel rax ${o.sev!.regs[0]} sent ${o.sev!.sent}, model rax ${e.kernel.regs[0].toString(16)} value ${e.kernel.access?.value?.toString(16)})`);
      } else if (rs.exit.kind === 'port-io' && rs.class !== 'PORT_STRING') {
        const prof = profileData(profiles.sev);
        const eff = rs.class === 'PORT_IN'
          ? big(o.sev.regs[0]) === portInResult(prof, rs.size as 1 | 2 | 4, ORACLE_REGS[0], dev)
          : big(o.sev.rax) === portOutValue(prof, rs.size as 1 | 2 | 4, ORACLE_REGS[0]);
        count(s.port, eff, () => `${name}: SEV port rax ${o.sev!.regs[0]} sent ${o.sev!.rax}`);
      }
    }
  }
  return { tdx: t, sev: s };
}

/** Distinct encodings with a memory operand in real gcc output (objdump -d of system binaries), or a reason to skip. */
function realEncodings(): number[][] | string {
  const bins = ['/usr/bin/bash', '/bin/bash', '/usr/bin/tar', '/bin/tar'].filter((b) => existsSync(b));
  if (!bins.length) return 'no /usr/bin/bash or /usr/bin/tar to take compiled code from';
  const r = spawnSync('objdump', ['-d', '--insn-width=15', ...new Set(bins.map((b) => realpathSync(b)))], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) return `objdump: ${r.error?.message ?? r.stderr.trim()}`;
  const seen = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const f = line.split('\t');
    if (f.length >= 3 && f[2].includes('(')) seen.add(f[1].trim());
  }
  return [...seen].sort().map((h) => h.split(' ').map((x) => parseInt(x, 16)));
}

const PROFILES_OF = {
  '6.1': { tdx: 'tdx-linux-6.1' as Profile, sev: 'sev-es-linux-6.1.192' as Profile },
  '6.12': { tdx: 'tdx-linux-6.12+' as Profile, sev: 'sev-es' as Profile },
};

function runCorpus(tc: { diagnostic(s: string): void }, o: Oracle, series: '6.1' | '6.12', encodings: number[][], label: string, floor: number) {
  const profiles = PROFILES_OF[series];
  const cases = encodings.map((bytes, i) => {
    const cpu = cpuDecode(Uint8Array.from(bytes));
    // The linear address the CPU forms (ve->gla); for bytes the CPU will not run, the
    // address a 0x67 form would have (32-bit), else a kernel MMIO address.
    const k = kernelDecode(Uint8Array.from(bytes));
    const addr32 = k.addrBytes === 4 && !(k.modrm !== null && k.modrm >> 6 === 3);
    const gla = effectiveAddress(cpu, ORACLE_REGS, ORACLE_RIP) ?? (addr32 ? DEFAULT_GLA & 0xffffffffn : DEFAULT_GLA);
    return { bytes, gla, dev: DEVICES[i % 2] };
  });
  const lines = cases.map((c) => {
    const r = handle(Uint8Array.from(c.bytes), profiles.tdx);
    return `${hex(c.bytes)} ${c.gla.toString(16)} ${c.dev.toString(16)} ${ioKind(r, c.bytes)}`;
  });
  const results = o.run(lines);
  assert.equal(results.length, cases.length);
  const r = compare(series, results, cases, profiles);
  const rows: string[] = [];
  for (const [plat, t] of Object.entries(r)) {
    for (const [what, x] of Object.entries(t)) {
      rows.push(`${plat} ${what}: ${x.agree}/${x.total} (${pct(x).toFixed(3)} %)`);
      for (const m of x.misses) rows.push(`  ${m}`);
    }
  }
  tc.diagnostic(`Linux ${o.version}, ${label}: ${cases.length} encodings\n${rows.join('\n')}`);
  for (const [plat, t] of Object.entries(r)) {
    for (const [what, x] of Object.entries(t)) assert.ok(pct(x) >= floor, `${plat} ${what}: ${pct(x).toFixed(3)} % < ${floor} %\n${x.misses.join('\n')}`);
  }
}

for (const series of ['6.1', '6.12'] as const) {
  test(`the model agrees with the kernel's own handler code (Linux ${series}, generated corpus)`, (tc) => {
    const o = buildOracle(series);
    if ('skip' in o) {
      tc.skip(o.skip);
      return;
    }
    assert.equal(profileData(PROFILES_OF[series].tdx).kernel.sublevel, Number(o.version.split('.')[2]), `the ${PROFILES_OF[series].tdx} alias is ${o.version}`);
    runCorpus(tc, o, series, corpus(), 'generated corpus', 99.9);
  });
  test(`the model agrees with the kernel's own handler code (Linux ${series}, every memory-operand encoding gcc emitted in bash and tar)`, (tc) => {
    const o = buildOracle(series);
    if ('skip' in o) {
      tc.skip(o.skip);
      return;
    }
    const real = realEncodings();
    if (typeof real === 'string') {
      tc.skip(real);
      return;
    }
    runCorpus(tc, o, series, real, 'compiled code (objdump of bash, tar)', 100);
  });
}
