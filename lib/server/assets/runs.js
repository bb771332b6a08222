// The runs table's enhancements (/runs, a run's child runs, any form.compare): the Compare button counts
// the ticked runs and waits for two; a sweep's count gets a toggle that folds its child rows open in place
// (rows rendered and escaped by the server, GET /runs/ID/children?fragment=1); the column chooser applies
// a tick at once and remembers the choice per experiment (at most data-max-cols ticks; a remembered
// choice that lands on an error page is forgotten); "Delete…" waits for one ticked run. Without this file the same things work through
// links and forms (headers sort, the count opens the sweep's page, the chooser is a form).
(function () {
  'use strict'
  var mtflow = window.mtflow

  // ---- Compare: enabled at two or more ticked runs, showing the count ----

  function updateCompare(form) {
    var button = form.querySelector('[data-compare-button]')
    if (button === null) return
    var n = form.querySelectorAll('input[name="runs"]:checked').length
    button.disabled = n < 2
    button.textContent = n < 2 ? 'Compare' : 'Compare ' + n + ' runs'
    var del = form.querySelector('[data-delete-button]')
    if (del !== null) {
      del.disabled = n < 1
      del.textContent = n < 1 ? 'Delete…' : 'Delete ' + n + ' run' + (n === 1 ? '' : 's') + '…'
    }
    var hint = form.querySelector('[data-compare-hint]')
    if (hint !== null) hint.textContent = n === 0 ? 'tick two or more runs' : n === 1 ? '1 run ticked: tick another' : n + ' runs ticked'
  }

  mtflow.on('change', 'form.compare input[name="runs"]', function (event, input) {
    updateCompare(input.form)
  })

  // ---- Folded sweeps: the count's toggle shows the child rows under the parent ----

  /** The rows folded open under run `id`: its child rows, theirs, and so on down (a study's trials' folds). */
  function childRows(table, id) {
    // The rows by their parent, grouped once: then every descendant in one walk (a fold of 1,000 rows was O(n²)).
    var byParent = new Map()
    Array.prototype.forEach.call(table.querySelectorAll('tr.child-row'), function (tr) {
      var parent = tr.getAttribute('data-parent')
      if (!byParent.has(parent)) byParent.set(parent, [])
      byParent.get(parent).push(tr)
    })
    var out = []
    var seen = new Set()
    var parents = [id]
    while (parents.length > 0) {
      var rows = byParent.get(parents.pop()) || []
      for (var i = 0; i < rows.length; i++) {
        var tr = rows[i]
        if (seen.has(tr)) continue
        seen.add(tr)
        out.push(tr)
        var run = tr.getAttribute('data-run')
        if (run !== null) parents.push(run)
      }
    }
    return out
  }

  function addToggles(root) {
    var rows = root.querySelectorAll('table[data-runs-table] tr[data-children]')
    Array.prototype.forEach.call(rows, function (tr) {
      var cell = tr.querySelector('td.children')
      if (cell === null || cell.querySelector('button.fold') !== null) return
      var button = document.createElement('button')
      button.type = 'button'
      button.className = 'fold'
      button.setAttribute('aria-expanded', 'false')
      button.setAttribute('aria-label', 'show the ' + tr.getAttribute('data-children') + ' child runs')
      button.textContent = '▸'
      cell.insertBefore(button, cell.firstChild)
    })
  }

  mtflow.on('click', 'table[data-runs-table] button.fold', function (event, button) {
    var tr = button.closest('tr')
    var table = button.closest('table')
    var id = tr.getAttribute('data-run')
    var open = childRows(table, id)
    if (button.getAttribute('aria-expanded') === 'true') {
      open.forEach(function (row) {
        row.remove()
      })
      button.setAttribute('aria-expanded', 'false')
      button.textContent = '▸'
      return
    }
    if (button.disabled) return
    button.disabled = true
    var query = new URLSearchParams({ fragment: '1', cols: table.getAttribute('data-cols') || '' })
    if (table.hasAttribute('data-sort')) {
      query.set('sort', table.getAttribute('data-sort'))
      query.set('dir', table.getAttribute('data-dir') || 'asc')
    }
    mtflow
      .fetchText('/runs/' + encodeURIComponent(id) + '/children?' + query.toString())
      .then(function (html) {
        var rows = mtflow.fragment(html)
        tr.after(rows)
        addToggles(table)
        button.setAttribute('aria-expanded', 'true')
        button.textContent = '▾'
      })
      .catch(function (error) {
        var row = document.createElement('tr')
        row.className = 'child-row error'
        row.setAttribute('data-parent', id)
        var cell = document.createElement('td')
        cell.colSpan = tr.children.length
        cell.textContent = 'child runs not loaded: ' + error.message
        row.appendChild(cell)
        tr.after(row)
        button.setAttribute('aria-expanded', 'true')
        button.textContent = '▾'
      })
      .then(function () {
        button.disabled = false
      })
  })

  // ---- Column chooser: a tick applies at once; the choice is remembered per experiment ----

  function colsKey(chooser) {
    return 'cols:' + (chooser.getAttribute('data-scope') || '*')
  }

  function withCols(cols) {
    var url = new URL(window.location.href)
    url.searchParams.set('cols', cols.join(','))
    url.searchParams.delete('cursor')
    url.searchParams.delete('page_token')
    return url.pathname + url.search
  }

  /** At the chooser's limit the unticked boxes are disabled (the server keeps the first ones of a longer list). */
  function limitTicks(chooser) {
    var max = Number(chooser.getAttribute('data-max-cols')) || Infinity
    var boxes = chooser.querySelectorAll('input[type="checkbox"]')
    var ticked = chooser.querySelectorAll('input[type="checkbox"]:checked').length
    Array.prototype.forEach.call(boxes, function (box) {
      box.disabled = !box.checked && ticked >= max
      box.title = box.disabled ? 'at most ' + max + ' columns: untick one first' : ''
    })
  }

  mtflow.on('change', '[data-col-chooser] input[type="checkbox"]', function (event, input) {
    var chooser = input.closest('[data-col-chooser]')
    var max = Number(chooser.getAttribute('data-max-cols')) || Infinity
    if (input.checked && chooser.querySelectorAll('input[type="checkbox"]:checked').length > max) {
      input.checked = false
      limitTicks(chooser)
      return
    }
    var cols = Array.prototype.map.call(chooser.querySelectorAll('input[type="checkbox"]:checked'), function (box) {
      return box.value
    })
    mtflow.store.set(colsKey(chooser), cols)
    window.location.assign(withCols(cols))
  })

  mtflow.on('click', '[data-cols-reset]', function (event, a) {
    mtflow.store.set(colsKey(a.closest('[data-col-chooser]') || a), undefined)
  })

  mtflow.ready(function () {
    // An error page of /runs: a remembered choice in its URL may be the cause; forget it (the page links the default view).
    var error = document.querySelector('[data-runs-error]')
    if (error !== null) {
      if (new URL(window.location.href).searchParams.has('cols')) mtflow.store.set(colsKey(error), undefined)
      return
    }
    var chooser = document.querySelector('[data-col-chooser]')
    if (chooser !== null && !new URL(window.location.href).searchParams.has('cols')) {
      var remembered = mtflow.store.get(colsKey(chooser))
      if (Array.isArray(remembered) && remembered.every(function (c) { return typeof c === 'string' })) {
        window.location.replace(withCols(remembered))
        return
      }
    }
    if (chooser !== null) limitTicks(chooser)
    Array.prototype.forEach.call(document.querySelectorAll('form.compare'), updateCompare)
    addToggles(document)
  })
})()
