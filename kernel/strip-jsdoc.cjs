// Removes JSDoc blocks from TypeScript declaration files for the headless kernel (see
// tslab-launcher.cjs). A small scanner, not a regex: "/**" inside strings and template literal types
// ("src/**/*.ts") is left alone; line comments and plain /* */ comments are kept.
'use strict'

/** Remove /** … *\/ blocks from declaration-file text; strings, templates and other comments stay. */
function stripJsDoc(text) {
  let out = ''
  let i = 0
  let copyFrom = 0
  const n = text.length
  const stack = [] // template nesting: 'T' inside `…`, 'B' inside ${…}
  while (i < n) {
    const c = text.charCodeAt(i)
    const inTemplate = stack.length > 0 && stack[stack.length - 1] === 'T'
    if (inTemplate) {
      if (c === 92) { i += 2; continue }             // \
      if (c === 96) { stack.pop(); i++; continue }    // `
      if (c === 36 && text.charCodeAt(i + 1) === 123) { stack.push('B'); i += 2; continue } // ${
      i++
      continue
    }
    if (c === 39 || c === 34) {                       // ' "
      i++
      while (i < n && text.charCodeAt(i) !== c && text.charCodeAt(i) !== 10) i += text.charCodeAt(i) === 92 ? 2 : 1
      i++
      continue
    }
    if (c === 96) { stack.push('T'); i++; continue }
    if (c === 123 && stack.length > 0) { stack.push('{'); i++; continue }
    if (c === 125 && stack.length > 0) { stack.pop(); i++; continue }
    if (c === 47) {                                   // /
      const d = text.charCodeAt(i + 1)
      if (d === 47) { const e = text.indexOf('\n', i); i = e < 0 ? n : e; continue }
      if (d === 42) {
        const e = text.indexOf('*/', i + 2)
        const end = e < 0 ? n : e + 2
        if (text.charCodeAt(i + 2) === 42 && text.charCodeAt(i + 3) !== 47) {
          // The block becomes its line breaks (or one space): tokens stay apart, line numbers stay right.
          const lines = text.slice(i, end).split('\n').length - 1
          out += text.slice(copyFrom, i) + (lines > 0 ? '\n'.repeat(lines) : ' ')
          copyFrom = end
        }
        i = end
        continue
      }
    }
    i++
  }
  return out + text.slice(copyFrom)
}

module.exports = { stripJsDoc }
