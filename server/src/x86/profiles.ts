// Every way the modelled #VE / #VC handlers differ between kernel versions and
// platforms lives here, so a version question has one answer.
//
// A profile is a platform plus an exact kernel version. Its behaviour fields are
// derived from KERNEL_FACTS: each fact says in which mainline release and in which
// stable point release of each branch a behaviour came in, and when it went away.
// The four named profiles of earlier releases stay as aliases for a version each.
//
// This module owns the Profile type (audit/engine.ts re-exports it), so the x86
// model imports nothing from the audit layer.

export type Platform = 'tdx' | 'sev-es';

/** The named profiles (settings, CLI); each is an alias for a platform and version. */
export type NamedProfile = 'tdx-linux-6.12+' | 'tdx-linux-6.1' | 'tdx-linux-5.19' | 'sev-es';
/** A version-derived profile: `tdx-linux-6.1.192`, `sev-es-linux-6.12.118`, `tdx-linux-5.19.0-rc1`. */
export type VersionedProfile = `tdx-linux-${number}.${string}` | `sev-es-linux-${number}.${string}`;
export type Profile = NamedProfile | VersionedProfile;

export interface KernelVersion {
  /** Makefile VERSION, PATCHLEVEL, SUBLEVEL. */
  version: number;
  patchlevel: number;
  sublevel: number;
  /** EXTRAVERSION -rcN; absent for a release. */
  rc?: number;
}

// ---------------------------------------------------------------------------
// The fact table

/** When a behaviour reached a kernel: a mainline release and stable point releases of older branches. */
export interface Landing {
  /** First mainline version with it (x.y.0, or x.y.0-rcN); null when not in mainline. */
  mainline: KernelVersion | null;
  /** Stable branches older than `mainline` that got it, by "x.y" -> first sublevel. */
  stable: Readonly<Record<string, number>>;
}

export type FactId =
  | 'tdx-page-split-check'
  | 'insn-mmio-enum-rename'
  | 'tdx-mmio-read-r15-leak'
  | 'tdx-user-half-refused'
  | 'tdx-port-in-mask-off-by-one'
  | 'tdx-port-inl-no-zero-extend'
  | 'tdx-cpuid-no-zero-extend'
  | 'sev-mmio-user-mode-refused'
  | 'sev-write-imm-immediate1-bytes'
  | 'sev-movs-segment-and-addr32-ignored'
  | 'sev-port-in-clears-rax'
  | 'sev-string-io-retry-without-rep'
  | 'unrolled-string-mmio'
  | 'iowrite32-copy-inline';

export interface KernelFact {
  id: FactId;
  platform: Platform | 'all';
  /** The behaviour, while it holds. */
  what: string;
  /** Kernel file and function. */
  source: string;
  /** Commit subject(s) that brought or removed it. */
  commits: string;
  /** When it appeared; 'always' = from the first version this tool models (5.19-rc1). */
  introduced: Landing | 'always';
  /** When it went away; null = still there in every version checked. */
  fixed: Landing | null;
  /** Where the release numbers come from. */
  evidence: string;
}

const v = (version: number, patchlevel: number, sublevel = 0, rc?: number): KernelVersion =>
  rc === undefined ? { version, patchlevel, sublevel } : { version, patchlevel, sublevel, rc };
const mainlineOnly = (m: KernelVersion): Landing => ({ mainline: m, stable: {} });

const DEBIAN_CL = 'Debian changelog.Debian.gz of linux-source-6.1 6.1.192-3 and linux-source-6.12 6.12.118-1~deb12u1 (upstream ChangeLog-x.y.z sections)';

