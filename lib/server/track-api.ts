// Remote tracking's write API under /api/track (stub: another engineer fills it in).

import { Hono } from 'hono'
import type { Registry, Tracker } from '../track/index.js'

export interface TrackApiDeps {
  home: string
  tracker: Tracker
  registry: Registry
}

export function trackRoutes(_deps: TrackApiDeps): Hono {
  return new Hono()
}
