// The lake's read API under /api/lake (stub: another engineer fills it in).

import { Hono } from 'hono'

export interface LakeApiDeps {
  home: string
}

export function lakeRoutes(_deps: LakeApiDeps): Hono {
  return new Hono()
}
