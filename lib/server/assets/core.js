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

  /** Markup rendered (and escaped) by this server as nodes; a <template> parses table rows too and runs nothing. */
  mtflow.fragment = function (html) {
    var template = document.createElement('template')
    template.innerHTML = html
    return template.content
  }
})()
