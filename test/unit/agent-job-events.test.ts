/** Job events of the jobs an agent coordinates: their order, the progress rate bound, and no O(tasks) view per result. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { JobEvents, PROGRESS_EVERY_MS } from '../../agent/job-events.ts'
import type { JobView } from '../../workloads/index.ts'

const view = (over: Partial<JobView>): JobView => ({
  id: 'j1', workload: 'sleep', kind: 'map', status: 'running', result: null, error: null,
  stats: { tasks: 10, rerun: 0, done: 0, ignored: 0, duplicates: 0, perNode: {} },
  coordinator: 'a', epoch: 1, deadlineMs: null, createdAt: null, durationMs: null, ...over
})

describe('job events', () => {
  it('accepted, progress at most every PROGRESS_EVERY_MS (the view built only then), done', () => {
    let now = 0
    const seen: string[] = []
    let views = 0
    const events = new JobEvents(() => now, (type) => { seen.push(type) })
    const viewOf = (): JobView => { views++; return view({}) }
    events.changed(view({}))
    for (let i = 0; i < 100; i++) { now += 10; events.progressed('j1', viewOf) }
    assert.equal(views, Math.floor(1000 / PROGRESS_EVERY_MS), 'one view per progress event, not one per result')
    events.progressed('other', viewOf)
    events.changed(view({ status: 'done' }))
    events.progressed('j1', viewOf)
    assert.deepEqual(seen, ['job:accepted', 'job:progress', 'job:progress', 'job:done'])
  })

  it('a job taken over here is a takeover; a failed or cancelled one is job:failed', () => {
    const seen: string[] = []
    const events = new JobEvents(() => 0, (type, v) => { seen.push(`${type} ${v.status}`) })
    events.changed(view({ epoch: 2 }))
    events.changed(view({ epoch: 2, status: 'cancelled' }))
    events.changed(view({ id: 'j2', status: 'failed' }))
    assert.deepEqual(seen, ['job:takeover running', 'job:failed cancelled', 'job:failed failed'])
  })
})
