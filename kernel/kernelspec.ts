// The `mtflow-ts` Jupyter kernelspec: where Jupyter looks for it, installing it (it starts this project's
// own tslab through kernel/tslab-launcher.cjs, never a global install) and reporting what is found.

import { execFile } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError, writeFileAtomic } from '../lib/core/index.js'
import { KERNEL_ENV } from './env.js'

export const KERNEL_NAME = 'mtflow-ts'
export const KERNEL_DISPLAY_NAME = 'TypeScript (mtflow)'
/** Kernelspec names whose notebooks the headless runner executes on this project's tslab. */
export const RUNNABLE_KERNELS = ['tslab', KERNEL_NAME] as const

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const LAUNCHER = join(PROJECT_ROOT, 'kernel', 'tslab-launcher.cjs')

export interface KernelSpec {
  argv: string[]
  display_name: string
  language: string
  interrupt_mode: 'signal'
  env: Record<string, string>
  metadata: Record<string, unknown>
}

/** The kernel command: this Node binary running the project's launcher. */
export function kernelArgv(): string[] {
  return [process.execPath, LAUNCHER, '--config-path', '{connection_file}']
}

export function kernelSpec(): KernelSpec {
  return {
    argv: kernelArgv(),
    display_name: KERNEL_DISPLAY_NAME,
    language: 'typescript',
    interrupt_mode: 'signal',
    env: { ...KERNEL_ENV },
    metadata: { mtflow: { project: PROJECT_ROOT } },
  }
}

/** Jupyter's per-user data folder ($JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter). */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.JUPYTER_DATA_DIR) return resolve(env.JUPYTER_DATA_DIR)
  const xdg = env.XDG_DATA_HOME ? resolve(env.XDG_DATA_HOME) : join(homedir(), '.local', 'share')
  return join(xdg, 'jupyter')
}

/** Folders Jupyter searches for kernels/, in its order (JUPYTER_PATH, user, environment, system). */
export function jupyterDataPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.JUPYTER_PATH ?? '').split(delimiter).filter((p) => p !== '')
  const dirs = [...extra, userDataDir(env), '/usr/local/share/jupyter', '/usr/share/jupyter']
  return [...new Set(dirs.map((d) => resolve(d)))]
}

export interface InstallOptions {
  user?: boolean
  prefix?: string
  env?: NodeJS.ProcessEnv
}

export interface InstallResult {
  path: string
  spec: KernelSpec
}

/** Write kernels/mtflow-ts/kernel.json: under PREFIX/share/jupyter, the user folder, or the system folder (root). */
export function installKernelSpec(options: InstallOptions = {}): InstallResult {
  if (options.user === true && options.prefix !== undefined) {
    throw new ConfigError('kernel install takes --user or --prefix DIR, not both')
  }
  if (options.prefix !== undefined && options.prefix.trim() === '') throw new ConfigError('--prefix needs a directory')
  const base =
    options.prefix !== undefined
      ? join(resolve(options.prefix), 'share', 'jupyter')
      : options.user === true || process.getuid?.() !== 0
        ? userDataDir(options.env)
        : '/usr/local/share/jupyter'
  const dir = join(base, 'kernels', KERNEL_NAME)
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new ConfigError(`${dir} exists and is not a directory`)
  const spec = kernelSpec()
  writeFileAtomic(join(dir, 'kernel.json'), `${JSON.stringify(spec, null, 2)}\n`)
  return { path: dir, spec }
}

export interface KernelStatus {
  jupyter: { found: boolean; path?: string; version?: string }
  kernelspec: { found: boolean; path?: string; argv?: string[]; usable?: boolean; problem?: string }
  /** Where the kernelspec was looked for, in Jupyter's order (from `jupyter --paths` when installed). */
  searched: string[]
}

export async function kernelStatus(env: NodeJS.ProcessEnv = process.env): Promise<KernelStatus> {
  let dataPath = jupyterDataPath(env)
  const status: KernelStatus = { jupyter: { found: false }, kernelspec: { found: false }, searched: [] }
  const jupyter = findExecutable('jupyter', env)
  if (jupyter !== undefined) {
    status.jupyter = { found: true, path: jupyter }
    const version = await run(jupyter, ['--version'], env)
    const line = version?.split('\n').find((l) => /^jupyter_core\s*:/.test(l.trim()))
    if (line !== undefined) status.jupyter.version = line.split(':')[1]!.trim()
    try {
      // Jupyter's own search path beats our reconstruction of it (it knows sys.prefix).
      const paths = JSON.parse((await run(jupyter, ['--paths', '--json'], env)) ?? '') as { data?: string[] }
      if (Array.isArray(paths.data) && paths.data.length > 0) dataPath = paths.data
    } catch {
      /* keep ours */
    }
  }
  status.searched = dataPath.map((d) => join(d, 'kernels', KERNEL_NAME))
  for (const dir of status.searched) {
    const file = join(dir, 'kernel.json')
    if (!existsSync(file)) continue
    status.kernelspec = { found: true, path: dir }
    try {
      const spec = JSON.parse(readFileSync(file, 'utf8')) as Partial<KernelSpec>
      status.kernelspec.argv = spec.argv ?? []
      const missing = (spec.argv ?? []).slice(0, 2).find((p) => !existsSync(p))
      status.kernelspec.usable = missing === undefined
      if (missing !== undefined) status.kernelspec.problem = `${missing} does not exist (run mtflow kernel install again)`
    } catch {
      status.kernelspec.usable = false
      status.kernelspec.problem = `${file} is not valid JSON`
    }
    break
  }
  return status
}

function findExecutable(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {
      /* not here */
    }
  }
  return undefined
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(file, args, { env, timeout: 15_000 }, (error, stdout) => done(error === null ? stdout : undefined))
  })
}
