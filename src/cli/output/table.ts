/**
 * A table in istioctl's shape (Go's tabwriter with padding 5): upper-case headers, no borders,
 * each column as wide as its widest cell plus five spaces, the last column unpadded.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 5))).join('').trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}
