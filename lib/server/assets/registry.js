// The registry entry page's change forms (form[data-registry-action], lib/server/registry-actions.ts): a
// form with data-confirm (retire, remove an alias) asks first; a sent form's button is disabled so a double
// click sends one change; the reason box counts its characters against its limit. Without this file the
// forms post as they are (the server checks the reason and everything else).
(function () {
  'use strict'
  var mtflow = window.mtflow

  mtflow.on('submit', 'form[data-registry-action]', function (event, form) {
    var question = form.getAttribute('data-confirm')
    if (question !== null && !window.confirm(question)) {
      event.preventDefault()
      return
    }
    var button = form.querySelector('button[type="submit"]')
    if (button !== null) {
      // After this event: a disabled button's own submission would otherwise be cancelled.
      window.setTimeout(function () {
        button.disabled = true
      }, 0)
    }
  })

  function count(input) {
    var label = input.parentNode
    var counter = label.querySelector('.reason-count')
    if (counter === null) {
      counter = document.createElement('span')
      counter.className = 'reason-count muted'
      label.appendChild(counter)
    }
    var max = Number(input.getAttribute('maxlength')) || 500
    counter.textContent = ' ' + input.value.length + '/' + max
  }

  mtflow.on('input', 'form[data-registry-action] input[name="reason"]', function (event, input) {
    count(input)
  })
})()
