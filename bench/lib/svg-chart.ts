/**
 * A grouped horizontal bar chart as a standalone SVG: enough to show one figure per system
 * per case, on a linear or logarithmic axis. No dependencies, deterministic output.
 */
export interface BarChart {
  /** File name under bench/charts/, e.g. `markets-query-10k.svg`. */
  readonly file: string;
  readonly title: string;
  /** Axis label, e.g. "p50 latency, ms (log scale)". */
  readonly unit: string;
  readonly log?: boolean;
  readonly groups: ReadonlyArray<{ readonly label: string; readonly bars: ReadonlyArray<{ readonly label: string; readonly value: number }> }>;
}

const COLORS = ['#2f6fde', '#e0742c', '#3a9e4f', '#9b59b6', '#c0392b'];
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderBarChart(chart: BarChart): string {
  const labelWidth = 260;
  const plotWidth = 460;
  const barHeight = 16;
  const groupGap = 14;
  const top = 48;
  const series = [...new Set(chart.groups.flatMap((g) => g.bars.map((b) => b.label)))];
  const max = Math.max(...chart.groups.flatMap((g) => g.bars.map((b) => b.value)), 1e-9);
  const min = Math.min(...chart.groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => v > 0), max);
  const logMin = Math.log10(min) - 0.3;
  const scale = (v: number) =>
    chart.log ? Math.max(2, ((Math.log10(Math.max(v, 1e-9)) - logMin) / (Math.log10(max) - logMin)) * plotWidth) : Math.max(2, (v / max) * plotWidth);

  const rows: string[] = [];
  let y = top;
  for (const group of chart.groups) {
    rows.push(`<text x="8" y="${y + 12}" font-weight="bold">${escape(group.label)}</text>`);
    y += 18;
    for (const bar of group.bars) {
      const color = COLORS[series.indexOf(bar.label) % COLORS.length];
      const width = scale(bar.value);
      rows.push(
        `<text x="${labelWidth - 8}" y="${y + 12}" text-anchor="end">${escape(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
        `<text x="${labelWidth + width + 6}" y="${y + 12}">${formatValue(bar.value)}</text>`,
      );
      y += barHeight + 4;
    }
    y += groupGap;
  }
  const height = y + 24;
  const width = labelWidth + plotWidth + 110;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="20" font-size="15" font-weight="bold">${escape(chart.title)}</text>`,
    `<text x="8" y="38" fill="#555">${escape(chart.unit)}</text>`,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}

function formatValue(value: number): string {
  if (value >= 1000) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(3);
}
