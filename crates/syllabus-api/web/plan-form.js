// The form that creates a plan: its fields with the domain's bounds in their hints (read from
// the OpenAPI document), and the API's field errors shown next to each field.

import { api } from './api.js';
import { bounds } from './bounds.js';
import { DAYS } from './dates.js';
import { h } from './dom.js';
import { clearErrors, field, hoursHint, showErrors, studyDaysField } from './fields.js';
import { count } from './format.js';

// Not a domain bound (the server shortens a long topic): only a guard against pasting a book.
const TOPIC_INPUT_MAX = 5000;

// Truncation facts of plans created in this tab, shown once on their page.
export const created = new Map();

function select(options, value) {
  return h('select', {}, options.map((o) => h('option', { value: o, selected: o === value }, o[0].toUpperCase() + o.slice(1))));
}

// The hints, with the bounds the document states.
function topicHint({ min, max }) {
  const shortened = max === undefined ? 'longer topics are shortened.' : `longer than ${count(max)} is shortened.`;
  if (min === undefined) return shortened[0].toUpperCase() + shortened.slice(1);
  return `At least ${count(min)} characters; ${shortened}`;
}

function notesHint({ max }) {
  const shortened = max === undefined ? 'Longer notes are shortened.' : `Longer than ${count(max)} characters is shortened.`;
  return `Background, goals, constraints. ${shortened}`;
}

// The choice a select starts at: the usual one when the document lists it, else the first.
function preferred(options, wanted) {
  return options.includes(wanted) ? wanted : options[0];
}

export function createForm(prefill = {}) {
  const controls = {
    topic: h('input', { value: prefill.topic || '', autocomplete: 'off', maxlength: TOPIC_INPUT_MAX }),
    notes: h('textarea', { rows: 3 }),
    skill_level: select(bounds.skillLevels, prefill.skill_level || preferred(bounds.skillLevels, 'beginner')),
    weekly_hours: h('input', { type: 'number', inputmode: 'numeric', value: prefill.weekly_hours ?? 5 }),
    learning_style: select(bounds.learningStyles, prefill.learning_style || preferred(bounds.learningStyles, 'mixed')),
    start_date: h('input', { type: 'date' }),
    deadline_date: h('input', { type: 'date' }),
  };
  const days = studyDaysField('study_days', prefill.study_days || DAYS);
  controls.study_days = days.control;
  if (prefill.notes) controls.notes.value = prefill.notes;
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Create plan');
  const form = h(
    'form',
    { class: 'card create', novalidate: true, 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'New learning plan'),
    field('topic', 'What do you want to learn?', controls.topic, topicHint(bounds.topic)),
    field('notes', 'Notes (optional)', controls.notes, notesHint(bounds.notes)),
    h(
      'div',
      { class: 'row' },
      field('skill_level', 'Your level', controls.skill_level),
      field('weekly_hours', 'Hours per week', controls.weekly_hours, hoursHint(bounds.weeklyHours)),
      field('learning_style', 'Learning style', controls.learning_style),
    ),
    days.control,
    h('div', { class: 'row' }, field('start_date', 'Start (optional)', controls.start_date), field('deadline_date', 'Deadline (optional)', controls.deadline_date)),
    formError,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, formError);
    submit.disabled = true;
    try {
      const plan = await api('POST', '/plans', body(controls, days.read()));
      created.set(plan.id, plan.input);
      location.hash = `#/plans/${plan.id}`;
    } catch (error) {
      (showErrors(form, controls, formError, error) || submit).focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// The request the form's values make. The study days are sent when they are not every day (the
// API's default).
function body(controls, studyDays) {
  const hours = controls.weekly_hours.value.trim();
  const body = {
    topic: controls.topic.value,
    notes: controls.notes.value.trim() ? controls.notes.value : null,
    skill_level: controls.skill_level.value,
    weekly_hours: hours === '' ? null : Number(hours),
    learning_style: controls.learning_style.value,
    start_date: controls.start_date.value || null,
    deadline_date: controls.deadline_date.value || null,
  };
  if (body.weekly_hours === null) delete body.weekly_hours;
  if (studyDays.length !== DAYS.length) body.study_days = studyDays;
  return body;
}
