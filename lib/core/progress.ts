// Progress reporting for long work. Library code counts with a `Progress`; where it is shown is the
// caller's choice of sink: a redrawn bar on a terminal, plain lines in a log, a live display in a notebook.

export interface ProgressState {
  label: string
  done: number
  /** Undefined when the amount of work is not known up front. */
  total: number | undefined
  /** Epoch milliseconds. */
  startedAt: number
  /** Free text about the current item ("cell 3 · a1b2c3"). */
  detail?: string
  finished: boolean
}

export interface ProgressSink {
  update(state: ProgressState): void
}

export interface ProgressOptions {
  label?: string
  total?: number
  sink?: ProgressSink
  /** Minimum milliseconds between two updates sent to the sink (the last one is always sent). */
  throttleMs?: number
}

export class Progress {
  readonly state: ProgressState
  private readonly sink: ProgressSink | undefined
  private readonly throttleMs: number
  private lastSent = 0

  constructor(options: ProgressOptions = {}) {
    const total = options.total
    if (total !== undefined && !(Number.isFinite(total) && total >= 0)) {
      throw new RangeError(`progress total must be a finite number ≥ 0 (received ${total})`)
    }
    this.state = { label: options.label ?? '', done: 0, total, startedAt: Date.now(), finished: false }
    this.sink = options.sink
    this.throttleMs = options.throttleMs ?? 100
    this.emit(true)
  }

  tick(n = 1, detail?: string): void {
    this.set(this.state.done + n, detail)
  }

  set(done: number, detail?: string): void {
    this.state.done = done
    if (detail !== undefined) this.state.detail = detail
    this.emit(false)
  }

  /** The work is done: the count reaches the total (callers that tick in batches stop short of it). */
  finish(detail?: string): void {
    if (this.state.finished) return
    this.state.finished = true
    if (this.state.total !== undefined && this.state.done < this.state.total) this.state.done = this.state.total
    if (detail !== undefined) this.state.detail = detail
    this.emit(true)
  }

  private emit(force: boolean): void {
    if (this.sink === undefined) return
    const now = Date.now()
    if (!force && now - this.lastSent < this.throttleMs) return
    this.lastSent = now
    this.sink.update({ ...this.state })
  }
}

/** "label [########········] 12/30  40%  1.2s  eta 1.8s · detail" */
export function formatProgress(state: ProgressState, now = Date.now(), width = 24): string {
  const elapsed = (now - state.startedAt) / 1000
  const parts: string[] = []
  if (state.label !== '') parts.push(state.label)
  if (state.total !== undefined && state.total > 0) {
    const fraction = Math.min(1, Math.max(0, state.done / state.total))
    const filled = Math.round(fraction * width)
    parts.push(`[${'#'.repeat(filled)}${'·'.repeat(width - filled)}]`)
    parts.push(`${state.done}/${state.total}`)
    parts.push(`${Math.floor(fraction * 100)}%`.padStart(4))
    parts.push(formatSeconds(elapsed))
    if (!state.finished && fraction > 0 && fraction < 1) parts.push(`eta ${formatSeconds((elapsed / fraction) * (1 - fraction))}`)
  } else {
    parts.push(`${state.done}`)
    parts.push(formatSeconds(elapsed))
  }
  let line = parts.join('  ')
  if (state.detail !== undefined && state.detail !== '') line += ` · ${state.detail}`
  return line
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`
  const m = Math.floor(seconds / 60)
  const s = Math.round(seconds - m * 60)
  return `${m}m${String(s).padStart(2, '0')}s`
}

export interface TextStream {
  write(text: string): unknown
  isTTY?: boolean
}

/**
 * A sink that draws on a text stream. On a terminal the bar is redrawn in place. Elsewhere (a log, a pipe)
 * a few plain lines: the start, one each time the work crosses another tenth of its total, and the end;
 * when the total is unknown, one per `lineEveryMs` instead of per tenth. A line never repeats the previous one.
 */
export function streamProgressSink(stream: TextStream, options: { lineEveryMs?: number; now?: () => number } = {}): ProgressSink {
  const tty = stream.isTTY === true
  const lineEveryMs = options.lineEveryMs ?? 2000
  const clock = options.now ?? Date.now
  let lastLine: number | undefined
  let lastTenth = -1
  let lastDone: number | undefined
  return {
    update(state) {
      const now = clock()
      const text = formatProgress(state, now)
      if (tty) {
        stream.write(`\r\x1b[2K${text}${state.finished ? '\n' : ''}`)
        return
      }
      const known = state.total !== undefined && state.total > 0
      const tenth = known ? Math.floor((Math.min(state.done, state.total!) / state.total!) * 10) : -1
      const due = state.finished || lastLine === undefined || (known ? tenth > lastTenth : now - lastLine >= lineEveryMs)
      if (!due || (!state.finished && state.done === lastDone)) return
      // Nothing to do (a total of 0) and nothing said since the first line: its end would repeat it.
      if (state.finished && state.total === 0 && lastDone === 0 && state.detail === undefined) return
      lastLine = now
      lastTenth = tenth
      lastDone = state.done
      stream.write(`${text}\n`)
    },
  }
}
