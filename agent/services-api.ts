/**
 * The control API's service endpoints (docs/services.md):
 * - `GET /v1/services`: every service with its instances across the cluster;
 * - `POST /v1/services`: add or replace one (the definition as JSON) → `{ name, version }`;
 * - `GET /v1/services/NAME`, `DELETE /v1/services/NAME`;
 * - `GET /v1/services/NAME/logs`: the output of its instances, here and on the members that run one.
 */
import type { Agent } from './agent.ts'
import { allowMethods, HttpError, parseJsonBody } from './http-error.ts'
import { InvalidServiceError } from './services.ts'

/** A service definition is small; a bigger body is refused before parsing. */
export const MAX_DEFINITION_BYTES = 256 * 1024

/** Answers a request under /v1/services, or undefined when the path is not one of these. */
export async function routeServices (agent: Agent, method: string, path: string, body: () => Promise<string>): Promise<{ status: number, json: unknown } | undefined> {
  const allow = (methods: string[]): void => { allowMethods(method, path, methods) }
  if (path === '/v1/services') {
    allow(['GET', 'POST'])
    if (method === 'GET') return { status: 200, json: agent.services.list() }
    return { status: 200, json: define(agent, await body()) }
  }
  const match = /^\/v1\/services\/([^/]+)(\/logs)?$/.exec(path)
  if (match == null) return undefined
  const name = decodeURIComponent(match[1])
  if (match[2] != null) {
    allow(['GET'])
    if (agent.services.list().every(s => s.name !== name)) throw new HttpError(404, `no service ${JSON.stringify(name)}`)
    return { status: 200, json: await agent.services.logs(name) }
  }
  allow(['GET', 'DELETE'])
  if (method === 'DELETE') {
    await body()
    if (!agent.services.remove(name)) throw new HttpError(404, `no service ${JSON.stringify(name)}`)
    return { status: 200, json: { name, removed: true } }
  }
  const service = agent.services.list().find(s => s.name === name)
  if (service == null) throw new HttpError(404, `no service ${JSON.stringify(name)}`)
  return { status: 200, json: service }
}

function define (agent: Agent, body: string): { name: string, version: number } {
  const parsed = parseJsonBody(body)
  try {
    return agent.services.define(parsed)
  } catch (err) {
    if (err instanceof InvalidServiceError) throw new HttpError(400, `invalid service: ${err.message}`)
    throw err
  }
}
