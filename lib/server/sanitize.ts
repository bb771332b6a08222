// The HTML sanitizer for markup the server did not write (notebook outputs, markdown, SVG charts).
// linkedom parses; we walk the tree and write every tag, attribute and text ourselves from allowlists, so
// what a browser reads back is exactly what was checked (linkedom's own serialization is never used).
// Styles are kept inside the box the markup is shown in (sanitize-css.ts): nothing positioned out of it,
// and <style> rules scoped under it.
// (No DOM types here: lib/ compiles without the "dom" lib, as in lib/report/plot.ts.)

import { parseHTML } from 'linkedom'
import { ConfigError } from '../core/errors.js'
import { attr, esc } from '../report/html.js'
import { filterDeclarations, scopeStylesheet } from './sanitize-css.js'

/** The few DOM members the walk reads. */
interface DomAttr {
  readonly name: string
  readonly value: string
}
interface DomNode {
  readonly nodeType: number
  readonly localName?: string
  readonly data?: string
  readonly attributes?: ArrayLike<DomAttr>
  readonly firstChild: DomNode | null
  readonly nextSibling: DomNode | null
}

const ELEMENT_NODE = 1
const TEXT_NODE = 3
const CDATA_SECTION_NODE = 4

const HTML_ELEMENTS = new Set(
  ('a abbr b blockquote br caption code col colgroup dd del details div dl dt em figcaption figure ' +
    'h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub summary sup ' +
    'table tbody td tfoot th thead tr u ul var').split(' '),
)
const VOID_ELEMENTS = new Set(['br', 'col', 'hr', 'img'])

/** SVG element names as the browser writes them (linkedom reports them lower-cased). */
const SVG_ELEMENTS = canonical(
  'svg g path line polyline polygon rect circle ellipse text tspan title desc defs clipPath linearGradient ' +
    'radialGradient stop marker pattern mask symbol use style',
)

/** Dropped together with everything inside them, in HTML and in SVG. */
const DROP = new Set(
  ('script iframe frame frameset object embed applet param form input button textarea select option optgroup ' +
    'datalist label fieldset output link meta base head noscript template foreignobject animate ' +
    'animatetransform animatemotion animatecolor set discard handler listener math audio video source track ' +
    'portal noembed noframes xmp plaintext').split(' '),
)

const HTML_ATTRIBUTES = new Set(
  ('class id title lang dir role style width height align valign border colspan rowspan span scope alt open ' +
    'start reversed').split(' '),
)
const HTML_ELEMENT_ATTRIBUTES: Record<string, Set<string>> = {
  a: new Set(['href']),
  img: new Set(['src']),
  ol: new Set(['type']),
  li: new Set(['type']),
}

/** SVG attributes that name or identify rather than paint: not checked as CSS. */
const SVG_NAMING_ATTRIBUTES = new Set(['class', 'id', 'lang', 'role'])
const SVG_ATTRIBUTES = canonical(
  'class id lang role style viewBox preserveAspectRatio width height x y x1 y1 x2 y2 cx cy r rx ry fx fy fr ' +
    'd points pathLength transform fill fill-opacity fill-rule stroke stroke-width stroke-opacity ' +
    'stroke-linecap stroke-linejoin stroke-dasharray stroke-dashoffset stroke-miterlimit opacity color ' +
    'font-family font-size font-size-adjust font-stretch font-style font-variant font-weight text-anchor ' +
    'text-decoration text-rendering dominant-baseline alignment-baseline baseline-shift letter-spacing ' +
    'word-spacing writing-mode direction unicode-bidi dx dy rotate textLength lengthAdjust clip-path clip-rule ' +
    'clipPathUnits gradientUnits gradientTransform spreadMethod offset stop-color stop-opacity marker-start ' +
    'marker-mid marker-end markerWidth markerHeight markerUnits refX refY orient paint-order shape-rendering ' +
    'image-rendering color-interpolation vector-effect mask maskUnits maskContentUnits patternUnits ' +
    'patternContentUnits patternTransform display visibility overflow pointer-events filter mix-blend-mode ' +
    'isolation',
)
const ARIA = /^aria-[a-z]+$/

