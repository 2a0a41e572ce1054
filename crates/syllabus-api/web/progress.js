// Task progress (issue #20): a checkbox per task, progress bars (module, plan, list item), and
// keeping a plan's page in step with its other tabs through the stream's `progress` events.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { follow } from './events.js';

// completion = completed minutes / total minutes (docs/api.md), as a whole percentage.
const percent = (done, total) => (total > 0 ? Math.round((100 * done) / total) : 0);

// A labelled progress bar: `<progress>` (announced by screen readers) and its words.
export function progressBar(done, total, words, testid) {
  return h(
    'div',
    { class: 'progress', 'data-testid': testid },
    h('progress', { max: Math.max(total, 1), value: Math.min(done, total), 'aria-label': words }),
    h('span', { class: 'progress-text' }, words),
  );
}

// A plan's bar, from its `progress` summary.
export function planBar(progress, testid = 'plan-progress') {
  const p = progress || { completed_minutes: 0, total_minutes: 0, completed_tasks: 0, total_tasks: 0 };
  const words = `${percent(p.completed_minutes, p.total_minutes)}% done · ${p.completed_tasks} of ${p.total_tasks} tasks`;
  return progressBar(p.completed_minutes, p.total_minutes, words, testid);
}

// A module's bar, from its counts.
export function moduleBar(done, total) {
  return progressBar(done, total, `${done}/${total} done`, 'module-progress');
}

// The checkbox of a task: checked when completed; space (or a click) ticks it off or undoes it.
// `onToggle(task, status)` sends it. The box keeps the focus (it is never disabled: that would
// drop the keyboard user's place); it is marked busy while the request runs and goes back when
// the request fails.
export function taskCheckbox(task, onToggle) {
  const id = `task-${task.id}`;
  const box = h('input', {
    type: 'checkbox',
    id,
    class: 'task-done',
    'data-task': task.id,
    checked: task.status === 'completed',
    onchange: async () => {
      const status = box.checked ? 'completed' : 'not_started';
      box.setAttribute('aria-busy', 'true');
      try {
        await onToggle(task, status);
      } catch {
        box.checked = status !== 'completed';
      }
      box.removeAttribute('aria-busy');
    },
  });
  return { box, label: h('label', { for: id, class: 'title' }, task.title) };
}

// The plan page's progress: the tasks it shows (by id), its bars, and what a change redraws.
export class PlanProgress {
  constructor(page, plan) {
    this.page = page;
    this.plan = plan;
    this.bar = h('div', { class: 'plan-bar' });
    this.moduleBars = new Map();
    this.following = false;
    // Called after the plan changed (a task ticked off, here or in another tab; a new plan).
    this.onChange = () => {};
    this.redraw();
  }

  // Whether any task has progress (a regeneration would discard it).
  get any() {
    return this.plan.modules.some((m) => m.tasks.some((t) => t.status !== 'not_started'));
  }

  get completed() {
    return this.plan.modules.reduce((n, m) => n + m.tasks.filter((t) => t.status === 'completed').length, 0);
  }

  // The slot of a module's bar.
  moduleSlot(module) {
    const slot = h('div', { class: 'module-bar' });
    this.moduleBars.set(module.id, slot);
    replace(slot, moduleBar(module.completed_tasks ?? 0, module.tasks.length));
    return slot;
  }

  redraw() {
    replace(this.bar, planBar(this.plan.progress));
    for (const m of this.plan.modules) {
      const slot = this.moduleBars.get(m.id);
      if (slot) replace(slot, moduleBar(m.completed_tasks, m.tasks.length));
    }
  }

  // A task's new status, as the server answered: the counts are recomputed as the server does.
  applyTask(task) {
    for (const m of this.plan.modules) {
      const t = m.tasks.find((x) => x.id === task.id);
      if (!t) continue;
      Object.assign(t, { status: task.status, completed_at: task.completed_at });
      m.completed_tasks = m.tasks.filter((x) => x.status === 'completed').length;
    }
    const tasks = this.plan.modules.flatMap((m) => m.tasks);
    const done = tasks.filter((t) => t.status === 'completed');
    const sum = (list) => list.reduce((n, t) => n + t.estimated_minutes, 0);
    const total = sum(tasks);
    this.plan.progress = {
      completion: total > 0 ? sum(done) / total : 0,
      completed_tasks: done.length,
      total_tasks: tasks.length,
      completed_minutes: sum(done),
      total_minutes: total,
      completed_modules: this.plan.modules.filter((m) => m.tasks.length > 0 && m.completed_tasks === m.tasks.length).length,
      total_modules: this.plan.modules.length,
    };
    this.redraw();
    this.onChange(this.plan);
  }

  // The plan as read again (another tab changed it): boxes and bars in place.
  applyPlan(plan) {
    if (plan.modules.map((m) => m.id).join() !== this.plan.modules.map((m) => m.id).join()) return false;
    this.plan = plan;
    for (const t of plan.modules.flatMap((m) => m.tasks)) {
      const box = this.page.body.querySelector(`input[data-task="${t.id}"]`);
      if (box && !box.hasAttribute('aria-busy')) box.checked = t.status === 'completed';
    }
    this.redraw();
    this.onChange(this.plan);
    return true;
  }

  async toggle(task, status) {
    const answer = await api('PUT', `/tasks/${task.id}/progress`, { status }, { signal: this.page.signal });
    this.applyTask(answer);
  }

  // Follows the plan's stream for `progress` events (another tab ticked a task off) until the
  // page goes; `onReplaced` is called when the plan's tasks were replaced (a regeneration).
  // `module_draft` events (one module being regenerated) go to `onDraft`.
  followOthers(onReplaced, onDraft = () => {}) {
    if (this.following) return;
    this.following = true;
    const { id, signal } = this.page;
    follow(
      `/plans/${id}/events?progress=true`,
      (event, data) => {
        if (event === 'module_draft') onDraft(data);
        if (event !== 'progress') return false;
        api('GET', `/plans/${id}`, undefined, { signal })
          .then((plan) => {
            if (!this.applyPlan(plan)) onReplaced();
          })
          .catch(() => {});
        return false;
      },
      signal,
    ).catch(() => {});
  }
}
