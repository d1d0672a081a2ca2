/**
 * The control API's observability endpoints:
 * - `GET /metrics`: Prometheus text exposition (metrics.ts);
 * - `GET /v1/monitor?level=info`: server-sent log records at that level and
 *   more severe, as they are written (`agent monitor`; log.ts);
 * - `GET /ui/`: the live web view (agent/ui/), static files that hold no
 *   data; everything they show comes from the API under its usual rules.
 */
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Agent } from './agent.ts'
import { HttpError } from './http-error.ts'
import { isLogLevel } from './log.ts'
import { metricsOf } from './metrics.ts'
import { openEventStream } from './sse.ts'

export async function serveMetrics (agent: Agent, res: ServerResponse): Promise<void> {
  const metrics = await metricsOf(agent)
  const body = await metrics.scrape()
  res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

export function streamMonitor (agent: Agent, req: IncomingMessage, res: ServerResponse): void {
  const level = new URL(req.url ?? '/', 'http://localhost').searchParams.get('level') ?? 'info'
  if (!isLogLevel(level)) throw new HttpError(400, `level must be error, warn, info or debug, got ${JSON.stringify(level).slice(0, 40)}`)
  openEventStream(agent, req, res, send => agent.log.subscribe(level, record => { send(`data: ${JSON.stringify(record)}\n\n`) }))
}

const UI_FILES: Record<string, string> = {
  '/ui/': 'index.html',
  '/ui/index.html': 'index.html',
  '/ui/app.js': 'app.js',
  '/ui/style.css': 'style.css'
}
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' }

/** GET /ui/…: the web view's files hold no data, so they need no token (the data requests they make do). */
export function isUiPath (path: string): boolean {
  return path === '/ui' || path in UI_FILES
}

const cache = new Map<string, Buffer>()

export async function serveUi (path: string, res: ServerResponse): Promise<void> {
  if (path === '/ui') {
    res.writeHead(308, { location: '/ui/' }).end()
    return
  }
  const name = UI_FILES[path]
  let body = cache.get(name)
  if (body == null) cache.set(name, body = await readUiFile(name))
  res.writeHead(200, {
    'content-type': TYPES[name.split('.').pop() as string],
    'content-length': body.byteLength,
    // The page may talk only to this API and load only its own files.
    'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff'
  })
  res.end(body)
}

/** From agent/ui/ beside this module (the sources, dist/agent/), or dist/agent/ui/ beside the bundle (dist/agent.mjs). */
async function readUiFile (name: string): Promise<Buffer> {
  try {
    return await readFile(new URL(`./ui/${name}`, import.meta.url))
  } catch {
    return await readFile(new URL(`./agent/ui/${name}`, import.meta.url))
  }
}
