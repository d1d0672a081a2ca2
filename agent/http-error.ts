/** A control API refusal: its HTTP status and a message for the `error` field. */
export class HttpError extends Error {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** A request body as JSON; a 400 saying why when it is not. */
export function parseJsonBody (body: string): unknown {
  try {
    return JSON.parse(body)
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`)
  }
}

/** A 405 naming the methods `path` takes, unless `method` is one of them. */
export function allowMethods (method: string, path: string, methods: string[]): void {
  if (!methods.includes(method)) throw new HttpError(405, `${method} not allowed on ${path} (use ${methods.join(', ')})`)
}
