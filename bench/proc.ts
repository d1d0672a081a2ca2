/**
 * What the benchmarks read of an agent process from Linux's /proc: CPU time
 * and resident memory. One parser for bench/membership.ts, bench/scale-run.ts
 * and bench/storm-diagnose.ts.
 */
import { readFile } from 'node:fs/promises'

// utime and stime in /proc/PID/stat are in clock ticks (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS_PER_SEC = 100

/** User and system CPU time of process `pid` so far, in seconds. Rejects if it is gone. */
export async function cpuTimes (pid: number): Promise<{ userS: number, systemS: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { userS: Number(fields[11]) / CLOCK_TICKS_PER_SEC, systemS: Number(fields[12]) / CLOCK_TICKS_PER_SEC }
}

/** Resident memory (VmRSS) of process `pid` in MB; NaN if /proc does not say. Rejects if it is gone. */
export async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024
}
