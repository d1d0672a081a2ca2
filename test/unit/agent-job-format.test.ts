/** `agent job` and `agent jobs` as a user reads them: times, a takeover, a broadcast's answers. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatJob, formatJobs } from '../../agent/job-format.ts'
import type { JobView } from '../../workloads/index.ts'

const NOW = Date.parse('2026-12-03T10:00:10Z')

function view (over: Partial<JobView> = {}): JobView {
  return {
    id: '3f1c0a9e5b2d7c11',
    workload: 'sleep',
    kind: 'map',
    status: 'done',
    result: 20,
    error: null,
    stats: { tasks: 20, rerun: 1, done: 20, ignored: 0, duplicates: 0, perNode: { n1: 12, n2: 8 } },
    coordinator: '12D3KooWcoordinator',
    epoch: 1,
    deadlineMs: null,
    createdAt: '2026-12-03T10:00:00.000Z',
    durationMs: 2345,
    ...over
  }
}

describe('agent job output', () => {
  it('shows when the job was created and how long it ran, or runs', () => {
    assert.deepEqual(formatJob(view(), NOW).split('\n').slice(0, 2), ['job 3f1c0a9e5b2d7c11 (sleep) done in 2.3 s', '  created: 2026-12-03T10:00:00.000Z'])
    assert.match(formatJob(view({ status: 'running', durationMs: null }), NOW), /^job 3f1c0a9e5b2d7c11 \(sleep\) running for 10 s$/m)
    assert.match(formatJob(view({ createdAt: null, durationMs: null }), NOW), /^job 3f1c0a9e5b2d7c11 \(sleep\) done$/m, 'an older agent\'s view')
  })

  it('shows a takeover: the new coordinator and its epoch', () => {
    assert.match(formatJob(view({ epoch: 2, coordinator: '12D3KooWreplica' }), NOW), /^ {2}coordinator: 12D3KooWreplica \(epoch 2: took the job over from a failed coordinator\)$/m)
    assert.doesNotMatch(formatJob(view(), NOW), /coordinator:/)
  })

  it('prints a broadcast\'s answers one member a line, an exec answer\'s output below it', () => {
    const out = formatJob(view({
      workload: 'exec',
      kind: 'broadcast',
      result: {
        n2: { code: 1, signal: null, stdout: '', stderr: 'no such file\n', truncated: false },
        n1: { code: 0, signal: null, stdout: 'line one\nline two\n', stderr: '', truncated: false }
      }
    }), NOW)
    assert.equal(out.slice(out.indexOf('  result:')), [
      '  result:',
      '    n1: exit 0',
      '      line one',
      '      line two',
      '    n2: exit 1',
      '      stderr:',
      '        no such file'
    ].join('\n'))
    assert.match(formatJob(view({ workload: 'echo', kind: 'broadcast', result: { n1: { node: 'n1', load: 0.1, tags: {} } } }), NOW), /^ {4}n1: \{"node":"n1","load":0\.1,"tags":\{\}\}$/m)
  })

  it('agent jobs has CREATED and DURATION columns', () => {
    const out = formatJobs([view(), view({ id: 'aaaaaaaaaaaaaaaa', status: 'running', durationMs: null, stats: { ...view().stats, done: 3 } })], NOW)
    const [header, done, running] = out.split('\n')
    assert.match(header, /^ID\s+WORKLOAD\s+STATUS\s+TASKS\s+RERUN\s+CREATED\s+DURATION$/)
    assert.match(done, /done\s+20\/20\s+1\s+2026-12-03T10:00:00\.000Z\s+2\.3 s$/)
    assert.match(running, /running\s+3\/20\s+1\s+2026-12-03T10:00:00\.000Z\s+10 s…$/)
    assert.equal(formatJobs([], NOW), 'no jobs')
  })
})
