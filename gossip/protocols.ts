/** The libp2p protocol ids this agent speaks: a different version does not talk to this one. Dependency-free, so the CLI can print them without loading libp2p. */
export const SWIM_PROTOCOL = '/cluster/swim/1.0.0'
export const WORK_PROTOCOL = '/cluster/work/1.0.0'
