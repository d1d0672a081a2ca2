/**
 * The `acceptFrom` test hook (AgentOptions.acceptFrom): messages from a peer
 * it refuses are dropped on arrival, SWIM and work alike, as if the network
 * had lost them. That is how the test kit's in-process clusters cut links
 * and partition agents that share one process and one loopback interface.
 */
import type { SwimInputs } from '../membership/index.ts'

export type AcceptFrom = (peerId: string) => boolean

/** `inputs` with the messages of refused peers dropped (no hook: `inputs` itself). */
export function acceptingFrom (inputs: SwimInputs, accept: AcceptFrom | undefined): SwimInputs {
  if (accept == null) return inputs
  return { ...inputs, onMessage: (from, msg) => { if (accept(from)) inputs.onMessage(from, msg) } }
}
