/**
 * A service definition from untrusted input (the control API, the wire, the
 * data dir): checked field by field, defaults filled in. Every refusal is an
 * InvalidServiceError naming the field, so the API can answer a clear 400 and
 * the transport can count a malformed message.
 */
import type { ServiceCheck, ServiceDefinition } from './types.ts'

export class InvalidServiceError extends Error {
  override name = 'InvalidServiceError'
}

export const SERVICE_LIMITS = Object.freeze({
  nameChars: 64,
  replicas: 1000,
  argvItems: 256,
  argChars: 4096,
  envEntries: 128,
  valueChars: 4096,
  tagEntries: 32,
  maxDurationMs: 3_600_000,
  /** Services in the registry (removals included), and the instances or names one message may list. */
  services: 1024
})

export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/
const KNOWN_FIELDS = new Set(['name', 'mode', 'replicas', 'command', 'env', 'tags', 'check', 'restart', 'stopGraceMs'])

const fail = (message: string): never => { throw new InvalidServiceError(message) }

function plainObject (value: unknown, what: string): Record<string, unknown> {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) fail(`${what} must be an object`)
  return value as Record<string, unknown>
}

function integer (value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) fail(`${what} must be an integer from ${min} to ${max}`)
  return value as number
}

function duration (value: unknown, fallback: number, what: string, min = 1): number {
  return value === undefined ? fallback : integer(value, what, min, SERVICE_LIMITS.maxDurationMs)
}

function argv (value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > SERVICE_LIMITS.argvItems) fail(`${what} must be a non-empty array of at most ${SERVICE_LIMITS.argvItems} strings`)
  for (const arg of value as unknown[]) {
    if (typeof arg !== 'string' || arg.length > SERVICE_LIMITS.argChars || arg.includes('\0')) fail(`${what} must hold strings of at most ${SERVICE_LIMITS.argChars} chars`)
  }
  if ((value as string[])[0] === '') fail(`${what}[0] (the program) must not be empty`)
  return [...value as string[]]
}

function stringMap (value: unknown, what: string, keyPattern: RegExp | null, maxEntries: number): Record<string, string> {
  if (value === undefined) return {}
  const o = plainObject(value, what)
  const keys = Object.keys(o)
  if (keys.length > maxEntries) fail(`${what} may have at most ${maxEntries} entries`)
  const out: Record<string, string> = {}
  for (const key of keys.sort()) {
    const v = o[key]
    if (key.length === 0 || key.length > 128 || (keyPattern != null && !keyPattern.test(key))) fail(`${what} has a bad key ${JSON.stringify(key.slice(0, 40))}`)
    if (typeof v !== 'string' || v.length > SERVICE_LIMITS.valueChars) fail(`${what}.${key} must be a string of at most ${SERVICE_LIMITS.valueChars} chars`)
    out[key] = v as string
  }
  return out
}

function check (value: unknown): ServiceCheck {
  const o = plainObject(value, 'check')
  const kinds = (['http', 'tcp', 'command'] as const).filter(k => o[k] !== undefined)
  if (kinds.length !== 1) fail('check must have exactly one of http, tcp, command')
  const out: ServiceCheck = {
    intervalMs: duration(o.intervalMs, 2000, 'check.intervalMs', 100),
    timeoutMs: duration(o.timeoutMs, 1000, 'check.timeoutMs', 10),
    failuresBeforeRestart: o.failuresBeforeRestart === undefined ? 3 : integer(o.failuresBeforeRestart, 'check.failuresBeforeRestart', 1, 100)
  }
  if (o.http !== undefined) {
    if (typeof o.http !== 'string' || !/^https?:\/\/\S+$/.test(o.http) || o.http.length > SERVICE_LIMITS.valueChars) fail('check.http must be an http:// or https:// URL')
    out.http = o.http as string
  } else if (o.tcp !== undefined) {
    if (typeof o.tcp !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(o.tcp)) fail('check.tcp must be HOST:PORT')
    out.tcp = o.tcp as string
  } else {
    out.command = argv(o.command, 'check.command')
  }
  return out
}

/** Checks and completes a definition; throws InvalidServiceError. */
export function parseDefinition (value: unknown): ServiceDefinition {
  const o = plainObject(value, 'the service definition')
  for (const key of Object.keys(o)) if (!KNOWN_FIELDS.has(key)) fail(`unknown field ${JSON.stringify(key.slice(0, 40))}`)
  const name = o.name
  if (typeof name !== 'string' || name.length > SERVICE_LIMITS.nameChars || !SERVICE_NAME.test(name)) {
    fail(`name must be 1-${SERVICE_LIMITS.nameChars} chars of letters, digits, _ . - (not starting with _ . -)`)
  }
  if (o.mode !== 'singleton' && o.mode !== 'replicated') fail(`mode must be "singleton" or "replicated", got ${JSON.stringify(o.mode)?.slice(0, 40)}`)
  const mode = o.mode as ServiceDefinition['mode']
  let replicas = 1
  if (mode === 'replicated') replicas = integer(o.replicas, 'replicas', 1, SERVICE_LIMITS.replicas)
  else if (o.replicas !== undefined && o.replicas !== 1) fail('a singleton has exactly 1 replica (leave replicas out)')
  const restart = o.restart === undefined ? {} : plainObject(o.restart, 'restart')
  const definition: ServiceDefinition = {
    name: name as string,
    mode,
    replicas,
    env: stringMap(o.env, 'env', ENV_KEY, SERVICE_LIMITS.envEntries),
    tags: stringMap(o.tags, 'tags', null, SERVICE_LIMITS.tagEntries),
    restart: {
      initialMs: duration(restart.initialMs, 500, 'restart.initialMs', 10),
      maxMs: duration(restart.maxMs, 30_000, 'restart.maxMs', 10)
    },
    stopGraceMs: duration(o.stopGraceMs, 5000, 'stopGraceMs', 0)
  }
  if (definition.restart.maxMs < definition.restart.initialMs) fail('restart.maxMs must be at least restart.initialMs')
  if (o.command !== undefined) definition.command = argv(o.command, 'command')
  if (o.check !== undefined) definition.check = check(o.check)
  return definition
}
