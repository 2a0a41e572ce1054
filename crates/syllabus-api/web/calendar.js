// A schedule's sessions as the learner reads them (issue #20): what a session's tasks say, and
// the weeks ahead at a glance, a table with one row per Monday–Sunday week and a cell per day
// with its study minutes; days that are not study days greyed, today, the deadline and the last
// session marked; then how many more weeks the schedule runs past the rows shown.

import { h } from './dom.js';
import { DAYS, addDays, dayAndDate, dayOfMonth, daysBetween, longDate, longDay, shortDate, shortDay, weekStart, weekday } from './dates.js';
import { minutes, shortMinutes } from './format.js';

// Rows of the table: a month at a glance.
export const WEEKS_SHOWN = 4;

// A part of a session: "1.2 Title", "(part 1 of 2)" when the task is split across days, and a
// flag when the task alone is longer than the weekly hours.
export function partView(p) {
  return h(
    'span',
    { class: 'part', 'data-task': p.task_id },
    `${p.module_order}.${p.task_order} ${p.title}`,
    p.parts > 1 ? h('span', { class: 'part-of' }, ` (part ${p.part} of ${p.parts})`) : null,
    p.over_week ? h('span', { class: 'flag' }, ' longer than a week of study') : null,
  );
}

export function partText(p) {
  return partView(p).textContent;
}

// A session's parts, comma-separated.
export function partsView(session) {
  return session.parts.flatMap((p, i) => (i === 0 ? [partView(p)] : [', ', partView(p)]));
}

// The weeks of a `scheduled` schedule: { table, more } (`more` null when every week is shown).
export function weeksAtAGlance(s) {
  const { today, deadline_date: deadline, finish_date: finish } = s;
  const sessions = new Map(s.sessions.map((session) => [session.date, session]));
  const studyDays = new Set(s.study_days);
  const first = s.sessions[0]?.date ?? today;
  // From this week; from the first session's week when a start date puts it past the rows.
  let from = weekStart(today);
  if (daysBetween(from, first) >= 7 * WEEKS_SHOWN) from = weekStart(first);
  // To the week of the finish or of the deadline, whichever is later.
  const last = [finish, deadline].filter((d) => d && d >= from).sort().pop() || from;
  const rows = Math.min(WEEKS_SHOWN, Math.floor(daysBetween(from, weekStart(last)) / 7) + 1);
  const mondays = Array.from({ length: rows }, (_, i) => addDays(from, 7 * i));

  const cell = (date) => {
    const session = sessions.get(date);
    const off = !studyDays.has(weekday(date));
    const words = [dayAndDate(date, today)];
    if (date === today) words.push('today');
    if (session) words.push(`${minutes(session.minutes)}: ${session.parts.map(partText).join(', ')}`);
    else if (off) words.push('not a study day');
    else if (date < today) words.push('past');
    if (date === deadline) words.push('your deadline');
    if (date === finish) words.push('the last session');
    const classes = ['day', off && 'off', date < today && 'past', date === today && 'today',
      session && 'has-session', date === deadline && 'deadline', date === finish && 'finish'];
    return h(
      'td',
      { class: classes.filter(Boolean).join(' '), title: words.join(' — '), 'data-date': date,
        'data-weekday': weekday(date), 'data-minutes': session ? session.minutes : 0 },
      h('span', { class: 'num', 'aria-hidden': 'true' }, dayOfMonth(date)),
      h('span', { class: 'mins', 'aria-hidden': 'true' }, session ? shortMinutes(session.minutes) : ''),
      date === deadline ? h('span', { class: 'mark', 'aria-hidden': 'true' }, '⚑') : null,
      h('span', { class: 'sr-only' }, words.join(', ')),
    );
  };

  const table = h(
    'table',
    { class: 'weeks', 'data-testid': 'weeks' },
    h('caption', { class: 'sr-only' }, 'Study minutes per day, week by week'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Week of')),
      DAYS.map((d) => h('th', { scope: 'col', abbr: longDay(d), class: studyDays.has(d) ? null : 'off' }, shortDay(d))))),
    h('tbody', {}, mondays.map((monday) =>
      h('tr', {}, h('th', { scope: 'row' }, shortDate(monday)), DAYS.map((_, i) => cell(addDays(monday, i)))))),
  );
  const lastShown = mondays[mondays.length - 1];
  const left = finish ? Math.floor(daysBetween(lastShown, weekStart(finish)) / 7) : 0;
  const more = left > 0
    ? h('p', { class: 'more muted small', 'data-testid': 'more-weeks' },
        `${left} more week${left === 1 ? '' : 's'} until ${longDate(finish, today)}.`)
    : null;
  return { table, more };
}

// A legend's entry: its key and words.
export function legendItem(key, words) {
  return h('span', { class: 'legend-item' }, key, words);
}

// What the cells' marks mean.
export function legend() {
  return h(
    'p',
    { class: 'legend small muted', 'aria-hidden': 'true' },
    legendItem(h('span', { class: 'key key-session' }), 'study session'),
    legendItem(h('span', { class: 'key key-off' }), 'not a study day'),
    legendItem(h('span', { class: 'key key-today' }), 'today'),
    legendItem(h('span', { class: 'key-mark' }, '⚑'), 'deadline'),
  );
}
