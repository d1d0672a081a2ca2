/**
 * Public face of the libp2p layer: the node factory, the SWIM and work-claims
 * transports, their codecs and configuration. Types and factories only; the
 * implementation lives in the files these names come from.
 */
export { createNode, DEFAULT_MAX_CONNECTIONS, DEFAULT_ADDRESS_DIAL_TIMEOUT_MS } from './libp2p-node.ts'
export type { NodeOptions, ClusterNode, ClusterServices } from './libp2p-node.ts'
export { newInboundStats } from './inbound-guard.ts'
export type { InboundStats } from './inbound-guard.ts'
export { createWorkTransport, WORK_TOPIC, WORK_PROTOCOL, DEFAULT_WORK_TRANSPORT_CONFIG } from './work-transport.ts'
export type { WorkTransport, WorkTransportConfig, WorkTransportStats, WorkMessageHandler } from './work-transport.ts'
export { encodeWire, decodeWire, validateWire, WireError } from './work-codec.ts'
export { isServiceMessage, LOG_ANSWER_LINES, LOG_LINE_CHARS } from './service-codec.ts'
export type { ServiceLogsMessage, ServiceWireMessage, WireLogLine } from './service-codec.ts'
export type { WireMessage, LookupMessage } from './work-codec.ts'
export { createSwimTransport, SWIM_PROTOCOL } from './swim-transport.ts'
export type { SwimTransport, SwimTransportHandlers, SwimTransportStats } from './swim-transport.ts'
export { encodeMessage, decodeMessage, validateMessage, MalformedMessageError, UnsupportedVersionError, WIRE_VERSION, MESSAGE_LIMITS } from './codec.ts'
export { DEFAULT_TRANSPORT_CONFIG, fromPartial, validate, InvalidTransportConfigError } from './config.ts'
export type { TransportConfig } from './config.ts'
export { clusterKeyGuard, loadClusterKey, parseClusterKey, writeClusterKey, newClusterKey, InvalidClusterKeyError } from './cluster-key.ts'
export type { ClusterKeyGuard, ClusterKeyGuardStats } from './cluster-key.ts'
export { ed25519Signer, UnsupportedSigningKeyError } from './signer.ts'
export { withTimeout } from './with-timeout.ts'
export { RTT_BUCKETS_MS } from './rtt-histogram.ts'
export type { RttHistogram } from './rtt-histogram.ts'
export { hostOf, peerIdIn, tcpPortOf, transportOf, withoutPeerId, withPeerId } from './multiaddrs.ts'
export { isOperatorMessage, OPERATOR_LIMITS } from './operator-codec.ts'
export type { OperatorMessage, WireUserEvent } from './operator-codec.ts'
