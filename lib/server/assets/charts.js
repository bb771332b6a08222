// Interactive charts (run pages, compare): each `.chart[data-chart]` box holds Observable Plot's server-rendered
// SVG and, in its data-chart attribute, the points drawn and the plot's frame (lib/report/run-charts.ts). This
// redraws the lines, axes and markers itself in the same frame and adds a crosshair with a tip, drag-to-zoom
// on x (double-click or "Reset zoom" restores it), a step/time x-axis switch and EMA smoothing (0–0.99, as
// TensorBoard's: debiased). Without script the SVG stays as rendered, with its <title> tips.
(function () {
  'use strict'
  var NS = 'http://www.w3.org/2000/svg'
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  /** Plot's groups this script draws in its own layer instead (the axis labels stay Plot's). */
  var REPLACED = ['y-grid', 'x-grid', 'y-axis tick', 'y-axis tick label', 'x-axis tick', 'x-axis tick label', 'x-axis label', 'line', 'area', 'dot', 'rule']
  var charts = []
  var uid = 0

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name)
    for (var k in attrs) node.setAttribute(k, String(attrs[k]))
    if (parent) parent.appendChild(node)
    return node
  }

  // ---- numbers and dates --------------------------------------------------------------------------------
  /** Numbers in their unit and grouped tick labels: core.js's (the one copy of lib/report/metric-units.ts's rules). */
  function fmtValue(unit, v) {
    return mtflow.fmtUnit(unit, v)
  }
  function grouped(v, digits) {
    return mtflow.grouped(v, digits)
  }
  function pad(n) {
    return (n < 10 ? '0' : '') + n
  }
  /** Epoch ms as "2024-01-05" or, when `minutes`, "2024-01-05 14:30" (UTC). */
  function fmtDate(ms, minutes) {
    var d = new Date(ms)
    var day = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate())
    return minutes ? day + ' ' + pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) : day
  }

  /** d3's tick step: 1, 2 or 5 × 10^k, about `count` ticks over [a, b]. */
  function tickStep(a, b, count) {
    var step0 = Math.abs(b - a) / Math.max(1, count)
    var step1 = Math.pow(10, Math.floor(Math.log(step0) / Math.LN10))
    var err = step0 / step1
    if (err >= 7.07) step1 *= 10
    else if (err >= 3.16) step1 *= 5
    else if (err >= 1.41) step1 *= 2
    return step1
  }
  function linearTicks(a, b, count) {
    if (!(b > a)) return { values: [a], step: 1 }
    var s = tickStep(a, b, count)
    var out = []
    for (var k = Math.ceil(a / s); k * s <= b + s * 1e-9; k++) out.push(Number((k * s).toPrecision(12)))
    return { values: out, step: s }
  }
  function niceDomain(a, b, count) {
    if (!(b > a)) {
      var pad0 = Math.abs(a) * 0.05 || 1
      return [a - pad0, b + pad0]
    }
    var s = tickStep(a, b, count)
    return [Math.floor(a / s) * s, Math.ceil(b / s) * s]
  }

  var MINUTE = 60000
  var HOUR = 60 * MINUTE
  var DAY = 24 * HOUR
  /** Time tick intervals: [ms, months] (months > 0: calendar months). */
  var INTERVALS = [
    [MINUTE, 0], [5 * MINUTE, 0], [15 * MINUTE, 0], [30 * MINUTE, 0], [HOUR, 0], [3 * HOUR, 0], [6 * HOUR, 0], [12 * HOUR, 0],
    [DAY, 0], [2 * DAY, 0], [7 * DAY, 0], [14 * DAY, 0], [0, 1], [0, 3], [0, 6], [0, 12], [0, 24], [0, 60], [0, 120],
  ]
  function timeTicks(a, b, count) {
    var span = (b - a) / Math.max(1, count)
    var pick = INTERVALS[INTERVALS.length - 1]
    for (var i = 0; i < INTERVALS.length; i++) {
      var size = INTERVALS[i][0] || INTERVALS[i][1] * 30.44 * DAY
      if (size >= span) {
        pick = INTERVALS[i]
        break
      }
    }
    var out = []
    if (pick[1] === 0) {
      for (var t = Math.ceil(a / pick[0]) * pick[0]; t <= b; t += pick[0]) out.push(t)
    } else {
      var d = new Date(a)
      var m = d.getUTCFullYear() * 12 + d.getUTCMonth()
      m = Math.ceil(m / pick[1]) * pick[1]
      for (var guard = 0; guard < 1000; guard++, m += pick[1]) {
        var at = Date.UTC(Math.floor(m / 12), m % 12, 1)
        if (at < a) continue
        if (at > b) break
        out.push(at)
      }
    }
    var fmt = function (ms) {
      var x = new Date(ms)
      if (pick[1] >= 12) return String(x.getUTCFullYear())
      if (pick[1] > 0) return MONTHS[x.getUTCMonth()] + ' ' + x.getUTCFullYear()
      if (pick[0] >= DAY) return MONTHS[x.getUTCMonth()] + ' ' + pad(x.getUTCDate())
      return pad(x.getUTCHours()) + ':' + pad(x.getUTCMinutes())
    }
    return { values: out, format: fmt }
  }

  /** Debiased exponential moving average (TensorBoard's smoothing): weight w of the past, 0 = none. */
  function smooth(ys, w) {
    if (!(w > 0)) return ys
    var out = new Array(ys.length)
    var last = 0
    var n = 0
    for (var i = 0; i < ys.length; i++) {
      last = last * w + (1 - w) * ys[i]
      n++
      out[i] = last / (1 - Math.pow(w, n))
    }
    return out
  }

  /** The index in sorted xs nearest to x. */
  function nearest(xs, x) {
    var lo = 0
    var hi = xs.length - 1
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1
      if (xs[mid] < x) lo = mid
      else hi = mid
    }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi
  }

  // ---- one chart ------------------------------------------------------------------------------------------
  function Chart(box, data, svg) {
    this.box = box
    this.data = data
    this.svg = svg
    this.xKey = data.x
    this.domain = null
    this.weight = 0
    this.id = 'mt-chart-' + ++uid
    this.minutes = data.series.some(function (s) {
      return s.t.some(function (t) {
        return t % DAY !== 0
      })
    })
    box.style.position = 'relative'
    var kids = svg.children
    for (var i = 0; i < kids.length; i++) if (REPLACED.indexOf(kids[i].getAttribute('aria-label')) >= 0) kids[i].style.visibility = 'hidden'
    var f = data.frame
    var layer = el('g', { class: 'mt-layer', 'font-variant': 'tabular-nums' }, svg)
    var clip = el('clipPath', { id: this.id + '-clip' }, el('defs', {}, layer))
    el('rect', { x: f.left, y: f.top - 1, width: f.right - f.left, height: f.bottom - f.top + 2 }, clip)
    this.grid = el('g', { stroke: 'currentColor', 'stroke-opacity': 0.1 }, layer)
    this.axes = el('g', {}, layer)
    this.plot = el('g', { 'clip-path': 'url(#' + this.id + '-clip)' }, layer)
    this.cross = el('g', { class: 'mt-crosshair', 'pointer-events': 'none' }, layer)
    this.cross.style.display = 'none'
    this.brush = el('rect', { class: 'mt-brush', y: f.top, height: f.bottom - f.top, fill: '#2456c7', 'fill-opacity': 0.12 }, layer)
    this.brush.style.display = 'none'
    this.tip = document.createElement('div')
    this.tip.className = 'mt-tip'
    this.tip.setAttribute('role', 'status')
    this.tip.style.cssText = 'position:absolute;pointer-events:none;display:none;background:rgba(255,255,255,.95);border:1px solid #c9ced8;border-radius:4px;padding:3px 7px;font:12px/1.35 system-ui,sans-serif;white-space:nowrap;box-shadow:0 1px 4px rgba(0,0,0,.12);z-index:2'
    box.appendChild(this.tip)
    this.tools(box)
    svg.style.cursor = 'crosshair'
    svg.style.touchAction = 'pan-y'
    this.redraw()
  }

  Chart.prototype.tools = function (box) {
    var self = this
    var bar = document.createElement('div')
    bar.className = 'mt-chart-tools'
    bar.style.cssText = 'display:flex;gap:.8em;align-items:center;font-size:12px;margin:.1em 0 .3em;min-height:1.6em'
    var reset = document.createElement('button')
    reset.type = 'button'
    reset.className = 'mt-reset'
    reset.textContent = 'Reset zoom'
    reset.hidden = true
    reset.addEventListener('click', function () {
      self.zoom(null)
    })
    bar.appendChild(reset)
    this.reset = reset
    if (this.data.axisChoice) {
      var label = document.createElement('label')
      label.textContent = 'x axis '
      var select = document.createElement('select')
      select.className = 'mt-x-axis'
      ;[['step', 'step'], ['time', 'time']].forEach(function (o) {
        var opt = document.createElement('option')
        opt.value = o[0]
        opt.textContent = o[1]
        select.appendChild(opt)
      })
      select.value = this.xKey
      select.addEventListener('change', function () {
        self.xKey = select.value === 'time' ? 'time' : 'step'
        self.domain = null
        self.redraw()
      })
      label.appendChild(select)
      bar.appendChild(label)
    }
    if (this.data.smoothing) {
      var sl = document.createElement('label')
      sl.textContent = 'smoothing '
      var range = document.createElement('input')
      range.type = 'range'
      range.className = 'mt-smoothing'
      range.min = '0'
      range.max = '0.99'
      range.step = '0.01'
      range.value = '0'
      var out = document.createElement('output')
      out.textContent = '0'
      range.addEventListener('input', function () {
        var w = Number(range.value)
        self.weight = w >= 0 && w <= 0.99 ? w : 0
        out.textContent = String(self.weight)
        self.redraw()
      })
      sl.appendChild(range)
      sl.appendChild(out)
      bar.appendChild(sl)
    }
    var heading = box.querySelector('h3')
    if (heading && heading.nextSibling) box.insertBefore(bar, heading.nextSibling)
    else box.insertBefore(bar, box.firstChild)
  }

  /** Each series' x values on the current axis. */
  Chart.prototype.xs = function (s) {
    return this.xKey === 'step' && s.s ? s.s : s.t
  }

  Chart.prototype.fullDomain = function () {
    if (this.xKey === this.data.x) return this.data.xDomain.slice()
    var lo = Infinity
    var hi = -Infinity
    var self = this
    this.data.series.forEach(function (s) {
      var xs = self.xs(s)
      if (xs.length > 0) {
        lo = Math.min(lo, xs[0])
        hi = Math.max(hi, xs[xs.length - 1])
      }
    })
    return [lo, hi]
  }

  Chart.prototype.zoom = function (domain) {
    this.domain = domain
    this.reset.hidden = domain === null
    this.redraw()
  }

  Chart.prototype.redraw = function () {
    var self = this
    var d = this.data
    var f = d.frame
    var xd = this.domain || this.fullDomain()
    if (!(xd[1] > xd[0])) xd = [xd[0] - 1, xd[0] + 1]
    var values = d.series.map(function (s) {
      return smooth(s.y, self.weight)
    })
    // y: Plot's domain while the view is Plot's; else fitted to what is in view.
    var yd = d.yDomain.slice()
    if (this.domain !== null || this.weight > 0 || this.xKey !== d.x) {
      var lo = Infinity
      var hi = -Infinity
      d.series.forEach(function (s, k) {
        var xs = self.xs(s)
        for (var i = 0; i < xs.length; i++) {
          if (xs[i] < xd[0] || xs[i] > xd[1]) continue
          var v = values[k][i]
          if (v < lo) lo = v
          if (v > hi) hi = v
          if (s.area && self.weight === 0) {
            if (s.y[i] < lo) lo = s.y[i]
            if (s.y[i] > hi) hi = s.y[i]
          }
          if (s.area) {
            lo = Math.min(lo, 0)
            hi = Math.max(hi, 0)
          }
        }
      })
      if (this.xKey === 'time') {
        d.marks.forEach(function (m) {
          if (m.t >= xd[0] && m.t <= xd[1]) {
            lo = Math.min(lo, m.y)
            hi = Math.max(hi, m.y)
          }
        })
      }
      if (lo <= hi) yd = niceDomain(lo, hi, Math.max(2, (f.bottom - f.top) / 35))
    }
    this.x = function (v) {
      return f.left + ((v - xd[0]) / (xd[1] - xd[0])) * (f.right - f.left)
    }
    this.y = function (v) {
      return f.bottom - ((v - yd[0]) / (yd[1] - yd[0])) * (f.bottom - f.top)
    }
    this.xd = xd
    this.values = values
    this.box.setAttribute('data-x-domain', xd[0] + ',' + xd[1])
    this.box.setAttribute('data-x-axis', this.xKey)
    this.drawAxes(xd, yd)
    this.drawSeries()
    this.hideTip()
  }

  Chart.prototype.drawAxes = function (xd, yd) {
    var f = this.data.frame
    var unit = this.data.unit
    var self = this
    this.grid.textContent = ''
    this.axes.textContent = ''
    var yt = linearTicks(yd[0], yd[1], Math.max(2, (f.bottom - f.top) / 35))
    var digits = Math.max(0, -Math.floor(Math.log(yt.step * (unit === 'percent' ? 100 : 1)) / Math.LN10 + 1e-9))
    var yLabels = el('g', { 'text-anchor': 'end', class: 'mt-y-ticks' }, this.axes)
    yt.values.forEach(function (v) {
      var y = self.y(v)
      el('line', { x1: f.left, x2: f.right, y1: y, y2: y }, self.grid)
      el('line', { x1: f.left - 6, x2: f.left, y1: y, y2: y, stroke: 'currentColor' }, self.axes)
      var text = el('text', { x: f.left - 9, y: y, dy: '0.32em' }, yLabels)
      text.textContent = grouped(unit === 'percent' ? v * 100 : v, Math.min(digits, 6))
    })
    var count = Math.max(2, (f.right - f.left) / 90)
    var xt = this.xKey === 'time' ? timeTicks(xd[0], xd[1], count) : linearTicks(xd[0], xd[1], count)
    var xfmt =
      this.xKey === 'time'
        ? xt.format
        : function (v) {
            return v.toLocaleString('en-US', { maximumFractionDigits: 6 })
          }
    var xLabels = el('g', { 'text-anchor': 'middle', class: 'mt-x-ticks' }, this.axes)
    xt.values.forEach(function (v) {
      var x = self.x(v)
      el('line', { x1: x, x2: x, y1: f.bottom, y2: f.bottom + 6, stroke: 'currentColor' }, self.axes)
      var text = el('text', { x: x, y: f.bottom + 9, dy: '0.71em' }, xLabels)
      text.textContent = xfmt(v)
    })
    if (this.xKey === 'step') {
      var label = el('text', { x: f.right, y: f.bottom + 24, dy: '0.71em', 'text-anchor': 'end' }, this.axes)
      label.textContent = 'step →'
    }
    if (this.data.rule !== null && this.data.rule >= yd[0] && this.data.rule <= yd[1]) el('line', { x1: f.left, x2: f.right, y1: this.y(this.data.rule), y2: this.y(this.data.rule), stroke: '#999' }, this.axes)
  }

  Chart.prototype.drawSeries = function () {
    var self = this
    var d = this.data
    this.plot.textContent = ''
    d.series.forEach(function (s, k) {
      var xs = self.xs(s)
      var line = function (ys) {
        var parts = []
        for (var i = 0; i < xs.length; i++) parts.push((i === 0 ? 'M' : 'L') + self.x(xs[i]).toFixed(2) + ',' + self.y(ys[i]).toFixed(2))
        return parts.join('')
      }
      if (s.area) {
        var base = self.y(0)
        var path = line(self.values[k])
        if (xs.length > 0) path += 'L' + self.x(xs[xs.length - 1]).toFixed(2) + ',' + base.toFixed(2) + 'L' + self.x(xs[0]).toFixed(2) + ',' + base.toFixed(2) + 'Z'
        el('path', { d: path, fill: s.color, 'fill-opacity': 0.35, class: 'mt-series', 'data-series': k }, self.plot)
        return
      }
      if (self.weight > 0) el('path', { d: line(s.y), fill: 'none', stroke: s.color, 'stroke-opacity': 0.25, 'stroke-width': 1, class: 'mt-raw' }, self.plot)
      el('path', { d: line(self.values[k]), fill: 'none', stroke: s.color, 'stroke-width': 1.3, 'stroke-linejoin': 'round', class: 'mt-series', 'data-series': k }, self.plot)
    })
    if (this.xKey === 'time') {
      d.marks.forEach(function (m) {
        var up = m.kind === 'entry'
        var fill = up ? (m.direction === 'short' ? '#b3261e' : '#1b7f3b') : '#333'
        var g = el('path', { d: up ? 'M0,-6L5.2,3L-5.2,3Z' : 'M0,6L5.2,-3L-5.2,-3Z', fill: fill, class: 'mt-mark', transform: 'translate(' + self.x(m.t).toFixed(2) + ',' + self.y(m.y).toFixed(2) + ')' }, self.plot)
        el('title', {}, g).textContent = m.kind + ' ' + m.direction + ' ' + fmtDate(m.t, true) + ' at ' + fmtValue('number', m.y)
      })
    }
  }

  /** SVG x of a pointer event (the SVG may be scaled to its box). */
  Chart.prototype.svgPoint = function (event) {
    var rect = this.svg.getBoundingClientRect()
    var f = this.data.frame
    return { x: ((event.clientX - rect.left) * f.width) / rect.width, y: ((event.clientY - rect.top) * f.height) / rect.height, scale: rect.width / f.width, rect: rect }
  }

  Chart.prototype.invertX = function (px) {
    var f = this.data.frame
    return this.xd[0] + ((px - f.left) / (f.right - f.left)) * (this.xd[1] - this.xd[0])
  }

  Chart.prototype.hideTip = function () {
    this.tip.style.display = 'none'
    this.cross.style.display = 'none'
  }

  Chart.prototype.showTip = function (event) {
    var p = this.svgPoint(event)
    var f = this.data.frame
    if (p.x < f.left || p.x > f.right || p.y < f.top - 4 || p.y > f.bottom + 4) return this.hideTip()
    var x = this.invertX(p.x)
    var self = this
    // The nearest point of each series in view; the crosshair at the nearest of them.
    var hits = []
    this.data.series.forEach(function (s, k) {
      var xs = self.xs(s)
      if (xs.length === 0) return
      var i = nearest(xs, x)
      if (xs[i] < self.xd[0] || xs[i] > self.xd[1]) return
      hits.push({ s: s, k: k, i: i, x: xs[i], d: Math.abs(xs[i] - x) })
    })
    if (hits.length === 0) return this.hideTip()
    var at = hits.reduce(function (a, b) {
      return b.d < a.d ? b : a
    }).x
    hits = hits.filter(function (h) {
      return h.x === at
    })
    this.cross.textContent = ''
    el('line', { x1: this.x(at), x2: this.x(at), y1: f.top, y2: f.bottom, stroke: '#555', 'stroke-dasharray': '3,3' }, this.cross)
    hits.forEach(function (h) {
      el('circle', { cx: self.x(at), cy: self.y(self.values[h.k][h.i]), r: 3.5, fill: h.s.color, stroke: 'white' }, self.cross)
    })
    this.cross.style.display = ''
    var tip = this.tip
    tip.textContent = ''
    var head = document.createElement('div')
    head.className = 'mt-tip-x'
    head.style.fontWeight = '600'
    var h0 = hits[0]
    head.textContent = this.xKey === 'step' ? 'step ' + at.toLocaleString('en-US') + (h0.s.t ? ' · ' + fmtDate(h0.s.t[h0.i], this.minutes) : '') : fmtDate(at, this.minutes)
    tip.appendChild(head)
    hits.forEach(function (h) {
      var row = document.createElement('div')
      row.className = 'mt-tip-row'
      var swatch = document.createElement('span')
      swatch.style.cssText = 'display:inline-block;width:.7em;height:.7em;margin-right:.35em;border-radius:2px;background:' + h.s.color
      row.appendChild(swatch)
      var v = self.values[h.k][h.i]
      var text = (self.data.series.length > 1 ? h.s.label + ': ' : '') + fmtValue(self.data.unit, v)
      if (self.weight > 0) text += ' (raw ' + fmtValue(self.data.unit, h.s.y[h.i]) + ')'
      var span = document.createElement('span')
      span.className = 'mt-tip-value'
      span.textContent = text
      row.appendChild(span)
      tip.appendChild(row)
    })
    tip.style.display = 'block'
    // Beside the crosshair, inside the box; on the left of it past the middle.
    var boxRect = this.box.getBoundingClientRect()
    var px = p.rect.left - boxRect.left + this.x(at) * p.scale
    var py = p.rect.top - boxRect.top + f.top * p.scale
    var left = px + 12
    if (left + tip.offsetWidth > this.box.clientWidth) left = px - 12 - tip.offsetWidth
    tip.style.left = Math.max(0, left) + 'px'
    tip.style.top = py + 'px'
  }

  // ---- events (delegated: one listener per kind for every chart) ------------------------------------------
  function chartOf(target) {
    var box = target instanceof Element ? target.closest('.chart[data-chart]') : null
    if (box === null) return null
    for (var i = 0; i < charts.length; i++) if (charts[i].box === box) return charts[i]
    return null
  }
  var drag = null

  function onMove(event) {
    if (drag !== null) {
      var p = drag.chart.svgPoint(event)
      var f = drag.chart.data.frame
      var x = Math.max(f.left, Math.min(f.right, p.x))
      drag.to = x
      drag.chart.brush.setAttribute('x', Math.min(drag.from, x))
      drag.chart.brush.setAttribute('width', Math.abs(x - drag.from))
      drag.chart.brush.style.display = ''
      drag.chart.hideTip()
      return
    }
    var chart = event.target instanceof Element && event.target.closest('svg') ? chartOf(event.target) : null
    for (var i = 0; i < charts.length; i++) if (charts[i] !== chart) charts[i].hideTip()
    if (chart !== null && event.target.closest('svg') === chart.svg) chart.showTip(event)
  }

  function onDown(event) {
    if (event.button !== 0) return
    var chart = chartOf(event.target)
    if (chart === null || !(event.target instanceof Element) || event.target.closest('svg') !== chart.svg) return
    var p = chart.svgPoint(event)
    var f = chart.data.frame
    if (p.x < f.left || p.x > f.right || p.y < f.top || p.y > f.bottom) return
    event.preventDefault()
    drag = { chart: chart, from: p.x, to: p.x }
  }

  function onUp() {
    if (drag === null) return
    var d = drag
    drag = null
    d.chart.brush.style.display = 'none'
    if (Math.abs(d.to - d.from) < 5) return
    var a = d.chart.invertX(Math.min(d.from, d.to))
    var b = d.chart.invertX(Math.max(d.from, d.to))
    d.chart.zoom([a, b])
  }

  function init() {
    var boxes = document.querySelectorAll('.chart[data-chart]')
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i]
      var svg = box.querySelector('svg[viewBox]')
      var data
      try {
        data = JSON.parse(box.getAttribute('data-chart'))
      } catch (e) {
        continue
      }
      if (svg === null || !data || data.v !== 1) continue
      charts.push(new Chart(box, data, svg))
    }
    if (charts.length === 0) return
    document.addEventListener('pointermove', onMove)
    document.addEventListener('pointerdown', onDown)
    document.addEventListener('pointerup', onUp)
    document.addEventListener('pointercancel', onUp)
    document.addEventListener('dblclick', function (event) {
      var chart = chartOf(event.target)
      if (chart !== null && chart.domain !== null) chart.zoom(null)
    })
    document.addEventListener('pointerleave', function () {
      charts.forEach(function (c) {
        c.hideTip()
      })
    })
  }

  var mtflow = (window.mtflow = window.mtflow || {})
  /** For people and tests: the charts on the page and the smoothing the server and this share. */
  mtflow.charts = { list: charts, smooth: smooth }
  if (mtflow.ready) mtflow.ready(init)
  else if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
  else init()
})()
