/**
 * The SWIM port's contract (membership/ports.ts): one suite of behaviour
 * checks that every implementation of the port is held to, the libp2p
 * transport (gossip/swim-transport.ts, test/contract/libp2p.test.ts) and the
 * simulated network (testkit/sim/network.ts, test/contract/sim.test.ts).
 *
 * Each check is something the membership core relies on: a message reaches
 * the member it is addressed to, once, intact, attributed to its real sender;
 * a seed known only by address is reached; a reply by id alone reaches a
 * stranger; a refusal comes back as `refused` (the core's crash evidence,
 * and a join's quick retry); a killed peer is reported disconnected (probe it
 * soon) and refuses afterwards; `send` never throws and every failure comes
 * back through onDeliveryFailed, never from inside send().
 *
 * An implementation plugs in with a `World` factory. Waits are bounded: in
 * logical time for the simulator, in real time for libp2p.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { decodeMessage, encodeMessage } from '../../gossip/codec.ts'
import type { DeliveryFailure, Destination, MemberId, Message, SwimInputs, SwimSender, SyncEntry, Update } from '../../membership/index.ts'

/** Everything the port told one endpoint, in the order it was told. */
export interface InputLog {
  messages: Array<{ from: MemberId, msg: Message }>
  failures: Array<{ to: Destination, msg: Message, reason: DeliveryFailure }>
  disconnects: MemberId[]
}

/** One member's end of the port: its sender and what its inputs were called with. */
export interface Endpoint {
  id: MemberId
  /** The addresses it listens on, as the membership announces them (no /p2p/). */
  addrs: string[]
  sender: SwimSender
  inputs: InputLog
}

/** A network with its endpoints, as one implementation provides it. */
export interface World {
  /**
   * `n` new endpoints, up and listening. Only `killable` ones may be crashed
   * (over libp2p they run in a process of their own, to be killed for real).
   */
  endpoints: (n: number, opts?: { killable?: boolean }) => Promise<Endpoint[]>
  /** An address where nothing listens, on a host that answers (a closed port of 127.0.0.1). */
  deadAddr: () => Promise<string>
  /** A well-formed member id that no endpoint has. */
  unknownId: () => Promise<MemberId>
  /**
   * Resolves once `check()` holds, rejects when it has not within `boundMs`
   * (logical ms for the simulator, real ms for libp2p). `check` reads the
   * recorded inputs: it is re-evaluated as they change.
   */
  waitUntil: (what: string, check: () => boolean, boundMs: number) => Promise<void>
  /**
   * Before a negative check ("nothing else arrived"), lets what is already in
   * flight land. The suite first waits for a later message on the same link,
   * which is enough where links are ordered; this covers those that are not.
   */
  settle: () => Promise<void>
  /**
   * kill -9 of a killable endpoint: its process is gone at once, its
   * connections are cut (its peers see them close) and its address refuses
   * connections from now on. It records nothing more.
   */
  crash: (ep: Endpoint) => Promise<void>
  /** Tears the world down. */
  stop: () => Promise<void>
}

/** The suite's cases, by key and title. */
export const CASES = {
  wireValid: "the suite's messages are valid SWIM wire messages (codec round trip)",
  intact: "a message sent by id and addresses arrives once, from the sender's id, intact (every message and update type)",
  addressOnly: 'a destination known only by address (a join seed) is reached, and a reply by id alone reaches the stranger',
  order: 'messages to one peer arrive in the order they were sent',
  authenticated: 'a destination whose id is not the peer at its addresses is not delivered there: error',
  deadAddress: "a send to an address where nothing listens reports that destination, that message and 'refused'",
  crash: "a killed peer: the survivor gets onPeerDisconnected(id) once, later sends to it report 'refused', other peers are unaffected",
  self: "a send to the endpoint itself is not delivered: reported 'error'",
  garbage: "send never throws to malformed destinations of the Destination type: each reports 'error' once, asynchronously",
  untyped: "send never throws to values that are not Destinations (null, wrong field types): each reports 'error' once"
} as const

export type CaseKey = keyof typeof CASES

export interface ContractOptions {
  /** Names the implementation in the test titles. */
  name: string
  /** A fresh world for one case; the case stops it. */
  world: () => Promise<World>
  /** Bound of one wait (see World.waitUntil). */
  waitMs: number
  /** Bound of one case, in real ms. */
  caseTimeoutMs: number
}

/**
 * The inputs of one endpoint, recording into a log. `onInput` is called after
 * each (a world wakes its waiters with it); after `mute()` nothing is recorded
 * (a crashed process hears nothing).
 */
