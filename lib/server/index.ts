// lib/server: the Hono app (pages, JSON API, model serving), its token, and starting it.
// Nothing imports lib/server but the CLI.

export * from './app.js'
export * from './api.js'
export * from './token.js'
export * from './access.js'
export * from './serve.js'
export * from './models.js'
export * from './champion.js'
