// A Jupyter kernel client: starts a kernel process, connects the five ZeroMQ channels (shell, iopub,
// control, stdin, heartbeat), executes code and shuts the kernel down — no Python or Jupyter needed.
// The kernel runs in its own process group and is always killed in the end, whatever happened.

import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dealer, Request, Subscriber } from 'zeromq'
import { MtflowError } from '../lib/core/index.js'
import { kernelEnv } from './env.js'
import { decode, encode, newMessage, type JsonObject, type JupyterMessage } from './protocol.js'

export interface ConnectionInfo {
  transport: 'tcp'
  ip: string
  shell_port: number
  iopub_port: number
  stdin_port: number
  control_port: number
  hb_port: number
  key: string
  signature_scheme: 'hmac-sha256'
  kernel_name: string
}

export interface KernelLaunchOptions {
  /** The kernel command; `{connection_file}` is replaced by the connection file's path. */
  argv: string[]
  /** Working directory of the kernel (Jupyter uses the notebook's folder). */
  cwd: string
  env?: NodeJS.ProcessEnv
  kernelName?: string
  /** Milliseconds to wait for the kernel to answer kernel_info on shell and iopub. */
  startupTimeoutMs?: number
  /** Aborting stops waiting for the kernel: launch() shuts it down and throws KernelStartInterrupted. */
  signal?: AbortSignal
  /** Which ports to offer the kernel (shell, iopub, stdin, control, hb); free loopback ports by default. */
  pickPorts?: (count: number) => Promise<number[]>
}

export type ExecuteStatus = 'ok' | 'error' | 'aborted' | 'timeout' | 'died' | 'interrupted'

export interface ExecuteOptions {
  /** Milliseconds before the cell is interrupted and reported as timed out; none when undefined. */
  timeoutMs?: number
  /** Every iopub message that belongs to this request, in arrival order. */
  onIopub?: (message: JupyterMessage) => void
  /** Aborting interrupts the cell and resolves with status "interrupted". */
  signal?: AbortSignal
}

export interface ExecuteResult {
  status: ExecuteStatus
  executionCount: number | null
  /** The execute_reply content (ename/evalue/traceback for errors when the kernel sends them). */
  reply: JsonObject | undefined
  /** ISO times in the style of nbclient's metadata.execution. */
  timing: { busy?: string; executeInput?: string; reply?: string; idle?: string }
  /** Human-readable reason for timeout / died / interrupted. */
  reason?: string
  /** The kernel replied but never said it was idle: output published after the reply may be missing. */
  missedIdle?: boolean
}

/** How long to wait after execute_reply for the kernel's idle status (nbclient waits 4 s). */
const IDLE_AFTER_REPLY_MS = 15_000

export class KernelError extends MtflowError {}
/** The user interrupted while the kernel was starting. */
export class KernelStartInterrupted extends KernelError {}

/** The launcher's exit code when a port it was given is taken (kernel/tslab-launcher.cjs). */
export const PORT_IN_USE_EXIT = 98
/** Starts of a kernel whose ports were taken before it bound them, before launch() gives up. */
const PORT_TRIES = 3

