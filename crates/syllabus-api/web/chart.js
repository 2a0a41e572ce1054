// Minutes done per week against the minutes planned (issue #20): a bar chart the app draws as
// SVG (no library). A week's minutes done are the estimated minutes of the tasks completed in it
// (their `completed_at`, in Monday–Sunday weeks of the learner's time zone); the minutes planned
// are the plan's weekly hours × 60. It shows the last WEEKS_CHARTED weeks up to this one; the
// weeks before the plan was created have neither a bar nor the planned line. A title, a
// description and a table (of the plan's weeks) say the same to screen readers.

import { legendItem } from './calendar.js';
import { h, svg } from './dom.js';
import { addDays, daysBetween, localDate, longDate, shortDate, weekStart } from './dates.js';
import { minutes, shortMinutes } from './format.js';

export const WEEKS_CHARTED = 8;

// The drawing's coordinates (the SVG scales to its box).
const W = 320;
const H = 168;
const PLOT = { left: 30, right: 6, top: 16, bottom: 22 };
const SLOT = (W - PLOT.left - PLOT.right) / WEEKS_CHARTED;
const BAR = 20;

// Minutes done per week (by its Monday) from the plan's completed tasks.
export function doneByWeek(plan, zone) {
  const weeks = new Map();
  for (const t of plan.modules.flatMap((m) => m.tasks)) {
    if (t.status !== 'completed' || !t.completed_at) continue;
    const monday = weekStart(localDate(t.completed_at, zone));
    weeks.set(monday, (weeks.get(monday) || 0) + t.estimated_minutes);
  }
  return weeks;
}

// The top of the scale: a whole number of hours (half-hours below two hours).
function scaleTop(most) {
  const step = most <= 120 ? 30 : 60;
  return Math.max(step, Math.ceil(most / step) * step);
}

// The chart for `plan` as of the learner's `today` in `zone`: a figure.
export function weeklyChart(plan, today, zone) {
  const planned = plan.weekly_hours * 60;
  const thisWeek = weekStart(today);
  // The plan's weeks: from the week it was created (the last WEEKS_CHARTED at most).
  const since = weekStart(localDate(plan.created_at, zone));
  const count = Math.max(1, Math.min(WEEKS_CHARTED, Math.floor(daysBetween(since, thisWeek) / 7) + 1));
  const before = WEEKS_CHARTED - count;
  const done = doneByWeek(plan, zone);
  const weeks = Array.from({ length: count }, (_, i) => {
    const monday = addDays(thisWeek, -7 * (count - 1 - i));
    return { monday, minutes: done.get(monday) || 0 };
  });
  const earlier = Array.from({ length: before }, (_, i) => addDays(thisWeek, -7 * (WEEKS_CHARTED - 1 - i)));
  const top = scaleTop(Math.max(planned, ...weeks.map((w) => w.minutes), 30));
  const plotHeight = H - PLOT.top - PLOT.bottom;
  const y = (value) => PLOT.top + plotHeight * (1 - value / top);
  // Every other week is labelled, counting back from this one (a label is wider than a slot).
  const labelled = (slot) => (WEEKS_CHARTED - 1 - slot) % 2 === 0;
  // The centre of the i-th of the plan's weeks.
  const x = (i) => PLOT.left + SLOT * (before + i) + SLOT / 2;
  const said = (w) => `Week of ${longDate(w.monday, today)}: ${minutes(w.minutes)} done of ${minutes(planned)} planned`;

  const now = weeks[weeks.length - 1];
  const summary = `This week: ${minutes(now.minutes)} done of ${minutes(planned)} planned.`;
  const description = `Bars of the minutes done in each of the plan's ${weeks.length === 1 ? 'week' : `${weeks.length} weeks`} up to this one, a dashed line at the ${minutes(planned)} planned a week; the table that follows lists them.`;

  const gridline = (value) => [
    svg('line', { class: 'grid', x1: PLOT.left, x2: W - PLOT.right, y1: y(value), y2: y(value) }),
    svg('text', { class: 'axis', x: PLOT.left - 4, y: y(value) + 3, 'text-anchor': 'end' }, value === 0 ? '0' : shortMinutes(value)),
  ];
  const drawing = svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', class: 'chart-svg', focusable: 'false' },
    svg('title', { id: 'chart-title' }, 'Minutes done per week against the minutes planned'),
    svg('desc', { id: 'chart-desc' }, description),
    gridline(0),
    gridline(top / 2),
    gridline(top),
    earlier.map((monday, i) => (labelled(i)
      ? svg('text', { class: 'axis before', x: PLOT.left + SLOT * i + SLOT / 2, y: H - 6, 'text-anchor': 'middle' }, shortDate(monday))
      : null)),
    weeks.map((w, i) => {
      const height = Math.max(w.minutes > 0 ? 1.5 : 0, y(0) - y(w.minutes));
      return svg(
        'g',
        { class: `week${w.monday === thisWeek ? ' this-week' : ''}` },
        svg('rect', { class: 'bar', x: x(i) - BAR / 2, y: y(0) - height, width: BAR, height,
          'data-week': w.monday, 'data-minutes': w.minutes }, svg('title', {}, said(w))),
        w.minutes > 0 ? svg('text', { class: 'value', x: x(i), y: y(0) - height - 3, 'text-anchor': 'middle' }, shortMinutes(w.minutes)) : null,
        labelled(before + i) ? svg('text', { class: 'axis', x: x(i), y: H - 6, 'text-anchor': 'middle' }, shortDate(w.monday)) : null,
      );
    }),
    // The plan: a dashed line across its weeks.
    svg('line', { class: 'planned', x1: PLOT.left + SLOT * before, x2: W - PLOT.right, y1: y(planned), y2: y(planned),
      'data-minutes': planned }),
  );

  return h(
    'figure',
    { class: 'chart', 'data-testid': 'chart' },
    h('figcaption', {}, h('h3', {}, 'Minutes done per week')),
    drawing,
    h('p', { class: 'small', 'data-testid': 'chart-summary' }, summary),
    h('p', { class: 'legend small muted', 'aria-hidden': 'true' },
      legendItem(h('span', { class: 'key key-done' }), 'done'),
      legendItem(h('span', { class: 'key key-planned' }), `planned (${minutes(planned)} a week)`)),
    h(
      'table',
      { class: 'sr-only' },
      h('caption', {}, 'Minutes done per week'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Week of'), h('th', { scope: 'col' }, 'Done'), h('th', { scope: 'col' }, 'Planned'))),
      h('tbody', {}, weeks.map((w) =>
        h('tr', {}, h('th', { scope: 'row' }, longDate(w.monday, today)), h('td', {}, minutes(w.minutes)), h('td', {}, minutes(planned))))),
    ),
  );
}
