// Files served or copied never follow a symbolic link nor leave their folder, only recorded artifacts are
// served, and a file whose bytes no longer match its recorded sha256 is refused by name. Each attack is
// made on a real workspace, against the real server over a socket and the real CLI.

import { createHash } from 'node:crypto'
import { appendFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, workspaceToken, type Listening } from '../../lib/server/index.js'
import { Registry, Tracker } from '../../lib/track/index.js'
import { runCli } from '../helpers.js'

let home: string
let outside: string
let server: Listening
let token: string
let runId: string
const SECRET = 'root:x:0:0:the secret outside the workspace\n'

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex')

async function get(path: string): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
  const text = await response.text()
  let body: any = text
  try {
    body = JSON.parse(text)
  } catch {
    /* not JSON */
  }
  return { status: response.status, body, text }
}

/** The file at `path` replaced by a link to the secret outside the workspace. */
function swapForSecret(path: string): void {
  unlinkSync(path)
  symlinkSync(join(outside, 'passwd'), path)
}

function artifactsDir(): string {
  return join(new Tracker(home).runDir(runId), 'artifacts')
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mtflow-files-'))
  outside = mkdtempSync(join(tmpdir(), 'mtflow-outside-'))
  writeFileSync(join(outside, 'passwd'), SECRET)
  writeFileSync(join(outside, 'shadow'), SECRET)
  const tracker = new Tracker(home)
  const run = tracker.startRun({ experiment: 'files', name: 'one' })
  run.logArtifact({ name: 'trades.csv', data: 'a,b\n1,2\n' })
  run.logArtifact({ name: 'weights.bin', data: '{"ok":true}' })
  run.logArtifact({ name: 'swapped.csv', data: 'x\n1\n' })
  run.logArtifact({ name: 'edited.csv', data: 'x\n1\n' })
  run.logArtifact({ name: 'sub/inner.csv', data: 'y\n2\n' })
  // Over the viewer's 10 MiB window: its preview reads the first bytes without the sha256 check.
  run.logArtifact({ name: 'big.csv', data: `x\n${'1\n'.repeat(5_500_000)}` })
  run.end()
  runId = run.id
  const reg = new Registry(home)
  reg.register('dashboards', 'board', { files: { 'index.html': '<h1>board</h1>' } })
  reg.register('dashboards', 'edited', { files: { 'index.html': '<h1>edited</h1>' } })
  reg.register('notebooks', 'nb', { files: { 'notebook.ipynb': JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }) } })
  reg.register('strategies', 'strat', { files: { 'source.ts': 'export const x = 1\n' } })
  token = workspaceToken(home)
  server = await startServer({ home, token, port: 0 })
})

afterAll(async () => {
  await server.close()
  rmSync(home, { recursive: true, force: true })
  rmSync(outside, { recursive: true, force: true })
})

