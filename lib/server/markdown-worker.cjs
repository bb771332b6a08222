// Markdown to HTML on a thread of its own (lib/server/markdown.ts starts it for one notebook and ends it):
// marked takes time quadratic or worse in some inputs ("_a " or "[a](" repeated: 45 s for 10,000
// characters) and overflows the stack on deep nesting, so the server's thread never runs it on a
// notebook's markdown. Plain CommonJS: nothing to compile, so the thread starts in a few milliseconds.
'use strict'
const { parentPort } = require('node:worker_threads')
const { marked } = require('marked')

parentPort.once('message', (sources) => {
  parentPort.postMessage(
    sources.map((source) => {
      try {
        return marked.parse(source, { async: false })
      } catch {
        return null // a source marked cannot take (its stack overflowed) is shown as its source
      }
    }),
  )
})
