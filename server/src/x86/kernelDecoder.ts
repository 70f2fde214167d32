// A model of the kernel's own instruction decoder (arch/x86/lib/insn.c,
// insn_decode(..., INSN_MODE_64)), reduced to what handle_mmio() consumes:
// prefixes, REX, VEX/EVEX, the opcode bytes, ModRM/SIB/displacement, the
// immediate and the length. It deliberately reproduces the places where that
// decoder disagrees with the CPU, because the #VE verdict follows the kernel.
//
// Not modelled: the APX REX2 prefix (0xD5, decoded by kernels from 6.10). No
// CPU that runs TDX or SEV-ES guests today implements APX, so a D5 byte raises
// #UD before any MMIO access happens; here D5 is taken as an opcode.

export const MAX_INSN_SIZE = 15;

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

// include/asm/emulate_prefix.h: __XEN_EMULATE_PREFIX / __KVM_EMULATE_PREFIX,
// i.e. ud2 followed by "xen" or "kvm". insn_get_emulate_prefix() skips them.
const XEN_EMULATE_PREFIX = [0x0f, 0x0b, 0x78, 0x65, 0x6e];
const KVM_EMULATE_PREFIX = [0x0f, 0x0b, 0x6b, 0x76, 0x6d];

export interface KernelVex {
  kind: 'vex2' | 'vex3' | 'evex';
  /** The raw prefix bytes, C5/C4/62 included. */
  bytes: number[];
  /** Opcode map (1 = 0F, 2 = 0F38, 3 = 0F3A, ...): insn_vex_m_bits(). */
  map: number;
  /** SIMD prefix id (0 none, 1 = 66, 2 = F3, 3 = F2): insn_vex_p_bits(). */
  pp: number;
}

export interface KernelInsn {
  /** false when insn_decode() itself fails (handle_mmio returns -EINVAL before insn_decode_mmio, so no WARN). */
  ok: boolean;
  error?: string;
  emulatePrefix: number;
  /** Distinct legacy prefixes as the kernel stored them (at most 4). */
  legacyPrefixes: number[];
  /** Legacy prefix bytes consumed, duplicates included. */
  legacyPrefixBytes: number;
  /** The REX byte, 0 if none (insn->rex_prefix.value). */
  rex: number;
  vex: KernelVex | null;
  /** insn->opcode.bytes[0..nbytes) */
  opcode: number[];
  /** insn->opnd_bytes: 4, 2 with 66, 8 with REX.W / VEX.W (and, for EVEX, with the byte the kernel reads as W). */
  opndBytes: number;
  addrBytes: number;
  modrm: number | null;
  sib: number | null;
  dispBytes: number;
  /** insn->immediate.value, sign-extended to 64 bits as the kernel's int field is when assigned to unsigned long. */
  immediate: bigint | null;
  immBytes: number;
  /** insn->length as the kernel computes it (only trusted for the opcodes handle_mmio accepts). */
  length: number;
}

const emptyInsn = (): KernelInsn => ({
  ok: false, emulatePrefix: 0, legacyPrefixes: [], legacyPrefixBytes: 0, rex: 0, vex: null,
  opcode: [], opndBytes: 4, addrBytes: 8, modrm: null, sib: null, dispBytes: 0,
  immediate: null, immBytes: 0, length: 0,
});

function matchAt(b: Uint8Array, at: number, pat: number[]): boolean {
  if (at + pat.length > b.length) return false;
  for (let i = 0; i < pat.length; i++) if (b[at + i] !== pat[i]) return false;
  return true;
}

/**
 * Whether the kernel's AVX attribute tables accept this VEX/EVEX opcode, for the
 * opcode bytes insn_decode_mmio() switches on. Taken from
 * arch/x86/lib/x86-opcode-map.txt via inat_get_avx_attribute(): a non-group
 * entry is looked up in the table of the SIMD prefix (pp), so e.g. VEX.F3.0F C6
 * has no entry and insn_get_opcode() returns -EINVAL.
 * Returns undefined for opcode bytes outside that set (the class is then
 * DECODE_FAILED whatever the table says).
 */
