/**
 * What a scenario returns, and how BENCHMARKS.md renders it. Scenarios measure; this file
 * only formats.
 */
import type { BarChart } from './svg-chart';

export interface Table {
  readonly caption?: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>;
}

export interface ScenarioReport {
  /** Section title, e.g. "1. markets query". */
  readonly title: string;
  /** Markdown: what was measured and how, before the tables. */
  readonly method: string;
  readonly tables: readonly Table[];
  readonly charts: readonly BarChart[];
  /** Markdown bullets after the tables: targets met or missed, what the profile showed. */
  readonly findings: readonly string[];
  /**
   * What makes the scenario fail although it measured everything: requests the service
   * refused, answers that were wrong. Rendered first in its section; `npm run bench` writes
   * the report and then exits non-zero naming them.
   */
  readonly failures?: readonly string[];
}

/** Milliseconds with three decimals; integers and other numbers as they come. */
export function ms(value: number): string {
  return value.toFixed(3);
}

/** Cores with two decimals; "–" when unknown. */
export function cores(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(2);
}

/** A rate per second, rounded, with thousands separators. */
export function perSecond(value: number): string {
  return Math.round(value).toLocaleString('en');
}

export function ratio(value: number): string {
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)}x`;
}

export function renderTable(table: Table): string {
  const lines: string[] = [];
  if (table.caption) lines.push(`**${table.caption}**`, '');
  lines.push(`| ${table.columns.join(' | ')} |`, `|${table.columns.map(() => '---').join('|')}|`);
  for (const row of table.rows) lines.push(`| ${row.map(String).join(' | ')} |`);
  return lines.join('\n');
}

export function renderScenario(report: ScenarioReport, chartLink: (chart: BarChart) => string): string {
  const parts = [`## ${report.title}`];
  if (report.failures && report.failures.length > 0) parts.push(`**Failed:**\n\n${report.failures.map((f) => `- ${f}`).join('\n')}`);
  parts.push(report.method.trim());
  for (const table of report.tables) parts.push(renderTable(table));
  for (const chart of report.charts) parts.push(`![${chart.title}](${chartLink(chart)})`);
  if (report.findings.length > 0) parts.push(report.findings.map((f) => `- ${f}`).join('\n'));
  return parts.join('\n\n');
}
