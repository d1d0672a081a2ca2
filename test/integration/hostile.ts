/**
 * Checks shared by the hostile suites (hostile-network, hostile-work): run an
 * attack against one agent of a real cluster and report whether it stayed
 * healthy, as the security requirement states it: the process lives, its API
 * answers within 1 s during the attack, no other member marks it suspect or
 * failed, and its RSS grows by less than 64 MB.
 *
 *   const { result, report } = await underAttack(target, others, async () => { ...attack... })
 *   assertSurvived(target, report)
 *
 * The watcher runs in a worker thread: the attacking code on the main thread
 * (thousands of sockets, masking frames) must not delay the API probes and
 * make the agent look slow when it is not.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import type { AgentProcess } from './harness.ts'

/** What the requirement allows an attack to cost the agent. */
export const LIMITS = Object.freeze({
  /** Every /v1/health probe during and after the attack answers within this. */
  apiMs: 1000,
  /** Peak RSS during and after the attack, minus RSS before it. */
  rssGrowthBytes: 64 * 1024 * 1024
})

export interface AttackReport {
  /** /v1/health probes made during the attack and the settle time after it. */
  apiProbes: number
  /** Slowest probe's round trip (a probe that timed out counts with its timeout). */
  apiWorstMs: number
  /** Why probes failed (refused, error status, timed out), each reason once with its count. */
  apiErrors: string[]
  /** Each way another member reported the target as anything but alive, e.g. `h2: member:suspect`, with its count. */
  marks: string[]
  rssBeforeBytes: number
  rssPeakBytes: number
  /** Wall time of the attack itself, without the settle time. */
  attackMs: number
}

export interface WatchOptions {
  /** How long to keep watching after the attack returned: late suspicions and late memory. Default 3000. */
  settleMs?: number
}

/** Open file descriptors of a process (sockets included). */
export function fdCount (pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** GET /v1/stats of an agent, typed by the caller. */
export async function agentStats<T = any> (agent: AgentProcess): Promise<T> {
  const res = await fetch(`http://${agent.rpc}/v1/stats`, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`GET /v1/stats answered ${res.status}`)
  return await res.json() as T
}

/**
 * Runs `attack` against `target` while a worker watches it and the other
 * members' view of it; resolves with what the attack returned and the report.
 */
export async function underAttack<T> (target: AgentProcess, others: AgentProcess[], attack: () => Promise<T>, options: WatchOptions = {}): Promise<{ result: T, report: AttackReport }> {
  const worker = new Worker(`(${watcher.toString()})()`, {
    eval: true,
    workerData: { rpc: target.rpc, pid: target.child.pid, peerId: target.peerId, others: others.map(o => ({ name: o.name, rpc: o.rpc })) }
  })
  const report = new Promise<Omit<AttackReport, 'attackMs'>>((resolve, reject) => {
    worker.on('message', (msg: { type: string, report?: Omit<AttackReport, 'attackMs'> }) => { if (msg.type === 'report') resolve(msg.report!) })
    worker.once('error', reject)
    worker.once('exit', code => { reject(new Error(`watcher exited (${code}) without a report`)) })
  })
  // the attack starts only once the baseline is read and the event streams are open
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (msg: { type: string }) => { if (msg.type === 'ready') resolve() })
    worker.once('error', reject)
  })
  const start = performance.now()
  let result: T | undefined
  let failure: { err: unknown } | undefined
  try {
    result = await attack()
  } catch (err) {
    failure = { err }
  }
  const attackMs = performance.now() - start
  // A negative check, so a window: a suspicion or a failure mark of the target,
  // or memory it took, may show after the attack returned (WatchOptions.settleMs).
  await new Promise(resolve => setTimeout(resolve, options.settleMs ?? 3000))
  worker.postMessage('stop')
  const watched = await report
  await worker.terminate()
  const full = { ...watched, attackMs }
  if (failure != null) {
    // the attack's own check failed (a connection not closed in time, an upgrade not answered): say how the agent fared meanwhile
    const err = failure.err as Error
    const exit = target.child.exitCode ?? target.child.signalCode
    if (exit != null) err.message += `\n  ${target.name} exited (${exit}); its last output:\n${target.output().slice(-3000)}`
    err.message += `\n  meanwhile: ${describeReport(full)}${full.marks.length > 0 ? `\n  marks: ${full.marks.join('; ')}` : ''}`
    throw err
  }
  return { result: result as T, report: full }
}

/** The requirement's health assertions, with the report in every message. */
export function assertSurvived (target: AgentProcess, report: AttackReport): void {
  const summary = JSON.stringify({ ...report, rssBeforeMB: mb(report.rssBeforeBytes), rssPeakMB: mb(report.rssPeakBytes) })
  assert.equal(target.child.exitCode, null, `${target.name} exited during the attack:\n${target.output().slice(-4000)}`)
  assert.equal(target.child.signalCode, null, `${target.name} was killed during the attack`)
  assert.ok(report.apiProbes >= 5, `too few API probes to judge responsiveness: ${summary}`)
  assert.deepEqual(report.apiErrors, [], `API probes failed: ${summary}`)
  assert.ok(report.apiWorstMs < LIMITS.apiMs, `API answered in ${Math.round(report.apiWorstMs)} ms (limit ${LIMITS.apiMs}): ${summary}`)
  assert.deepEqual(report.marks, [], `another member reported ${target.name} not alive: ${summary}`)
  assert.ok(report.rssPeakBytes - report.rssBeforeBytes < LIMITS.rssGrowthBytes,
    `RSS grew by ${mb(report.rssPeakBytes - report.rssBeforeBytes)} MB (limit ${mb(LIMITS.rssGrowthBytes)}): ${summary}`)
}