describe('run artifacts', () => {
  it('serves a recorded artifact whose bytes match its sha256', async () => {
    const r = await get(`/api/runs/${runId}/artifacts/trades.csv`)
    expect(r.status).toBe(200)
    expect(r.text).toBe('a,b\n1,2\n')
    expect((await get(`/api/runs/${runId}/artifacts/sub/inner.csv`)).text).toBe('y\n2\n')
  })

  it('does not serve a file placed under artifacts/ that the run never recorded', async () => {
    writeFileSync(join(artifactsDir(), 'planted.txt'), 'not recorded')
    const r = await get(`/api/runs/${runId}/artifacts/planted.txt`)
    expect(r.status).toBe(404)
    expect(r.body.error).toMatch(/no artifact "planted.txt"/)
  })

  it('does not follow a symbolic link planted beside the artifacts (to a file or to a folder)', async () => {
    symlinkSync(join(outside, 'passwd'), join(artifactsDir(), 'passwd.txt'))
    symlinkSync(outside, join(artifactsDir(), 'etcdir'))
    for (const path of ['passwd.txt', 'etcdir/passwd']) {
      const r = await get(`/api/runs/${runId}/artifacts/${path}`)
      expect(r.status, path).toBe(404)
      expect(r.text).not.toContain('the secret')
    }
  })

  it('refuses a recorded artifact that was replaced by a link, even one with the same bytes', async () => {
    // The link's target has exactly the recorded content: only the link itself gives it away.
    writeFileSync(join(outside, 'same.csv'), 'x\n1\n')
    unlinkSync(join(artifactsDir(), 'swapped.csv'))
    symlinkSync(join(outside, 'same.csv'), join(artifactsDir(), 'swapped.csv'))
    const r = await get(`/api/runs/${runId}/artifacts/swapped.csv`)
    expect(r.status).toBe(403)
    expect(r.body.error).toMatch(/artifact "swapped.csv" of run .* is a symbolic link/)
  })

  it("refuses a large CSV's preview (read in part, so no sha256 to catch it) once the file is a link", async () => {
    const view = `/runs/${runId}/artifacts/view?path=big.csv`
    expect((await get(view)).status).toBe(200)
    writeFileSync(join(outside, 'big.csv'), `x\n${SECRET}\n`)
    unlinkSync(join(artifactsDir(), 'big.csv'))
    symlinkSync(join(outside, 'big.csv'), join(artifactsDir(), 'big.csv'))
    // Another page of the preview (page 1 may be cached from before the swap): read afresh, refused.
    const r = await get(`${view}&page=2`)
    expect(r.status).toBe(403)
    expect(r.text).not.toContain(SECRET)
  })

  it('refuses a recorded artifact reached through a folder swapped for a link', async () => {
    // sub/ replaced by a link to a folder holding inner.csv with the recorded bytes.
    const elsewhere = join(outside, 'sub')
    mkdirSync(elsewhere)
    writeFileSync(join(elsewhere, 'inner.csv'), 'y\n2\n')
    rmSync(join(artifactsDir(), 'sub'), { recursive: true })
    symlinkSync(elsewhere, join(artifactsDir(), 'sub'))
    const r = await get(`/api/runs/${runId}/artifacts/sub/inner.csv`)
    expect(r.status).toBe(403)
    expect(r.body.error).toMatch(/goes through a symbolic link/)
    // Where the workspace lives on disk is not told to clients.
    expect(r.body.error).not.toContain(home)
    expect(r.body.error).toContain('($MTFLOW_HOME/runs/files/')
  })

  it('refuses a recorded artifact whose bytes changed, naming it (409)', async () => {
    writeFileSync(join(artifactsDir(), 'edited.csv'), 'x\n999\n')
    const r = await get(`/api/runs/${runId}/artifacts/edited.csv`)
    expect(r.status).toBe(409)
    expect(r.body.error).toMatch(/artifact "edited.csv" of run .* has changed since it was recorded: sha256/)
    expect(r.body.error).toContain(sha('x\n999\n').slice(0, 16))
  })

  it('refuses a record without a sha256 (a hard link to a file outside, recorded by hand)', async () => {
    // A hard link is no symbolic link: only the recorded content can give it away, so a record must have one.
    linkSync(join(outside, 'passwd'), join(artifactsDir(), 'hard.txt'))
    appendFileSync(join(artifactsDir(), '..', 'artifacts.jsonl'), `\n${JSON.stringify({ path: 'hard.txt', size: 1, timestamp: 1 })}\n`)
    const r = await get(`/api/runs/${runId}/artifacts/hard.txt`)
    expect(r.status).toBe(409)
    expect(r.body.error).toMatch(/artifact "hard.txt" of run .* has no valid recorded sha256/)
    expect(r.text).not.toContain('the secret')
  })

  it('refuses an artifact name with "%" (it would be decoded on the way to the file, onto another artifact)', () => {
    const run = new Tracker(home).startRun({ experiment: 'files', name: 'percent' })
    run.logArtifact({ name: 'sub/b.csv', data: 'kept\n' })
    expect(() => run.logArtifact({ name: 'sub%2Fb.csv', data: 'overwritten\n' })).toThrow('artifact name "sub%2Fb.csv" must not contain "%"')
    expect(new Tracker(home).readArtifact(run.id, 'sub/b.csv').bytes.toString()).toBe('kept\n')
    run.end()
  })

  it('refuses the whole artifacts folder swapped for a link', async () => {
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'files', name: 'two' })
    run.logArtifact({ name: 'passwd', data: SECRET })
    run.end()
    const dir = join(tracker.runDir(run.id), 'artifacts')
    rmSync(dir, { recursive: true })
    symlinkSync(outside, dir)
    const r = await get(`/api/runs/${run.id}/artifacts/passwd`)
    expect(r.status).toBe(403)
    expect(r.text).not.toContain('the secret')
  })
})

