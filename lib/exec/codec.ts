// Values as they travel through Redis: JSON, with what JSON loses kept exactly — NaN, ±Infinity, -0 and
// Float64Arrays (their bytes, base64) — so a result computed by a worker is the same, bit for bit, as
// the one a local thread returns.

const TAG = '$mtflow'

export function encodeValue(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    // JSON.stringify hands typed arrays to the replacer as themselves (no toJSON).
    const raw = (this as Record<string, unknown>)[key]
    if (raw instanceof Float64Array) return { [TAG]: 'f64', b64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') }
    // The other typed arrays by their bytes too: JSON made an Int32Array or a Float32Array a plain object
    // { "0": …, "1": … }, where local threads (structured clone) keep it (an executors audit).
    if (ArrayBuffer.isView(raw) && !(raw instanceof DataView)) return { [TAG]: 'typed', type: typedName(raw), b64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') }
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
    if (o[TAG] === 'typed' && typeof o.type === 'string' && typeof o.b64 === 'string' && Object.prototype.hasOwnProperty.call(TYPED, o.type)) {
      const Typed = TYPED[o.type as keyof typeof TYPED]
      const bytes = Buffer.from(o.b64, 'base64')
      const out = new Typed(Math.floor(bytes.length / Typed.BYTES_PER_ELEMENT))
      new Uint8Array(out.buffer).set(bytes.subarray(0, out.byteLength))
      return out
    }
    return v
  })
}

const TYPED = { Float32Array, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array }

/** The typed array's kind (a Buffer travels as the Uint8Array it is, as structured clone sends it). */
function typedName(view: ArrayBufferView): string {
  for (const [name, Typed] of Object.entries(TYPED)) if (view instanceof Typed) return name
  return 'Uint8Array'
}
