// Types of scripts/kernel/oracle.mjs for the TypeScript tests.
export interface OracleResult {
  d: number;
  len: number;
  cls: number;
  size: number;
  tdx: { ret: number; warn: number; calls: number; hc: string[]; regs: string[] };
  tdxio?: { ret: number; calls: number; hc: string[]; regs: string[] };
  sev?: { ret: number; calls: number; exit: string; i1: string; i2: string; sent: string; rax: string; regs: string[] };
}
export interface Oracle {
  series: string;
  version: string;
  bin: string;
  dir: string;
  run(lines: string[]): OracleResult[];
}
export const ORACLE_RIP: bigint;
export const ORACLE_REGS: bigint[];
export function buildOracle(series: '6.1' | '6.12'): Oracle | { skip: string };
export function cutFunction(src: string, name: string, opts?: { last?: boolean }): string | null;
export function cutBlock(src: string, head: string): string | null;
