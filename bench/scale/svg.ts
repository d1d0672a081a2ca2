/**
 * Small hand-written SVG plots for the scale report: lines (optionally
 * dashed, on linear or log axes), histograms drawn as steps, vertical
 * markers. No dependency; the output is a plain string.
 */

export interface Series {
  name: string
  points: Array<[number, number]>
  dashed?: boolean
  /** Draw a dot on each point (for series with few points). */
  dots?: boolean
}

export interface Marker {
  x: number
  label: string
}

export interface PlotOptions {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  markers?: Marker[]
  logX?: boolean
  logY?: boolean
  /** Axis ranges; default: the data's, from 0 on linear axes. */
  xMax?: number
  yMax?: number
  width?: number
  height?: number
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf']
/** The legend sits in the right margin, clear of the data. */
const MARGIN = { left: 64, right: 180, top: 36, bottom: 48 }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** 1, 2, 5 × 10^k steps giving about `count` ticks over [lo, hi]. */
function linearTicks (lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1
  const raw = span / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) ?? 10 * mag
  const out: number[] = []
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)))
  return out
}

function logTicks (lo: number, hi: number): number[] {
  const out: number[] = []
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e
      if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t)
    }
  }
  return out
}

function label (v: number): string {
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(0)
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 })
  return String(Number(v.toPrecision(3)))
}

export function linePlot (opts: PlotOptions): string {
  const width = opts.width ?? 760
  const height = opts.height ?? 360
  const all = opts.series.flatMap(s => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const xs = all.map(p => p[0]).concat((opts.markers ?? []).map(m => m.x))
  const ys = all.map(p => p[1])
  // Log axes get half a decade of room each side, so that a lone point still has a scale.
  const xLo = opts.logX === true ? Math.min(...xs.filter(x => x > 0)) / 1.5 : 0
  const xHi = opts.xMax ?? (opts.logX === true ? Math.max(...xs) * 1.5 : Math.max(...xs, xLo + 1))
  const yLo = opts.logY === true ? Math.min(...ys.filter(y => y > 0)) / 3 : 0
  const yHi = opts.yMax ?? (opts.logY === true ? Math.max(...ys) * 3 : Math.max(...ys, yLo + 1e-9) * 1.05)
  const plotW = width - MARGIN.left - MARGIN.right
  const plotH = height - MARGIN.top - MARGIN.bottom
  const fx = (x: number): number => opts.logX === true
    ? MARGIN.left + (Math.log10(x) - Math.log10(xLo)) / ((Math.log10(xHi) - Math.log10(xLo)) || 1) * plotW
    : MARGIN.left + (x - xLo) / ((xHi - xLo) || 1) * plotW
  const fy = (y: number): number => opts.logY === true
    ? MARGIN.top + plotH - (Math.log10(y) - Math.log10(yLo)) / ((Math.log10(yHi) - Math.log10(yLo)) || 1) * plotH
    : MARGIN.top + plotH - (y - yLo) / ((yHi - yLo) || 1) * plotH
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`)
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`)
  out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(opts.title)}</text>`)
  const xTicks = opts.logX === true ? logTicks(xLo, xHi) : linearTicks(xLo, xHi)
  const yTicks = opts.logY === true ? logTicks(yLo, yHi) : linearTicks(yLo, yHi)
  for (const t of xTicks) {
    const x = fx(t).toFixed(1)
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`)
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 14}" text-anchor="middle">${label(t)}</text>`)
  }
  for (const t of yTicks) {
    const y = fy(t).toFixed(1)
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#eee"/>`)
    out.push(`<text x="${MARGIN.left - 4}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`)
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`)
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`)
  out.push(`<text transform="translate(14 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`)
  ;(opts.markers ?? []).forEach((m, i) => {
    const x = fx(m.x).toFixed(1)
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#555" stroke-dasharray="2 3"/>`)
    out.push(`<text x="${Number(x) + 3}" y="${MARGIN.top + 12 + (i % 4) * 13}" fill="#555">${esc(m.label)}</text>`)
  })
  opts.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (opts.logX !== true || x > 0) && (opts.logY !== true || y > 0))
    if (pts.length === 0) return
    const d = pts.map(([x, y]) => `${fx(Math.min(x, xHi)).toFixed(1)},${fy(Math.min(y, yHi)).toFixed(1)}`).join(' ')
    out.push(`<polyline points="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
    if (s.dots === true) for (const [x, y] of pts) out.push(`<circle cx="${fx(x).toFixed(1)}" cy="${fy(y).toFixed(1)}" r="3" fill="${color}"/>`)
    const ly = MARGIN.top + 8 + i * 15
    const lx = MARGIN.left + plotW + 10
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
    out.push(`<text x="${lx + 22}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** A histogram of `values` as a step line: bins of `binWidth` from 0. */
export function histogramSeries (name: string, values: number[], binWidth: number, maxX?: number): Series {
  const top = maxX ?? Math.max(0, ...values)
  const bins = new Array<number>(Math.max(1, Math.ceil(top / binWidth) + 1)).fill(0)
  for (const v of values) bins[Math.min(bins.length - 1, Math.max(0, Math.floor(v / binWidth)))]++
  const points: Array<[number, number]> = []
  bins.forEach((count, i) => {
    points.push([i * binWidth, count])
    points.push([(i + 1) * binWidth, count])
  })
  return { name, points }
}
