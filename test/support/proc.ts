// /proc readings the robustness tests share: a process's memory (sampled, since
// `ulimit -v` breaks WASM) and whether a process is still alive.
import { readFileSync } from 'node:fs';

/** VmRSS (or VmHWM, the peak) of a process in MiB; 0 when it is gone. */
export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The process state letter (R, S, Z...), or 'gone'. */
export function stateOf(pid: number): string {
  try {
    return /^State:\s+(\w)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 'gone';
  } catch {
    return 'gone';
  }
}

/** Dead: gone, or a zombie nobody reaped yet (PID 1 in a container may not reap). */
export const isDead = (pid: number): boolean => ['gone', 'Z'].includes(stateOf(pid));

/** Samples a process's RSS until stopped; `peak` is the largest sample in MiB. */
export function sampleRss(pid: number, everyMs = 50): { stop: () => number; readonly peak: number } {
  let peak = 0;
  const t = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      return peak;
    },
    get peak() {
      return peak;
    },
  };
}
