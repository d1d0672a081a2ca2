/**
 * Jobs submitted on this node, as the agent hands them to their submitter: a
 * JobHandle per job (progress events, the end as a promise), and the set of
 * them the work driver keeps until each job ends.
 */
import type { JobView } from '../workloads/index.ts'

/** Progress events of a job submitted here come at most this often. */
const PROGRESS_INTERVAL_MS = 250

/** A job submitted on this node: its progress as events, its end as a promise. */
export class JobHandle extends EventTarget {
  readonly id: string
  #view: JobView
  readonly #done: Promise<JobView>
  #resolve!: (view: JobView) => void
  #reject!: (err: Error) => void
  readonly #held: Promise<void>
  #markHeld!: () => void

  constructor (view: JobView) {
    super()
    this.id = view.id
    this.#view = view
    this.#done = new Promise((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    this.#done.catch(() => {}) // a handle nobody awaits must not raise unhandled rejections
    this.#held = new Promise(resolve => { this.#markHeld = resolve })
  }

  /**
   * Resolves once the job survives this agent's crash: a replica acknowledged
   * its whole record, the cluster has no other member to hold one, or it ended
   * (every member hears the end). Before that, a crash here loses the job.
   */
  async held (): Promise<void> {
    await this.#held
  }

  /** The job as last seen (status, stats, result). */
  get view (): JobView {
    return this.#view
  }

  /** Resolves with the ended job (status `done` or `failed`); rejects if the agent stops first. */
  async result (): Promise<JobView> {
    return await this.#done
  }

  /** `progress` as tasks complete (at most every 250 ms) and at the end; `end` once. Returns the unsubscribe function. */
  on (type: 'progress' | 'end', listener: (view: JobView) => void): () => void {
    const wrapped = (event: Event): void => { listener((event as CustomEvent<JobView>).detail) }
    this.addEventListener(type, wrapped)
    return () => { this.removeEventListener(type, wrapped) }
  }

  /** Called by the agent (not by users) when a replica holds the job's record. */
  markHeld (): void {
    this.#markHeld()
  }

  /** Called by the agent (not by users) with the job's latest view. */
  update (view: JobView): void {
    this.#view = view
    this.dispatchEvent(new CustomEvent('progress', { detail: view }))
    if (view.status !== 'running') {
      this.#markHeld()
      this.dispatchEvent(new CustomEvent('end', { detail: view }))
      this.#resolve(view)
    }
  }

  /** Called by the agent when it stops before the job ended. */
  abandon (why: string): void {
    this.#reject(new Error(why))
  }
}

/** The handles of the running jobs submitted on this node, by job id. */
export class SubmittedJobs {
  readonly #clock: () => number
  /** The job as the work core sees it now. */
  readonly #view: (jobId: string) => JobView | undefined
  readonly #handles = new Map<string, JobHandle>()
  readonly #lastProgress = new Map<string, number>()

  constructor (clock: () => number, view: (jobId: string) => JobView | undefined) {
    this.#clock = clock
    this.#view = view
  }

  add (handle: JobHandle): void {
    this.#handles.set(handle.id, handle)
  }

  /** A result arrived for a job submitted here: a throttled `progress` event on its handle. */
  progress (jobId: string): void {
    const handle = this.#handles.get(jobId)
    if (handle == null) return
    const now = this.#clock()
    if (now - (this.#lastProgress.get(jobId) ?? -Infinity) < PROGRESS_INTERVAL_MS) return
    this.#lastProgress.set(jobId, now)
    queueMicrotask(() => {
      const view = this.#view(jobId)
      if (view?.status === 'running' && this.#handles.get(jobId) === handle) handle.update(view)
    })
  }

  /** A replica holds the record of a job submitted here (a `held` effect). */
  held (jobId: string): void {
    this.#handles.get(jobId)?.markHeld()
  }

  /** The core reported the job (a `job` effect): its handle sees it; an ended job's handle is dropped. */
  update (job: JobView): void {
    const handle = this.#handles.get(job.id)
    if (handle != null) {
      handle.update(job)
      if (job.status !== 'running') {
        this.#handles.delete(job.id)
        this.#lastProgress.delete(job.id)
      }
    }
  }

  /** The agent stops: every handle's result() rejects with `why`. */
  abandonAll (why: string): void {
    for (const handle of this.#handles.values()) handle.abandon(why)
    this.#handles.clear()
  }
}
