// CSS from notebook outputs kept inside the box it is shown in: declarations that take an element out of
// its box (position fixed/absolute/sticky, negative margins, transforms) are dropped, and a <style> sheet
// is rewritten so that every rule only reaches elements inside the box (each selector scoped under it).
// Runs after sanitize.ts's isSafeCss, so the text holds no backslash (CSS escape), "<", "&" or remote url().

/** A rewritten sheet, and whether anything was dropped or scoped on the way. */
export interface RewrittenCss {
  css: string
  changed: boolean
}

/** Nesting of @media / @supports beyond this is dropped (ordinary sheets use one level). */
const MAX_AT_DEPTH = 4
/** At-rules whose contents are rules to scope; every other at-rule (@import, @font-face, @keyframes…) goes. */
const GROUPING_AT_RULES = new Set(['media', 'supports'])
/** Properties that move an element away from where its box lays it out (the offsets alone do not). */
const MOVING = new Set(['transform', 'translate', 'rotate', 'scale', 'offset', 'offset-path', 'offset-distance', 'offset-position', 'offset-anchor', 'offset-rotate', 'zoom'])
const KEPT_POSITIONS = new Set(['static', 'relative'])
/** Selectors that can only mean the page (html, body, :root …), or the nesting selector outside nesting. */
const PAGE_WIDE = /(?:^|[\s>+~(,|*])(?:html|body)(?![\w-])|:root|:host|:scope|::slotted|&/

/**
 * A style attribute (a declaration list) without the declarations that take an element out of its box.
 * Comments become spaces first (as a tokenizer sees them), so what the browser reads is what was checked;
 * undefined when the text cannot be read the same way by this function and a browser (a broken string).
 */
export function filterDeclarations(css: string): RewrittenCss | undefined {
  const text = withoutComments(css)
  if (text === undefined || !balanced(text)) return undefined
  const segments = splitTopLevel(text, ';')
  const kept = segments.filter(isContained)
  return { css: kept.join(';'), changed: text !== css || kept.length !== segments.length }
}

/**
 * A <style> sheet whose rules reach only elements inside `scope` (a trusted selector for the box, such as
 * ".notebook .output"): every selector becomes `${scope} ${selector}`; rules that can only mean the page
 * (html, body, :root, a leading sibling combinator) and at-rules other than @media/@supports are dropped, and
 * so are the declarations filterDeclarations drops. Without a scope, selectors are checked but not prefixed.
 * Undefined when the sheet's structure is not plain (unbalanced brackets, a broken string, a stray brace),
 * where this parser and a browser's might disagree on where a rule begins.
 */
export function scopeStylesheet(css: string, scope?: string): RewrittenCss | undefined {
  const text = withoutComments(css)
  if (text === undefined) return undefined
  const out: string[] = []
  const changed = { value: text !== css }
  if (!rewriteRules(text, scope, out, 0, changed)) return undefined
  return { css: out.join('\n'), changed: changed.value }
}

function rewriteRules(text: string, scope: string | undefined, out: string[], depth: number, changed: { value: boolean }): boolean {
  let i = 0
  while (i < text.length) {
    const stop = findTopLevel(text, i, '{;}')
    if (stop === -1) {
      // A prelude without a block at the end: a browser drops it too.
      if (text.slice(i).trim() !== '') changed.value = true
      return true
    }
    const prelude = text.slice(i, stop).trim()
    // A brace inside brackets opens a block inside the prelude for a browser: no plain rule looks like that.
    if (text[stop] === '}' || !balanced(prelude) || /[{}]/.test(prelude)) return false
    if (text[stop] === ';') {
      // A statement at-rule (@import, @charset, @namespace) or garbage: dropped.
      changed.value = true
      i = stop + 1
      continue
    }
    const end = matchingBrace(text, stop)
    if (end === -1) return false
    const body = text.slice(stop + 1, end)
    i = end + 1
    if (prelude.startsWith('@')) {
      const name = /^@([a-z-]+)/i.exec(prelude)?.[1]?.toLowerCase() ?? ''
      if (!GROUPING_AT_RULES.has(name) || depth >= MAX_AT_DEPTH) {
        changed.value = true
        continue
      }
      const inner: string[] = []
      if (!rewriteRules(body, scope, inner, depth + 1, changed)) return false
      if (inner.length > 0) out.push(`${prelude} {\n${inner.join('\n')}\n}`)
      continue
    }
    if (body.includes('{') || body.includes('}') || !balanced(body)) {
      // Nested rules (CSS nesting) or a broken block: dropped whole.
      changed.value = true
      continue
    }
    const selectors: string[] = []
    for (const raw of splitTopLevel(prelude, ',')) {
      const selector = scoped(raw.trim(), scope)
      if (selector === undefined) changed.value = true
      else selectors.push(selector)
      if (selector !== raw.trim()) changed.value = true
    }
    const declarations = splitTopLevel(body, ';')
    const kept = declarations.filter(isContained)
    if (kept.length !== declarations.length) changed.value = true
    if (selectors.length === 0 || kept.join('').trim() === '') {
      changed.value = true
      continue
    }
    out.push(`${selectors.join(', ')} {${kept.join(';')}}`)
  }
  return true
}

/** `${scope} ${selector}`, or undefined for a selector that would reach outside the box. */
function scoped(selector: string, scope: string | undefined): string | undefined {
  // Already scoped (a sheet sanitized before): the rest is checked again, so the result is a fixed point.
  const rest = scope !== undefined && selector.startsWith(`${scope} `) ? selector.slice(scope.length + 1).trim() : selector
  if (rest === '' || rest === '*' || /^[~+|]/.test(rest) || PAGE_WIDE.test(rest.toLowerCase())) return undefined
  return scope === undefined ? rest : `${scope} ${rest}`
}

/** False for a declaration that takes its element out of the box it is laid out in. */
function isContained(declaration: string): boolean {
  const colon = declaration.indexOf(':')
  if (colon === -1) return true // empty or invalid: the browser ignores it, and so may we keep it
  const property = declaration.slice(0, colon).trim().toLowerCase().replace(/^-[a-z]+-/, '')
  const value = declaration
    .slice(colon + 1)
    .toLowerCase()
    .replace(/!\s*important\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim()
  if (property === 'position') return KEPT_POSITIONS.has(value)
  if (MOVING.has(property)) return false
  // Negative margins pull content over whatever lies beside the box (a "-" also covers calc(0px - 9em));
  // a function can turn negative without a "-" (calc(cos(180deg) * 5em), sign(), env()): margins are
  // kept only as plain non-negative lengths.
  if (property.startsWith('margin')) return !value.includes('-') && !value.includes('(')
  return true
}

/**
 * The text with each comment replaced by a space (a comment separates tokens), strings kept as written.
 * Undefined for a string broken by a line end, where a browser's error recovery ends the string early.
 */
function withoutComments(css: string): string | undefined {
  let out = ''
  let i = 0
  while (i < css.length) {
    const c = css[i]!
    if (c === '"' || c === "'") {
      const end = stringEnd(css, i)
      if (end === -1) return undefined
      out += css.slice(i, end + 1)
      i = end + 1
    } else if (c === '/' && css[i + 1] === '*') {
      const close = css.indexOf('*/', i + 2)
      out += ' '
      i = close === -1 ? css.length : close + 2
    } else {
      out += c
      i++
    }
  }
  return out
}

/** Index of the quote closing the string opened at `start`, or -1 (a line end or the text's end first). */
function stringEnd(css: string, start: number): number {
  const quote = css[start]
  for (let i = start + 1; i < css.length; i++) {
    const c = css[i]
    if (c === quote) return i
    if (c === '\n' || c === '\r' || c === '\f' || c === '\\') return -1
  }
  return -1
}

/** The first of `chars` at nesting depth 0 (outside strings, (), []) from `from`, or -1. */
function findTopLevel(text: string, from: number, chars: string): number {
  let depth = 0
  for (let i = from; i < text.length; i++) {
    const c = text[i]!
    if (c === '"' || c === "'") {
      const end = stringEnd(text, i)
      if (end === -1) return -1
      i = end
    } else if (c === '(' || c === '[') depth++
    else if ((c === ')' || c === ']') && depth > 0) depth--
    else if (depth === 0 && chars.includes(c)) return i
  }
  return -1
}

/** The "}" closing the "{" at `open` (strings skipped), or -1. */
function matchingBrace(text: string, open: number): number {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    const c = text[i]!
    if (c === '"' || c === "'") {
      const end = stringEnd(text, i)
      if (end === -1) return -1
      i = end
    } else if (c === '{') depth++
    else if (c === '}' && --depth === 0) return i
  }
  return -1
}

/** Round and square brackets balanced and well nested, outside strings. */
function balanced(text: string): boolean {
  const open: string[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '"' || c === "'") {
      const end = stringEnd(text, i)
      if (end === -1) return false
      i = end
    } else if (c === '(' || c === '[') open.push(c)
    else if (c === ')' && open.pop() !== '(') return false
    else if (c === ']' && open.pop() !== '[') return false
  }
  return open.length === 0
}

/** `text` split at each `separator` outside strings and brackets (pieces as written). */
function splitTopLevel(text: string, separator: string): string[] {
  const pieces: string[] = []
  let from = 0
  for (let at = findTopLevel(text, from, separator); at !== -1; at = findTopLevel(text, from, separator)) {
    pieces.push(text.slice(from, at))
    from = at + 1
  }
  pieces.push(text.slice(from))
  return pieces
}
