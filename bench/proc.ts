/**
 * What the benchmarks read of a process from Linux's /proc: CPU time, resident
 * memory and bytes through system calls. The one parser of every benchmark
 * (bench/*.ts and bench/startup/).
 */
import { readdir, readFile } from 'node:fs/promises'

// utime and stime in /proc/PID/stat are in clock ticks (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS_PER_SEC = 100

/** The number on a `key: number` line of a /proc file (status, io); NaN if there is none. */
function keyed (text: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN)
}

/** User and system CPU time of process `pid` so far, in seconds. Rejects if it is gone. */
export async function cpuTimes (pid: number): Promise<{ userS: number, systemS: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { userS: Number(fields[11]) / CLOCK_TICKS_PER_SEC, systemS: Number(fields[12]) / CLOCK_TICKS_PER_SEC }
}

/** Resident memory of process `pid` in MB (/proc/PID/status VmRSS, RssAnon, RssFile); NaN where /proc does not say. Rejects if it is gone. */
export async function residentMb (pid: number): Promise<{ rss: number, anonymous: number, file: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const mb = (key: string): number => keyed(status, key) / 1024
  return { rss: mb('VmRSS'), anonymous: mb('RssAnon'), file: mb('RssFile') }
}

/** How often process `pid`'s main thread has slept and been woken so far (voluntary_ctxt_switches in /proc/PID/status). Rejects if it is gone. */
export async function wakeUps (pid: number): Promise<number> {
  return keyed(await readFile(`/proc/${pid}/status`, 'utf8'), 'voluntary_ctxt_switches')
}

/** Resident memory (VmRSS) of process `pid` in MB; NaN if /proc does not say. Rejects if it is gone. */
export async function rssMb (pid: number): Promise<number> {
  return (await residentMb(pid)).rss
}

/** Bytes process `pid` (or this one) has read and written through system calls so far, sockets included (/proc/PID/io rchar, wchar). */
export async function ioBytes (pid: number | 'self'): Promise<{ readB: number, writtenB: number }> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8')
  return { readB: keyed(io, 'rchar'), writtenB: keyed(io, 'wchar') }
}

/** CPU seconds of every thread of process `pid`, from the scheduler's own nanosecond counters (finer than clock ticks). */
export async function threadsCpuS (pid: number): Promise<number> {
  let ns = 0
  for (const thread of await readdir(`/proc/${pid}/task`)) {
    try {
      ns += Number((await readFile(`/proc/${pid}/task/${thread}/schedstat`, 'utf8')).split(' ')[0])
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e9
}
