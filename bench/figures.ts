// What every benchmark does with its samples: percentiles, rounding, and the verdict and
// column layout of the printed tables.

/** Nearest-rank percentile of ascending samples. */
export function percentile(sorted: readonly number[], q: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** How a figure compares with its target; printed, never asserted. */
export function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

/** Lines of a table: the first column left-aligned, the others right-aligned. */
export function tableLines(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), ...rows.map(line)];
}
