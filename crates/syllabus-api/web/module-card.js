// A module as a card: its title, minutes and tasks (folded or open), read-only or with a checkbox
// per task; used by the plan's page, its previews and the public page.

import { h } from './dom.js';
import { minutes } from './format.js';
import { taskCheckbox } from './progress.js';

// With `progress` (a ready plan's PlanProgress), each task has its checkbox and the module its bar;
// without, it is read-only (a preview, or a shared plan's public page). `actions`: what the card
// offers below its tasks (a ready plan's "Regenerate this module").
export function moduleCard(module, { preview = false, open = !preview, progress = null, actions = null } = {}) {
  const tasks = (module.tasks || []).slice().sort((a, b) => a.order - b.order);
  const title = (t) => {
    if (!progress) return [null, h('span', { class: 'title' }, t.title)];
    const { box, label } = taskCheckbox(t, (task, status) => progress.toggle(task, status));
    return [box, label];
  };
  return h(
    'li',
    { class: `module${preview ? ' preview' : ''}`, 'data-order': module.order },
    h(
      'details',
      { open },
      h(
        'summary',
        {},
        h('span', { class: 'order', 'aria-hidden': 'true' }, module.order),
        h('span', { class: 'title' }, module.title),
        h('span', { class: 'minutes' }, `${tasks.length} task${tasks.length === 1 ? '' : 's'} · ${minutes(module.estimated_minutes)}`),
        progress ? progress.moduleSlot(module) : null,
      ),
      module.description ? h('p', { class: 'description' }, module.description) : null,
      h(
        'ol',
        { class: 'tasks' },
        tasks.map((t) =>
          h(
            'li',
            { class: progress ? 'task checkable' : 'task' },
            ...title(t),
            h('span', { class: 'minutes' }, minutes(t.estimated_minutes)),
            t.description ? h('p', { class: 'description' }, t.description) : null,
          ),
        ),
      ),
      actions,
    ),
  );
}
