/**
 * A hostile member on the SWIM protocol against real agents: it floods
 * (rate-limited and counted), forges an alive for a crashed member and a
 * leave for a live one (rejected and counted), and replays an old message
 * (ignored), and floods the work-claims protocol (rate-limited and counted).
 * The agents keep serving and their view stays right.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import * as lp from 'it-length-prefixed'
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { createNode, encodeMessage, encodeWire, SWIM_PROTOCOL, WIRE_VERSION, WORK_PROTOCOL } from '../../gossip/index.ts'
import { accusationPayload, signedAlivePayload, signedLeavePayload } from '../../membership/index.ts'
import type { Message } from '../../membership/index.ts'
import { killAll, membersViaApi, startCluster, submitViaApi, waitAllSee, waitFor, type AgentProcess } from './harness.ts'

interface Stats {
  membership: { signaturesRejected: number }
  transport: { dropped: { rateLimited: number, unsupportedVersion: number }, peersDisconnected: number }
  work: { transport: { dropped: { rateLimited: number, malformed: number } } }
}

async function stats (agent: AgentProcess): Promise<Stats> {
  return await (await fetch(`http://${agent.rpc}/v1/stats`, { signal: AbortSignal.timeout(5000) })).json() as Stats
}

describe('hostile member: floods, forged claims and replays', () => {
  let agents: AgentProcess[] = []
  let rogueKey: PrivateKey
  let rogue: Libp2p
  let stream: Stream

  const send = (msg: Message): void => { stream.send(lp.encode.single(encodeMessage(msg))) }

  /**
   * After a flood, waits until `target` decodes the rogue's frames again (its
   * rate-limit bucket refilled): sends one frame of another wire version on a
   * new SWIM stream until the target counts one as unsupportedVersion, a
   * counter nothing else in the test moves. A frame now and then stays far
   * under the flood threshold.
   */
  const untilSwimFramesDecoded = async (target: AgentProcess): Promise<void> => {
    const before = (await stats(target)).transport.dropped.unsupportedVersion
    await waitFor('the rogue\'s SWIM frames decoded again (a probe counted as unsupportedVersion)', async () => {
      const probe = await rogue.dialProtocol(multiaddr(target.multiaddrs[0]), SWIM_PROTOCOL)
      probe.send(lp.encode.single(Uint8Array.of(WIRE_VERSION + 1)))
      return (await stats(target)).transport.dropped.unsupportedVersion > before
    }, 10_000, 200)
  }

  before(async () => {
    agents = await startCluster(3, 'h')
    await waitAllSee(agents, agents, 'alive', 15_000)
    rogueKey = await generateKeyPair('Ed25519')
    rogue = await createNode({ privateKey: rogueKey, listen: ['/ip4/127.0.0.1/tcp/0'] })
    stream = await rogue.dialProtocol(multiaddr(agents[0].multiaddrs[0]), SWIM_PROTOCOL)
  })
  after(async () => {
    await rogue?.stop()
    await killAll(agents)
  })

  it('a flood of frames is cut to the rate limit and counted, the flooding peer is disconnected, the agent keeps serving', async () => {
    for (let i = 0; i < 3000; i++) send({ type: 'gossip', updates: [] })
    await waitFor('rateLimited counted', async () => (await stats(agents[0])).transport.dropped.rateLimited > 0, 10_000)
    await waitFor('flooding peer disconnected', async () => (await stats(agents[0])).transport.peersDisconnected >= 1, 10_000)
    await waitAllSee(agents, agents, 'alive', 15_000)
    // it may come back (with a full bucket), as a member would after a reconnect
    stream = await rogue.dialProtocol(multiaddr(agents[0].multiaddrs[0]), SWIM_PROTOCOL)
  })

  it('an alive forged for a crashed member, a leave for a live one and a failure report in another\'s name are rejected and counted', async () => {
    const [target, live, crashed] = agents
    crashed.child.kill('SIGKILL')
    await crashed.exited
    await waitAllSee([target, live], [crashed], 'failed', 30_000)
    // The forgeries must be decoded, not dropped by the rate limit the flood above emptied.
    await untilSwimFramesDecoded(target)
    const before = (await stats(target)).membership.signaturesRejected
    const view = (await membersViaApi(target)).find(m => m.peerId === crashed.peerId)!
    const ann = { id: crashed.peerId, name: view.name, addrs: view.addrs, tags: view.tags, incarnation: view.incarnation + 10, bootId: view.bootId }
    const forgedAlive = { type: 'alive' as const, ...ann, signature: rogueKey.sign(signedAlivePayload(ann)) as Uint8Array }
    const liveView = (await membersViaApi(target)).find(m => m.peerId === live.peerId)!
    const leaveInc = liveView.incarnation + 10
    const forgedLeave = { type: 'leave' as const, id: live.peerId, incarnation: leaveInc, signature: rogueKey.sign(signedLeavePayload(live.peerId, leaveInc)) as Uint8Array }
    send({ type: 'gossip', updates: [forgedAlive] })
    send({ type: 'gossip', updates: [forgedLeave] })
    // Replayed: the same forgeries again, and an unsigned leave.
    send({ type: 'gossip', updates: [forgedAlive, forgedLeave, { type: 'leave', id: live.peerId, incarnation: leaveInc + 1 }] })
    // A failure report in the target's own name, signed by the rogue.
    const deadPayload = accusationPayload('dead', live.peerId, liveView.incarnation, target.peerId)
    send({ type: 'gossip', updates: [{ type: 'dead', id: live.peerId, incarnation: liveView.incarnation, from: target.peerId, cause: 'crash', signature: rogueKey.sign(deadPayload) as Uint8Array }] })
    await waitFor('forgeries counted', async () => (await stats(target)).membership.signaturesRejected >= before + 6, 10_000)
    // A negative check, so a window: a forgery the target took would reach the
    // live member by gossip (every 200 ms on lan) and be refuted there with a
    // new incarnation. One second is five gossip rounds for that to show.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const members = await membersViaApi(target)
    assert.equal(members.find(m => m.peerId === crashed.peerId)?.status, 'failed', 'the crashed member stays failed')
    assert.equal(members.find(m => m.peerId === live.peerId)?.status, 'alive', 'the live member did not leave')
    assert.equal((await membersViaApi(live)).find(m => m.peerId === live.peerId)?.incarnation, liveView.incarnation, 'no refutation was needed')
  })

  it('a flood of work messages is cut to the rate limit and counted; garbage aborts the stream; jobs still run', async () => {
    const target = agents[0]
    const work = await rogue.dialProtocol(multiaddr(target.multiaddrs[0]), WORK_PROTOCOL)
    const frame = lp.encode.single(encodeWire({ type: 'capacity', free: 1, slots: 1 })).subarray()
    for (let i = 0; i < 30_000; i++) work.send(frame)
    await waitFor('work rateLimited counted', async () => (await stats(target)).work.transport.dropped.rateLimited > 0, 10_000)
    // Garbage on a new stream, again until the target decodes one (the flood
    // emptied the rogue's bucket; a frame over the limit is dropped undecoded).
    const malformed = (await stats(target)).work.transport.dropped.malformed
    await waitFor('a garbage work frame decoded and counted malformed', async () => {
      const garbage = await rogue.dialProtocol(multiaddr(target.multiaddrs[0]), WORK_PROTOCOL)
      garbage.send(lp.encode.single(new TextEncoder().encode('{"type":"grant","jobId":')).subarray())
      return (await stats(target)).work.transport.dropped.malformed > malformed
    }, 10_000, 200)
    const id = await submitViaApi(target, 'sleep', { tasks: 4, ms: 1 })
    await waitFor('job done', async () => (await (await fetch(`http://${target.rpc}/v1/jobs/${id}`)).json() as { result: unknown }).result === 4, 20_000)
  })
})
