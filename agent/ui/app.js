// The live web view (GET /ui/): the control API's own JSON, polled every
// 2 s, plus its event stream for member changes the moment they happen.
// With an API token, open /ui/#token=<token>: the token stays in this tab
// (sessionStorage) and goes out only as an Authorization header.
'use strict'

const POLL_MS = 2000
const MAX_EVENTS = 50
const state = { members: new Map(), health: null, events: [] }

const token = (() => {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash)
  if (m != null) {
    sessionStorage.setItem('agent-token', decodeURIComponent(m[1]))
    history.replaceState(null, '', location.pathname)
  }
  return sessionStorage.getItem('agent-token')
})()
const headers = token != null ? { authorization: `Bearer ${token}` } : {}

async function getJson (path) {
  const res = await fetch(path, { headers })
  if (!res.ok) throw new Error(`${path}: ${res.status}`)
  return await res.json()
}

function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v
    else node.setAttribute(k, v)
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return node
}

function ago (iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`
}

function hostOf (addr) {
  const m = /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)/.exec(addr)
  return m != null ? m[1] : addr
}

function renderMembers () {
  const body = document.querySelector('#members tbody')
  const rows = [...state.members.values()].sort((a, b) => a.name.localeCompare(b.name))
  body.replaceChildren(...rows.map(m => el('tr', { 'data-peer': m.peerId, 'data-status': m.status, 'data-cause': m.cause ?? '' },
    el('td', {}, m.name),
    el('td', { class: `status ${m.status}` }, m.status + (m.degraded ? ' (degraded)' : '')),
    el('td', {}, m.cause ?? ''),
    el('td', { title: m.statusSince }, ago(m.statusSince)),
    el('td', { class: 'mute' }, Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(' ')),
    el('td', {}, m.incarnation))))
  renderPaths(rows)
  renderSummary()
}

/** One column per transport and host seen on any member: a cell per member and path, with its RTT. */
function renderPaths (rows) {
  const columns = []
  for (const m of rows) {
    for (const p of m.paths) {
      const key = `${p.transport} ${hostOf(p.addr)}`
      if (!columns.includes(key)) columns.push(key)
    }
  }
  columns.sort()
  const table = document.getElementById('paths')
  table.tHead.replaceChildren(el('tr', {}, el('th', {}, 'member'), ...columns.map(c => el('th', {}, c))))
  const body = table.tBodies[0]
  body.replaceChildren(...rows.filter(m => m.paths.length > 0).map(m => el('tr', { 'data-peer': m.peerId }, el('td', {}, m.name), ...columns.map(c => {
    const p = m.paths.find(p => `${p.transport} ${hostOf(p.addr)}` === c)
    if (p == null) return el('td', { class: 'mute' }, '–')
    // `unknown`: never tried (the member answers over another path); a round trip only while up.
    const label = p.state === 'unknown' ? 'not tried' : p.state === 'up' && p.rttMs != null ? `up ${p.rttMs} ms` : p.state
    return el('td', { class: `cell ${p.state}`, title: p.lastError != null ? JSON.stringify(p.lastError) : p.addr }, label)
  }))))
}

function renderSummary () {
  const h = state.health
  if (h == null) return
  const counts = Object.entries(h.members).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(', ')
  document.getElementById('summary').textContent = counts
  const side = document.getElementById('side')
  const stable = h.stableSize === 0 ? 'no stable membership yet' : `last stable membership: ${h.stableSize} members`
  side.replaceChildren(el('span', { class: `status ${h.side === 'minority' ? 'failed' : h.side === 'majority' ? 'alive' : 'suspect'}` }, h.side),
    ` side · ${h.componentSize} alive or suspect in view · ${stable}` + (h.joined ? '' : ` · not joined yet${h.joinError != null ? ` (${h.joinError})` : ''}`))
}

function renderJobs (jobs) {
  const list = document.getElementById('jobs')
  if (jobs.length === 0) { list.replaceChildren(el('li', { class: 'mute' }, 'no jobs')); return }
  list.replaceChildren(...jobs.slice(0, 20).map(j => el('li', { 'data-job': j.id },
    el('progress', { max: Math.max(1, j.stats.tasks), value: j.stats.done }), ' ',
    `${j.workload} ${j.id.slice(0, 8)} `, el('span', { class: `status ${j.status === 'done' ? 'alive' : j.status === 'running' ? 'suspect' : 'failed'}` }, j.status),
    el('span', { class: 'mute' }, ` ${j.stats.done}/${j.stats.tasks} tasks`))))
}

function renderServices (services) {
  const list = document.getElementById('services')
  if (services.length === 0) { list.replaceChildren(el('li', { class: 'mute' }, 'no services')); return }
  list.replaceChildren(...services.map(s => el('li', { 'data-service': s.name },
    el('strong', {}, s.name), ` ${s.mode}${s.mode === 'replicated' ? ` ×${s.replicas}` : ''} `, el('span', { class: 'mute' }, s.status), ': ',
    s.instances.length === 0 ? 'nowhere' : s.instances.map(i => `${i.member} (${i.state}, epoch ${i.epoch})`).join(', '))))
}

function renderEvents () {
  document.getElementById('events').replaceChildren(...state.events.map(e => el('li', {}, `${e.at.toLocaleTimeString()} ${e.type} ${e.text}`)))
}

function noteEvent (type, data) {
  const text = data.name != null && data.peerId != null
    ? `${data.name} ${data.status}${data.cause != null ? ` (${data.cause})` : ''}`
    : data.instance ?? data.workload ?? (data.side != null ? `side ${data.side}` : data.name ?? '')
  state.events.unshift({ at: new Date(), type, text })
  state.events.length = Math.min(state.events.length, MAX_EVENTS)
  renderEvents()
}

async function poll () {
  try {
    const [members, health, jobs, services, self] = await Promise.all([
      getJson('/v1/members'), getJson('/v1/health'), getJson('/v1/jobs'), getJson('/v1/services'), getJson('/v1/self')])
    state.members = new Map(members.map(m => [m.peerId, m]))
    state.health = health
    document.getElementById('self').textContent = `${self.name} · cluster agent`
    document.title = `${self.name} · cluster agent`
    renderMembers()
    renderJobs(jobs)
    renderServices(services)
  } catch (err) {
    document.getElementById('summary').textContent = `cannot reach the agent: ${err.message}`
  }
}

/** GET /v1/events as a stream (fetch, not EventSource, so that the token can go in a header); reconnects. */
async function follow () {
  const status = document.getElementById('stream')
  for (;;) {
    try {
      const res = await fetch('/v1/events', { headers })
      if (!res.ok || res.body == null) throw new Error(`events: ${res.status}`)
      status.textContent = 'live'
      status.className = 'stream on'
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const type = /^event: (.+)$/m.exec(block)?.[1]
          const data = /^data: (.+)$/m.exec(block)?.[1]
          if (type != null && data != null) onEvent(type, JSON.parse(data))
        }
      }
    } catch { /* reconnect below */ }
    status.textContent = 'reconnecting…'
    status.className = 'stream off'
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

function onEvent (type, data) {
  // Progress is shown by the job's bar; the list keeps what changed.
  if (type !== 'job:progress') noteEvent(type, data)
  if (type.startsWith('member:') && data.peerId != null) {
    if (type === 'member:reap') state.members.delete(data.peerId)
    else state.members.set(data.peerId, data)
    renderMembers()
  } else if (type.startsWith('partition:') || type.startsWith('job:') || type.startsWith('service:')) {
    poll()
  }
}

poll()
setInterval(poll, POLL_MS)
follow()
