/**
 * Public face of the libp2p layer: the node factory, the SWIM wire transport
 * and its codec and configuration. Types and factories only; the
 * implementation lives in the files these names come from.
 */
export { createNode, DEFAULT_MAX_CONNECTIONS, DEFAULT_ADDRESS_DIAL_TIMEOUT_MS } from './node.ts'
export type { NodeOptions } from './node.ts'
export { createSwimTransport, SWIM_PROTOCOL } from './swim-transport.ts'
export type { SwimTransport, SwimTransportHandlers, SwimTransportStats } from './swim-transport.ts'
export { encodeMessage, decodeMessage, validateMessage, MalformedMessageError, UnsupportedVersionError, WIRE_VERSION, CODEC_LIMITS } from './codec.ts'
export { DEFAULT_TRANSPORT_CONFIG, fromPartial, validate, InvalidTransportConfigError } from './config.ts'
export type { TransportConfig } from './config.ts'
export { clusterKeyGuard, loadClusterKey, parseClusterKey, writeClusterKey, newClusterKey, InvalidClusterKeyError } from './cluster-key.ts'
export type { ClusterKeyGuard, ClusterKeyGuardStats } from './cluster-key.ts'
export { claimSigner, UnsupportedClaimKeyError } from './claim-signer.ts'
