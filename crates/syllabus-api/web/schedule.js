// A ready plan's schedule section (issue #20): today's session first, the weeks ahead at a glance
// (calendar.js), a notice of how the finish compares with the deadline (with a one-click "Use N
// hours a week"), the minutes done per week (chart.js), the form that changes hours, days and
// dates (plan-edit.js) and the calendar download. The schedule is GET /plans/{id}/schedule in the
// browser's time zone; it is read again when a task is ticked off or the plan is changed.

import { API, api, failure, headers } from './api.js';
import { partsView, legend, weeksAtAGlance } from './calendar.js';
import { weeklyChart } from './chart.js';
import { browserTimeZone, dayAndDate, daysBetween, localDate, longDate } from './dates.js';
import { h, replace } from './dom.js';
import { hours, minutes } from './format.js';
import { editForm } from './plan-edit.js';

// Sessions listed under today's.
const NEXT_SESSIONS = 3;

// The plan's schedule in `zone`, or in UTC when the server does not know the browser's zone:
// `{ schedule, zone }`.
export async function loadSchedule(id, zone, signal) {
  try {
    return { schedule: await api('GET', `/plans/${id}/schedule?tz=${encodeURIComponent(zone)}`, undefined, { signal }), zone };
  } catch (error) {
    if (zone === 'UTC' || error.status !== 400 || !error.fields.some((f) => f.field === 'tz')) throw error;
    return loadSchedule(id, 'UTC', signal);
  }
}

// The first schedule of a page, read before the page is drawn (so that the section does not
// push what is under it when it arrives); null when it cannot be read (the section says so).
export async function firstSchedule(id, signal) {
  try {
    return await loadSchedule(id, browserTimeZone(), signal);
  } catch (error) {
    if (signal.aborted) throw error;
    return { error };
  }
}

