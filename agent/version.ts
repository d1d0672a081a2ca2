/** The agent's version, as in package.json (test/integration/first-hour.test.ts checks `agent --version` against it). */
export const VERSION = '0.1.0'
