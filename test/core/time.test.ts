import { describe, expect, it } from 'vitest'
import { checkCanonicalTimeframe, decideTimeFormat, floorToTimeframe, parseDateFormat, parseTime, summarizeTimes, timeframeMs, toIsoDate } from '../../lib/core/index.js'

describe('timeframes', () => {
  it('knows the length of any multiple of m, h, d, w', () => {
    expect(timeframeMs('1m')).toBe(60_000)
    expect(timeframeMs('15m')).toBe(900_000)
    expect(timeframeMs('4h')).toBe(14_400_000)
    expect(timeframeMs('1d')).toBe(86_400_000)
    expect(timeframeMs('1w')).toBe(604_800_000)
    for (const bad of ['', '0m', '1x', '1.5h', 'h', '1M']) expect(() => timeframeMs(bad)).toThrow(/is not valid; expected a number and a unit m, h, d or w/)
  })

  it('floors to buckets; weeks start on Monday', () => {
    const t = Date.UTC(2024, 0, 3, 13, 47) // Wednesday 2024-01-03 13:47
    expect(floorToTimeframe(t, '15m')).toBe(Date.UTC(2024, 0, 3, 13, 45))
    expect(floorToTimeframe(t, '4h')).toBe(Date.UTC(2024, 0, 3, 12))
    expect(floorToTimeframe(t, '1d')).toBe(Date.UTC(2024, 0, 3))
    expect(floorToTimeframe(t, '1w')).toBe(Date.UTC(2024, 0, 1)) // Monday
    expect(toIsoDate(Date.UTC(2024, 0, 1))).toBe('2024-01-01')
    expect(toIsoDate(Date.UTC(2024, 0, 1, 13))).toBe('2024-01-01T13:00:00Z')
  })
})

// Epoch values worked out by hand: 2010-01-01 is 40·365 + 10 leap days = 14,610 days after 1970-01-01,
// 2022-01-01 is 52·365 + 13 = 18,993 days; a day is 86,400,000 ms.
const DAY = 86_400_000
const JAN_4_2010 = (14_610 + 3) * DAY // 1,262,563,200,000
const JAN_1_2022 = 18_993 * DAY // 1,640,995,200,000

describe('checkCanonicalTimeframe', () => {
  it('keeps a timeframe in its largest whole unit and names that form for any other (a new-user check: 60m was a dataset apart from 1h)', () => {
    for (const tf of ['1m', '59m', '90m', '1h', '23h', '36h', '1d', '6d', '7d', '8d', '14d', '1w', '2w']) expect(checkCanonicalTimeframe(tf)).toBe(tf)
    for (const [tf, canonical] of [['60m', '1h'], ['120m', '2h'], ['1440m', '1d'], ['24h', '1d'], ['48h', '2d'], ['168h', '7d'], ['10080m', '7d']]) {
      expect(() => checkCanonicalTimeframe(tf!)).toThrow(`timeframe "${tf}" is written ${canonical} (bars are kept under the largest whole unit); give ${canonical}`)
    }
  })
})