/** Free TCP ports on the loopback interface (held open together so they are distinct). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer()
          server.once('error', reject)
          server.listen(0, host, () => resolve(server))
        }),
    ),
  )
  const ports = servers.map((server) => (server.address() as { port: number }).port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

interface PendingReply {
  resolve: (message: JupyterMessage) => void
}

export class KernelClient {
  readonly session = randomUUID()
  readonly connection: ConnectionInfo
  readonly process: ChildProcess
  kernelInfo: JsonObject = {}

  private readonly connectionFile: string
  private readonly shell: Dealer
  private readonly control: Dealer
  private readonly stdin: Dealer
  private readonly iopub: Subscriber
  private readonly heartbeat: Request
  private readonly replies = new Map<string, PendingReply>()
  private readonly iopubListeners = new Map<string, (message: JupyterMessage) => void>()
  private readonly deathListeners = new Set<(reason: string) => void>()
  private stderrTail = ''
  private exited: string | undefined
  private closed = false
  /** Messages refused by the protocol layer (bad signature, malformed), for diagnostics and tests. */
  refused = 0

  private constructor(options: KernelLaunchOptions, connection: ConnectionInfo, connectionFile: string) {
    this.connection = connection
    this.connectionFile = connectionFile
    const argv = options.argv.map((arg) => arg.replaceAll('{connection_file}', connectionFile))
    this.process = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: { ...kernelEnv({ ...process.env, ...options.env }), MTFLOW_KERNEL_PARENT_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches the runner, which then shuts the kernel down.
      detached: true,
    })
    const keepTail = (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000)
    }
    this.process.stdout?.on('data', keepTail)
    this.process.stderr?.on('data', keepTail)
    this.process.on('error', (error) => this.markDead(`kernel process failed to start: ${error.message}`))
    this.process.on('exit', (code, signal) => {
      this.markDead(`kernel process exited (${signal ?? `code ${code}`})${this.stderrTail.trim() === '' ? '' : `: ${lastLine(this.stderrTail)}`}`)
    })

    const url = (port: number) => `tcp://${connection.ip}:${port}`
    const socketOptions = { linger: 0 }
    this.shell = new Dealer({ ...socketOptions, routingId: `shell-${this.session}` })
    this.control = new Dealer({ ...socketOptions, routingId: `control-${this.session}` })
    this.stdin = new Dealer({ ...socketOptions, routingId: `shell-${this.session}` })
    // Unbounded: ZeroMQ drops what exceeds a high-water mark, and a cell's output must not be lost.
    this.iopub = new Subscriber({ ...socketOptions, receiveHighWaterMark: 0 })
    // relaxed + correlate: after one late echo the socket can still send, and a stale echo is ignored.
    this.heartbeat = new Request({ ...socketOptions, receiveTimeout: 2000, sendTimeout: 2000, relaxed: true, correlate: true })
    this.shell.connect(url(connection.shell_port))
    this.control.connect(url(connection.control_port))
    this.stdin.connect(url(connection.stdin_port))
    this.iopub.connect(url(connection.iopub_port))
    this.iopub.subscribe()
    this.heartbeat.connect(url(connection.hb_port))
    void this.pump(this.shell, (message) => this.onReply(message))
    void this.pump(this.control, (message) => this.onReply(message))
    void this.pump(this.iopub, (message) => this.onIopub(message))
    void this.pump(this.stdin, (message) => this.onStdin(message))
  }

  /** Start a kernel and wait until it answers on shell and iopub. */
  static async launch(options: KernelLaunchOptions): Promise<KernelClient> {
    // The ports are free when chosen but not held: another process can take one before the kernel binds
    // it (many kernels and servers start at once in a test run). The kernel then exits saying so, and
    // starts again on other ports, as Jupyter's restarter does on a first start.
    const deadline = Date.now() + (options.startupTimeoutMs ?? 120_000)
    for (let attempt = 1; ; attempt++) {
      const client = await KernelClient.start(options, Math.max(1000, deadline - Date.now()))
      if (client instanceof KernelClient) return client
      if (options.signal?.aborted === true) throw new KernelStartInterrupted('interrupted while the kernel was starting')
      if (attempt >= PORT_TRIES) {
        throw new KernelError(`kernel could not bind its ports after ${attempt} tries, each time one was in use (last: ${client.taken})`)
      }
    }
  }

  private static async start(options: KernelLaunchOptions, timeoutMs: number): Promise<KernelClient | { taken: string }> {
    const [shell, iopub, stdin, control, hb] = await (options.pickPorts ?? freePorts)(5)
    const connection: ConnectionInfo = {
      transport: 'tcp',
      ip: '127.0.0.1',
      shell_port: shell!,
      iopub_port: iopub!,
      stdin_port: stdin!,
      control_port: control!,
      hb_port: hb!,
      key: randomBytes(32).toString('hex'),
      signature_scheme: 'hmac-sha256',
      kernel_name: options.kernelName ?? 'mtflow-ts',
    }
    const connectionFile = join(tmpdir(), `mtflow-kernel-${randomUUID()}.json`)
    writeFileSync(connectionFile, JSON.stringify(connection, null, 2), { mode: 0o600 })
    const client = new KernelClient(options, connection, connectionFile)
    try {
      await client.waitForReady(timeoutMs, options.signal)
    } catch (error) {
      await client.shutdown()
      // Interrupted is interrupted, whatever the kernel's exit (a review: a Ctrl-C during a start on a taken port
      // was reported as a port failure, and the runner did not end "interrupted").
      if (!(error instanceof KernelStartInterrupted) && client.process.exitCode === PORT_IN_USE_EXIT) {
        return { taken: /cannot bind (\S+?),/.exec(client.stderrTail)?.[1] ?? 'a port of the connection file' }
      }
      throw error
    }
    return client
  }

  get alive(): boolean {
    return this.exited === undefined
  }

  /**
   * jupyter_client's wait_for_ready: send kernel_info_request until a reply arrives on shell and the
   * kernel's status for that request arrives on iopub (so no output published later can be missed).
   */
  private async waitForReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (signal?.aborted === true) throw new KernelStartInterrupted('interrupted while the kernel was starting')
      if (this.exited !== undefined) throw new KernelError(`kernel did not start: ${this.exited}`)
      const request = newMessage('kernel_info_request', {}, this.session)
      let sawIopub = false
      this.iopubListeners.set(request.header.msg_id, () => {
        sawIopub = true
      })
      const reply = await this.request(this.shell, request, Math.min(1000, deadline - Date.now()), signal)
      if (reply !== undefined) {
        this.kernelInfo = reply.content
        const iopubDeadline = Date.now() + 250
        while (!sawIopub && Date.now() < iopubDeadline && this.exited === undefined) await sleep(10)
      }
      this.iopubListeners.delete(request.header.msg_id)
      // Shell and iopub answer; the heartbeat must echo too, or the kernel is not really there.
      if (reply !== undefined && sawIopub && (await this.ping())) return
    }
    throw new KernelError(
      `kernel did not answer within ${Math.round(timeoutMs / 1000)} s${this.stderrTail.trim() === '' ? '' : `: ${lastLine(this.stderrTail)}`}`,
    )
  }

  /** Send a request and wait for its reply; undefined on timeout or when the kernel dies. */
  private async request(socket: Dealer, message: JupyterMessage, timeoutMs: number, signal?: AbortSignal): Promise<JupyterMessage | undefined> {
    return new Promise((resolve) => {
      const id = message.header.msg_id
      const finish = (value: JupyterMessage | undefined) => {
        clearTimeout(timer)
        this.replies.delete(id)
        this.deathListeners.delete(onDeath)
        signal?.removeEventListener('abort', onDeath)
        resolve(value)
      }
      const timer = setTimeout(() => finish(undefined), Math.max(0, timeoutMs))
      const onDeath = () => finish(undefined)
      this.deathListeners.add(onDeath)
      signal?.addEventListener('abort', onDeath, { once: true })
      this.replies.set(id, { resolve: finish })
      socket.send(encode(message, this.connection.key)).catch(() => finish(undefined))
    })
  }

  /** Execute one cell's code; outputs arrive through `onIopub`. Never throws for kernel-side failures. */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const message = newMessage(
      'execute_request',
      { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      this.session,
    )
    const id = message.header.msg_id
    const timing: ExecuteResult['timing'] = {}
    let reply: JupyterMessage | undefined
    let idle = false
    let executionCount: number | null = null
    let missedIdle = false

    return new Promise<ExecuteResult>((resolve) => {
      let settled = false
      const timers: NodeJS.Timeout[] = []
      const finish = (status: ExecuteStatus, reason?: string) => {
        if (settled) return
        settled = true
        for (const timer of timers) clearTimeout(timer)
        this.replies.delete(id)
        this.iopubListeners.delete(id)
        this.deathListeners.delete(onDeath)
        options.signal?.removeEventListener('abort', onAbort)
        const result: ExecuteResult = { status, executionCount, reply: reply?.content, timing }
        if (missedIdle) result.missedIdle = true
        if (reason !== undefined) result.reason = reason
        resolve(result)
      }
      const maybeDone = () => {
        if (reply === undefined || !idle) return
        const status = String(reply.content.status ?? 'error')
        finish(status === 'ok' ? 'ok' : status === 'aborted' || status === 'abort' ? 'aborted' : 'error')
      }
      const onDeath = (reason: string) => finish('died', reason)
      const onAbort = () => {
        this.interrupt()
        finish('interrupted', 'interrupted by the user')
      }
      this.deathListeners.add(onDeath)
      this.replies.set(id, {
        resolve: (message) => {
          reply = message
          timing.reply = new Date().toISOString()
          if (typeof message.content.execution_count === 'number') executionCount = message.content.execution_count
          if (!idle) {
            // The reply can overtake the last iopub messages (a cell that printed a lot still has them
            // queued): wait for the kernel's idle status, which comes after all of them.
            timers.push(
              setTimeout(() => {
                idle = true
                missedIdle = true
                maybeDone()
              }, IDLE_AFTER_REPLY_MS),
            )
          }
          maybeDone()
        },
      })
      this.iopubListeners.set(id, (message) => {
        const type = message.header.msg_type
        if (type === 'status') {
          const state = message.content.execution_state
          if (state === 'busy') timing.busy ??= new Date().toISOString()
          if (state === 'idle') {
            timing.idle = new Date().toISOString()
            idle = true
            maybeDone()
          }
          return
        }
        if (type === 'execute_input') {
          timing.executeInput = new Date().toISOString()
          if (typeof message.content.execution_count === 'number') executionCount = message.content.execution_count
          return
        }
        options.onIopub?.(message)
      })
      if (options.timeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            this.interrupt()
            finish('timeout', `cell timed out after ${formatTimeout(options.timeoutMs!)}`)
          }, options.timeoutMs),
        )
      }
      if (options.signal?.aborted === true) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (this.exited !== undefined) return finish('died', this.exited)
      this.shell.send(encode(message, this.connection.key)).catch((error: unknown) => finish('died', String(error)))
    })
  }

  /** Interrupt the running cell (tslab's interrupt_mode is "signal": SIGINT). */
  interrupt(): void {
    if (this.exited === undefined && this.process.pid !== undefined) {
      try {
        process.kill(this.process.pid, 'SIGINT')
      } catch {
        /* already gone */
      }
    }
  }

  /** One heartbeat round trip; false if the kernel does not echo within the timeout. */
  async ping(): Promise<boolean> {
    try {
      await this.heartbeat.send('ping')
      const [echo] = await this.heartbeat.receive()
      return echo?.toString() === 'ping'
    } catch {
      return false
    }
  }

  /**
   * Ask the kernel to shut down on the control channel, then make sure it is gone: SIGTERM after
   * `graceMs`, SIGKILL to its process group after another `graceMs`. Safe to call more than once.
   */
  async shutdown(graceMs = 1500): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.exited === undefined) {
      const request = newMessage('shutdown_request', { restart: false }, this.session)
      await this.request(this.control, request, graceMs)
      if (!(await this.waitExit(graceMs))) {
        this.killGroup('SIGTERM')
        if (!(await this.waitExit(graceMs))) {
          this.killGroup('SIGKILL')
          await this.waitExit(graceMs)
        }
      }
    }
    // Anything the kernel left in its group (processes a notebook spawned) goes too.
    this.killGroup('SIGKILL')
    for (const socket of [this.shell, this.control, this.stdin, this.iopub, this.heartbeat]) socket.close()
    rmSync(this.connectionFile, { force: true })
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.process.pid
    if (pid === undefined) return
    try {
      process.kill(-pid, signal)
    } catch {
      /* no such group any more */
    }
  }

  private waitExit(ms: number): Promise<boolean> {
    if (this.exited !== undefined) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.process.off('exit', onExit)
        resolve(false)
      }, ms)
      const onExit = () => {
        clearTimeout(timer)
        resolve(true)
      }
      this.process.once('exit', onExit)
    })
  }

  private markDead(reason: string): void {
    if (this.exited !== undefined) return
    this.exited = reason
    for (const listener of [...this.deathListeners]) listener(reason)
  }

  private async pump(socket: AsyncIterable<Buffer[]>, handle: (message: JupyterMessage) => void): Promise<void> {
    try {
      for await (const frames of socket) {
        let message: JupyterMessage
        try {
          message = decode(frames, this.connection.key)
        } catch {
          this.refused += 1
          continue
        }
        handle(message)
      }
    } catch {
      /* socket closed */
    }
  }

  private onReply(message: JupyterMessage): void {
    const parent = message.parent_header.msg_id
    if (parent !== undefined) this.replies.get(parent)?.resolve(message)
  }

  private onIopub(message: JupyterMessage): void {
    const parent = message.parent_header.msg_id
    if (parent !== undefined) this.iopubListeners.get(parent)?.(message)
  }

  private onStdin(message: JupyterMessage): void {
    // Headless runs have no one to type: answer any input request with an empty line.
    if (message.header.msg_type !== 'input_request') return
    const reply = newMessage('input_reply', { value: '' }, this.session)
    reply.parent_header = message.header
    void this.stdin.send(encode(reply, this.connection.key)).catch(() => undefined)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n')
  return lines[lines.length - 1] ?? ''
}

function formatTimeout(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}