export function recorder (onInput: () => void = () => {}): { inputs: SwimInputs, log: InputLog, mute: () => void } {
  const log: InputLog = { messages: [], failures: [], disconnects: [] }
  let muted = false
  const record = (fn: () => void): void => {
    if (muted) return
    fn()
    onInput()
  }
  return {
    log,
    mute: () => { muted = true },
    inputs: {
      onMessage: (from, msg) => { record(() => { log.messages.push({ from, msg }) }) },
      onDeliveryFailed: (to, msg, reason) => { record(() => { log.failures.push({ to, msg, reason }) }) },
      onPeerDisconnected: id => { record(() => { log.disconnects.push(id) }) }
    }
  }
}

const ping = (seq: number, target: MemberId): Message => ({ type: 'ping', seq, target, updates: [] })

/** Bytes of a fake signature (the transports carry it, nothing here checks it). */
const signature = (fill: number): Uint8Array => Uint8Array.from({ length: 64 }, (_, i) => (i * 7 + fill) & 255)

/** One message of each type, with every kind of update and sync entry, between real endpoint ids. */
export function sampleMessages (a: Endpoint, b: Endpoint, c: Endpoint): Message[] {
  const announcement = { id: a.id, name: 'member-a', addrs: [...a.addrs], tags: { role: 'web', zone: 'eu-1' }, incarnation: 3, bootId: 'boot-a-1' }
  const updates: Update[] = [
    { type: 'alive', ...announcement, signature: signature(1) },
    { type: 'alive', id: c.id, name: 'member-c', addrs: [...c.addrs], tags: {}, incarnation: 0, bootId: 'boot-c' },
    { type: 'suspect', id: c.id, incarnation: 4, from: a.id, signature: signature(2) },
    { type: 'suspect', id: c.id, incarnation: 5, from: b.id },
    { type: 'dead', id: c.id, incarnation: 6, from: a.id, cause: 'crash', signature: signature(3) },
    { type: 'dead', id: c.id, incarnation: 7, from: b.id, cause: 'partition' },
    { type: 'leave', id: a.id, incarnation: 8, signature: signature(4) },
    { type: 'leave', id: c.id, incarnation: 9 }
  ]
  const members: SyncEntry[] = [
    { ...announcement, status: 'alive', signature: signature(5) },
    { id: b.id, name: 'member-b', addrs: [...b.addrs], tags: { k: 'v' }, incarnation: 12, bootId: 'boot-b', status: 'suspect', signature: signature(6), signedIncarnation: 11 },
    { id: c.id, name: 'member-c', addrs: [...c.addrs], tags: {}, incarnation: 2, bootId: 'boot-c', status: 'left' },
    { id: c.id, name: '', addrs: [], tags: {}, incarnation: 0, bootId: '', status: 'failed' }
  ]
  return [
    { type: 'ping', seq: 1, target: b.id, updates: [] },
    { type: 'ping', seq: 2, target: b.id, updates },
    { type: 'ping-req', seq: 3, target: c.id, targetAddrs: [...c.addrs], nack: true, updates: updates.slice(0, 2) },
    { type: 'ping-req', seq: 4, target: c.id, targetAddrs: [], nack: false, updates: [] },
    { type: 'ack', seq: 5, updates: updates.slice(2, 4) },
    { type: 'nack', seq: 6, reason: 'refused', updates: [] },
    { type: 'nack', seq: 7, reason: 'timeout', updates: updates.slice(6) },
    { type: 'sync', reply: true, join: true, members },
    { type: 'sync', reply: false, join: false, members: [] },
    { type: 'digest', members: 3, hash: 0xdeadbeef },
    { type: 'gossip', updates },
    { type: 'gossip', updates: [] }
  ]
}

/**
 * Byte strings compared as plain Uint8Arrays: a decoder may hand back a
 * Buffer (a Uint8Array subclass), which the core reads the same way.
 */
function plainBytes (value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value)
  if (Array.isArray(value)) return value.map(plainBytes)
  if (value != null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainBytes(v)]))
  return value
}

function assertSameMessage (actual: Message, expected: Message, what: string): void {
  assert.deepStrictEqual(plainBytes(actual), plainBytes(expected), what)
}

const seqOf = (msg: Message): number => (msg as { seq: number }).seq

/** Asserts `list` is empty (on a copy: an assertion on the log itself would narrow its type to never[]). */
function none (list: readonly unknown[], what?: string): void {
  assert.deepEqual([...list], [], what)
}