describe('parseTime', () => {
  const f = { field: '--start' }
  it('reads ISO 8601 dates and date-times, no offset meaning UTC', () => {
    expect(JAN_4_2010).toBe(1_262_563_200_000)
    expect(parseTime('2010-01-04', f)).toBe(JAN_4_2010)
    expect(parseTime('2010-01-04T00:00', f)).toBe(JAN_4_2010)
    expect(parseTime('2010-01-04 00:00:00', f)).toBe(JAN_4_2010)
    expect(parseTime('2010-01-04T09:30:15.25', f)).toBe(JAN_4_2010 + (9 * 3600 + 30 * 60 + 15) * 1000 + 250)
    expect(parseTime('2010-01-04T09:30:15.25Z', f)).toBe(JAN_4_2010 + (9 * 3600 + 30 * 60 + 15) * 1000 + 250)
    // +02:00 is two hours ahead of UTC: 09:30 there is 07:30 UTC; -05:00 is five behind.
    expect(parseTime('2010-01-04T09:30:15.25+02:00', f)).toBe(JAN_4_2010 + (7 * 3600 + 30 * 60 + 15) * 1000 + 250)
    expect(parseTime('2010-01-04T09:30-0500', f)).toBe(JAN_4_2010 + (14 * 3600 + 30 * 60) * 1000)
    expect(parseTime('2010-01-04', { ...f, endOfDay: true })).toBe(JAN_4_2010 + DAY - 1)
    expect(parseTime('2010-01-04T00:00', { ...f, endOfDay: true })).toBe(JAN_4_2010)
    expect(parseTime('2010/01/04', f)).toBe(JAN_4_2010)
  })

  it('is the same whatever the machine\'s time zone', () => {
    const before = process.env.TZ
    process.env.TZ = 'America/New_York'
    try {
      // The bug: Date.parse reads a date-time without offset in the machine's zone (05:00 UTC here).
      expect(Date.parse('2010-01-04T00:00')).toBe(JAN_4_2010 + 5 * 3600_000)
      expect(parseTime('2010-01-04T00:00', f)).toBe(JAN_4_2010)
      expect(parseTime('13/01/2022 16:00', f)).toBe(JAN_1_2022 + 12 * DAY + 16 * 3600_000)
    } finally {
      if (before === undefined) delete process.env.TZ
      else process.env.TZ = before
    }
  })

  it('refuses day/month dates whose order the value cannot tell, unless a format says it', () => {
    expect(() => parseTime('01/03/2022', f)).toThrow('--start "01/03/2022" is ambiguous (day/month or month/day?); give a date format DD/MM/YYYY or MM/DD/YYYY, or write dates as ISO 8601 (YYYY-MM-DD)')
    expect(() => parseTime('01/02/2010', { ...f, formatOption: '--date-format' })).toThrow('give --date-format DD/MM/YYYY or MM/DD/YYYY')
    // 1 March 2022 = 18,993 + 31 + 28 days; 3 January = 18,993 + 2.
    expect(parseTime('01/03/2022', { ...f, dateFormat: 'DD/MM/YYYY' })).toBe((18_993 + 59) * DAY)
    expect(parseTime('01/03/2022', { ...f, dateFormat: 'MM/DD/YYYY' })).toBe((18_993 + 2) * DAY)
    expect(parseTime('01.03.2022 09:30', { ...f, dateFormat: 'dd.mm.yyyy HH:MM' })).toBe((18_993 + 59) * DAY + 9.5 * 3600_000)
    // 13/01/2022 can only be day first.
    expect(parseTime('13/01/2022', f)).toBe(JAN_1_2022 + 12 * DAY)
    expect(parseTime('01/13/2022', f)).toBe(JAN_1_2022 + 12 * DAY)
    expect(() => parseTime('13/01/2022', { ...f, dateFormat: 'MM/DD/YYYY' })).toThrow('--start "13/01/2022" has no month first, but a date format says MM/DD/YYYY')
    // Two-digit years: ambiguous first, then refused without a format saying YY; 69–99 → 19xx.
    expect(() => parseTime('1/3/22', f)).toThrow('--start "1/3/22" is ambiguous')
    expect(() => parseTime('13/3/22', f)).toThrow('--start "13/3/22" has a two-digit year; give a date format DD/MM/YY')
    expect(parseTime('1/3/22', { ...f, dateFormat: 'DD/MM/YY' })).toBe((18_993 + 59) * DAY)
    expect(parseTime('1/1/70', { ...f, dateFormat: 'DD/MM/YY' })).toBe(0)
    expect(() => parseTime('31/02/2022', f)).toThrow('--start "31/02/2022" is not an ISO date or time')
    expect(() => parseDateFormat('DD/YYYY/MM', '--date-format')).toThrow('--date-format "DD/YYYY/MM" is not known; expected DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD, DD/MM/YY or MM/DD/YY')
  })

  it('reads epoch numbers in the unit their magnitude says', () => {
    // 2024-01-01 = 54·365 + 13 leap days (1972…2020) = 19,723 days = 1,704,067,200 s.
    expect(parseTime('1704067200', f)).toBe(1_704_067_200_000)
    expect(parseTime('1704067200000', f)).toBe(1_704_067_200_000)
    expect(parseTime('1704067200000000', f)).toBe(1_704_067_200_000)
    expect(parseTime('1704067200000000000', f)).toBe(1_704_067_200_000)
    expect(parseTime('1704067200.5', f)).toBe(1_704_067_200_500)
  })

  it('reads ISO 8601 basic (20220301) as a date, and refuses short numbers instead of reading 1970 (review 24, finding 1)', () => {
    // 2022-03-01 = 2022-01-01 (18,993 days) + 31 + 28 = 19,052 days = 1,646,092,800,000 ms.
    const MAR_1_2022 = 1_646_092_800_000
    expect(parseTime('20220301', f)).toBe(MAR_1_2022)
    expect(parseTime('20220301', { ...f, endOfDay: true })).toBe(MAR_1_2022 + DAY - 1)
    expect(parseTime('20220301T0930', f)).toBe(MAR_1_2022 + 9.5 * 3_600_000)
    expect(parseTime('20220301T093015Z', f)).toBe(MAR_1_2022 + 9.5 * 3_600_000 + 15_000)
    expect(parseTime('20220301T0930+0100', f)).toBe(MAR_1_2022 + 8.5 * 3_600_000)
    expect(parseTime('20220301093000', f)).toBe(MAR_1_2022 + 9.5 * 3_600_000)
    // Before: 2022 s = 1970-01-01T00:33:42Z, 20220301 s = 1970-08-23.
    expect(() => parseTime('2022', f)).toThrow('--start "2022" is not a date/time; write 2022-01-01, or an epoch number of 9 or more digits')
    expect(() => parseTime('0', f)).toThrow('--start "0" is not a date/time; write an ISO date such as 2022-01-01')
    expect(() => parseTime('12345678', f)).toThrow('--start "12345678" is not a date/time: 8 digits are read as YYYYMMDD')
    expect(() => parseTime('20220230', f)).toThrow('--start "20220230" is not a date/time')
    // 12 digits: YYYYMMDDhhmm 2022-03-01 12:00, or epoch ms 1976-05-29T…: refused, both named.
    expect(() => parseTime('202203011200', f)).toThrow('--start "202203011200" is ambiguous (YYYYMMDDhhmm 2022-03-01T12:00 or epoch ms 1976-05-29T')
    // Epoch numbers of 9+ digits that are no YYYYMMDD[hhmm[ss]] read as before: 946,684,800,000 ms = 2000-01-01 (10,957 days).
    expect(parseTime('946684800000', f)).toBe(10_957 * DAY)
    expect(parseTime('946684800', f)).toBe(10_957 * DAY)
  })

  it('reads a column of 8-digit YYYYMMDD values as dates, other numbers as epochs (review 24, finding 1)', () => {
    const field = 'daily.csv column date'
    expect(decideTimeFormat(summarizeTimes(['20220301', '20220302', '19991231']), { field })).toEqual({ kind: 'date', format: { order: 'YMD', yearDigits: 4, basic: true } })
    expect(decideTimeFormat(summarizeTimes(['20220301T0930', '20220301T1030']), { field })).toEqual({ kind: 'date', format: { order: 'YMD', yearDigits: 4, basic: true } })
    // Epoch seconds of 1970 (one below 19000101, one not shaped YYYYMMDD) stay epoch numbers.
    expect(decideTimeFormat(summarizeTimes(['0', '60', '120']), { field })).toEqual({ kind: 'epoch' })
    expect(decideTimeFormat(summarizeTimes(['20220301', '20229999']), { field })).toEqual({ kind: 'epoch' })
    expect(() => decideTimeFormat(summarizeTimes(['20220301', '2022-03-02']), { field })).toThrow('daily.csv column date mixes time formats ("2022-03-02" and "20220301")')
    expect(() => decideTimeFormat(summarizeTimes(['20220301']), { field, dateFormat: 'DD/MM/YYYY' })).toThrow('holds year-first dates ("20220301") but a date format says DD/MM/YYYY')
  })

  it('refuses hostile text with one short line', () => {
    for (const text of ['9'.repeat(400), 'x'.repeat(10_000), '2022-01-01\u0000', '2022-13-01', '2022-01-01T24:00', '2022-01-01T10:00+25:00', '', 'yesterday']) {
      let message = ''
      try {
        parseTime(text, f)
      } catch (error) {
        message = (error as Error).message
      }
      expect(message, JSON.stringify(text.slice(0, 20))).toMatch(/^--start /)
      expect(message).not.toContain('\n')
      expect(message.length).toBeLessThan(260)
    }
  })

  it('decides one format per column from all its values', () => {
    const field = 'prices.csv column date'
    expect(decideTimeFormat(summarizeTimes(['01/01/2022', '02/01/2022', '13/01/2022']), { field })).toEqual({ kind: 'date', format: { order: 'DMY', yearDigits: 4 } })
    expect(decideTimeFormat(summarizeTimes(['01/12/2022', '01/13/2022']), { field })).toEqual({ kind: 'date', format: { order: 'MDY', yearDigits: 4 } })
    expect(() => decideTimeFormat(summarizeTimes(['13/01/2022', '01/13/2022']), { field })).toThrow('prices.csv column date holds day-first ("13/01/2022") and month-first ("01/13/2022") dates; expected one format per column')
    expect(() => decideTimeFormat(summarizeTimes(['2022-01-03', '04/01/2022']), { field })).toThrow('prices.csv column date mixes time formats ("2022-01-03" and "04/01/2022"); expected one format per column')
    expect(() => decideTimeFormat(summarizeTimes(['1704067200', '2024-01-01']), { field })).toThrow('mixes time formats')
    expect(decideTimeFormat(summarizeTimes(['someday', '']), { field })).toEqual({ kind: 'none' })
    expect(decideTimeFormat(summarizeTimes(['2024-01-01', 'someday']), { field })).toEqual({ kind: 'date', format: { order: 'YMD', yearDigits: 4 } })
  })
})