describe('mtflow registry register-model', () => {
  it('copies no file through a link: exit 2, one line, nothing registered', async () => {
    // An artifact recorded with the sha256 of the file outside, then its folder turned into a link there.
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'files', name: 'three' })
    run.logArtifact({ name: 'etcdir/shadow', data: SECRET })
    run.end()
    const dir = join(tracker.runDir(run.id), 'artifacts', 'etcdir')
    rmSync(dir, { recursive: true })
    symlinkSync(outside, dir)
    const r = await runCli(['registry', 'register-model', 'stolen', '--run', run.id, '--artifact', 'etcdir/shadow'], { env: { MTFLOW_HOME: home } })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/artifact "etcdir\/shadow" of run .* goes through a symbolic link/)
    expect(existsSync(join(home, 'registry', 'models', 'stolen'))).toBe(false)
  })

  it('copies no file that is not recorded, and no changed file', async () => {
    writeFileSync(join(artifactsDir(), 'unrecorded.json'), '{}')
    const unrecorded = await runCli(['registry', 'register-model', 'm1', '--run', runId, '--artifact', 'unrecorded.json'], { env: { MTFLOW_HOME: home } })
    expect(unrecorded.code).toBe(2)
    expect(unrecorded.stderr).toMatch(/no artifact "unrecorded.json"/)
    const edited = await runCli(['registry', 'register-model', 'm2', '--run', runId, '--artifact', 'edited.csv'], { env: { MTFLOW_HOME: home } })
    expect(edited.code).toBe(2)
    expect(edited.stderr).toMatch(/has changed since it was recorded/)
    const ok = await runCli(['registry', 'register-model', 'm3', '--run', runId, '--artifact', 'weights.bin', '--any-file', '--json'], { env: { MTFLOW_HOME: home } })
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout).sha256).toBe(sha('{"ok":true}'))
  })
})

describe("the workspace's place on disk", () => {
  it('is not on a run page whose equity.csv is gone (an attack review found it there)', async () => {
    const tracker = new Tracker(home)
    const run = tracker.startRun({ experiment: 'leak', name: 'leak' })
    run.logArtifact({ name: 'equity.csv', data: 'time,equity\n2024-01-01T00:00:00Z,100\n2024-01-02T00:00:00Z,101\n' })
    run.end()
    unlinkSync(join(tracker.runDir(run.id), 'artifacts', 'equity.csv'))
    const r = await get(`/runs/${run.id}`)
    expect(r.status).toBe(200)
    expect(r.text).toContain('Its equity curve or trades cannot be shown')
    expect(r.text).toContain('$MTFLOW_HOME/')
    expect(r.text).not.toContain(home)
  })
})

