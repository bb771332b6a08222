// ccxt signs private requests with its bundled pure-JavaScript hashes (noble-hashes). On a live order's way
// out that HMAC-SHA256 took ~100 µs of the ~300 µs between a closed bar and the request leaving the process
// (p50, npm run bench's live group, under the CLI's loader); node:crypto computes the same bytes in ~17 µs.
// `useNativeHmac` gives one exchange instance an `hmac` that hands the hashes node:crypto has to it, and
// everything else (another digest encoding, a hash it cannot identify) to ccxt's own. A hash is identified
// by its output on a probe, not by name, and the first signature of each hash is computed both ways: the
// native one is used only if it matched ccxt's byte for byte.

import { createHash, createHmac } from 'node:crypto'

type HashFn = ((message: Uint8Array) => Uint8Array) & { outputLen?: number }
type Hmac = (request: Uint8Array | string, secret: Uint8Array | string, hash?: HashFn, digest?: string) => unknown

const ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha1', 'md5'] as const
const PROBE = new TextEncoder().encode('mtflow native hmac probe')

/** node:crypto's name for a ccxt hash function, found by what it computes; null when node has none. */
const identified = new Map<unknown, string | null>()
function algorithmOf(hash: unknown): string | null {
  let found = identified.get(hash)
  if (found !== undefined) return found
  found = null
  if (typeof hash === 'function') {
    let out: unknown
    try {
      out = (hash as HashFn)(PROBE)
    } catch {
      out = undefined
    }
    if (out instanceof Uint8Array) {
      const hex = Buffer.from(out).toString('hex')
      found = ALGORITHMS.find((a) => createHash(a).update(PROBE).digest('hex') === hex) ?? null
    }
  }
  identified.set(hash, found)
  return found
}

/**
 * Replaces `exchange.hmac` with node:crypto's for the hashes and encodings (hex, base64) it has; false when
 * the exchange has no `hmac` to replace. The first signature of each hash and encoding is computed both ways:
 * the native one is used from then on only if the two were identical.
 */
export function useNativeHmac(exchange: object): boolean {
  const target = exchange as { hmac?: Hmac }
  const own = target.hmac
  if (typeof own !== 'function') return false
  const ccxtHmac = own.bind(exchange) as Hmac
  const agreed = new Map<unknown, Map<string, boolean>>()
  target.hmac = (request, secret, hash, digest = 'hex') => {
    const algorithm = hash === undefined ? null : algorithmOf(hash)
    if (algorithm === null || (digest !== 'hex' && digest !== 'base64')) return ccxtHmac(request, secret, hash, digest)
    let byDigest = agreed.get(hash)
    if (byDigest === undefined) agreed.set(hash, (byDigest = new Map()))
    const ok = byDigest.get(digest)
    if (ok === true) return createHmac(algorithm, secret).update(request).digest(digest)
    const theirs = ccxtHmac(request, secret, hash, digest)
    if (ok === undefined) byDigest.set(digest, theirs === createHmac(algorithm, secret).update(request).digest(digest))
    return theirs
  }
  return true
}
