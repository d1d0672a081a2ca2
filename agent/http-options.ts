/**
 * How both of the agent's HTTP listeners (the control API and the
 * `--metrics-addr` listener) hold their clients.
 */
export const HTTP_SERVER_OPTIONS = {
  /** A client must have sent its whole request head within this (408 otherwise). */
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  /**
   * How often Node looks for connections past headersTimeout or
   * requestTimeout, so a client that never finishes its head is cut off 10 to
   * 15 s after it connected. Node's default (30 s) would let it hold the
   * connection for up to 40 s; a check every second costs an idle agent
   * 0.13 ms of CPU a second per listener (measured: a wake-up of a process
   * that otherwise sleeps), 3-4 % of its idle CPU, every 5 s a fifth of that.
   */
  connectionsCheckingInterval: 5_000,
  /**
   * An idle connection is kept this long, past a Prometheus scraper's 15-s or
   * 1-min interval (it reuses its connection), not Node's 5 s: otherwise every
   * scrape of /metrics pays for a new connection.
   */
  keepAliveTimeout: 65_000
}