/**
 * htmlparser2's (linkedom's parser) implicit closes: opening the key closes an open element in the set. An
 * element that would close its emitted parent on re-parsing is unwrapped instead, which keeps the output
 * a fixed point (sanitizeHtml(sanitizeHtml(x)) === sanitizeHtml(x)). Mirrors htmlparser2 10's openImpliesClose.
 */
const P = new Set(['p'])
const IMPLIES_CLOSE: Record<string, Set<string>> = {
  tr: new Set(['tr', 'th', 'td']),
  th: new Set(['th']),
  td: new Set(['thead', 'th', 'td']),
  li: new Set(['li']),
  dd: new Set(['dd', 'dt']),
  dt: new Set(['dd', 'dt']),
  tbody: new Set(['thead', 'tbody']),
  tfoot: new Set(['thead', 'tbody']),
  ...Object.fromEntries(
    'p h1 h2 h3 h4 h5 h6 blockquote details div dl figcaption figure hr ol pre table ul'.split(' ').map((t) => [t, P]),
  ),
}

const LINK_REL = 'noopener noreferrer nofollow'
const SVG_NAMESPACE = 'http://www.w3.org/2000/svg'
const DATA_IMAGE = /^data:image\/(?:png|jpeg|gif|webp);base64,[a-z0-9+/]*={0,2}$/i
/** Characters the URL parser strips or ignores, and more: C0 controls, space, DEL. */
const URL_IGNORED = /[\u0000-\u0020\u007f]+/g
/** CSS that loads something, runs something or hides a token (tested on lower-cased text). */
const CSS_FORBIDDEN =
  /[<&\\]|@import|expression\s*\(|javascript:|vbscript:|behaviou?r\s*:|-moz-binding|image\s*\(|image-set\s*\(|cross-fade\s*\(|src\s*\(|attr\s*\(/
const CSS_URL = /url\s*\(\s*['"]?(.)?/g

type Mode = 'html' | 'svg'
/** A node still to write, or a closing tag (a string). `parent` is the innermost tag written so far. */
type Task = { node: DomNode; mode: Mode; parent: string | undefined } | string

export interface SanitizeOptions {
  /**
   * The selector of the box the markup is shown in (".notebook .output"): every <style> rule is rewritten to
   * reach only elements inside it. Without one, a <style> sheet is kept only when it needs no rewriting at
   * all (no page-wide selector, nothing to drop), as it would apply to the whole page.
   */
  styleScope?: string
}

/**
 * Untrusted markup → markup with only allowlisted elements and attributes, safe to place in a page. Styles
 * stay in their box: no fixed/absolute/sticky positioning, negative margins or transforms, and (with
 * `styleScope`) no <style> rule reaching outside the box.
 */
export function sanitizeHtml(html: string, options: SanitizeOptions = {}): string {
  const scope = options.styleScope
  if (scope !== undefined && (typeof scope !== 'string' || !/^[a-z0-9 .#_-]+$/i.test(scope) || scope.trim() !== scope)) {
    throw new ConfigError(`styleScope must be a plain selector of classes, ids and spaces (received ${JSON.stringify(scope)})`)
  }
  // linkedom inserts a <!doctype> met after other content at the document's head and loses the nodes
  // before it; a doctype is dropped anyway, so it is defused before parsing. (And "..." is linkedom's
  // shorthand for an empty page.)
  const markup = html.replace(/<!doctype/gi, '<!x-doctype')
  if (markup === '...') return markup
  const { document } = parseHTML(markup)
  const out: string[] = []
  const tasks: Task[] = []
  pushChildren(tasks, document as unknown as DomNode, 'html', undefined)
  // An explicit stack rather than recursion: deeply nested input must not overflow the call stack.
  for (let task = tasks.pop(); task !== undefined; task = tasks.pop()) {
    if (typeof task === 'string') out.push(task)
    else writeNode(task.node, task.mode, task.parent, out, tasks, scope)
  }
  return out.join('')
}

function writeNode(node: DomNode, mode: Mode, parent: string | undefined, out: string[], tasks: Task[], scope: string | undefined): void {
  if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) {
    out.push(escapeText(node.data ?? ''))
    return
  }
  if (node.nodeType !== ELEMENT_NODE) return // comments, processing instructions, doctypes
  const name = (node.localName ?? '').toLowerCase()
  if (DROP.has(name)) return
  if (name === 'style') {
    const css = styleText(node, scope)
    if (css !== undefined) out.push(`<style>${css}</style>`)
    return
  }
  if (mode === 'html' && name === 'title') return // the document's title, not content
  if (mode === 'html' && name === 'svg') {
    writeElement(node, 'svg', 'svg', parent, out, tasks)
    return
  }
  const tag = mode === 'svg' ? SVG_ELEMENTS.get(name) : HTML_ELEMENTS.has(name) ? name : undefined
  if (tag === undefined || (parent !== undefined && IMPLIES_CLOSE[tag]?.has(parent))) {
    // Unknown: drop the tag, keep what is inside.
    pushChildren(tasks, node, mode, parent)
    return
  }
  if (tag === 'title' || tag === 'desc') {
    // SVG <title>/<desc> are HTML integration points in a browser: keep their text only.
    out.push(`<${tag}>${escapeText(childText(node))}</${tag}>`)
    return
  }
  writeElement(node, tag, mode, parent, out, tasks)
}

function writeElement(node: DomNode, tag: string, mode: Mode, parent: string | undefined, out: string[], tasks: Task[]): void {
  const attributes = mode === 'svg' ? svgAttributes(node, tag) : htmlAttributes(node, tag)
  if (tag === 'svg') attributes.unshift(['xmlns', SVG_NAMESPACE])
  if (tag === 'a') attributes.push(['rel', LINK_REL])
  out.push(`<${tag}${attributes.map(([n, v]) => ` ${n}="${attr(v)}"`).join('')}>`)
  if (mode === 'html' && VOID_ELEMENTS.has(tag)) {
    // The parser never gives a void element children; if it did, they would follow it.
    pushChildren(tasks, node, mode, parent)
    return
  }
  tasks.push(`</${tag}>`)
  pushChildren(tasks, node, mode, tag)
}

function pushChildren(tasks: Task[], node: DomNode, mode: Mode, parent: string | undefined): void {
  const children: DomNode[] = []
  for (let child = node.firstChild; child !== null; child = child.nextSibling) children.push(child)
  for (let i = children.length - 1; i >= 0; i--) tasks.push({ node: children[i]!, mode, parent })
}

function htmlAttributes(node: DomNode, tag: string): Array<[string, string]> {
  const kept = new Map<string, string>()
  for (const { name: raw, value: rawValue } of Array.from(node.attributes ?? [])) {
    const name = raw.toLowerCase()
    const value = withoutNul(rawValue)
    if (kept.has(name)) continue
    if (!(HTML_ATTRIBUTES.has(name) || ARIA.test(name) || HTML_ELEMENT_ATTRIBUTES[tag]?.has(name))) continue
    if (name === 'style') {
      const css = containedStyle(value)
      if (css !== undefined && !kept.has(name)) kept.set(name, css)
      continue
    }
    if (name === 'href') {
      if (isSafeLink(value)) kept.set(name, value)
    } else if (name === 'src') {
      const url = value.replace(URL_IGNORED, '')
      if (DATA_IMAGE.test(url)) kept.set(name, url)
    } else {
      kept.set(name, value)
    }
  }
  return [...kept]
}

function svgAttributes(node: DomNode, tag: string): Array<[string, string]> {
  const kept = new Map<string, string>()
  for (const { name: raw, value: rawValue } of Array.from(node.attributes ?? [])) {
    const lower = raw.toLowerCase()
    const value = withoutNul(rawValue)
    if (tag === 'use' && (lower === 'href' || lower === 'xlink:href')) {
      // Only a reference into this page: never another document, a data: URL or a script.
      const url = value.replace(URL_IGNORED, '')
      if (!kept.has('href') && url.startsWith('#')) kept.set('href', url)
      continue
    }
    const name = ARIA.test(lower) ? lower : SVG_ATTRIBUTES.get(lower)
    if (name === undefined || kept.has(name)) continue
    if (name === 'style') {
      const css = containedStyle(value)
      if (css !== undefined) kept.set(name, css)
      continue
    }
    if (ARIA.test(name) || SVG_NAMING_ATTRIBUTES.has(name) || isSafeCss(value)) kept.set(name, value)
  }
  return [...kept]
}

/** A link target a reader may follow: http(s), mailto, or a relative path, query or fragment. */
function isSafeLink(value: string): boolean {
  const url = value.replace(URL_IGNORED, '').toLowerCase()
  const colon = url.indexOf(':')
  if (colon === -1) return true
  const pathStart = url.search(/[/?#]/)
  if (pathStart !== -1 && pathStart < colon) return true // the colon is in a relative path, query or fragment
  return url.startsWith('http:') || url.startsWith('https:') || url.startsWith('mailto:')
}

/**
 * CSS (a style attribute, a <style> element, an SVG paint value) that fetches nothing and runs nothing:
 * url() only to a local #id, and none of the forbidden tokens — checked on the text as written and with
 * comments removed (a comment splits tokens; a "/*" inside a string is not a comment, so both are checked).
 * Backslashes (CSS escapes), "<" and "&" are refused outright: SVG <style> text is parsed as markup.
 */
function isSafeCss(css: string): boolean {
  const lower = css.toLowerCase()
  return [lower, lower.replace(/\/\*[\s\S]*?(?:\*\/|$)/g, '')].every((text) => {
    if (CSS_FORBIDDEN.test(text)) return false
    for (const match of text.matchAll(CSS_URL)) if (match[1] !== '#') return false
    return true
  })
}

/** A style attribute that is safe and keeps its element in its box, without what would not; or undefined. */
function containedStyle(value: string): string | undefined {
  if (!isSafeCss(value)) return undefined
  const filtered = filterDeclarations(value)
  return filtered === undefined || filtered.css.trim() === '' ? undefined : filtered.css
}

/**
 * The CSS of a <style> element, scoped to `scope`; or undefined when it holds anything but safe text, or
 * (without a scope) anything that reaches outside its box.
 */
function styleText(node: DomNode, scope: string | undefined): string | undefined {
  let css = ''
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType !== TEXT_NODE) return undefined
    css += child.data ?? ''
  }
  css = withoutNul(css)
  if (!isSafeCss(css)) return undefined
  const rewritten = scopeStylesheet(css, scope)
  if (rewritten === undefined || rewritten.css.trim() === '') return undefined
  if (scope === undefined) return rewritten.changed ? undefined : css
  return rewritten.css
}

function childText(node: DomNode): string {
  let text = ''
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === TEXT_NODE || child.nodeType === CDATA_SECTION_NODE) text += child.data ?? ''
  }
  return text
}

/** NUL becomes U+FFFD before any check, as a browser would read it. */
function withoutNul(text: string): string {
  return text.replace(/\0/g, '\uFFFD')
}

function escapeText(text: string): string {
  return esc(withoutNul(text))
}

/** lower-case name → the name as written (SVG is case-sensitive: clipPath, viewBox). */
function canonical(names: string): Map<string, string> {
  return new Map(names.split(/\s+/).map((name) => [name.toLowerCase(), name]))
}