function kernelAcceptsAvx(map: number, op: number, pp: number, evex: boolean, modrmReg: number | null): boolean | undefined {
  if (map === 1) {
    // c6: vshufps Vps,Hps,Wps,Ib | vshufpd Vpd,Hpd,Wpd,Ib (66)
    if (op === 0xc6) return pp === 0 || pp === 1;
    // c7: Grp9 (1A): no member is VEX-ok, so insn_get_modrm() fails.
    if (op === 0xc7) return false;
    // 88-8b Jcc, a4/a5 SHLD, 0f 3DNow!: not VEX-ok.
    if ([0x88, 0x89, 0x8a, 0x8b, 0xa4, 0xa5, 0x0f].includes(op)) return false;
    // Common vector moves (checked against the kernel's code, scripts/kernel/oracle.mjs):
    // 10/11 vmovups|vmovupd (66)|vmovss (F3)|vmovsd (F2); 28/29 vmovaps|vmovapd (66);
    // 6f/7f movq (not VEX) | vmovdqa (66) | vmovdqu (F3) | vmovdqu8/16 (F2),(ev);
    // b6/b7/be/bf MOVZX/MOVSX: not VEX-ok.
    if (op === 0x10 || op === 0x11) return true;
    if (op === 0x28 || op === 0x29) return pp <= 1;
    if (op === 0x6f || op === 0x7f) return pp === 1 || pp === 2 || (pp === 3 && evex);
    if ([0xb6, 0xb7, 0xbe, 0xbf].includes(op)) return false;
    return undefined;
  }
  if (map === 2) {
    // 88: vexpandps/d (66),(ev)  89: vpexpandd/q (66),(ev)
    // 8a: vcompressps/d Wx,Vx (66),(ev)  8b: vpcompressd/q Wx,Vx (66),(ev)
    if (op >= 0x88 && op <= 0x8b) return pp === 1 && evex;
    // c6: Grp18 (1A) / c7: Grp19 (1A): /1 /2 /5 /6 vgather/scatterpf* (66),(ev)
    if (op === 0xc6 || op === 0xc7) return pp === 1 && evex && modrmReg !== null && [1, 2, 5, 6].includes(modrmReg);
    // 0f: vtestpd (66),(v)
    if (op === 0x0f) return pp === 1;
    if (op === 0xa4 || op === 0xa5) return false;
    // 11 vpmovusdb (F3),(ev) | vpsravw (66),(ev); 7f vpermt2ps/d (66),(ev); no 6f;
    // 28/29 vpmuldq|vpcmpeqq (66),(v1) | vpmovm2b/vpmovb2m (F3),(ev); b6-bf vfma* (66),(v).
    if (op === 0x11) return evex && (pp === 1 || pp === 2);
    if (op === 0x7f) return evex && pp === 1;
    if (op === 0x6f) return false;
    if (op === 0x28 || op === 0x29) return pp === 1 || (pp === 2 && evex);
    if ([0xb6, 0xb7, 0xbe, 0xbf].includes(op)) return pp === 1;
    return undefined;
  }
  if (map === 3) {
    // 0f: palignr | vpalignr (66),(v1)
    if (op === 0x0f) return pp === 1;
    if ([0x88, 0x89, 0x8a, 0x8b, 0xa4, 0xa5, 0xc6, 0xc7].includes(op)) return false;
    return undefined;
  }
  if ([0x88, 0x89, 0x8a, 0x8b, 0xa4, 0xa5, 0xc6, 0xc7, 0x0f].includes(op)) return false;
  return undefined;
}

/** Which one-byte/0F-map opcodes carry a ModRM byte, restricted to what the MMIO classes need. */
function legacyHasModrm(opcode: number[]): boolean {
  const op = opcode[0];
  if (opcode.length === 1) return [0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7].includes(op);
  if (opcode.length === 2 && op === 0x0f) return [0xb6, 0xb7, 0xbe, 0xbf].includes(opcode[1]);
  return false;
}

/**
 * Decode like insn_decode(&insn, buffer, MAX_INSN_SIZE, INSN_MODE_64).
 * Fields beyond the opcode are only filled for opcodes that can reach the
 * emulation (the MMIO table and its VEX/EVEX aliases); for anything else the
 * class is DECODE_FAILED and the kernel's length is irrelevant.
 */
