// Finding every process a compile started, however it detached. A process group
// kill misses a child that called setsid(); once its parent exits it is
// reparented to init and no ppid chain leads back. What it cannot shed is the
// environment it inherited: each compile runs with a unique tag in one variable,
// and killing the compile kills every process whose /proc/<pid>/environ carries
// that tag. Synchronous, so it also runs in process.on('exit').

import { readdirSync, readFileSync } from 'node:fs';

/** Pids of processes whose environment holds NAME=TAG (Linux /proc; none elsewhere). */
export function taggedProcesses(name: string, tag: string): number[] {
  const needle = Buffer.from(`${name}=${tag}\0`);
  const out: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const p of pids) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${p}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    // The variable may be first (no leading NUL) or anywhere after one.
    const i = env.indexOf(needle);
    if (i === 0 || (i > 0 && env[i - 1] === 0)) out.push(Number(p));
  }
  return out;
}

/** SIGKILLs every process carrying the tag, repeating while new ones appear (a forking child). */
export function killTagged(name: string, tag: string): number {
  let killed = 0;
  for (let round = 0; round < 5; round++) {
    const pids = taggedProcesses(name, tag);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
  }
  return killed;
}
