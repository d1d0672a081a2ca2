/**
 * A full state larger than one frame goes as several.
 *
 * A sync (a join, its answer, a push-pull that found the views apart) holds
 * every member, 180-230 bytes each with its signature: above 4,500-5,800
 * members it is larger than `maxMessageBytes` (1 MiB), which the receiver
 * refuses, so a cluster that large could not take a new member. The sender splits the members over
 * as few frames as fit, each a valid sync flagged `more` but the last; the
 * receiver keeps the parts that came on one stream and hands the membership
 * one sync, the last part's, with every part's members (frames on a stream
 * arrive in order, and a channel writes a sync's parts one after another).
 * A stream that breaks between parts loses the parts before: a sync is
 * anti-entropy, the next round makes up for it.
 *
 * Parts wait in memory until the last one comes, so what they may hold is
 * bounded, or a member (or anyone, in a cluster without a key) could send
 * parts that never end: the members of one sync (MESSAGE_LIMITS), the bytes
 * of one sync's frames (maxSyncBytes), and the bytes of every sync being put
 * together at once, on every stream (maxHeldSyncBytes, `SyncPartsBudget`).
 * Past a bound the stream is aborted and counted.
 */
import * as lp from 'it-length-prefixed'
import type { Message } from '../membership/types.ts'
import { encodeMessage, encodeSyncPart, MalformedMessageError, MESSAGE_LIMITS } from './codec.ts'

type Sync = Extract<Message, { type: 'sync' }>

/**
 * The length-prefixed frames of `msg` (a sync over `maxBytes` in parts), or
 * why it cannot be sent: unencodable (a bound broken) or oversized.
 */
export function framesOf (msg: Message, maxBytes: number): { frames: Uint8Array[] } | { counter: 'sendFailed' | 'oversized', why: string } {
  let bodies: Uint8Array[]
  try {
    bodies = encodeFrames(msg, maxBytes)
  } catch (err) {
    return { counter: 'sendFailed', why: `unencodable message: ${(err as Error).message}` }
  }
  const oversized = bodies.find(body => body.byteLength > maxBytes)
  if (oversized != null) return { counter: 'oversized', why: `message of ${oversized.byteLength} bytes exceeds maxMessageBytes` }
  return { frames: bodies.map(body => lp.encode.single(body).subarray()) }
}

/** The frames of `msg`: one, or for a sync over `maxBytes`, as many parts as it takes. Throws MalformedMessageError when that cannot be. */
export function encodeFrames (msg: Message, maxBytes: number): Uint8Array[] {
  const whole = encodeMessage(msg)
  if (whole.byteLength <= maxBytes || msg.type !== 'sync' || msg.members.length < 2) return [whole]
  // Equal member counts per part, one part more at a time until every part fits.
  for (let parts = Math.ceil(whole.byteLength / maxBytes); parts <= msg.members.length; parts++) {
    const frames = split(msg, parts, maxBytes)
    if (frames != null) return frames
  }
  throw new MalformedMessageError(`a sync member entry exceeds ${maxBytes} bytes`)
}

function split (msg: Sync, parts: number, maxBytes: number): Uint8Array[] | undefined {
  const size = Math.ceil(msg.members.length / parts)
  const frames: Uint8Array[] = []
  for (let from = 0; from < msg.members.length; from += size) {
    const to = from + size
    const frame = encodeSyncPart({ ...msg, members: msg.members.slice(from, to) }, to < msg.members.length)
    if (frame.byteLength > maxBytes) return undefined
    frames.push(frame)
  }
  return frames
}

/** The room the unfinished syncs of every stream share, in frame bytes. */
export class SyncPartsBudget {
  held = 0
  readonly maxBytes: number

  constructor (maxBytes: number) {
    this.maxBytes = maxBytes
  }
}

/** A sync in parts past its bytes, or past the room every stream's parts share. */
export class SyncTooLargeError extends Error {
  override name = 'SyncTooLargeError'
}

/** The parts of a sync received so far on one stream. */
export class SyncParts {
  #members: Sync['members'] = []
  #bytes = 0
  readonly #budget: SyncPartsBudget
  readonly #maxBytes: number

  /** `maxBytes`: what one sync's frames may take together (TransportConfig.maxSyncBytes). */
  constructor (budget: SyncPartsBudget, maxBytes: number) {
    this.#budget = budget
    this.#maxBytes = maxBytes
  }

  /**
   * Takes a sync frame of `bytes`: the whole sync once its last part is in (a
   * sync of one part at once), undefined while more are to come. Throws
   * MalformedMessageError when the parts hold more members than a sync may,
   * SyncTooLargeError when they take more bytes than one may or than are left
   * to all; either way the parts so far are let go.
   */
  add (msg: Sync, more: boolean, bytes: number): Sync | undefined {
    if (this.#members.length + msg.members.length > MESSAGE_LIMITS.maxSyncMembers) {
      this.release()
      throw new MalformedMessageError(`a sync in parts holds more than ${MESSAGE_LIMITS.maxSyncMembers} members`)
    }
    if (this.#bytes + bytes > this.#maxBytes) {
      this.release()
      throw new SyncTooLargeError(`a sync in parts takes more than ${this.#maxBytes} bytes`)
    }
    if (more) {
      if (this.#budget.held + bytes > this.#budget.maxBytes) {
        this.release()
        throw new SyncTooLargeError(`syncs in parts hold ${this.#budget.held} bytes already, of ${this.#budget.maxBytes}`)
      }
      this.#members.push(...msg.members)
      this.#bytes += bytes
      this.#budget.held += bytes
      return undefined
    }
    if (this.#members.length === 0) return msg
    const members = this.#members.concat(msg.members)
    this.release()
    return { ...msg, members }
  }

  /** Lets go of the parts so far: the sync is complete, refused, or its stream ended. */
  release (): void {
    this.#budget.held -= this.#bytes
    this.#bytes = 0
    this.#members = []
  }
}