export const KERNEL_FACTS: readonly KernelFact[] = [
  {
    id: 'tdx-page-split-check', platform: 'tdx',
    what: 'handle_mmio() rejects an access that splits a page (-EFAULT), computing the address with insn_get_addr_ref()',
    source: 'arch/x86/coco/tdx/tdx.c handle_mmio()',
    commits: 'x86/tdx: Reject EPT violation #VEs that split pages',
    introduced: mainlineOnly(v(5, 19, 0, 3)), fixed: null,
    evidence: 'docs/tdx-ve-rules.md section 6 (5.19-rc1 lacks it, 5.19-rc3 has it)',
  },
  {
    id: 'insn-mmio-enum-rename', platform: 'all',
    what: 'enum insn_mmio_type / INSN_MMIO_* (before: enum mmio_type / MMIO_*)',
    source: 'arch/x86/include/asm/insn-eval.h',
    commits: 'x86/insn-eval: rename enum mmio_type to insn_mmio_type',
    introduced: mainlineOnly(v(6, 2, 0, 1)), fixed: null,
    evidence: '6.1.192 still has MMIO_*, 6.12.118 INSN_MMIO_* (Debian sources); 6.2 per docs/tdx-ve-rules.md',
  },
  {
    id: 'tdx-mmio-read-r15-leak', platform: 'tdx',
    what: 'mmio_read() passes an uninitialised R15 (.r15 = *val) to the host',
    source: 'arch/x86/coco/tdx/tdx.c mmio_read()',
    commits: 'x86/tdx: Fix data leak in mmio_read()',
    introduced: 'always',
    fixed: { mainline: v(6, 11, 0, 7), stable: { '6.1': 110, '6.6': 51, '6.10': 10 } },
    evidence: `${DEBIAN_CL}: 6.1.110, 6.10.10; 6.6.51 released the same day (12 Sep 2024)`,
  },
  {
    id: 'tdx-user-half-refused', platform: 'tdx',
    what: 'handle_mmio(): !fault_in_kernel_space(ve->gla) -> WARN_ONCE "Access to userspace address is not supported", -EINVAL',
    source: 'arch/x86/coco/tdx/tdx.c handle_mmio()',
    commits: 'x86/tdx: Fix "in-kernel MMIO" check (CVE-2024-47727)',
    introduced: { mainline: v(6, 12, 0, 1), stable: { '6.1': 113, '6.6': 54 } }, fixed: null,
    evidence: `${DEBIAN_CL}: 6.1.113; linux-stable push ending "Linux 6.6.54"; mainline d4fc4d014715 (x86-urgent for 6.12-rc1)`,
  },
  {
    id: 'tdx-port-in-mask-off-by-one', platform: 'tdx',
    what: 'handle_in() masks with GENMASK(BITS_PER_BYTE * size, 0): one bit too many (bit 8 of RAX for INB, 16 for INW, 32 for INL) is cleared and taken from the host',
    source: 'arch/x86/coco/tdx/tdx.c handle_in()',
    commits: 'x86/tdx: Fix off-by-one in port I/O handling',
    introduced: 'always',
    fixed: { mainline: v(7, 2, 0), stable: { '6.1': 188, '6.6': 157, '6.12': 109 } },
    evidence: `${DEBIAN_CL}: 6.1.188, 6.12.109; linux-stable-rc push "Linux 6.6.157-rc1" (9 Sep 2026); mainline 0f63e656b1c6 merged during 7.2-rc (July 2026)`,
  },
  {
    id: 'tdx-port-inl-no-zero-extend', platform: 'tdx',
    what: 'handle_in() for a 4-byte IN leaves RAX[63:32] (the CPU zero-extends)',
    source: 'arch/x86/coco/tdx/tdx.c handle_in()',
    commits: 'x86/tdx: Fix zero-extension for 32-bit port I/O (with x86/insn-eval: Move assign_register() out of KVM as insn_assign_reg())',
    introduced: 'always',
    fixed: { mainline: v(7, 2, 0), stable: { '6.1': 188, '6.6': 157, '6.12': 109 } },
    evidence: `${DEBIAN_CL}: 6.1.188, 6.12.109; linux-stable-rc push "Linux 6.6.157-rc1"; mainline 941370fc93cc`,
  },
  {
    id: 'tdx-cpuid-no-zero-extend', platform: 'tdx',
    what: 'handle_cpuid() copies the VMM\'s full 64-bit R12-R15 into RAX-RDX (the CPU writes 32 bits, zero-extended)',
    source: 'arch/x86/coco/tdx/tdx.c handle_cpuid()',
    commits: 'zero-extension patch posted May 2026, not merged in any source checked',
    introduced: 'always', fixed: null,
    evidence: '6.1.192 and 6.12.118 sources (regs->ax = args.r12)',
  },
  {
    id: 'sev-mmio-user-mode-refused', platform: 'sev-es',
    what: 'vc_handle_mmio(): user_mode(regs) -> ES_UNSUPPORTED',
    source: 'arch/x86/coco/sev/core.c vc_handle_mmio() (arch/x86/kernel/sev.c before 6.9)',
    commits: 'x86/sev: Disable MMIO emulation from user mode (CVE-2023-46813)',
    introduced: { mainline: v(6, 6, 0, 7), stable: { '6.1': 60 } }, fixed: null,
    evidence: `${DEBIAN_CL}: 6.1.60`,
  },
  {
    id: 'sev-write-imm-immediate1-bytes', platform: 'sev-es',
    what: 'WRITE_IMM copies `bytes` bytes of insn->immediate1.bytes: for an 8-byte store of an imm32 the upper 4 are the insn_field\'s got/nbytes/padding, not the sign extension',
    source: 'arch/x86/coco/sev/core.c vc_handle_mmio()',
    commits: 'x86/sev-es: Handle MMIO events (5.10)',
    introduced: 'always', fixed: null,
    evidence: '6.1.192 arch/x86/kernel/sev.c and 6.12.118 arch/x86/coco/sev/core.c',
  },
  {
    id: 'sev-movs-segment-and-addr32-ignored', platform: 'sev-es',
    what: 'vc_handle_mmio_movs() reads from DS base + RSI and writes ES base + RDI: an FS/GS source override is ignored, and 0x67 still uses the 64-bit RSI/RDI/RCX',
    source: 'arch/x86/coco/sev/core.c vc_handle_mmio_movs()',
    commits: 'x86/sev-es: Handle MMIO String Instructions (5.10)',
    introduced: 'always', fixed: null,
    evidence: '6.1.192 and 6.12.118 sources',
  },
  {
    id: 'sev-port-in-clears-rax', platform: 'sev-es',
    what: 'vc_handle_ioio(): IN sets regs->ax = lower_bits(ghcb rax, bits): INB/INW clear RAX[63:8]/[63:16] (the CPU keeps them)',
    source: 'arch/x86/coco/sev/shared.c vc_handle_ioio() (arch/x86/kernel/sev-shared.c before 6.9)',
    commits: 'x86/sev-es: Handle I/O instructions (5.10)',
    introduced: 'always', fixed: null,
    evidence: '6.1.192 and 6.12.118 sources (identical function)',
  },
  {
    id: 'sev-string-io-retry-without-rep', platform: 'sev-es',
    what: 'vc_handle_ioio(): INS/OUTS without REP return ES_RETRY whenever RCX != 0 (`ret = regs->cx ? ES_RETRY : ES_OK` is not limited to REP, and RCX is only decremented under REP): the instruction is executed again and again, moving RSI/RDI each time',
    source: 'arch/x86/coco/sev/shared.c vc_handle_ioio() (arch/x86/kernel/sev-shared.c before 6.9)',
    commits: 'x86/sev-es: Handle I/O instructions (5.10)',
    introduced: 'always', fixed: null,
    evidence: 'found by running the 6.1.192 and 6.12.118 code in user space (scripts/kernel/oracle.mjs): "6e" with RCX != 0 returns ES_RETRY, RSI advanced, RCX unchanged',
  },
  {
    id: 'unrolled-string-mmio', platform: 'tdx',
    what: 'memcpy_fromio/memcpy_toio/memset_io and ins*/outs* are unrolled into single accesses under CC_ATTR_GUEST_UNROLL_STRING_IO',
    source: 'arch/x86/lib/iomem.c, arch/x86/include/asm/io.h BUILDIO',
    commits: 'x86/tdx: Add unrolled string I/O; x86/boot: Avoid #VE during boot for TDX platforms (5.18)',
    introduced: 'always', fixed: null,
    evidence: 'docs/tdx-ve-rules.md section 4 (v5.18, before the TDX guest itself)',
  },
  {
    id: 'iowrite32-copy-inline', platform: 'all',
    what: '__iowrite32_copy() is a static inline "rep ; movsl" in asm/io.h: the MOVS sits in the caller (before: out of line in arch/x86/lib/iomap_copy_64.S)',
    source: 'arch/x86/include/asm/io.h __iowrite32_copy()',
    commits: 'x86: Stop using weak symbols for __iowrite32_copy()',
    introduced: mainlineOnly(v(6, 10, 0, 1)), fixed: null,
    evidence: 'docs/tdx-ve-rules.md section 4; 6.1.192 has arch/x86/lib/iomap_copy_64.S, 6.12.118 the inline asm',
  },
];

