// Regenerating one module of a ready plan (issue #21): an optional instruction ("more hands-on"),
// then the module's draft streams into its place, task by task (the plan stream's `module_draft`
// events, PlanProgress.followOthers), until its job ends: completed, the plan is drawn again with
// the new module (every other module as it was); failed or cancelled, the module as it was and why.

import { api } from './api.js';
import { bounds } from './bounds.js';
import { fieldError, h, replace } from './dom.js';
import { followJob } from './events.js';
import { explain } from './format.js';
import { moduleCard } from './module-card.js';
import { refresh } from './nav.js';

// The drafts being followed on this page, by module id: `(draft) => void`.
function drafts(page) {
  page.drafts = page.drafts || new Map();
  return page.drafts;
}

// Called by the plan's stream for each `module_draft` event.
export function showDraft(page, data) {
  const draw = drafts(page).get(data.module_id);
  if (draw) draw(data);
}

// The "Regenerate this module" part of a module's card (folded until asked for).
export function regenerateAction(page, module) {
  const id = `regen-${module.id}`;
  const instruction = h('textarea', { id, rows: 2, maxlength: bounds.instruction.max, 'aria-describedby': `${id}-hint ${id}-error` });
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const status = h('p', { class: 'muted small', role: 'status', 'data-testid': 'regen-status' });
  const submit = h('button', { type: 'submit', class: 'secondary' }, 'Regenerate module');
  const limit = bounds.instruction.max ? ` Up to ${bounds.instruction.max} characters.` : '';
  const form = h(
    'form',
    { class: 'regen-module', novalidate: true, 'aria-label': `Regenerate module ${module.order}` },
    h('label', { for: id }, 'What should change? (optional)'),
    h('p', { class: 'hint', id: `${id}-hint` }, `For example "more hands-on" or "shorter tasks". The other modules and your progress on them stay as they are.${limit}`),
    instruction,
    error,
    h('div', { class: 'actions' }, submit, status),
  );
  const el = h('details', { class: 'regen', 'data-testid': 'regen-module' }, h('summary', {}, 'Regenerate this module'), form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fieldError(instruction, error, '');
    const text = instruction.value.trim();
    const tasks = module.tasks.filter((t) => t.status && t.status !== 'not_started').length;
    if (tasks > 0 && !window.confirm(`This module's tasks are replaced, and your progress on ${tasks} of them goes with them. Regenerate it?`)) return;
    submit.disabled = true;
    try {
      const job = await api('POST', `/plans/${page.id}/modules/${module.id}/regenerate`, text ? { instruction: instruction.value } : {}, { signal: page.signal });
      replace(status, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Regenerating… the new tasks appear as the model writes them.');
      await follow(page, module, job, el, status);
    } catch (failure) {
      if (page.signal.aborted) return;
      const field = failure.fields?.find((f) => f.field === 'instruction');
      if (field) {
        fieldError(instruction, error, field.message);
        instruction.focus();
      } else {
        status.textContent = failure.message;
      }
    }
    submit.disabled = false;
  });
  return el;
}

// Shows the drafts in the module's place until the job ends.
async function follow(page, module, job, el, status) {
  const card = el.closest('li.module');
  const note = h('p', { class: 'muted small', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    'Regenerating this module… its tasks appear as the model writes them.');
  const draft = moduleCard({ ...module, tasks: [] }, { preview: true, open: true });
  draft.dataset.testid = 'module-draft';
  draft.setAttribute('aria-busy', 'true');
  // The focus was on the button of the card being hidden: it moves to the draft.
  draft.tabIndex = -1;
  draft.append(note);
  card.hidden = true;
  card.after(draft);
  draft.focus();
  const put = (next) => {
    const fresh = moduleCard(next, { preview: true, open: true });
    draft.replaceChildren(...fresh.childNodes, note);
  };
  drafts(page).set(module.id, (data) => {
    if (data.job_id === job.id) put({ ...data.module, order: data.order ?? module.order });
  });
  let end = null;
  let lost = null;
  try {
    end = await followJob(job.id, page.signal);
  } catch (error) {
    lost = error;
  } finally {
    drafts(page).delete(module.id);
  }
  if (page.signal.aborted) return;
  if (end?.status === 'completed') {
    refresh();
    return;
  }
  // Failed, cancelled, or the job could no longer be followed: the module as it was, and why.
  draft.remove();
  card.hidden = false;
  let why = 'The regeneration was cancelled; the module is as it was.';
  if (end?.status === 'failed') why = `Regenerating the module failed: ${explain(end.error?.classification)} The module is as it was.`;
  else if (lost || !end) why = `The regeneration could not be followed${lost?.message ? ` (${lost.message})` : ''}. Reload the page to see where it stands.`;
  replace(status, why);
  status.closest('details')?.setAttribute('open', '');
  status.setAttribute('tabindex', '-1');
  status.focus();
}
