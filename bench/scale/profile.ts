/**
 * A CPU profile of part of a scale run, taken in-process (node:inspector),
 * reduced to the functions with the most self time: the evidence of where a
 * run at scale spends its time.
 */
import { Session } from 'node:inspector'

export interface HotFunction {
  name: string
  /** file:line, relative to the repository. */
  where: string
  selfPercent: number
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}

export class Profiler {
  readonly #session = new Session()

  start (): void {
    this.#session.connect()
    this.#post('Profiler.enable')
    this.#post('Profiler.setSamplingInterval', { interval: 1000 })
    this.#post('Profiler.start')
  }

  /** Stops and returns the top `count` functions by self time. */
  stop (count = 15): HotFunction[] {
    let nodes: ProfileNode[] = []
    this.#session.post('Profiler.stop', (err, res) => {
      if (err == null) nodes = (res as unknown as { profile: { nodes: ProfileNode[] } }).profile.nodes
    })
    this.#session.disconnect()
    const self = new Map<string, { name: string, where: string, hits: number }>()
    let total = 0
    for (const node of nodes) {
      const hits = node.hitCount ?? 0
      total += hits
      const { functionName, url, lineNumber } = node.callFrame
      const file = url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
      const where = file === '' ? '(native)' : `${file}:${lineNumber + 1}`
      const name = functionName === '' ? '(anonymous)' : functionName
      const key = `${name} ${where}`
      const entry = self.get(key) ?? { name, where, hits: 0 }
      entry.hits += hits
      self.set(key, entry)
    }
    return [...self.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, count)
      .map(e => ({ name: e.name, where: e.where, selfPercent: total === 0 ? 0 : 100 * e.hits / total }))
  }

  #post (method: string, params?: object): void {
    this.#session.post(method, params ?? {}, err => { if (err != null) throw err })
  }
}