const FACTS_BY_ID = new Map(KERNEL_FACTS.map((f) => [f.id, f]));

/** Orders versions; an -rcN comes before its release. */
export function compareVersions(a: KernelVersion, b: KernelVersion): number {
  return a.version - b.version || a.patchlevel - b.patchlevel || a.sublevel - b.sublevel ||
    (a.rc ?? Number.MAX_SAFE_INTEGER) - (b.rc ?? Number.MAX_SAFE_INTEGER);
}

export function formatVersion(k: KernelVersion): string {
  return `${k.version}.${k.patchlevel}.${k.sublevel}${k.rc !== undefined ? `-rc${k.rc}` : ''}`;
}

/** Whether `k` contains a change that landed as `l`. */
export function landedIn(l: Landing, k: KernelVersion): boolean {
  if (l.mainline && compareVersions(k, l.mainline) >= 0) return true;
  const first = l.stable[`${k.version}.${k.patchlevel}`];
  return first !== undefined && k.rc === undefined && k.sublevel >= first;
}

/** Whether a fact holds in kernel `k`. */
export function factHolds(id: FactId, k: KernelVersion): boolean {
  const f = FACTS_BY_ID.get(id)!;
  const in_ = f.introduced === 'always' || landedIn(f.introduced, k);
  return in_ && !(f.fixed && landedIn(f.fixed, k));
}