// A plan's name as a file name.
function fileName(topic) {
  const name = (topic || '').replace(/[\\/:*?"<>|\p{Cc}]+/gu, ' ').replace(/\s+/g, ' ').trim().slice(0, 80).trim();
  return `${name || 'Study plan'}.ics`;
}

// Saves the schedule's calendar (GET …/schedule.ics with the bearer token: a plain link would
// have none) through a Blob URL.
async function download(id, zone, topic) {
  const path = `/plans/${id}/schedule.ics?tz=${encodeURIComponent(zone)}`;
  const res = await fetch(API + path, { headers: headers({ Accept: 'text/calendar' }) });
  if (!res.ok) throw await failure(res, path);
  const url = URL.createObjectURL(await res.blob());
  const link = h('a', { href: url, download: fileName(topic), hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export class ScheduleSection {
  // `page`: { id, signal }; `plan()`: the plan as the page has it now; `onPlan(plan)`: a plan the
  // API answered to a change made here; `first`: firstSchedule's answer.
  constructor(page, { plan, onPlan, first }) {
    this.page = page;
    this.plan = plan;
    this.onPlan = onPlan;
    this.zone = first?.zone || browserTimeZone();
    this.schedule = first?.schedule || null;
    this.error = first?.error || null;
    this.reads = 0;
    // What the schedule was last read for (a plan read again unchanged reads nothing).
    this.key = scheduleKey(plan());
    this.notice = h('div', { class: 'notice-slot', role: 'status', 'aria-live': 'polite', 'data-testid': 'notice' });
    this.today = h('div', { class: 'today-slot' });
    this.weeks = h('div', { class: 'weeks-slot' });
    this.chart = h('div', { class: 'chart-slot' });
    this.downloadStatus = h('span', { class: 'muted small', role: 'status' });
    this.edit = editForm(page, plan(), (answer) => this.onPlan(answer));
    const downloadButton = h('button', {
      type: 'button', class: 'secondary', 'data-testid': 'download-ics',
      onclick: async () => {
        downloadButton.disabled = true;
        this.downloadStatus.textContent = '';
        try {
          await download(page.id, this.zone, this.plan().topic);
        } catch (error) {
          this.downloadStatus.textContent = `The calendar could not be downloaded: ${error.message}`;
        }
        downloadButton.disabled = false;
      },
    }, 'Download calendar (.ics)');
    this.el = h(
      'section',
      { class: 'card schedule', 'aria-labelledby': 'schedule-title', 'data-testid': 'schedule' },
      h('div', { class: 'schedule-head' }, h('h2', { id: 'schedule-title' }, 'Schedule'), downloadButton, this.downloadStatus),
      this.notice,
      h('div', { class: 'schedule-grid' }, h('div', { class: 'schedule-main' }, this.today, this.weeks), this.chart),
      this.edit.el,
    );
    this.render();
    if (!first) this.refresh();
  }

  // The learner's date now: the schedule's `today` (the server's clock), else the browser's.
  get todayDate() {
    return this.schedule?.today || localDate(Date.now(), this.zone);
  }

  render() {
    // The learner's date and zone, for whoever reads the page (the browser tests).
    this.el.dataset.today = this.todayDate;
    this.el.dataset.zone = this.zone;
    this.renderNotice();
    const s = this.schedule;
    replace(this.today, s?.kind === 'scheduled' ? todayView(s) : null);
    if (s?.kind === 'scheduled') {
      const { table, more } = weeksAtAGlance(s);
      replace(this.weeks, table, legend(), more);
    } else {
      replace(this.weeks);
    }
    this.renderChart();
  }

  renderChart() {
    replace(this.chart, weeklyChart(this.plan(), this.todayDate, this.zone));
  }

  // The notice is replaced only when what it says changes, so a screen reader hears each change
  // once.
  renderNotice() {
    const next = this.error
      ? h('p', { class: 'notice behind' }, `The schedule could not be read: ${this.error.message}`)
      : noticeView(this.schedule, (weekly) => this.useHours(weekly));
    if (this.notice.textContent !== next.textContent || !this.notice.firstChild) replace(this.notice, next);
  }

  // Reads the schedule again (a task was ticked off, the plan changed); the last read wins.
  async refresh() {
    const read = ++this.reads;
    try {
      const { schedule, zone } = await loadSchedule(this.page.id, this.zone, this.page.signal);
      if (read !== this.reads) return;
      Object.assign(this, { schedule, zone, error: null });
    } catch (error) {
      if (this.page.signal.aborted || read !== this.reads) return;
      this.error = error;
    }
    this.render();
  }

  // The plan changed (a task ticked off here or in another tab, or its hours, days or dates):
  // the chart at once, the schedule once read again. The stream's progress event brings back a
  // tick made in this tab too: unchanged, it redraws nothing.
  planChanged() {
    const plan = this.plan();
    const key = scheduleKey(plan);
    if (key === this.key) return;
    this.key = key;
    this.edit.sync(plan);
    this.renderChart();
    this.refresh();
  }

  async useHours(weekly) {
    const answer = await api('PATCH', `/plans/${this.page.id}`, { weekly_hours: weekly }, { signal: this.page.signal });
    this.onPlan(answer);
  }
}

// What a plan's schedule and chart are computed from.
function scheduleKey(plan) {
  const done = plan.modules.flatMap((m) => m.tasks).filter((t) => t.status === 'completed').map((t) => `${t.id}@${t.completed_at}`);
  return JSON.stringify([plan.weekly_hours, plan.study_days, plan.start_date, plan.deadline_date, done.sort()]);
}

// Today's session first, or that there is none today and when the next one is; then the few
// sessions after it.
function todayView(s) {
  const [first, ...rest] = s.sessions;
  const isToday = first.date === s.today;
  const head = isToday
    ? h('p', { class: 'today-session' }, h('strong', {}, `Today: ${minutes(first.minutes)}`), ' — ', partsView(first))
    : h('p', { class: 'today-session none' }, h('strong', {}, 'No study session today.'), ' Next: ',
        h('strong', {}, `${dayAndDate(first.date, s.today)}, ${minutes(first.minutes)}`), ' — ', partsView(first));
  const later = rest.slice(0, NEXT_SESSIONS);
  return h(
    'div',
    { 'data-testid': 'today' },
    head,
    later.length
      ? h('ul', { class: 'next-sessions small', 'aria-label': 'Next sessions' }, later.map((session) =>
          h('li', {}, h('span', { class: 'when' }, `${dayAndDate(session.date, s.today)} · ${minutes(session.minutes)}`), ' ', partsView(session))))
      : null,
  );
}

// How the finish compares with the deadline, or why there is no schedule; with a button that
// sets the weekly hours the deadline needs when they would meet it.
function noticeView(s, useHours) {
  if (!s) return h('p', { class: 'notice' }, 'Reading the schedule…');
  const fix = (weekly) => {
    const button = h('button', {
      type: 'button', class: 'secondary', 'data-testid': 'use-hours',
      onclick: async () => {
        button.disabled = true;
        try {
          await useHours(weekly);
        } catch (error) {
          button.disabled = false;
          button.after(h('span', { class: 'form-error' }, ` ${error.message}`));
        }
      },
    }, `Use ${hours(weekly)} a week`);
    return button;
  };
  if (s.kind !== 'scheduled') {
    const offer = s.deadline_date && s.needed_weekly_hours;
    return h('div', { class: 'notice info', 'data-kind': s.kind },
      h('p', {}, s.message, offer ? ` ${hours(s.needed_weekly_hours)} a week would meet your deadline.` : ''),
      offer ? fix(s.needed_weekly_hours) : null);
  }
  const finish = longDate(s.finish_date, s.today);
  if (!s.deadline_date) {
    return h('div', { class: 'notice info', 'data-kind': 'no-deadline' },
      h('p', {}, `At ${hours(s.weekly_hours)} a week you finish on ${dayAndDate(s.finish_date, s.today)}.`));
  }
  const deadline = longDate(s.deadline_date, s.today);
  if (s.on_track) {
    const ahead = daysBetween(s.finish_date, s.deadline_date);
    return h('div', { class: 'notice on-track', 'data-kind': 'on-track' },
      h('p', {}, h('strong', {}, 'On track: '), `finishes ${finish}, `,
        ahead === 0 ? `on the day of your deadline.` : `${ahead} day${ahead === 1 ? '' : 's'} before your deadline (${deadline}).`));
  }
  const late = `Finishes ${s.days_late} day${s.days_late === 1 ? '' : 's'} after your deadline (${deadline})`;
  if (s.needed_weekly_hours) {
    return h('div', { class: 'notice behind', 'data-kind': 'behind' },
      h('p', {}, h('strong', {}, late), ` — ${hours(s.needed_weekly_hours)} a week needed.`),
      fix(s.needed_weekly_hours));
  }
  return h('div', { class: 'notice behind', 'data-kind': 'behind' },
    h('p', {}, h('strong', {}, late), s.deadline_date < s.today
      ? ': the deadline has passed. Move it under Edit schedule.'
      : ': no number of weekly hours would meet it. Move it under Edit schedule.'));
}
