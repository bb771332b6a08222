// The CLI's time flags (--start, --end, --since, --until, a time --holdout): read once, where they are
// typed, by the one parser (parseTime: ISO 8601, no offset = UTC), with `--date-format` saying the
// day/month order of a numeric date such as 01/03/2022. A bad value is refused naming its flag.

import type { Command } from 'commander'
import { ConfigError, isoTime, parseDateFormat, parseTime, timeKind, toIsoDate, type DateFormat } from '../core/index.js'

export const DATE_FORMAT_HELP = 'day/month order of dates such as 01/03/2022: DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY (ISO dates and epoch numbers need none; times without an offset are UTC)'

/** `--date-format` as given, checked: undefined when not given; a one-line ConfigError naming the flag. */
export function dateFormatFlag(text: string | undefined): DateFormat | undefined {
  return text === undefined ? undefined : parseDateFormat(text, '--date-format')
}

/**
 * Epoch ms of one time flag's value. `--date-format` applies to day/month dates (01/03/2022) only:
 * ISO dates and epoch numbers say what they are, and are read whatever format is given.
 */
export function timeFlagMs(value: string, flag: string, dateFormat: DateFormat | undefined, endOfDay = false): number {
  const dayMonth = timeKind(value) === 'xxy'
  return parseTime(value, { field: flag, formatOption: '--date-format', endOfDay, ...(dayMonth && dateFormat !== undefined ? { dateFormat } : {}) })
}

/**
 * One time flag's value checked, as the text the library is handed: unchanged, except a day/month
 * date, which becomes its ISO 8601 form (a bare date stays a bare date, so an --end still covers its
 * whole day) — nothing after the command line has to know the date format.
 */
export function timeFlagText(value: string, flag: string, dateFormat: DateFormat | undefined): string {
  const ms = timeFlagMs(value, flag, dateFormat)
  if (timeKind(value) !== 'xxy') return value
  const bareDate = timeFlagMs(value, flag, dateFormat, true) !== ms
  return bareDate ? toIsoDate(ms) : isoTime(ms)
}

/**
 * Adds `--date-format` to a verb and reads its time flags (every option whose argument is `<time>`)
 * before its action runs: each is checked, named in any refusal, and handed on by timeFlagText.
 */
export function withDateFormat(cmd: Command): Command {
  return cmd.option('--date-format <format>', DATE_FORMAT_HELP).hook('preAction', (hooked) => {
    const format = dateFormatFlag(hooked.getOptionValue('dateFormat') as string | undefined)
    for (const option of hooked.options) {
      if (!/<time>$/.test(option.flags)) continue
      const key = option.attributeName()
      const value = hooked.getOptionValue(key) as unknown
      if (value === undefined) continue
      if (typeof value !== 'string') throw new ConfigError(`${option.long} expects a time (received ${JSON.stringify(value)})`)
      hooked.setOptionValueWithSource(key, timeFlagText(value, option.long!, format), hooked.getOptionValueSource(key) ?? 'cli')
    }
  })
}
