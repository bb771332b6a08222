import { describe, expect, it } from 'vitest'
import { errorFromReply, OutputCollector } from '../../kernel/outputs.js'
import type { Output } from '../../kernel/nbformat.js'
import type { JupyterMessage } from '../../kernel/protocol.js'

function msg(type: string, content: Record<string, unknown>): JupyterMessage {
  return {
    identities: [],
    header: { msg_id: 'm', session: 's', username: 'u', date: '', msg_type: type, version: '5.3' },
    parent_header: { msg_id: 'p' },
    metadata: {},
    content,
    buffers: [],
  }
}

describe('output collection', () => {
  it('merges consecutive stream text of the same stream, as nbclient does', () => {
    const c = new OutputCollector()
    const outputs: Output[] = []
    c.begin(outputs)
    c.handle(msg('stream', { name: 'stdout', text: 'a\nb' }))
    c.handle(msg('stream', { name: 'stdout', text: 'c\n' }))
    c.handle(msg('stream', { name: 'stderr', text: 'oops\n' }))
    c.handle(msg('stream', { name: 'stdout', text: 'd\n' }))
    expect(outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['a\n', 'bc\n'] },
      { output_type: 'stream', name: 'stderr', text: ['oops\n'] },
      { output_type: 'stream', name: 'stdout', text: ['d\n'] },
    ])
  })

  it('honours clear_output(wait) and update_display_data across cells', () => {
    const c = new OutputCollector()
    const first: Output[] = []
    c.begin(first)
    c.handle(msg('display_data', { data: { 'text/plain': '10%' }, metadata: {}, transient: { display_id: 'bar' } }))
    const second: Output[] = []
    c.begin(second)
    c.handle(msg('stream', { name: 'stdout', text: 'x\n' }))
    c.handle(msg('clear_output', { wait: true }))
    expect(second).toHaveLength(1)
    c.handle(msg('update_display_data', { data: { 'text/plain': '100%' }, metadata: {}, transient: { display_id: 'bar' } }))
    expect(first).toEqual([{ output_type: 'display_data', data: { 'text/plain': ['100%'] }, metadata: {} }])
    c.handle(msg('execute_result', { execution_count: 3, data: { 'text/plain': '42', 'application/json': { a: 1 } }, metadata: {} }))
    expect(second).toEqual([{ output_type: 'execute_result', execution_count: 3, data: { 'text/plain': ['42'], 'application/json': { a: 1 } }, metadata: {} }])
    c.handle(msg('clear_output', { wait: false }))
    expect(second).toEqual([])
  })

  it('names the error of a failed tslab cell from what it printed', () => {
    const runtime = 'evalmachine.<anonymous>:2\nthrow new Error("boom");\n^\n\nError: boom\n    at evalmachine.<anonymous>:2:7\n'
    expect(errorFromReply({ status: 'error' }, runtime)).toMatchObject({ ename: 'Error', evalue: 'boom' })
    expect(errorFromReply({ status: 'error' }, 'RangeError [ERR_X]: out of range\n')).toMatchObject({ ename: 'RangeError', evalue: 'out of range' })
    const diag = "1:5 - Type 'string' is not assignable to type 'number'.\n"
    expect(errorFromReply({ status: 'error' }, diag)).toMatchObject({ ename: 'TypeScriptError', evalue: "1:5 - Type 'string' is not assignable to type 'number'." })
    expect(errorFromReply({ status: 'error', ename: 'ValueError', evalue: 'bad', traceback: ['t'] }, '')).toEqual({
      output_type: 'error',
      ename: 'ValueError',
      evalue: 'bad',
      traceback: ['t'],
    })
  })
})
