// The form that changes a plan's schedule (issue #20): its weekly hours, study days, start and
// deadline dates and notes, sent as PATCH /plans/{id} with only the fields the learner changed
// (it never regenerates), and the API's field errors shown next to each field as on the create
// form.

import { api } from './api.js';
import { bounds } from './bounds.js';
import { DAYS } from './dates.js';
import { h } from './dom.js';
import { clearErrors, field, hoursHint, showErrors, studyDaysField } from './fields.js';

// A plan's values as the form holds them (strings; the days as a list).
function values(plan) {
  return {
    weekly_hours: String(plan.weekly_hours ?? ''),
    study_days: plan.study_days || DAYS,
    start_date: plan.start_date || '',
    deadline_date: plan.deadline_date || '',
    notes: plan.notes || '',
  };
}

const same = (a, b) => (Array.isArray(a) ? a.join() === b.join() : a === b);

// `{ el, sync(plan) }`: `el` is the folded form; `onSaved(plan)` gets the plan the API answered;
// `sync(plan)` shows a plan changed elsewhere (the notice's one-click fix) in the fields the
// learner has not touched (and clears the last "Saved.").
export function editForm(page, plan, onSaved) {
  let saved = values(plan);
  const controls = {
    weekly_hours: h('input', { type: 'number', inputmode: 'numeric', min: bounds.editWeeklyHours.min, max: bounds.editWeeklyHours.max }),
    start_date: h('input', { type: 'date' }),
    deadline_date: h('input', { type: 'date' }),
    notes: h('textarea', { rows: 2 }),
  };
  const days = studyDaysField('edit-study_days', saved.study_days);
  controls.study_days = days.control;
  const read = () => ({
    weekly_hours: controls.weekly_hours.value.trim(),
    study_days: days.read(),
    start_date: controls.start_date.value,
    deadline_date: controls.deadline_date.value,
    notes: controls.notes.value,
  });
  const show = (name, value) => {
    if (name === 'study_days') days.set(value);
    else controls[name].value = value;
  };
  for (const [name, value] of Object.entries(saved)) show(name, value);

  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const status = h('p', { class: 'muted small', role: 'status', 'data-testid': 'edit-status' });
  const submit = h('button', { type: 'submit' }, 'Save');
  const form = h(
    'form',
    { class: 'edit', novalidate: true, 'aria-label': 'Edit schedule' },
    h(
      'div',
      { class: 'row' },
      field('edit-weekly_hours', 'Hours per week', controls.weekly_hours, hoursHint(bounds.editWeeklyHours), 'weekly_hours'),
      field('edit-start_date', 'Start', controls.start_date, 'Empty: from today.', 'start_date'),
      field('edit-deadline_date', 'Deadline', controls.deadline_date, 'Empty: none.', 'deadline_date'),
    ),
    days.control,
    field('edit-notes', 'Notes', controls.notes, 'Saving does not regenerate the plan; its next generation reads them.', 'notes'),
    formError,
    h('div', { class: 'actions' }, submit, status),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, formError);
    status.textContent = '';
    const now = read();
    const body = {};
    for (const [name, value] of Object.entries(now)) {
      if (same(value, saved[name])) continue;
      if (name === 'weekly_hours') body.weekly_hours = value === '' ? null : Number(value);
      else if (name === 'notes') body.notes = value.trim() ? value : null;
      else if (name === 'study_days') body.study_days = value;
      else body[name] = value || null;
    }
    if (Object.keys(body).length === 0) {
      status.textContent = 'Nothing changed.';
      return;
    }
    submit.disabled = true;
    try {
      const answer = await api('PATCH', `/plans/${page.id}`, body, { signal: page.signal });
      saved = values(answer);
      for (const [name, value] of Object.entries(saved)) show(name, value);
      status.textContent = 'Saved.';
      onSaved(answer);
    } catch (error) {
      if (page.signal.aborted) return;
      (showErrors(form, controls, formError, error) || submit).focus();
    } finally {
      submit.disabled = false;
    }
  });

  const el = h('details', { class: 'edit-schedule', 'data-testid': 'edit-schedule' }, h('summary', {}, 'Edit schedule'), form);
  return {
    el,
    sync(next) {
      const now = read();
      const fresh = values(next);
      if (Object.keys(fresh).some((name) => !same(fresh[name], saved[name]))) status.textContent = '';
      for (const [name, value] of Object.entries(fresh)) {
        if (same(now[name], saved[name])) show(name, value);
      }
      saved = fresh;
    },
  };
}