/** One line for the test's diagnostics: what the attack cost, against the limits. */
export function describeReport (report: AttackReport): string {
  return `attack ${Math.round(report.attackMs)} ms; API worst ${Math.round(report.apiWorstMs)} ms over ${report.apiProbes} probes${report.apiErrors.length > 0 ? ` (failures: ${report.apiErrors.join('; ')})` : ''}; ` +
    `RSS ${mb(report.rssBeforeBytes)} -> peak ${mb(report.rssPeakBytes)} MB; marks ${report.marks.length}`
}

function mb (bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10
}

/**
 * The worker's body, passed as source (eval): it cannot use this module's
 * imports, only globals, process.getBuiltinModule and workerData. Probes /v1/health back to back (one in flight),
 * samples VmRSS, follows each other member's /v1/events and polls its
 * /v1/members for the target.
 */
function watcher (): void {
  const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads')
  const { readFileSync } = process.getBuiltinModule('node:fs')
  const { rpc, pid, peerId, others } = workerData as { rpc: string, pid: number, peerId: string, others: Array<{ name: string, rpc: string }> }
  const BAD_EVENTS = new Set(['member:suspect', 'member:failed', 'member:unreachable', 'member:leave'])
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
  const state = { stop: false, probes: 0, worst: 0, rssBefore: rss(), rssPeak: 0 }
  // each distinct mark or error once, with how often it was seen
  const marks = new Map<string, number>()
  const errors = new Map<string, number>()
  const count = (map: Map<string, number>, m: string): void => { map.set(m, (map.get(m) ?? 0) + 1) }
  const mark = (m: string): void => { count(marks, m) }
  const listed = (map: Map<string, number>): string[] => [...map].map(([m, n]) => n > 1 ? `${m} (${n} times)` : m)
  state.rssPeak = state.rssBefore
  const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
  const controllers: AbortController[] = []

  const rssLoop = async (): Promise<void> => {
    while (!state.stop) {
      try { state.rssPeak = Math.max(state.rssPeak, rss()) } catch { /* exited: the main thread reports it */ }
      await sleep(50)
    }
  }
  const probeLoop = async (): Promise<void> => {
    while (!state.stop) {
      const t0 = performance.now()
      try {
        const res = await fetch(`http://${rpc}/v1/health`, { signal: AbortSignal.timeout(5000) })
        await res.arrayBuffer()
        if (!res.ok) count(errors, `status ${res.status}`)
      } catch (err) {
        count(errors, String((err as Error).message ?? err))
      }
      state.probes++
      state.worst = Math.max(state.worst, performance.now() - t0)
      // often enough that short attacks are probed while they run
      await sleep(25)
    }
  }
  const membersLoop = async (o: { name: string, rpc: string }): Promise<void> => {
    while (!state.stop) {
      try {
        const res = await fetch(`http://${o.rpc}/v1/members`, { signal: AbortSignal.timeout(5000) })
        const members = await res.json() as Array<{ peerId: string, status: string }>
        const status = members.find(m => m.peerId === peerId)?.status
        if (status !== 'alive') mark(`${o.name}: status ${String(status)}`)
      } catch (err) {
        mark(`${o.name}: /v1/members failed: ${String((err as Error).message)}`)
      }
      await sleep(250)
    }
  }
  /** Resolves once the stream is open; records every bad event about the target until stopped. */
  const follow = async (o: { name: string, rpc: string }): Promise<() => Promise<void>> => {
    const controller = new AbortController()
    controllers.push(controller)
    const res = await fetch(`http://${o.rpc}/v1/events`, { signal: controller.signal })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    const done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += decoder.decode(value, { stream: true })
          let end: number
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event == null || data == null || !BAD_EVENTS.has(event)) continue
            if ((JSON.parse(data) as { peerId?: string }).peerId === peerId) mark(`${o.name}: ${event}`)
          }
        }
      } catch { /* aborted at stop */ }
    })()
    return async () => { await done }
  }

  void (async () => {
    const streams = await Promise.all(others.map(follow))
    const loops = [rssLoop(), probeLoop(), ...others.map(membersLoop)]
    parentPort!.postMessage({ type: 'ready' })
    await new Promise(resolve => parentPort!.once('message', resolve))
    state.stop = true
    // the probe in flight is awaited: a hung API shows as its timeout, not hidden by the stop
    await Promise.all(loops)
    for (const c of controllers) c.abort()
    await Promise.all(streams.map(async s => { await s() }))
    parentPort!.postMessage({
      type: 'report',
      report: { apiProbes: state.probes, apiWorstMs: state.worst, apiErrors: listed(errors), marks: listed(marks), rssBeforeBytes: state.rssBefore, rssPeakBytes: state.rssPeak }
    })
  })()
}
