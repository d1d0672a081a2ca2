/** A control API refusal: its HTTP status and a message for the `error` field. */
export class HttpError extends Error {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}
