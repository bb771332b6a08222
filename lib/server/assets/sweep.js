// A sweep's charts (the sweep section of a parent run's page): hovering a heatmap cell highlights its row
// and column and writes the cell under the chart; dragging along a parallel-coordinates axis keeps the
// lines that cross it inside the dragged range (several axes intersect; a click on an axis clears its
// range). Without this file the charts are the same, with tooltips (<title>) and run links.
(function () {
  'use strict'
  var mtflow = window.mtflow
  if (!mtflow) return

  function readout(svg, kind) {
    var section = svg.closest('[data-sweep]')
    return section === null ? null : section.querySelector('[data-sweep-readout="' + kind + '"]')
  }

  mtflow.ready(function () {
    var hint = document.querySelector('[data-sweep-readout="parallel"]')
    if (hint !== null && hint.textContent === '') hint.textContent = 'Drag along an axis to keep the lines crossing it there; click the axis to clear.'
  })

  // ---- heatmap: row and column of the hovered cell ----

  function highlight(svg, xi, yi) {
    var cells = svg.querySelectorAll('rect.cell')
    for (var i = 0; i < cells.length; i++) {
      var c = cells[i]
      var on = xi === null || c.getAttribute('data-xi') === xi || c.getAttribute('data-yi') === yi
      c.style.opacity = on ? '' : '0.3'
    }
  }

  /** A value in the heatmap's unit (data-unit, lib/report/metric-units.ts's names), as the server writes it. */
  function inUnit(svg, text) {
    return mtflow.fmtUnit(svg.getAttribute('data-unit') || 'number', text)
  }

  /** The cell in words: its tooltip, or (large grids have none) its data attributes and the axis values. */
  function describe(svg, rect) {
    var title = rect.querySelector('title')
    if (title !== null) return title.textContent.split('\n').join(' · ')
    var value = function (axis, i) {
      var t = svg.querySelector('g.' + axis + '-axis [data-i="' + i + '"]')
      if (t === null) return '?'
      var full = t.querySelector('title')
      return (full === null ? t.textContent : full.textContent) || ''
    }
    var name = function (axis) {
      var t = svg.querySelector('g.' + axis + '-axis .axis-name')
      var full = t === null ? null : t.querySelector('title')
      return full !== null ? full.textContent : t === null ? axis : t.textContent
    }
    var place = function (axis, i) {
      var binned = svg.querySelector('g.' + axis + '-axis[data-binned]') !== null
      return name(axis) + (binned ? ' in ' : '=') + value(axis, i)
    }
    var parts = [place('x', rect.getAttribute('data-xi')) + ', ' + place('y', rect.getAttribute('data-yi')), (svg.getAttribute('data-metric') || 'value') + ' ' + inUnit(svg, rect.getAttribute('data-value')) + ' (' + rect.getAttribute('data-n') + ' run' + (rect.getAttribute('data-n') === '1' ? '' : 's') + ')']
    if (rect.hasAttribute('data-r')) parts.push("neighbours' median " + inUnit(svg, rect.getAttribute('data-r')))
    return parts.join(' · ')
  }

  mtflow.on('mouseover', 'svg.sweep-heatmap rect.cell', function (event, rect) {
    var svg = rect.ownerSVGElement
    highlight(svg, rect.getAttribute('data-xi'), rect.getAttribute('data-yi'))
    var out = readout(svg, 'heatmap')
    if (out !== null) out.textContent = describe(svg, rect)
  })

  mtflow.on('mouseout', 'svg.sweep-heatmap', function (event, svg) {
    if (event.relatedTarget instanceof Node && svg.contains(event.relatedTarget)) return
    highlight(svg, null, null)
    var out = readout(svg, 'heatmap')
    if (out !== null) out.textContent = ''
  })

  // ---- parallel coordinates: brushing ----

  var ranges = new WeakMap() // svg → { axis index: [top, bottom] in SVG units }
  var drag = null

  function svgY(svg, event) {
    var point = svg.createSVGPoint()
    point.x = event.clientX
    point.y = event.clientY
    return point.matrixTransform(svg.getScreenCTM().inverse()).y
  }

  function brushRect(svg, area) {
    var axis = area.getAttribute('data-axis')
    var rect = svg.querySelector('rect.brush[data-axis="' + axis + '"]')
    if (rect === null) {
      rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect')
      rect.setAttribute('class', 'brush')
      rect.setAttribute('data-axis', axis)
      rect.setAttribute('x', String(Number(area.getAttribute('x')) + 3))
      rect.setAttribute('width', '12')
      rect.setAttribute('fill', '#2456c7')
      rect.setAttribute('fill-opacity', '0.25')
      rect.setAttribute('stroke', '#2456c7')
      rect.setAttribute('pointer-events', 'none')
      svg.appendChild(rect)
    }
    return rect
  }

  function apply(svg) {
    var chosen = ranges.get(svg) || {}
    var axes = Object.keys(chosen)
    var lines = svg.querySelectorAll('polyline')
    var kept = 0
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i]
      var keep = true
      for (var k = 0; k < axes.length && keep; k++) {
        var range = chosen[axes[k]]
        var y = line.points.getItem(Number(axes[k])).y
        keep = y >= range[0] && y <= range[1]
      }
      line.style.strokeOpacity = keep ? '' : '0.04'
      if (keep) line.removeAttribute('data-filtered')
      else line.setAttribute('data-filtered', '')
      if (keep) kept++
    }
    var out = readout(svg, 'parallel')
    if (out !== null) out.textContent = axes.length === 0 ? '' : kept + ' of ' + lines.length + ' lines in the chosen ranges (click an axis to clear its range)'
  }

  mtflow.on('pointerdown', 'svg.sweep-parallel rect.brush-area', function (event, area) {
    var svg = area.ownerSVGElement
    event.preventDefault()
    var y = svgY(svg, event)
    drag = { svg: svg, area: area, start: y, end: y }
    if (area.setPointerCapture) area.setPointerCapture(event.pointerId)
  })

  document.addEventListener('pointermove', function (event) {
    if (drag === null) return
    drag.end = svgY(drag.svg, event)
    var top = Number(drag.area.getAttribute('y'))
    var bottom = top + Number(drag.area.getAttribute('height'))
    var lo = Math.max(top, Math.min(drag.start, drag.end))
    var hi = Math.min(bottom, Math.max(drag.start, drag.end))
    var rect = brushRect(drag.svg, drag.area)
    rect.setAttribute('y', String(lo))
    rect.setAttribute('height', String(Math.max(0, hi - lo)))
  })

  document.addEventListener('pointerup', function () {
    if (drag === null) return
    var d = drag
    drag = null
    var axis = d.area.getAttribute('data-axis')
    var chosen = ranges.get(d.svg) || {}
    if (Math.abs(d.end - d.start) < 3) {
      // A click: this axis's range goes.
      delete chosen[axis]
      var old = d.svg.querySelector('rect.brush[data-axis="' + axis + '"]')
      if (old !== null) old.remove()
    } else {
      var rect = brushRect(d.svg, d.area)
      var lo = Number(rect.getAttribute('y'))
      chosen[axis] = [lo, lo + Number(rect.getAttribute('height'))]
    }
    ranges.set(d.svg, chosen)
    apply(d.svg)
  })
})()
