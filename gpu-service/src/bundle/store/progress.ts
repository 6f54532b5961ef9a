/** Decimal megabytes with one decimal ("4.2 MB"), as the bundle writer logs them. */
export const formatMegabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

export interface DownloadProgress {
  /** Count bytes as they arrive; logs the running total at most once per interval. */
  addBytes: (count: number) => void
  /** Log one finished file with the running totals. */
  fileDone: (path: string, size: number) => void
  /** Bytes so far and seconds since the start. */
  done: () => { bytes: number; seconds: number }
}

export interface ProgressOptions {
  /** Least time between running-total lines; default 1000 ms. */
  intervalMs?: number
  /** Milliseconds clock; default performance.now (tests pass their own). */
  now?: () => number
}

/**
 * Progress lines for a download of `totalFiles` files / `totalBytes` bytes: one per finished file,
 * and between those the running total at most once per interval, so a multi-GB UNet shows it is
 * alive without flooding the log.
 */
export function createProgress(
  totalBytes: number,
  totalFiles: number,
  log: (line: string) => void,
  { intervalMs = 1000, now = () => performance.now() }: ProgressOptions = {},
): DownloadProgress {
  const started = now()
  let bytes = 0
  let files = 0
  let lastLine = started
  const totals = () => `${formatMegabytes(bytes)} / ${formatMegabytes(totalBytes)}`
  return {
    addBytes: (count) => {
      bytes += count
      const time = now()
      if (time - lastLine < intervalMs) return
      lastLine = time
      const rate = bytes / 1e6 / ((time - started) / 1000)
      const percent = totalBytes ? Math.floor((bytes / totalBytes) * 100) : 100
      log(`  ${totals()} (${percent}%), ${rate.toFixed(1)} MB/s`)
    },
    fileDone: (path, size) => {
      files += 1
      lastLine = now()
      log(`  ${path}: ${formatMegabytes(size)} (${files}/${totalFiles} files, ${totals()})`)
    },
    done: () => ({ bytes, seconds: (now() - started) / 1000 }),
  }
}