/** The branches the fact table is written for. */
export const BRANCHES = ['mainline', '5.19', '6.1.y', '6.6.y', '6.12.y'] as const;
export type Branch = (typeof BRANCHES)[number];

/** "introduced"/"fixed" of a landing on one branch, as a release name, 'always', or null (never). */
function landingOn(l: Landing | 'always' | null, branch: Branch): string | null {
  if (l === 'always') return 'always';
  if (!l) return null;
  if (branch === 'mainline') return l.mainline ? formatVersion(l.mainline).replace(/\.0(-rc\d+)?$/, '$1') : null;
  const [ma, mi] = branch.replace('.y', '').split('.').map(Number);
  const base = v(ma, mi);
  if (l.mainline && compareVersions(base, l.mainline) >= 0) return `${ma}.${mi}`;
  const s = l.stable[`${ma}.${mi}`];
  return s !== undefined ? `${ma}.${mi}.${s}` : null;
}

/** Each fact per branch: where it was introduced and fixed there (null = never on that branch). */
export function factTable(): { id: FactId; platform: KernelFact['platform']; branch: Branch; introduced: string | null; fixed: string | null }[] {
  const out = [];
  for (const f of KERNEL_FACTS) {
    for (const b of BRANCHES) out.push({ id: f.id, platform: f.platform, branch: b, introduced: landingOn(f.introduced, b), fixed: landingOn(f.fixed, b) });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Profiles

export interface ProfileData {
  id: Profile;
  platform: Platform;
  /** The kernel version the fields are derived for. */
  kernel: KernelVersion;
  /** The named profile this is, if it is one. */
  alias: NamedProfile | null;
  /** arch/x86/coco/tdx/tdx.c handle_mmio rejects MOVS; sev vc_handle_mmio_movs emulates it. */
  movs: 'rejected' | 'emulated';
  /** "Reject EPT violation #VEs that split pages" in handle_mmio: absent only in 5.19-rc1/rc2. */
  pageSplitCheck: boolean;
  /** handle_mmio: `if (!fault_in_kernel_space(ve->gla)) WARN_ONCE(...); return -EINVAL` (6.12-rc1, CVE-2024-47727, stable 6.1.113/6.6.54). */
  userHalfRefused: boolean;
  /** mmio_read passed `.r15 = *val` (uninitialised) to the host until 6.11-rc7 (6.1.110, 6.6.51). */
  r15LeakOnRead: boolean;
  /** enum mmio_type / MMIO_* before 6.2, enum insn_mmio_type / INSN_MMIO_* after. */
  enumPrefix: 'MMIO_' | 'INSN_MMIO_';
  /** What a failed emulation does to the guest. */
  failure: 'oops' | 'terminate-guest';
  /** The hypercall the handler issues. */
  hypercall: 'tdvmcall' | 'ghcb';
  /**
   * DECODE_FAILED after a successful insn_decode() fires WARN_ON_ONCE: TDX
   * handle_mmio() does; SEV vc_handle_mmio() returns ES_DECODE_FAILED silently.
   */
  decodeFailedWarns: boolean;
  /** WRITE_IMM's value: TDX insn.immediate.value (sign-extended); SEV memcpy of immediate1.bytes. */
  writeImmValue: 'immediate-value' | 'immediate1-bytes';
  /** What happens when insn_get_addr_ref() fails (two different segment overrides). */
  addrRefFailure: 'page-split-efault' | 'es-unsupported' | 'not-computed';
  /** MOVS source: DS base + RSI whatever the override; 64-bit RSI/RDI/RCX whatever 0x67 says. */
  movsIgnoresOverrides: boolean;
  /** Port I/O: IN result. */
  portIn: {
    /** GENMASK(8*size, 0): one extra bit cleared and taken from the host. */
    maskExtraBit: boolean;
    /** INL: RAX[63:32] after the emulation. */
    inlUpper: 'kept' | 'zeroed';
    /** INB/INW: the RAX bits above the access. */
    narrowUpper: 'kept' | 'zeroed';
  };
  /** String port I/O (INS/OUTS): TDX handle_io returns -EIO; SEV emulates it. */
  stringIo: 'rejected' | 'emulated';
  /** SEV: a non-REP INS/OUTS is retried (re-executed) while RCX != 0. */
  stringIoRetryWithoutRep: boolean;
  /**
   * memcpy_fromio, memcpy_toio, memset_io and the ins/outs helpers take their unrolled branch
   * (cc_platform_has(CC_ATTR_GUEST_UNROLL_STRING_IO)): TDX only; their `rep` branch never runs.
   */
  unrollsStringIo: boolean;
  /** CPUID result registers are the host's full 64 bits (no zero-extension). */
  cpuidNoZeroExtend: boolean;
  /** RDMSR: RAX/RDX get the host's 64-bit values (SEV) or lower/upper_32_bits of one value (TDX). */
  msrReadZeroExtends: boolean;
  /** HLT: TDX #VE -> TDVMCALL<HLT>; SEV-ES: an automatic exit, no #VC. */
  hlt: 'tdvmcall' | 'automatic-exit';
  /** __iowrite32_copy is an inline rep movsl in the caller (6.10+). */
  iowrite32CopyInline: boolean;
}

export const DEFAULT_PROFILE: Profile = 'tdx-linux-6.12+';

/** The version each named profile stands for. */
const ALIASES: Readonly<Record<NamedProfile, { platform: Platform; kernel: KernelVersion; note: string }>> = {
  'tdx-linux-6.12+': { platform: 'tdx', kernel: v(6, 12, 118), note: '6.12 as Debian ships it (6.12.118); every fact here is the same up to current mainline' },
  'tdx-linux-6.1': { platform: 'tdx', kernel: v(6, 1, 192), note: '6.1 LTS as Debian ships it (6.1.192)' },
  'tdx-linux-5.19': { platform: 'tdx', kernel: v(5, 19, 0, 1), note: '5.19-rc1, the only point without the page-split check' },
  'sev-es': { platform: 'sev-es', kernel: v(6, 12, 118), note: 'SEV-ES/SNP on 6.12 (6.12.118)' },
};

/** Every named profile id, in table order (the CLI's and the settings' list). */
export const PROFILE_IDS: readonly NamedProfile[] = Object.keys(ALIASES) as NamedProfile[];

function derive(id: Profile, platform: Platform, k: KernelVersion, alias: NamedProfile | null): ProfileData {
  const tdx = platform === 'tdx';
  const holds = (f: FactId) => factHolds(f, k);
  const pageSplitCheck = tdx && holds('tdx-page-split-check');
  return {
    id, platform, kernel: k, alias,
    movs: tdx ? 'rejected' : 'emulated',
    pageSplitCheck,
    userHalfRefused: tdx && holds('tdx-user-half-refused'),
    r15LeakOnRead: tdx && holds('tdx-mmio-read-r15-leak'),
    enumPrefix: holds('insn-mmio-enum-rename') ? 'INSN_MMIO_' : 'MMIO_',
    failure: tdx ? 'oops' : 'terminate-guest',
    hypercall: tdx ? 'tdvmcall' : 'ghcb',
    decodeFailedWarns: tdx,
    writeImmValue: !tdx && holds('sev-write-imm-immediate1-bytes') ? 'immediate1-bytes' : 'immediate-value',
    addrRefFailure: tdx ? (pageSplitCheck ? 'page-split-efault' : 'not-computed') : 'es-unsupported',
    movsIgnoresOverrides: !tdx && holds('sev-movs-segment-and-addr32-ignored'),
    portIn: tdx
      ? { maskExtraBit: holds('tdx-port-in-mask-off-by-one'), inlUpper: holds('tdx-port-inl-no-zero-extend') ? 'kept' : 'zeroed', narrowUpper: 'kept' }
      : { maskExtraBit: false, inlUpper: 'zeroed', narrowUpper: holds('sev-port-in-clears-rax') ? 'zeroed' : 'kept' },
    stringIo: tdx ? 'rejected' : 'emulated',
    stringIoRetryWithoutRep: !tdx && holds('sev-string-io-retry-without-rep'),
    unrollsStringIo: tdx && holds('unrolled-string-mmio'),
    cpuidNoZeroExtend: tdx ? holds('tdx-cpuid-no-zero-extend') : true,
    msrReadZeroExtends: tdx,
    hlt: tdx ? 'tdvmcall' : 'automatic-exit',
    iowrite32CopyInline: holds('iowrite32-copy-inline'),
  };
}

export const PROFILES: Readonly<Record<NamedProfile, ProfileData>> = Object.fromEntries(
  PROFILE_IDS.map((n) => [n, derive(n, ALIASES[n].platform, ALIASES[n].kernel, n)]),
) as Record<NamedProfile, ProfileData>;

export function isNamedProfile(s: string): s is NamedProfile {
  return Object.prototype.hasOwnProperty.call(ALIASES, s);
}

export const PLATFORM_LABEL: Readonly<Record<Platform, string>> = { tdx: 'TDX', 'sev-es': 'SEV-ES/SNP' };

/** The first kernel with the guest side of each platform: TDX guest 5.19-rc1, SEV-ES guest 5.10-rc1. */
export const FIRST_GUEST_VERSION: Readonly<Record<Platform, KernelVersion>> = { tdx: v(5, 19, 0, 1), 'sev-es': v(5, 10, 0, 1) };

/** Whether a platform's guest exists in kernel `k` (older versions have no handler to model). */
export function platformHasGuest(platform: Platform, k: KernelVersion): boolean {
  return compareVersions(k, FIRST_GUEST_VERSION[platform]) >= 0;
}

const VERSIONED_RE = /^(tdx|sev-es)-linux-(\d{1,3})\.(\d{1,3})(?:\.(\d{1,4}))?(?:-rc(\d{1,2}))?$/;

/** The platform and version a profile id names, or null. */
export function parseProfile(s: string): { platform: Platform; kernel: KernelVersion; alias: NamedProfile | null } | null {
  if (isNamedProfile(s)) return { ...ALIASES[s], alias: s };
  const m = VERSIONED_RE.exec(s);
  if (!m) return null;
  const platform = m[1] as Platform;
  const kernel = v(Number(m[2]), Number(m[3]), m[4] ? Number(m[4]) : 0, m[5] ? Number(m[5]) : undefined);
  return platformHasGuest(platform, kernel) ? { platform, kernel, alias: null } : null;
}

export function isProfile(s: string): s is Profile {
  return parseProfile(s) !== null;
}

/** The id of the profile for a platform and version: `tdx-linux-6.1.192`. */
export function profileIdFor(k: KernelVersion, platform: Platform): Profile {
  return `${platform}-linux-${formatVersion(k)}` as Profile;
}

const derived = new Map<string, ProfileData>();

/** The profile of an exact kernel version on a platform. */
export function profileForVersion(k: KernelVersion, platform: Platform): ProfileData {
  const id = profileIdFor(k, platform);
  let p = derived.get(id);
  if (!p) {
    p = derive(id, platform, { ...k }, null);
    derived.set(id, p);
  }
  return p;
}

export function profileData(p: Profile = DEFAULT_PROFILE): ProfileData {
  if (isNamedProfile(p)) return PROFILES[p];
  const parsed = parseProfile(p);
  if (!parsed) throw new RangeError(`unknown profile ${p}`);
  return profileForVersion(parsed.kernel, parsed.platform);
}

/** The behaviour fields (everything but id, alias and kernel) on which two profiles differ. */
export function behaviourDifferences(a: ProfileData, b: ProfileData): string[] {
  const skip = new Set(['id', 'alias', 'kernel']);
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof ProfileData)[]) {
    if (skip.has(k)) continue;
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(k);
  }
  return out;
}
