/**
 * The member events the agent derives from the core's and the transport's
 * (`member:unreachable` when a member's cause turns unreachable,
 * `member:degraded` when one of its paths is down while it is alive), and the
 * members whose silent paths are worth testing: those with addresses on more
 * than one host (network).
 */
import { hostOf } from '../gossip/index.ts'
import type { FailureCause, Member, Membership } from '../membership/index.ts'
import type { MemberView } from './member-view.ts'

export type SignalDispatch = (type: 'member:unreachable' | 'member:degraded', view: MemberView) => void

export class MemberSignals {
  readonly #dispatch: SignalDispatch
  /** Alive members currently shown degraded: `member:degraded` fires when one enters. */
  readonly #degraded = new Set<string>()
  /** The cause last emitted per member: `member:unreachable` fires when it becomes `unreachable`. */
  readonly #causes = new Map<string, FailureCause | undefined>()
  /** Members with addresses on more than one host, kept from member events. */
  readonly #multiHomed = new Set<string>()
  /** The path checks (checkPathsEvery): their timer runs only while a member is multi-homed. */
  #pathChecks: { run: () => void, everyMs: number, timer?: ReturnType<typeof setInterval> } | undefined

  constructor (dispatch: SignalDispatch) {
    this.#dispatch = dispatch
  }

  /** After the core's event about `member`; a reap forgets it (true: forget its paths too). */
  memberEvent (type: string, member: Member, view: MemberView): boolean {
    if (type === 'member:reap') {
      this.#causes.delete(member.id)
      this.#degraded.delete(member.id)
      this.#multiHomed.delete(member.id)
      this.#timePathChecks()
      return true
    }
    if (new Set(member.addrs.map(a => hostOf(a)).filter(h => h != null)).size > 1) this.#multiHomed.add(member.id)
    else this.#multiHomed.delete(member.id)
    this.#timePathChecks()
    const cause = member.status === 'alive' ? undefined : member.cause
    const before = this.#causes.get(member.id)
    this.#causes.set(member.id, cause)
    if (cause === 'unreachable' && before !== 'unreachable') this.#dispatch('member:unreachable', view)
    this.pathsChanged(view)
    return false
  }

  /** Fires `member:degraded` when the flag turns on; forgets it when it turns off. */
  pathsChanged (view: MemberView): void {
    if (!view.degraded) {
      this.#degraded.delete(view.peerId)
      return
    }
    if (this.#degraded.has(view.peerId)) return
    this.#degraded.add(view.peerId)
    this.#dispatch('member:degraded', view)
  }

  /**
   * Tests silent paths of live multi-homed members every half probe period (a silent
   * path is then tested within about one period of going silent), at most
   * maxPathChecksPerRound a round; returns the function that stops it. No timer
   * runs while no member is multi-homed (every agent on one network): it would
   * wake the agent twice a second for nothing.
   */
  checkPathsEvery (probeIntervalMs: number, probeTimeoutMs: number, core: Membership, transport: { checkPaths: (live: Array<{ id: string, addrs: readonly string[] }>, intervalMs: number, timeoutMs: number) => void }): () => void {
    this.#pathChecks = {
      everyMs: Math.max(1, Math.floor(probeIntervalMs / 2)),
      run: () => {
        const live = this.#pathsToTest(core)
        if (live.length > 0) transport.checkPaths(live, probeIntervalMs, probeTimeoutMs)
      }
    }
    this.#timePathChecks()
    return () => {
      clearInterval(this.#pathChecks?.timer)
      this.#pathChecks = undefined
    }
  }

  #timePathChecks (): void {
    const checks = this.#pathChecks
    if (checks == null) return
    if (this.#multiHomed.size > 0 && checks.timer == null) {
      checks.timer = setInterval(checks.run, checks.everyMs)
      checks.timer.unref?.()
    } else if (this.#multiHomed.size === 0 && checks.timer != null) {
      clearInterval(checks.timer)
      checks.timer = undefined
    }
  }

  /**
   * Live members whose silent paths should be tested (gossip/paths.ts): a
   * path no probe uses would otherwise never be known down. Only members
   * reachable on more than one host: for a single-network member (every agent
   * on loopback) a test says nothing the probes do not, and costs a handshake.
   */
  #pathsToTest (core: Membership): Array<{ id: string, addrs: readonly string[] }> {
    const live: Array<{ id: string, addrs: readonly string[] }> = []
    for (const id of this.#multiHomed) {
      const m = core.member(id)
      if (m != null && (m.status === 'alive' || m.status === 'suspect')) live.push({ id, addrs: m.addrs })
    }
    return live
  }
}
