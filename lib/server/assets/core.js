// mtflow's shared client code (first in the bundle /assets/mtflow.js): the one global, window.mtflow, with
// the helpers the page scripts use. Pages work without any of it; this only enhances them. No inline
// handlers, nothing from elsewhere: the page CSP allows this bundle ('self') and nothing else.
(function () {
  'use strict'
  var mtflow = (window.mtflow = window.mtflow || {})
  // CSS can tell a page with script from one without (`.js .nojs-only { display: none }`).
  document.documentElement.classList.add('js')

  /** Run fn once the document is parsed (the bundle is deferred, so usually at once). */
  mtflow.ready = function (fn) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', fn)
    else fn()
  }

  /** Delegated listener: handler(event, element) for events whose target is inside `selector`. */
  mtflow.on = function (type, selector, handler, options) {
    document.addEventListener(
      type,
      function (event) {
        var target = event.target
        if (!(target instanceof Element)) return
        var el = target.closest(selector)
        if (el !== null) handler(event, el)
      },
      options || false,
    )
  }

  /** localStorage as JSON, failures (private mode, quota, damaged values) ignored. */
  mtflow.store = {
    get: function (key, fallback) {
      try {
        var text = window.localStorage.getItem('mtflow:' + key)
        return text === null ? fallback : JSON.parse(text)
      } catch (e) {
        return fallback
      }
    },
    set: function (key, value) {
      try {
        if (value === undefined) window.localStorage.removeItem('mtflow:' + key)
        else window.localStorage.setItem('mtflow:' + key, JSON.stringify(value))
      } catch (e) {
        /* storage unavailable: the choice lasts for this page only */
      }
    },
  }

  /** GET a same-origin URL as text (the login cookie goes along); rejects with the server's message. */
  mtflow.fetchText = function (url) {
    return fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } }).then(function (response) {
      return response.text().then(function (text) {
        if (response.ok) return text
        var message = 'HTTP ' + response.status
        try {
          message = JSON.parse(text).error || message
        } catch (e) {
          /* not JSON */
        }
        throw new Error(message)
      })
    })
  }

  // ---- numbers in their unit: the one client copy of lib/report/metric-units.ts fmtUnit (and html.ts fmtNumber) ----
  /** A number with `digits` decimals, thousands grouped ("-1,234.50"; -0 as "0.00"). */
  function grouped(v, digits) {
    var text = v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text
  }
  /** A plain number: integers grouped, 1,000 and up with at most 2 decimals, else 4 significant digits. */
  function fmtNumber(v) {
    if (v === undefined || v === null) return ''
    if (Number.isNaN(v)) return 'NaN'
    if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞'
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US')
    var a = Math.abs(v)
    if (a >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 2 })
    if (a >= 1e-3 || a === 0) return String(Number(v.toPrecision(4)))
    return v.toExponential(3)
  }
  /** Milliseconds as people read a span: "850 ms", "12.5 s", "4 min 5 s", "3 h 20 min", "2 d 3 h", "3 d". */
  function fmtSpan(ms) {
    if (!Number.isFinite(ms)) return fmtNumber(ms)
    var sign = ms < 0 ? '-' : ''
    var a = Math.abs(ms)
    if (a < 1000) return sign + Math.round(a) + ' ms'
    if (a < 60000) return sign + (a / 1000).toFixed(1) + ' s'
    var two = function (big, small, unit) {
      return sign + big + (small === 0 ? '' : ' ' + small + ' ' + unit)
    }
    var minutes = Math.floor(a / 60000)
    if (minutes < 60) return two(minutes + ' min', Math.floor((a % 60000) / 1000), 's')
    var hours = Math.floor(minutes / 60)
    if (hours < 24) return two(hours + ' h', minutes % 60, 'min')
    var days = Math.floor(hours / 24)
    return two(days.toLocaleString('en-US') + ' d', hours % 24, 'h')
  }
  /**
   * A value in a unit (metric-units.ts's names: percent, ratio, count, money, bars, duration, number), as the
   * server writes it: 0.1234 → "12.34 %". A string is read as a number first; undefined, null and '' are "".
   */
  mtflow.fmtUnit = function (unit, value) {
    if (value === undefined || value === null || value === '') return ''
    var v = typeof value === 'number' ? value : Number(value)
    // A string that is not a number is shown as it came; NaN and ±∞ spelled as the server does.
    if (!Number.isFinite(v)) return Number.isNaN(v) && typeof value !== 'number' ? String(value) : fmtNumber(v)
    switch (unit) {
      case 'percent':
        return grouped(v * 100, 2) + ' %'
      case 'ratio':
      case 'money':
        return grouped(v, 2)
      case 'count':
        return Number.isInteger(v) ? grouped(v, 0) : fmtNumber(v)
      case 'bars':
        return grouped(v, Number.isInteger(v) ? 0 : 1) + ' bars'
      case 'duration':
        return fmtSpan(v)
      default:
        return fmtNumber(v)
    }
  }
  mtflow.grouped = grouped

  /** Markup rendered (and escaped) by this server as nodes; a <template> parses table rows too and runs nothing. */
  mtflow.fragment = function (html) {
    var template = document.createElement('template')
    template.innerHTML = html
    return template.content
  }
})()
