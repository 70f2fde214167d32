// Every way the modelled #VE / #VC handlers differ between kernel versions and
// platforms lives in this one table, so a version question has one answer.
// This module owns the Profile type (audit/engine.ts re-exports it), so the
// x86 model imports nothing from the audit layer.

export type Profile = 'tdx-linux-6.12+' | 'tdx-linux-6.1' | 'tdx-linux-5.19' | 'sev-es';

export interface ProfileData {
  id: Profile;
  platform: 'tdx' | 'sev-es';
  /** arch/x86/coco/tdx/tdx.c handle_mmio rejects MOVS; arch/x86/kernel/sev.c vc_handle_mmio_movs emulates it. */
  movs: 'rejected' | 'emulated';
  /** "Reject EPT violation #VEs that split pages" in handle_mmio: absent only in 5.19-rc1. */
  pageSplitCheck: boolean;
  /** handle_mmio: `if (!fault_in_kernel_space(ve->gla)) WARN_ONCE(...); return -EINVAL` (6.12-rc1, CVE-2024-47727, stable 6.1/6.6). */
  userHalfRefused: boolean;
  /** mmio_read passed `.r15 = *val` (uninitialised) to the host until 6.11-rc7. */
  r15LeakOnRead: boolean;
  /** enum mmio_type / MMIO_* before ~6.2, enum insn_mmio_type / INSN_MMIO_* after. */
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
}

export const DEFAULT_PROFILE: Profile = 'tdx-linux-6.12+';

export const PROFILES: Readonly<Record<Profile, ProfileData>> = {
  'tdx-linux-6.12+': {
    id: 'tdx-linux-6.12+', platform: 'tdx', movs: 'rejected', pageSplitCheck: true,
    userHalfRefused: true, r15LeakOnRead: false, enumPrefix: 'INSN_MMIO_',
    failure: 'oops', hypercall: 'tdvmcall', decodeFailedWarns: true,
  },
  // 6.1 LTS as shipped by distributions: the user-half check and the R15 fix
  // both came in through stable, but the enum still has the old names.
  'tdx-linux-6.1': {
    id: 'tdx-linux-6.1', platform: 'tdx', movs: 'rejected', pageSplitCheck: true,
    userHalfRefused: true, r15LeakOnRead: false, enumPrefix: 'MMIO_',
    failure: 'oops', hypercall: 'tdvmcall', decodeFailedWarns: true,
  },
  // 5.19 is modelled at -rc1, the only point without the page-split check.
  'tdx-linux-5.19': {
    id: 'tdx-linux-5.19', platform: 'tdx', movs: 'rejected', pageSplitCheck: false,
    userHalfRefused: false, r15LeakOnRead: true, enumPrefix: 'MMIO_',
    failure: 'oops', hypercall: 'tdvmcall', decodeFailedWarns: true,
  },
  'sev-es': {
    id: 'sev-es', platform: 'sev-es', movs: 'emulated', pageSplitCheck: false,
    userHalfRefused: false, r15LeakOnRead: false, enumPrefix: 'INSN_MMIO_',
    failure: 'terminate-guest', hypercall: 'ghcb', decodeFailedWarns: false,
  },
};

/** Every profile id, in the table's order (the CLI's and the settings' list). */
export const PROFILE_IDS: readonly Profile[] = Object.keys(PROFILES) as Profile[];

export function isProfile(s: string): s is Profile {
  return Object.prototype.hasOwnProperty.call(PROFILES, s);
}

export function profileData(p: Profile = DEFAULT_PROFILE): ProfileData {
  return PROFILES[p];
}