/** Registers the contract's cases for one implementation. */
export function swimPortContract (opts: ContractOptions): void {
  const { waitMs } = opts

  const check = (key: CaseKey, body: (world: World) => Promise<void>): void => {
    it(CASES[key], { timeout: opts.caseTimeoutMs }, async () => {
      const world = await opts.world()
      try {
        await body(world)
      } finally {
        await world.stop()
      }
    })
  }

  /**
   * `from` sends a marker to `to` and waits for it: what `from` sent to `to`
   * before has landed where the link is ordered; then the world settles.
   */
  let markers = 0
  const barrier = async (world: World, from: Endpoint, to: Endpoint): Promise<void> => {
    const marker: Message = { type: 'digest', members: 0, hash: 4_000_000_000 + markers++ }
    from.sender.send({ id: to.id, addrs: to.addrs }, marker)
    await world.waitUntil(`marker ${marker.hash} at ${to.id}`, () => to.inputs.messages.some(m => m.msg.type === 'digest' && m.msg.hash === marker.hash), waitMs)
    await world.settle()
  }
  const withoutMarkers = (log: InputLog): InputLog['messages'] =>
    log.messages.filter(m => !(m.msg.type === 'digest' && m.msg.hash >= 4_000_000_000))

  describe(`SWIM port contract: ${opts.name}`, () => {
    check('wireValid', async (world) => {
      const [a, b, c] = await world.endpoints(3)
      for (const msg of sampleMessages(a, b, c)) {
        assertSameMessage(decodeMessage(encodeMessage(msg)), msg, `${msg.type} round trip`)
      }
    })

    check('intact', async (world) => {
      const [a, b, c] = await world.endpoints(3)
      const samples = sampleMessages(a, b, c)
      // one at a time: this case is about each message, not about order
      for (const [i, msg] of samples.entries()) {
        a.sender.send({ id: b.id, addrs: b.addrs }, msg)
        await world.waitUntil(`message ${i} (${msg.type}) at b`, () => b.inputs.messages.length >= i + 1, waitMs)
      }
      await barrier(world, a, b)
      const got = withoutMarkers(b.inputs)
      assert.equal(got.length, samples.length, 'each message arrived once')
      for (const [i, { from, msg }] of got.entries()) {
        assert.equal(from, a.id, `message ${i}: from is the sender's id`)
        assertSameMessage(msg, samples[i], `message ${i} (${samples[i].type}) intact`)
      }
      none(a.inputs.failures)
      none(c.inputs.messages, 'nothing went to the members the messages name')
    })

    check('addressOnly', async (world) => {
      const [a, b] = await world.endpoints(2)
      // a joins through b's address; b answers the id the port gave it, with no address (destinationOf a stranger)
      const join: Message = { type: 'sync', reply: true, join: true, members: [] }
      a.sender.send({ addrs: [...b.addrs] }, join)
      await world.waitUntil('the join at b', () => b.inputs.messages.length === 1, waitMs)
      assert.equal(b.inputs.messages[0].from, a.id, "from is the joiner's id")
      assertSameMessage(b.inputs.messages[0].msg, join, 'the join intact')
      const answer: Message = { type: 'sync', reply: false, join: false, members: [] }
      b.sender.send({ id: a.id, addrs: [] }, answer)
      await world.waitUntil('the answer at a', () => a.inputs.messages.length === 1, waitMs)
      assert.equal(a.inputs.messages[0].from, b.id, "from is the seed's id")
      // the seed again by address, then by its id
      a.sender.send({ addrs: [...b.addrs] }, ping(1, b.id))
      await world.waitUntil('ping 1 at b', () => b.inputs.messages.length === 2, waitMs)
      a.sender.send({ id: b.id, addrs: [...b.addrs] }, ping(2, b.id))
      await world.waitUntil('ping 2 at b', () => b.inputs.messages.length === 3, waitMs)
      assert.deepEqual(b.inputs.messages.map(m => m.from), [a.id, a.id, a.id])
      assert.deepEqual(b.inputs.messages.slice(1).map(m => seqOf(m.msg)), [1, 2])
      none(a.inputs.failures)
      none(b.inputs.failures)
    })

    check('order', async (world) => {
      const [a, b] = await world.endpoints(2)
      const count = 50
      for (let seq = 1; seq <= count; seq++) a.sender.send({ id: b.id, addrs: b.addrs }, ping(seq, b.id))
      await world.waitUntil(`${count} pings at b`, () => b.inputs.messages.length >= count, waitMs)
      assert.deepEqual(b.inputs.messages.map(m => seqOf(m.msg)), Array.from({ length: count }, (_, i) => i + 1))
      none(a.inputs.failures)
    })

    check('authenticated', async (world) => {
      const [a, b] = await world.endpoints(2)
      const stranger = await world.unknownId()
      const to: Destination = { id: stranger, addrs: [...b.addrs] }
      const msg = ping(1, stranger)
      a.sender.send(to, msg)
      await world.waitUntil('the failure at a', () => a.inputs.failures.length >= 1, waitMs)
      assert.deepStrictEqual(a.inputs.failures[0].to, to)
      assertSameMessage(a.inputs.failures[0].msg, msg, 'the failed message')
      assert.equal(a.inputs.failures[0].reason, 'error')
      await barrier(world, a, b)
      none(withoutMarkers(b.inputs), 'b, listening at the address, was not handed the message')
      assert.equal(a.inputs.failures.length, 1, 'reported once')
    })

    check('deadAddress', async (world) => {
      const [a] = await world.endpoints(1)
      const dead = await world.deadAddr()
      const stranger = await world.unknownId()
      // a seed that is not up yet (address only), and a member whose process is gone (id and address)
      const sends: Array<[Destination, Message]> = [
        [{ addrs: [dead] }, { type: 'sync', reply: true, join: true, members: [] }],
        [{ id: stranger, addrs: [dead] }, ping(2, stranger)]
      ]
      for (const [to, msg] of sends) a.sender.send(to, msg)
      none(a.inputs.failures, 'not reported from inside send()')
      await world.waitUntil('two failures at a', () => a.inputs.failures.length >= 2, waitMs)
      for (const [to, msg] of sends) {
        const failure = a.inputs.failures.find(f => f.msg.type === msg.type)
        assert.ok(failure != null, `the ${msg.type} reported`)
        assert.deepStrictEqual(failure.to, to)
        assertSameMessage(failure.msg, msg, `the ${msg.type} as sent`)
        assert.equal(failure.reason, 'refused', `the ${msg.type}'s reason`)
      }
      await world.settle()
      assert.equal(a.inputs.failures.length, sends.length, 'each reported once')
      none(a.inputs.messages)
      none(a.inputs.disconnects)
    })

    check('crash', async (world) => {
      const [a, c] = await world.endpoints(2)
      const [b, d] = await world.endpoints(2, { killable: true })
      // a talks with b both ways and to c; d talks only to c. b is killed as the listener of its
      // connection (a dialled it), d as the dialler of its own (it dialled c)
      a.sender.send({ id: b.id, addrs: b.addrs }, ping(1, b.id))
      await world.waitUntil('ping 1 at b', () => b.inputs.messages.length === 1, waitMs)
      b.sender.send({ id: a.id, addrs: a.addrs }, { type: 'ack', seq: 1, updates: [] })
      await world.waitUntil('ack 1 at a', () => a.inputs.messages.length === 1, waitMs)
      a.sender.send({ id: c.id, addrs: c.addrs }, ping(2, c.id))
      await world.waitUntil('ping 2 at c', () => c.inputs.messages.length === 1, waitMs)
      d.sender.send({ id: c.id, addrs: c.addrs }, ping(3, c.id))
      await world.waitUntil('ping 3 at c', () => c.inputs.messages.length === 2, waitMs)

      await world.crash(b)
      await world.crash(d)
      await world.waitUntil('a told b disconnected', () => a.inputs.disconnects.includes(b.id), waitMs)
      await world.waitUntil('c told d disconnected', () => c.inputs.disconnects.includes(d.id), waitMs)

      // later sends to the dead: by id and addresses, by address only, and to d that a never reached
      const sends: Array<[Destination, Message]> = [
        [{ id: b.id, addrs: b.addrs }, ping(4, b.id)],
        [{ addrs: [...b.addrs] }, { type: 'sync', reply: true, join: true, members: [] }],
        [{ id: d.id, addrs: d.addrs }, ping(5, d.id)]
      ]
      for (const [to, msg] of sends) a.sender.send(to, msg)
      await world.waitUntil('three failures at a', () => a.inputs.failures.length >= 3, waitMs)
      for (const [to, msg] of sends) {
        const failure = a.inputs.failures.find(f => f.msg.type === msg.type && (msg.type !== 'ping' || seqOf(f.msg) === seqOf(msg)))
        assert.ok(failure != null, `${JSON.stringify(to)} reported`)
        assert.deepStrictEqual(failure.to, to)
        assertSameMessage(failure.msg, msg, 'the failed message as sent')
        assert.equal(failure.reason, 'refused', `reason for ${JSON.stringify(to)}`)
      }

      // the living still talk, and nobody else was reported disconnected
      a.sender.send({ id: c.id, addrs: c.addrs }, ping(6, c.id))
      await world.waitUntil('ping 6 at c', () => c.inputs.messages.some(m => m.msg.type === 'ping' && m.msg.seq === 6), waitMs)
      await barrier(world, c, a)
      assert.deepEqual(a.inputs.disconnects, [b.id], 'a: b once, not c, not d (never connected)')
      assert.deepEqual(c.inputs.disconnects, [d.id], 'c: d once, not a')
      assert.equal(a.inputs.failures.length, sends.length, 'each reported once')
    })

    check('self', async (world) => {
      const [a, b] = await world.endpoints(2)
      const sends: Array<[Destination, Message]> = [
        [{ id: a.id, addrs: [...a.addrs] }, ping(1, a.id)],
        [{ id: a.id, addrs: [] }, ping(2, a.id)],
        // a join seed list that includes this node's own address
        [{ addrs: [...a.addrs] }, { type: 'sync', reply: true, join: true, members: [] }]
      ]
      for (const [to, msg] of sends) a.sender.send(to, msg)
      none(a.inputs.failures, 'not reported from inside send()')
      await world.waitUntil('three failures at a', () => a.inputs.failures.length >= 3, waitMs)
      for (const [to, msg] of sends) {
        const failure = a.inputs.failures.find(f => f.msg.type === msg.type && (msg.type !== 'ping' || seqOf(f.msg) === seqOf(msg)))
        assert.ok(failure != null, `${JSON.stringify(to)} reported`)
        assert.deepStrictEqual(failure.to, to)
        assert.equal(failure.reason, 'error', `reason for ${JSON.stringify(to)}`)
      }
      await barrier(world, b, a)
      none(withoutMarkers(a.inputs), 'a was not handed its own messages')
      assert.equal(a.inputs.failures.length, sends.length, 'each reported once')
    })

    check('garbage', async (world) => {
      const [a, b] = await world.endpoints(2)
      const stranger = await world.unknownId()
      const destinations: Destination[] = [
        { addrs: [] },
        { addrs: ['not a multiaddr'] },
        { addrs: ['/ip4/127.0.0.1/tcp/not-a-port'] },
        { addrs: ['/no-such-protocol/x'] },
        { id: '', addrs: [] },
        { id: 'not a peer id!', addrs: [] },
        { id: 'notAPeerId', addrs: ['/ip4/127.0.0.1/tcp/not-a-port'] },
        // a well-formed id of nobody, with no address and no connection: nowhere to dial
        { id: stranger, addrs: [] }
      ]
      for (const [i, to] of destinations.entries()) {
        assert.doesNotThrow(() => { a.sender.send(to, ping(100 + i, b.id)) }, `send to ${JSON.stringify(to)}`)
      }
      none(a.inputs.failures, 'not reported from inside send()')
      await world.waitUntil(`${destinations.length} failures at a`, () => a.inputs.failures.length >= destinations.length, waitMs)
      for (const [i, to] of destinations.entries()) {
        const failure = a.inputs.failures.find(f => seqOf(f.msg) === 100 + i)
        assert.ok(failure != null, `${JSON.stringify(to)} reported`)
        assert.equal(failure.to, to, 'the destination as given')
        assert.equal(failure.reason, 'error', `reason for ${JSON.stringify(to)}`)
      }
      await barrier(world, a, b)
      none(withoutMarkers(b.inputs))
      assert.equal(a.inputs.failures.length, destinations.length, 'each reported once')
    })

    check('untyped', async (world) => {
      const [a, b] = await world.endpoints(2)
      const values: unknown[] = [null, undefined, {}, { addrs: 'x' }, { addrs: [1, null, {}] }, { id: 42, addrs: [] }, 'a string']
      for (const [i, to] of values.entries()) {
        assert.doesNotThrow(() => { a.sender.send(to as Destination, ping(200 + i, b.id)) }, `send to ${String(JSON.stringify(to))}`)
      }
      none(a.inputs.failures, 'not reported from inside send()')
      await world.waitUntil(`${values.length} failures at a`, () => a.inputs.failures.length >= values.length, waitMs)
      for (const [i, to] of values.entries()) {
        const failure = a.inputs.failures.find(f => seqOf(f.msg) === 200 + i)
        assert.ok(failure != null, `${String(JSON.stringify(to))} reported`)
        assert.equal(failure.reason, 'error')
      }
      await barrier(world, a, b)
      none(withoutMarkers(b.inputs))
      assert.equal(a.inputs.failures.length, values.length, 'each reported once')
    })
  })
}
