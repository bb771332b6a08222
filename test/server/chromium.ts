// Where the browser tests find Chromium (.ci/run installs Debian's `chromium`; playwright-core drives it).

import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export /** A Chromium binary: $CHROMIUM_PATH, else the usual names on $PATH (Debian's is `chromium`). */
function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv !== undefined && fromEnv !== '' && existsSync(fromEnv)) return fromEnv
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/snap/bin'].filter((d) => d !== '')
  for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
    for (const dir of dirs) {
      const file = join(dir, name)
      if (existsSync(file)) return file
    }
  }
  return undefined
}

