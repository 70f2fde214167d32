// Public surface of the x86 module for the audit engine and the CLI.
export { classifyMmio, analyse, GPR_NAMES } from './classify';
export type { MmioVerdict, Verdict, Misemulation, Flag } from './classify';
export { emulate, patternRegs } from './emulate';
export type { EmulateInput, EmulationResult, KernelOutcome, NativeOutcome, Tdvmcall } from './emulate';
export { cpuDecode, decodeAt, decodeFunction, deviceMemoryAccesses, CodeWalker } from './iced';
export type { CpuView, MemoryAccess, WalkedInstruction, Access } from './iced';
export { MMIO_RULES, matchMmioRule } from './rules';
export type { MmioClass, MmioRule } from './rules';
export { kernelDecode } from './kernelDecoder';
export { PROFILES, DEFAULT_PROFILE, profileData, isProfile } from './profiles';
export type { Profile, ProfileData } from './profiles';
export { runDecode, parseHex } from './decodeCli';