export function kernelDecode(input: Uint8Array): KernelInsn {
  const b = input.length > MAX_INSN_SIZE ? input.subarray(0, MAX_INSN_SIZE) : input;
  const insn = emptyInsn();
  let p = 0;
  const fail = (error: string): KernelInsn => { insn.ok = false; insn.error = error; insn.length = p; return insn; };

  if (matchAt(b, 0, XEN_EMULATE_PREFIX) || matchAt(b, 0, KVM_EMULATE_PREFIX)) {
    insn.emulatePrefix = 5;
    p = 5;
  }

  // insn_get_prefixes(): duplicates are skipped without counting; a fifth
  // distinct prefix ends the loop and is then taken as the opcode.
  while (p < b.length && LEGACY_PREFIXES.has(b[p])) {
    const pb = b[p];
    if (!insn.legacyPrefixes.includes(pb)) {
      if (insn.legacyPrefixes.length === 4) break;
      insn.legacyPrefixes.push(pb);
      if (pb === 0x67) insn.addrBytes ^= 12;
      else if (pb === 0x66) insn.opndBytes ^= 6;
    }
    insn.legacyPrefixBytes++;
    p++;
  }
  if (p >= b.length) return fail('-ENODATA: no opcode byte');

  // Only one REX, and only right after the legacy prefixes: a REX followed by
  // another prefix leaves that prefix to be read as the opcode.
  if ((b[p] & 0xf0) === 0x40) {
    insn.rex = b[p];
    p++;
    if (insn.rex & 8) insn.opndBytes = 8;
  }

  // VEX/EVEX: in 64-bit mode C4/C5/62 are always taken as prefixes.
  if (p < b.length && (b[p] === 0xc4 || b[p] === 0xc5 || b[p] === 0x62)) {
    const first = b[p];
    const n = first === 0xc5 ? 2 : first === 0xc4 ? 3 : 4;
    if (p + n > b.length) return fail('-ENODATA: truncated VEX/EVEX prefix');
    const bytes = Array.from(b.subarray(p, p + n));
    let map: number, pp: number;
    if (first === 0xc5) {
      map = 1;
      pp = bytes[1] & 3;
    } else if (first === 0xc4) {
      map = bytes[1] & 0x1f;
      pp = bytes[2] & 3;
      if (bytes[2] & 0x80) insn.opndBytes = 8;
    } else {
      map = bytes[1] & 0x07;
      pp = bytes[2] & 3;
      // insn_get_prefixes() tests X86_VEX_W() on the *fourth* EVEX byte (P2,
      // whose bit 7 is EVEX.z), not on P1 where EVEX.W lives.
      if (bytes[3] & 0x80) insn.opndBytes = 8;
    }
    insn.vex = { kind: first === 0xc5 ? 'vex2' : first === 0xc4 ? 'vex3' : 'evex', bytes, map, pp };
    p += n;
    // inat_get_avx_attribute(): a map without a table gives attribute 0, so
    // insn_get_opcode() fails (VEX maps 1-3; EVEX 1-3, 5, 6). Checked against the
    // kernel's code for 6.1 and 6.12 (c4 07 ..., 62 07 ...).
    if (!(first === 0x62 ? [1, 2, 3, 5, 6] : [1, 2, 3]).includes(map)) {
      insn.opcode.push(b[p] ?? 0);
      return fail('-EINVAL: no attribute table for this VEX/EVEX map');
    }
  }

  if (p >= b.length) return fail('-ENODATA: no opcode byte');
  const op = b[p++];
  insn.opcode.push(op);

  let hasModrm: boolean;
  let immKind: 'none' | 'b' | 'z' = 'none';
  if (insn.vex) {
    // "VEX has only 1 byte for opcode": opcode.bytes[0] is the byte after the prefix.
    const evex = insn.vex.kind === 'evex';
    const peekReg = p < b.length ? (b[p] >> 3) & 7 : null;
    const acc = kernelAcceptsAvx(insn.vex.map, op, insn.vex.pp, evex, peekReg);
    if (acc === false) return fail('-EINVAL: opcode not valid with VEX/EVEX in the kernel tables');
    if (acc === undefined) {
      insn.ok = true;
      insn.length = p;
      return insn;
    }
    hasModrm = true;
    if (insn.vex.map === 1 && op === 0xc6) immKind = 'b';
    if (insn.vex.map === 3 && op === 0x0f) immKind = 'b';
  } else {
    if (op === 0x0f) {
      if (p >= b.length) return fail('-ENODATA: truncated escape');
      insn.opcode.push(b[p++]);
      const op2 = insn.opcode[1];
      if (op2 === 0x38 || op2 === 0x3a) {
        if (p >= b.length) return fail('-ENODATA: truncated escape');
        insn.opcode.push(b[p++]);
      }
    }
    // __get_immptr(): "ptr16:64 is not exist": CALLF/JMPF Ap with REX.W fail.
    if (insn.opcode.length === 1 && (op === 0x9a || op === 0xea) && insn.opndBytes === 8) return fail('-EINVAL: far pointer immediate with a 64-bit operand');
    // 0F 78-7B with 66/F2/F3 as the last prefix: those variants are EVEX-only, so the legacy form has no attribute.
    if (insn.opcode.length === 2 && insn.opcode[1] >= 0x78 && insn.opcode[1] <= 0x7b && [0x66, 0xf2, 0xf3].includes(insn.legacyPrefixes[insn.legacyPrefixes.length - 1])) {
      return fail('-EINVAL: 66/F2/F3 0F 78-7B exist only as EVEX forms');
    }
    hasModrm = legacyHasModrm(insn.opcode);
    if (!hasModrm && insn.opcode.length === 1 && (op === 0xa4 || op === 0xa5)) {
      insn.ok = true;
      insn.length = p;
      return insn;
    }
    if (!hasModrm) {
      insn.ok = true;
      insn.length = p;
      return insn;
    }
  }

  if (p >= b.length) return fail('-ENODATA: no ModRM');
  const modrm = b[p++];
  insn.modrm = modrm;
  const mod = modrm >> 6, rm = modrm & 7;

  if (!insn.vex && insn.opcode.length === 1 && (op === 0xc6 || op === 0xc7)) {
    // "c6: Grp11A Eb,Ib (1A)" / "c7: Grp11B Ev,Iz (1A)": the immediate is on the
    // opcode's own attribute, which inat_get_group_attribute() keeps for every
    // /digit (inat_group_common_attribute()), so /1-/6 carry it too (checked
    // against the kernel's code: c6 27 11 is 3 bytes long there).
    immKind = op === 0xc6 ? 'b' : 'z';
  }

  if (mod !== 3 && rm === 4) {
    if (p >= b.length) return fail('-ENODATA: no SIB');
    insn.sib = b[p++];
  }
  if (mod === 1) insn.dispBytes = 1;
  else if (mod === 2 || (mod === 0 && rm === 5) || (mod === 0 && insn.sib !== null && (insn.sib & 7) === 5)) insn.dispBytes = 4;
  if (p + insn.dispBytes > b.length) return fail('-ENODATA: truncated displacement');
  p += insn.dispBytes;

  if (immKind !== 'none') {
    const n = immKind === 'b' ? 1 : insn.opndBytes === 2 ? 2 : 4;
    if (p + n > b.length) return fail('-ENODATA: truncated immediate');
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]);
    insn.immediate = BigInt.asUintN(64, BigInt.asIntN(n * 8, v));
    insn.immBytes = n;
    p += n;
  }
  insn.ok = true;
  insn.length = p;
  return insn;
}

/**
 * get_regno(insn, REG_TYPE_REG): ModRM.reg plus 8 when REX.R is set in
 * insn->rex_prefix. VEX.R / EVEX.R / EVEX.R' are not consulted.
 */
export function kernelRegSlot(insn: KernelInsn): number | null {
  if (insn.modrm === null) return null;
  return ((insn.modrm >> 3) & 7) + (insn.rex & 4 ? 8 : 0);
}
