// A hand-written SVG bar chart of the results: one panel per workload × broker × variant, a bar per implementation
// (median), a whisker for the min–max spread, coloured by side (celeriac, Python, ceiling, mixed).

import type { Side } from '../lib/stats';
import { fmt } from './table';
import { median, METRIC_LABEL, ratio, reference, type Group } from './groups';

const COLORS: Record<Side, string> = { celeriac: '#2e8b57', python: '#3776ab', ceiling: '#9a9a9a', mixed: '#d9a13b' };
const W = 1120;
const LABEL_W = 380;
const BAR_X = LABEL_W + 10;
const BAR_W = 440;
const ROW_H = 20;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderSvg(groups: readonly Group[], subtitle: string): string {
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="10" y="${y}" font-size="18" font-weight="bold">celeriac benchmark</text>`);
  y += 20;
  parts.push(`<text x="10" y="${y}" font-size="12" fill="#555">${esc(subtitle)}</text>`);
  y += 22;
  let lx = 10;
  for (const [side, label] of [['celeriac', 'celeriac'], ['python', 'Python Celery 5'], ['ceiling', 'ceiling (bare Node)'], ['mixed', 'mixed client/worker']] as Array<[Side, string]>) {
    parts.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${COLORS[side]}"/><text x="${lx + 16}" y="${y}" font-size="12">${esc(label)}</text>`);
    lx += 30 + label.length * 7;
  }
  y += 14;
  for (const g of groups) {
    const first = g.figures[0];
    const unit = METRIC_LABEL[first.primary] ?? first.primary;
    y += 24;
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="bold">${esc(g.title)}</text>`);
    parts.push(`<text x="${W - 10}" y="${y}" font-size="11" fill="#555" text-anchor="end">${esc(`${unit}, ${first.higherIsBetter ? 'higher' : 'lower'} is better`)}</text>`);
    y += 8;
    const scaleMax = Math.max(1e-9, ...g.figures.map((f) => f.metrics[f.primary]?.max ?? 0));
    const pyRef = median(reference(g, 'python'));
    const ceilRef = median(reference(g, 'ceiling'));
    const px = (v: number): number => (BAR_W * v) / scaleMax;
    for (const f of g.figures) {
      const s = f.metrics[f.primary];
      const top = y + 4;
      parts.push(`<text x="${LABEL_W}" y="${top + 13}" font-size="12" text-anchor="end">${esc(f.impl)}</text>`);
      if (!s || s.median === null) {
        const why = f.notes.some((n) => n.startsWith('n/a')) ? 'n/a' : 'failed';
        parts.push(`<text x="${BAR_X + 4}" y="${top + 13}" font-size="12" fill="#a00">${why}</text>`);
      } else {
        const w = Math.max(1, px(s.median));
        parts.push(`<rect x="${BAR_X}" y="${top + 2}" width="${w.toFixed(1)}" height="${ROW_H - 6}" fill="${COLORS[f.side]}"/>`);
        if (s.min !== null && s.max !== null && s.max > s.min) {
          const x1 = BAR_X + px(s.min);
          const x2 = BAR_X + px(s.max);
          const cy = top + ROW_H / 2 - 1;
          parts.push(`<path d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 4}V${cy + 4}M${x2.toFixed(1)} ${cy - 4}V${cy + 4}" stroke="#222" stroke-width="1" fill="none"/>`);
        }
        const labelX = BAR_X + Math.max(w, s.max !== null ? px(s.max) : 0) + 6;
        // celeriac rows carry their ratios to the group's Python and ceiling rows.
        const rs = f.side === 'celeriac' ? [[ratio(s.median, pyRef), 'Python'], [ratio(s.median, ceilRef), 'ceiling']].filter(([r]) => r !== null).map(([r, who]) => `${(r as number).toFixed(2)}× ${who as string}`) : [];
        const text = [fmt(f.primary, s.median), ...rs].join(' · ');
        parts.push(`<text x="${labelX.toFixed(1)}" y="${top + 13}" font-size="12">${esc(text)}</text>`);
      }
      y += ROW_H;
    }
  }
  y += 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