describe('registry files', () => {
  const versionDir = (kind: string, name: string) => join(home, 'registry', kind, name, 'v1')

  it('serves no model whose package was swapped for a link or changed (scoring routes included)', async () => {
    const reg = new Registry(home)
    reg.register('models', 'linked', { files: { 'model.json': '{"format":"mtflow-model"}' } })
    reg.register('models', 'changed', { files: { 'model.json': '{"format":"mtflow-model"}' } })
    writeFileSync(join(outside, 'evil.json'), '{"format":"mtflow-model","metrics":{"pwned":1}}')
    const linked = join(versionDir('models', 'linked'), 'model.json')
    unlinkSync(linked)
    symlinkSync(join(outside, 'evil.json'), linked)
    writeFileSync(join(versionDir('models', 'changed'), 'model.json'), '{"format":"mtflow-model","metrics":{"pwned":1}}')
    for (const [path, status] of [['/models/linked@1/version', 403], ['/models/linked@1/ping', 403], ['/models/changed@1/version', 409]] as const) {
      // The token-free route, as a scoring client calls it.
      const response = await fetch(`${server.url}${path}`)
      const text = await response.text()
      expect(response.status, path).toBe(status)
      expect(text).not.toContain('pwned')
    }
    const cli = await runCli(['models', 'show', 'linked@1'], { env: { MTFLOW_HOME: home } })
    expect(cli.code).toBe(2)
    expect(cli.stderr).toMatch(/model linked@1 file "model.json" is a symbolic link/)
  })

  it('serves a dashboard, a notebook and a strategy source as registered', async () => {
    expect((await get('/dashboards/board')).text).toContain('<h1>board</h1>')
    expect((await get('/notebooks/nb')).status).toBe(200)
    expect((await get('/registry/strategies/strat/v/1')).text.replace(/<[^>]*>/g, '')).toContain('export const x = 1') // highlighted: the text between the spans
  })

  it('refuses a dashboard file replaced by a link, on the page and through the API', async () => {
    const file = join(versionDir('dashboards', 'board'), 'index.html')
    renameSync(file, `${file}.orig`)
    symlinkSync(join(outside, 'passwd'), file)
    for (const path of ['/dashboards/board', '/dashboards/board/v/1', '/api/registry/dashboards/board/versions/1/files/index.html']) {
      const r = await get(path)
      expect(r.status, path).toBe(403)
      expect(r.text).not.toContain('the secret')
      expect(r.body.error).toMatch(/dashboard board@1 file "index.html" is a symbolic link/)
    }
  })

  it('a file view or notebook page once rendered is refused when its file is then swapped for a link or changed (the cache keeps renderings, not trust)', async () => {
    const reg = new Registry(home)
    reg.register('strategies', 'viewed', { files: { 'source.ts': 'export const viewed = 1\n', 'notes.md': 'first notes\n' } })
    reg.register('notebooks', 'viewed', { files: { 'viewed.ipynb': JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }) } })
    // Rendered and cached first.
    expect((await get('/registry/strategies/viewed/v/1?file=source.ts')).status).toBe(200)
    expect((await get('/registry/strategies/viewed/v/1?file=notes.md')).status).toBe(200)
    expect((await get('/notebooks/viewed')).status).toBe(200)
    const source = join(versionDir('strategies', 'viewed'), 'source.ts')
    swapForSecret(source)
    const linked = await get('/registry/strategies/viewed/v/1?file=source.ts')
    expect(linked.status).toBe(403)
    expect(linked.text).not.toContain('the secret')
    writeFileSync(join(versionDir('strategies', 'viewed'), 'notes.md'), 'defaced\n')
    expect((await get('/registry/strategies/viewed/v/1?file=notes.md')).status).toBe(409)
    const notebook = join(versionDir('notebooks', 'viewed'), 'viewed.ipynb')
    swapForSecret(notebook)
    expect((await get('/notebooks/viewed')).status).toBe(403)
  })

  it("a model version's package summary: rendered from model.json once, then cached, and refused (409, 403) once the file changes or is swapped for a link", async () => {
    const reg = new Registry(home)
    const pkg = {
      format: 'mtflow-model',
      formatVersion: 1,
      family: 'tree',
      task: 'regression',
      trainingRows: 123,
      description: '<script>alert(1)</script>',
      metrics: { r2: 0.5 },
      signature: { inputs: [{ name: 'z', type: 'double', nullable: false }], output: { name: 'label', type: 'double' } },
    }
    for (const name of ['summary', 'summary-link']) reg.register('models', name, { files: { 'model.json': JSON.stringify(pkg) } })
    const page = async (name: string) => {
      const response = await fetch(`${server.url}/registry/models/${name}/v/1`, { headers: { authorization: `Bearer ${token}` } })
      return { status: response.status, text: await response.text(), state: response.headers.get('x-mtflow-preview') }
    }
    const first = await page('summary')
    expect(first.status).toBe(200)
    expect(first.state).toBe('rendered')
    const cells = (first.text.split('<h2>Package</h2>')[1] ?? '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ')
    for (const text of ['family tree', 'task regression', 'trainingRows 123', 'r2 0.5', 'z double no']) expect(cells).toContain(text)
    expect(first.text).not.toContain('<script>alert(1)')
    expect(first.text).toContain('&lt;script&gt;alert(1)')
    const again = await page('summary')
    expect(again.state).toBe('cached')
    expect(again.text).toBe(first.text)
    writeFileSync(join(versionDir('models', 'summary'), 'model.json'), JSON.stringify({ ...pkg, family: 'pwned' }))
    const changed = await page('summary')
    expect(changed.status).toBe(409)
    expect(changed.text).not.toContain('pwned')
    expect((await page('summary-link')).state).toBe('rendered')
    const linked = join(versionDir('models', 'summary-link'), 'model.json')
    swapForSecret(linked)
    const refused = await page('summary-link')
    expect(refused.status).toBe(403)
    expect(refused.text).not.toContain('the secret')
  })

  it('refuses a changed dashboard, a notebook or strategy source behind a link', async () => {
    writeFileSync(join(versionDir('dashboards', 'edited'), 'index.html'), '<h1>defaced</h1>')
    const edited = await get('/dashboards/edited')
    expect(edited.status).toBe(409)
    expect(edited.body.error).toMatch(/dashboard edited@1 file "index.html" has changed since it was recorded/)

    const nb = join(versionDir('notebooks', 'nb'), 'notebook.ipynb')
    swapForSecret(nb)
    expect((await get('/notebooks/nb')).status).toBe(403)

    // The whole version folder swapped for a link to a copy elsewhere (same bytes): a link is no
    // version folder, so the version is not found (or refused) — never served.
    const dir = versionDir('strategies', 'strat')
    const copy = join(outside, 'strat-v1')
    mkdirSync(copy)
    for (const f of ['source.ts', 'version.json']) writeFileSync(join(copy, f), readFileSync(join(dir, f)))
    rmSync(dir, { recursive: true })
    symlinkSync(copy, dir)
    const r = await get('/registry/strategies/strat/v/1')
    expect([403, 404]).toContain(r.status)
    expect(r.text).not.toContain('export const x')
  })
})
