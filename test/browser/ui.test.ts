/**
 * The live web view (GET /ui/) in a real browser: Debian's chromium, driven
 * by playwright-core (no browser download). A 3-agent cluster: the page
 * lists all three alive; after a kill -9 of one, its row turns failed with
 * cause crash without a reload; the page logs no console error. A screenshot
 * is saved as test-output/ui.png.
 *
 * The browser: CHROMIUM_PATH, else /usr/bin/chromium (`apt-get install
 * chromium`, as .ci/run does). Without one the test is skipped, unless
 * REQUIRE_BROWSER=1 (CI) makes that a failure.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { killAll, REPO, startCluster, type AgentProcess } from '../integration/harness.ts'

const BROWSER = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const OUTPUT = join(REPO, 'test-output')
const missing = !existsSync(BROWSER)
if (missing && process.env.REQUIRE_BROWSER === '1') throw new Error(`no browser at ${BROWSER}: apt-get install chromium, or set CHROMIUM_PATH`)

describe('the web view in chromium', { skip: missing ? `no browser at ${BROWSER} (apt-get install chromium, or set CHROMIUM_PATH)` : false }, () => {
  let agents: AgentProcess[] = []
  let browser: Browser
  let page: Page
  const consoleErrors: string[] = []

  before(async () => {
    agents = await startCluster(3, 'web')
    // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox'] })
    page = await browser.newPage({ viewport: { width: 1100, height: 800 } })
    page.on('console', msg => { if (msg.type() === 'error') consoleErrors.push(msg.text()) })
    page.on('pageerror', err => { consoleErrors.push(err.message) })
  })

  after(async () => {
    await browser?.close()
    await killAll(agents)
  })

  it('lists all three alive, then shows a killed member failed (crash) without a reload; no console errors', async () => {
    await page.goto(`http://${agents[0].rpc}/ui/`)
    const row = (a: AgentProcess): string => `#members tr[data-peer="${a.peerId}"]`
    for (const a of agents) await page.waitForSelector(`${row(a)}[data-status="alive"]`, { timeout: 20_000 })
    await page.waitForSelector('#stream.on', { timeout: 10_000 })
    const navigations: string[] = []
    page.on('framenavigated', frame => { if (frame === page.mainFrame()) navigations.push(frame.url()) })

    const victim = agents[2]
    victim.child.kill('SIGKILL')
    await page.waitForSelector(`${row(victim)}[data-status="failed"][data-cause="crash"]`, { timeout: 20_000 })
    assert.deepEqual(navigations, [], 'the page was not reloaded')
    assert.match(await page.textContent(`${row(victim)} td:nth-child(2)`) ?? '', /failed/)
    assert.match(await page.textContent('#events') ?? '', /member:failed web3 failed \(crash\)/)
    // The reachability matrix has a cell per member and path.
    assert.ok(await page.locator('#paths tbody tr').count() >= 2)

    await mkdir(OUTPUT, { recursive: true })
    await page.screenshot({ path: join(OUTPUT, 'ui.png'), fullPage: true })
    assert.deepEqual(consoleErrors, [])
  })
})
