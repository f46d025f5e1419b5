// The stdout report: one block per workload × broker × variant, each row "median (min–max)" of the headline metric,
// secondary medians, and the ratios to the group's Python and ceiling rows.

import type { Figure, Stat } from '../lib/stats';
import { median, METRIC_LABEL, ratio, reference, type Group } from './groups';

export function fmt(key: string, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (key === 'rate' || key === 'steady') return Math.round(v).toLocaleString('en-US');
  if (key === 'rssMb') return v.toFixed(0);
  if (key === 'pctIdeal') return `${v.toFixed(1)}%`;
  if (key === 'startupS') return v.toFixed(2);
  return v.toFixed(2);
}

function primaryCell(f: Figure): string {
  const s: Stat | undefined = f.metrics[f.primary];
  if (!s || s.median === null) return f.notes.some((n) => n.startsWith('n/a')) ? 'n/a' : 'failed';
  const runs = s.values.filter((v) => v !== null).length;
  if (runs <= 1) return fmt(f.primary, s.median);
  return `${fmt(f.primary, s.median)} (${fmt(f.primary, s.min)}–${fmt(f.primary, s.max)})`;
}

const ratioCell = (r: number | null): string => (r === null ? '–' : `${r.toFixed(2)}×`);

function render(rows: string[][], header: string[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/** One group as cells: its caption, the header and one row per implementation (ratios to the Python and ceiling rows). */
function groupCells(g: Group, runs: number): { caption: string; header: string[]; rows: string[][] } {
  const first = g.figures[0];
  const cols = first.columns;
  const pyRef = median(reference(g, 'python'));
  const ceilRef = median(reference(g, 'ceiling'));
  const what = `${METRIC_LABEL[first.primary] ?? first.primary}, ${first.higherIsBetter ? 'higher' : 'lower'} is better`;
  return {
    caption: `(${what}; ${runs > 1 ? `median (min–max) of ${runs} runs` : '1 run'})`,
    header: ['implementation', METRIC_LABEL[first.primary] ?? first.primary, ...cols.map((c) => METRIC_LABEL[c] ?? c), 'vs Python', 'vs ceiling'],
    rows: g.figures.map((f) => [
      f.impl,
      primaryCell(f),
      ...cols.map((c) => fmt(c, f.metrics[c]?.median)),
      ratioCell(ratio(median(f), pyRef)),
      ratioCell(ratio(median(f), ceilRef)),
    ]),
  };
}

export function formatTable(groups: readonly Group[], runs: number): string {
  const out: string[] = [];
  for (const g of groups) {
    const { caption, header, rows } = groupCells(g, runs);
    out.push(`${g.title}  ${caption}`);
    const indent = (cells: string[]): string[] => [`  ${cells[0]}`, ...cells.slice(1)];
    out.push(...render(rows.map(indent), indent(header)));
    for (const f of g.figures) for (const n of f.notes) out.push(`    ! ${n}`);
    out.push('');
  }
  return out.join('\n');
}

/** The same groups as Markdown tables (bench/results/<name>.md), for the README. */
export function formatMarkdown(groups: readonly Group[], runs: number): string {
  const out: string[] = [];
  for (const g of groups) {
    const { caption, header, rows } = groupCells(g, runs);
    out.push(`**${g.title}** ${caption}`, '');
    out.push(`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
    for (const cells of rows) out.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
    out.push('');
  }
  return out.join('\n');
}
