/**
 * The links the real modes (in-process, processes) hold cut, by agent index:
 * a cut from `a` to `b` means `b` drops what `a` sends. The simulated mode
 * cuts links in its network instead (testkit/sim/network.ts).
 */
import { checkIndex } from './waits.ts'

export class CutLinks {
  readonly #size: number
  readonly #cuts = new Set<string>()

  constructor (size: number) { this.#size = size }

  /** No message crosses between the sides, either way. */
  partition (a: number[], b: number[]): void {
    for (const x of a) for (const y of b) this.cut(x, y)
  }

  /** No message from `a` reaches `b`, nor (unless oneWay) from `b` to `a`. */
  cut (a: number, b: number, opts: { oneWay?: boolean } = {}): void {
    this.#cuts.add(`${checkIndex(a, this.#size)}>${checkIndex(b, this.#size)}`)
    if (opts.oneWay !== true) this.#cuts.add(`${b}>${a}`)
  }

  heal (): void { this.#cuts.clear() }

  /** Whether `to` drops what `from` sends. */
  has (from: number, to: number): boolean { return this.#cuts.size > 0 && this.#cuts.has(`${from}>${to}`) }

  /** The agents whose messages `to` drops. */
  into (to: number): number[] {
    return Array.from({ length: this.#size }, (_, from) => from).filter(from => this.has(from, to))
  }
}
