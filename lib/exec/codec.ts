// Values as they travel through Redis: JSON, with what JSON loses kept exactly — NaN, ±Infinity, -0 and
// Float64Arrays (their bytes, base64) — so a result computed by a worker is the same, bit for bit, as
// the one a local thread returns.

const TAG = '$mtflow'

export function encodeValue(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    // JSON.stringify hands typed arrays to the replacer as themselves (no toJSON).
    const raw = (this as Record<string, unknown>)[key]
    if (raw instanceof Float64Array) return { [TAG]: 'f64', b64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') }
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return { [TAG]: 'num', v: Object.is(v, -0) ? '-0' : String(v) }
    return v
  })
}

export function decodeValue(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    const o = v as Record<string, unknown>
    if (o[TAG] === 'num' && typeof o.v === 'string') return o.v === '-0' ? -0 : Number(o.v)
    if (o[TAG] === 'f64' && typeof o.b64 === 'string') {
      const bytes = Buffer.from(o.b64, 'base64')
      const out = new Float64Array(bytes.length / 8)
      new Uint8Array(out.buffer).set(bytes)
      return out
    }
    return v
  })
}
