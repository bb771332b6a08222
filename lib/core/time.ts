// Time helpers. mtflow time is UTC epoch milliseconds; these turn it into text for people and file names.

/** ISO-8601 UTC with milliseconds: 2026-11-21T20:45:01.123Z */
export function isoTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString()
}

/** A file-name-safe, sortable UTC stamp: 20261121T204501123Z */
export function fileStamp(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '')
}
