/**
 * What an error out of `it-length-prefixed`'s decoder says about the inbound
 * stream, for the transports' drop counters: a length prefix over the limit
 * is `oversized`; a bad or truncated prefix or frame is `malformed`; anything
 * else (the stream was reset, the transport stopped) is not a drop.
 */
export function framingDrop (err: unknown): 'oversized' | 'malformed' | undefined {
  const name = (err as Error)?.name
  if (name === 'InvalidDataLengthError') return 'oversized'
  if (name === 'InvalidMessageLengthError' || name === 'InvalidDataLengthLengthError' || name === 'UnexpectedEOFError') return 'malformed'
  return undefined
}
