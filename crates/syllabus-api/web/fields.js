// What the app's forms share: a labelled field with its hint and error slot, the study days as
// seven checkboxes, and the API's field errors shown next to each field.

import { fieldError, h } from './dom.js';
import { DAYS, longDay, shortDay } from './dates.js';

// A field: its label, hint, control and error slot (`{id}-error`). The control takes `id`.
export function field(id, label, control, hint, name = id) {
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.id = id;
  control.name = name;
  control.setAttribute('aria-describedby', [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' '));
  return h(
    'div',
    { class: 'field', 'data-field': name },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    control,
    error,
  );
}

export function hoursHint({ min, max }) {
  return min === undefined || max === undefined ? null : `${min} to ${max}`;
}

// The study days: a group of seven checkboxes (Monday first) whose `control` is the fieldset
// (`id`, with its error slot `{id}-error`), `read()` the ticked days as the API names them and
// `set(days)` ticks those.
export function studyDaysField(id, days = DAYS) {
  const boxes = DAYS.map((day) =>
    h('input', { type: 'checkbox', id: `${id}-${day}`, name: id, value: day, checked: days.includes(day) }));
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const control = h(
    'fieldset',
    { class: 'field days', id, 'aria-describedby': `${id}-hint ${id}-error`, 'data-field': 'study_days' },
    h('legend', {}, 'Study days'),
    h('p', { class: 'hint', id: `${id}-hint` }, 'Your hours are shared out over these days.'),
    h(
      'div',
      { class: 'day-boxes' },
      boxes.map((box, i) =>
        h('label', { class: 'day', for: box.id }, box,
          h('span', { 'aria-hidden': 'true' }, shortDay(DAYS[i])), h('span', { class: 'sr-only' }, longDay(DAYS[i])))),
    ),
    error,
  );
  return {
    control,
    read: () => boxes.filter((b) => b.checked).map((b) => b.value),
    set: (list) => boxes.forEach((b) => { b.checked = list.includes(b.value); }),
  };
}

export function clearErrors(form, formError) {
  for (const el of form.querySelectorAll('.field-error')) el.hidden = true;
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  formError.hidden = true;
}

// Each field error of the API's problem next to its field (`controls` by the API's field name;
// `study_days[2]` is the study days' field); the others, and an error without fields, in
// `formError`. Returns the first control in error, or null.
export function showErrors(form, controls, formError, error) {
  let first = null;
  const others = [];
  for (const { field: name, message } of error.fields) {
    const control = controls[name] || controls[String(name).split(/[.[]/)[0]];
    const slot = control && form.querySelector(`#${CSS.escape(control.id)}-error`);
    if (slot) {
      fieldError(control, slot, message);
      first = first || (control.matches('fieldset') ? control.querySelector('input') : control);
    } else {
      others.push(`${name}: ${message}`);
    }
  }
  if (others.length || !error.fields.length) {
    formError.textContent = others.length ? others.join('; ') : error.message;
    formError.hidden = false;
  }
  return first;
}
