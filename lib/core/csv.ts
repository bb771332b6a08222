// One CSV line split into its cells (RFC 4180 quoting on one line): commas separate, double quotes
// enclose, "" inside quotes is one quote. Shared by the readers of small CSV files people write by hand
// (weights files, tearsheet inputs); the lake's bulk imports go through DuckDB. And one cell written:
// quoted when it holds a quote, a comma or a line break (RFC 4180), for every CSV mtflow writes.

const PLAIN_NUMBER = /^[+-]?(Infinity|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)$/i

/**
 * A text cell of a CSV file people open in a spreadsheet: one that a spreadsheet would run as a formula
 * (starting with =, +, -, @, a tab or CR) is prefixed with "'" (OWASP's advice for CSV injection); a plain
 * number ("-0.5", "-Infinity") is left as it is. Then quoted as csvField quotes.
 */
export function csvText(text: string): string {
  return csvField(/^[=+\-@\t\r]/.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text)
}

/** A CSV cell: as it is, or in double quotes (inner quotes doubled) when it holds `"`, `,`, CR or LF. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/**
 * The cells of `line`, split on `delimiter` (default a comma); a quoted cell left open throws what
 * `unclosed` makes (an error naming the file and line), or — without it — runs to the end of the line.
 */
export function splitCsvLine(line: string, unclosed?: () => Error, delimiter = ','): string[] {
  if (!line.includes('"')) return line.split(delimiter)
  const cells: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === delimiter) {
      cells.push(cell)
      cell = ''
    } else cell += ch
  }
  if (quoted && unclosed !== undefined) throw unclosed()
  cells.push(cell)
  return cells
}
