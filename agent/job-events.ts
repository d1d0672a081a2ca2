/**
 * The job events of the jobs this agent coordinates (submitted here, or
 * taken over here from a failed coordinator), for `agent.on()` and
 * `GET /v1/events`: `job:accepted`, `job:takeover`, `job:progress` (at most
 * one per job every PROGRESS_EVERY_MS), `job:done` and `job:failed` (a
 * cancelled job too: its `status` says which). Each carries the JobView.
 */
import type { JobView } from '../workloads/index.ts'

export const JOB_EVENT_TYPES = ['job:accepted', 'job:takeover', 'job:progress', 'job:done', 'job:failed'] as const
export type JobEventName = typeof JOB_EVENT_TYPES[number]

/** Progress events of one job are at least this far apart. */
export const PROGRESS_EVERY_MS = 500

export class JobEvents {
  readonly #clock: () => number
  readonly #emit: (type: JobEventName, view: JobView) => void
  /** Running jobs coordinated here → when their last progress event went out. */
  readonly #running = new Map<string, number>()
  /** Jobs coordinated here by how they went: accepted, taken over, and ended by status (agent_jobs_total). */
  readonly counts = { accepted: 0, takenOver: 0, done: 0, failed: 0, cancelled: 0 }

  constructor (clock: () => number, emit: (type: JobEventName, view: JobView) => void) {
    this.#clock = clock
    this.#emit = emit
  }

  /** The work core reported a job it coordinates: accepted, taken over, or ended. */
  changed (view: JobView): void {
    if (view.status === 'running') {
      if (this.#running.has(view.id)) return
      this.#running.set(view.id, this.#clock())
      this.counts[view.epoch > 1 ? 'takenOver' : 'accepted']++
      this.#emit(view.epoch > 1 ? 'job:takeover' : 'job:accepted', view)
      return
    }
    this.#running.delete(view.id)
    this.counts[view.status]++
    this.#emit(view.status === 'done' ? 'job:done' : 'job:failed', view)
  }

  /**
   * A task of job `id` was counted: a progress event unless one went out
   * lately. `viewOf` is called only then: a job's view costs O(tasks), and a
   * big job counts thousands of results a second.
   */
  progressed (id: string, viewOf: (id: string) => JobView | undefined): void {
    const last = this.#running.get(id)
    const now = this.#clock()
    if (last == null || now - last < PROGRESS_EVERY_MS) return
    const view = viewOf(id)
    if (view == null || view.status !== 'running') return
    this.#running.set(id, now)
    this.#emit('job:progress', view)
  }
}
