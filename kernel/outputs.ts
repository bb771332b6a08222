// Turns a cell's iopub messages into nbformat outputs the way nbclient does: consecutive stream text is
// merged, clear_output (with wait) and update_display_data (by display_id, across cells) are honoured.

import type { JupyterMessage } from './protocol.js'
import { splitLines, type DisplayDataOutput, type ErrorOutput, type ExecuteResultOutput, type JsonObject, type Output } from './nbformat.js'

type Display = DisplayDataOutput | ExecuteResultOutput

export class OutputCollector {
  /** display_id → the outputs showing it (in any cell of the notebook). */
  private readonly displays = new Map<string, Display[]>()
  private clearOnNext = false
  private outputs: Output[] = []

  /** Start collecting into a new cell's output list. */
  begin(outputs: Output[]): void {
    this.outputs = outputs
    this.clearOnNext = false
  }

  handle(message: JupyterMessage): void {
    const content = message.content
    const type = message.header.msg_type
    switch (type) {
      case 'stream': {
        const name = content.name === 'stderr' ? 'stderr' : 'stdout'
        const text = String(content.text ?? '')
        this.flushClear()
        const last = this.outputs[this.outputs.length - 1]
        if (last !== undefined && last.output_type === 'stream' && last.name === name) {
          last.text = splitLines(joinText(last.text) + text)
        } else {
          this.outputs.push({ output_type: 'stream', name, text: splitLines(text) })
        }
        return
      }
      case 'display_data':
      case 'execute_result': {
        this.flushClear()
        const data = bundle(content.data)
        const metadata = plain(content.metadata)
        const output: Display =
          type === 'display_data'
            ? { output_type: 'display_data', data, metadata }
            : {
                output_type: 'execute_result',
                execution_count: typeof content.execution_count === 'number' ? content.execution_count : null,
                data,
                metadata,
              }
        this.outputs.push(output)
        const id = displayId(content)
        if (id !== undefined) this.displays.set(id, [...(this.displays.get(id) ?? []), output])
        return
      }
      case 'update_display_data': {
        const id = displayId(content)
        for (const output of id === undefined ? [] : (this.displays.get(id) ?? [])) {
          output.data = bundle(content.data)
          output.metadata = plain(content.metadata)
        }
        return
      }
      case 'error': {
        this.flushClear()
        this.outputs.push({
          output_type: 'error',
          ename: String(content.ename ?? 'Error'),
          evalue: String(content.evalue ?? ''),
          traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
        })
        return
      }
      case 'clear_output': {
        if (content.wait === true) this.clearOnNext = true
        else this.outputs.length = 0
        return
      }
      default:
        return
    }
  }

  private flushClear(): void {
    if (!this.clearOnNext) return
    this.clearOnNext = false
    this.outputs.length = 0
  }
}

/**
 * An error output for a failed cell whose kernel sent no `error` message (tslab reports errors on
 * stderr and in execute_reply only). Name and message come from the reply when present, otherwise
 * from the error text the kernel printed: a TypeScript diagnostic or a thrown error's first line.
 */
export function errorFromReply(reply: JsonObject | undefined, stderr: string): ErrorOutput {
  if (reply !== undefined && typeof reply.ename === 'string') {
    return {
      output_type: 'error',
      ename: reply.ename,
      evalue: String(reply.evalue ?? ''),
      traceback: Array.isArray(reply.traceback) ? reply.traceback.map(String) : [],
    }
  }
  const lines = stderr.split('\n').filter((line) => line.trim() !== '')
  const diagnostic = lines.find((line) => /(^|\s)\d+:\d+ - /.test(line))
  if (diagnostic !== undefined) {
    return { output_type: 'error', ename: 'TypeScriptError', evalue: diagnostic.trim(), traceback: lines }
  }
  for (const line of lines) {
    const match = /^(?:Uncaught\s+)?((?:[A-Za-z_$][\w$.]*)?(?:Error|Exception))(?: \[[^\]]*\])?:\s?(.*)$/.exec(line.trim())
    if (match !== null) return { output_type: 'error', ename: match[1]!, evalue: match[2]!, traceback: lines }
  }
  return { output_type: 'error', ename: 'Error', evalue: lines[lines.length - 1]?.trim() ?? 'the cell failed', traceback: lines }
}

function displayId(content: JsonObject): string | undefined {
  const transient = content.transient
  if (transient === null || typeof transient !== 'object') return undefined
  const id = (transient as JsonObject).display_id
  return typeof id === 'string' && id !== '' ? id : undefined
}

function plain(value: unknown): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {}
}

function bundle(value: unknown): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {}
  // Jupyter stores text MIME data as line arrays; JSON MIME data stays as it is.
  const out: JsonObject = {}
  for (const [mime, data] of Object.entries(value as JsonObject)) {
    out[mime] = typeof data === 'string' && (mime.startsWith('text/') || mime === 'image/svg+xml') ? splitLines(data) : data
  }
  return out
}

function joinText(text: string | string[]): string {
  return Array.isArray(text) ? text.join('') : text
}
