// withoutHome (lib/core/workspace.ts) writes the workspace's place as $MTFLOW_HOME in errors the server shows.
// It replaced the home's text wherever it appeared: a path that merely starts with the home's text (a sibling
// folder or file "/srv/mtflow/data-2024.csv" of the home "/srv/mtflow/data"), a path that ends with it, and
// a relative home ("data") as a plain word — the recorded error then named a file that does not exist
// ("$MTFLOW_HOME-2024.csv", "no $MTFLOW_HOME for BTC").

import { describe, expect, it } from 'vitest'
import { withoutHome } from '../../lib/core/workspace.js'

describe('withoutHome', () => {
  const home = '/srv/mtflow-test-none/data'
  it('replaces the home and paths inside it', () => {
    expect(withoutHome(`ENOENT: no such file or directory, open '${home}/lake/x.parquet'`, home)).toBe("ENOENT: no such file or directory, open '$MTFLOW_HOME/lake/x.parquet'")
    expect(withoutHome(`the workspace ${home} is a file`, home)).toBe('the workspace $MTFLOW_HOME is a file')
    expect(withoutHome(`at ${home}.`, home)).toBe('at $MTFLOW_HOME.')
    expect(withoutHome(`open '${home}/x'`, `${home}/`)).toBe("open '$MTFLOW_HOME/x'")
  })

  it('leaves a path that only starts or ends with the home\'s text', () => {
    expect(withoutHome(`ENOENT: no such file or directory, open '${home}-2024.csv'`, home)).toBe(`ENOENT: no such file or directory, open '${home}-2024.csv'`)
    expect(withoutHome(`cannot read ${home}base/prices.csv`, home)).toBe(`cannot read ${home}base/prices.csv`)
    expect(withoutHome(`cannot read ${home}.csv`, home)).toBe(`cannot read ${home}.csv`)
    expect(withoutHome(`cannot read /mnt${home}/x`, home)).toBe(`cannot read /mnt${home}/x`)
  })

  it('replaces a relative home only where it is a path, not the word', () => {
    expect(withoutHome('no data for BTC/USDT 1h', 'data')).toBe('no data for BTC/USDT 1h')
    expect(withoutHome("ENOENT: open 'data/lake/x'", 'data')).toBe("ENOENT: open '$MTFLOW_HOME/lake/x'")
  })
})
