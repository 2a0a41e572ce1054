// Editing a ready plan's modules and tasks in place (issue #21): titles, descriptions and minutes
// are saved as each field changes (PATCH, only that field), the order changes with the move
// buttons or Alt+↑/Alt+↓ (the focus stays on what moved), and modules and tasks are added and
// deleted. The API checks every value and names the field of a bad one; its message is shown
// under that field. After a change of order, an addition or a deletion the plan is read again and
// the editor drawn again, the focus kept on the same control.

import { api } from './api.js';
import { bounds } from './bounds.js';
import { fieldError, h, replace } from './dom.js';

let serial = 0;

// `{ el }`: the editor of `plan` (ready). `onDone()` leaves editing.
export function outlineEditor(page, plan, onDone) {
  const editor = new Outline(page, plan, onDone);
  return { el: editor.el };
}

class Outline {
  constructor(page, plan, onDone) {
    this.page = page;
    this.plan = plan;
    this.status = h('p', { class: 'muted small', role: 'status', 'data-testid': 'outline-status' });
    this.list = h('ol', { class: 'modules editing', 'data-testid': 'outline' });
    this.adder = h('div', { class: 'add-module' });
    this.el = h(
      'section',
      { class: 'outline', 'aria-label': 'Edit modules and tasks' },
      h(
        'div',
        { class: 'outline-bar' },
        h('p', { class: 'muted small' }, 'Changes are saved as you make them. Alt+↑ and Alt+↓ move the module or task you are in.'),
        h('button', { type: 'button', onclick: () => onDone() }, 'Done editing'),
      ),
      this.status,
      this.list,
      this.adder,
    );
    this.pending = Promise.resolve(true);
    this.draw();
  }

  say(text) {
    this.status.textContent = text;
  }

  // Reads the plan again and draws it, then focuses `focus` (a selector) when given. When it
  // cannot be read, the editor says so and stops offering moves (their order would be stale).
  async reload(focus) {
    try {
      this.plan = await api('GET', `/plans/${this.page.id}`, undefined, { signal: this.page.signal });
    } catch (error) {
      if (this.page.signal.aborted) return;
      this.say(`Saved, but the plan could not be read again (${error.message}): reload the page.`);
      for (const b of this.el.querySelectorAll('button.icon')) b.disabled = true;
      return;
    }
    this.draw();
    const el = focus && this.el.querySelector(focus);
    if (el) el.focus();
  }

  draw() {
    const modules = this.plan.modules.slice().sort((a, b) => a.order - b.order);
    replace(this.list, modules.map((m) => this.moduleEditor(m, modules.length)));
    replace(this.adder, this.addModuleForm(modules.length));
  }

  // Sends a change and says how it went; a field's error goes under that field. Resolves to the
  // answer, or null when the API refused it.
  async send(method, path, body, errors = {}) {
    for (const { control, slot } of Object.values(errors)) fieldError(control, slot, '');
    this.say('Saving…');
    const request = api(method, path, body, { signal: this.page.signal });
    // What the next move waits for: whether this change was stored.
    this.pending = request.then(() => true, () => false);
    try {
      const answer = await request;
      this.say('Saved.');
      return answer ?? {};
    } catch (error) {
      if (this.page.signal.aborted) return null;
      let shown = false;
      // A network failure has no fields; its message says what happened.
      for (const { field, message } of error.fields ?? []) {
        const target = errors[field] || errors[String(field).split(/[.[]/)[0]];
        if (target) {
          fieldError(target.control, target.slot, message);
          shown = true;
        }
      }
      this.say(shown ? 'Not saved: see the field marked below.' : `Not saved: ${error.message}`);
      return null;
    }
  }

  // A labelled input with its error slot; `save(value)` runs when it changes.
  input(label, attrs, value, save) {
    const id = `edit-${++serial}`;
    const control = h(attrs.rows ? 'textarea' : 'input', { ...attrs, id, 'aria-describedby': `${id}-error` });
    control.value = value ?? '';
    let saved = control.value;
    const slot = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    control.addEventListener('change', () => {
      if (control.value === saved) return;
      saved = control.value;
      save(control.value, { control, slot });
    });
    return { control, slot, el: h('div', { class: 'field' }, h('label', { for: id }, label), control, slot) };
  }

  // `name`: what a screen reader says for the field (the visible label is only "Minutes").
  minutesInput(label, range, value, save, name = null) {
    return this.input(label, { type: 'number', inputmode: 'numeric', min: range.min, max: range.max, class: 'minutes-input', 'aria-label': name }, value, save);
  }

  // Saves one field of a module or task; `number` fields are sent as numbers (a blank as null, so
  // that the API names the field).
  saver(path, name, { number = false, blankIsNull = false } = {}) {
    return (value, target) => {
      let v = value;
      if (number) v = value.trim() === '' ? null : Number(value);
      else if (blankIsNull && value.trim() === '') v = null;
      return this.send('PATCH', path, { [name]: v }, { [name]: target });
    };
  }

  // Moves a module or task to `order` and keeps the focus on the control that moved it.
  async move(path, order, focus) {
    // A field saved as the move began (Alt+↑ in a changed field) is stored first; when it was
    // refused, nothing moves (the redraw would drop the field's value and its error).
    if (!(await this.pending)) return;
    if ((await this.send('PATCH', path, { order })) !== null) await this.reload(focus);
  }

  moveButtons(kind, item, count, path, key) {
    const label = kind === 'module' ? `module ${item.order}` : `task ${item.order}`;
    return [
      h('button', {
        type: 'button', class: 'icon move-up', disabled: item.order <= 1, 'aria-label': `Move ${label} up`,
        onclick: () => this.move(path, item.order - 1, `[data-${key}="${item.id}"] .move-up:not([disabled]), [data-${key}="${item.id}"] .move-down`),
      }, '↑'),
      h('button', {
        type: 'button', class: 'icon move-down', disabled: item.order >= count, 'aria-label': `Move ${label} down`,
        onclick: () => this.move(path, item.order + 1, `[data-${key}="${item.id}"] .move-down:not([disabled]), [data-${key}="${item.id}"] .move-up`),
      }, '↓'),
    ];
  }

  // Alt+↑/Alt+↓ inside an item moves it; the focus returns to the same kind of control.
  keys(el, item, count, path, key) {
    el.addEventListener('keydown', (e) => {
      if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
      // A task's keys move the task, not also its module.
      if (e.target.closest(`[data-task]`) && key === 'module') return;
      e.preventDefault();
      const to = item.order + (e.key === 'ArrowUp' ? -1 : 1);
      if (to < 1 || to > count) return;
      const kind = [...e.target.classList].find((c) => c.startsWith('k-'));
      const focus = kind ? `[data-${key}="${item.id}"] .${kind}` : `[data-${key}="${item.id}"] input`;
      // What was typed in the field is saved before the move draws the editor again.
      e.target.dispatchEvent(new Event('change'));
      this.move(path, to, focus);
    });
  }

  // A delete button; with `refusal` it stays focusable (aria-disabled) and says why when pressed.
  deleteButton(label, refusal, onDelete) {
    return h('button', {
      type: 'button', class: 'icon danger', 'aria-label': label, 'aria-disabled': refusal ? 'true' : null, title: refusal,
      onclick: () => (refusal ? this.say(refusal) : onDelete()),
    }, '✕');
  }

  async remove(path, question, focus) {
    if (!window.confirm(question)) return;
    if ((await this.send('DELETE', path)) !== null) await this.reload(focus);
  }

  moduleEditor(m, count) {
    const path = `/modules/${m.id}`;
    const title = this.input(`Module ${m.order} title`, { type: 'text', class: 'k-title', maxlength: bounds.title.max }, m.title, this.saver(path, 'title'));
    const mins = this.minutesInput('Minutes', bounds.moduleMinutes, m.estimated_minutes, this.saver(path, 'estimated_minutes', { number: true }), `Module ${m.order} minutes`);
    mins.control.classList.add('k-minutes');
    const description = this.input('Description', { rows: 2, class: 'k-description', 'aria-label': `Module ${m.order} description` }, m.description, this.saver(path, 'description', { blankIsNull: true }));
    const tasks = m.tasks.slice().sort((a, b) => a.order - b.order);
    const li = h(
      'li',
      { class: 'module edit-card', 'data-module': m.id, 'data-order': m.order },
      h(
        'div',
        { class: 'edit-row' },
        h('span', { class: 'order', 'aria-hidden': 'true' }, m.order),
        title.el,
        mins.el,
        h('div', { class: 'edit-buttons' },
          ...this.moveButtons('module', m, count, path, 'module'),
          this.deleteButton(`Delete module ${m.order}`, count <= 1 ? 'A plan keeps at least one module.' : null,
            () => this.remove(path, `Delete module ${m.order}, "${m.title}", and its ${tasks.length} task${tasks.length === 1 ? '' : 's'}?`, '[data-testid=outline] input'))),
      ),
      description.el,
      h('ol', { class: 'tasks' }, tasks.map((t) => this.taskEditor(m, t, tasks.length))),
      this.addTaskForm(m),
    );
    this.keys(li, m, count, path, 'module');
    return li;
  }

  taskEditor(m, t, count) {
    const path = `/tasks/${t.id}`;
    const title = this.input(`Task ${t.order} title`, { type: 'text', class: 'k-title', maxlength: bounds.title.max }, t.title, this.saver(path, 'title'));
    const mins = this.minutesInput('Minutes', bounds.taskMinutes, t.estimated_minutes, this.saver(path, 'estimated_minutes', { number: true }), `Task ${t.order} minutes`);
    mins.control.classList.add('k-minutes');
    const li = h(
      'li',
      { class: 'task edit-row', 'data-task': t.id, 'data-order': t.order },
      title.el,
      mins.el,
      h('div', { class: 'edit-buttons' },
        ...this.moveButtons('task', t, count, path, 'task'),
        this.deleteButton(`Delete task ${t.order}`, count <= 1 ? 'A module keeps at least one task; delete the module instead.' : null,
          () => this.remove(path, `Delete task ${t.order}, "${t.title}"?`, `[data-module="${m.id}"] .k-title`))),
    );
    this.keys(li, t, count, path, 'task');
    return li;
  }

  // "Add task": a title and minutes, added last.
  addTaskForm(m) {
    const title = this.input('New task', { type: 'text', maxlength: bounds.title.max, placeholder: 'Title' }, '', () => {});
    const mins = this.minutesInput('Minutes', bounds.taskMinutes, '30', () => {});
    const form = h('form', { class: 'edit-row add-task', novalidate: true, 'aria-label': `Add a task to module ${m.order}` },
      title.el, mins.el, h('div', { class: 'edit-buttons' }, h('button', { type: 'submit', class: 'secondary' }, 'Add task')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { title: title.control.value, estimated_minutes: mins.control.value.trim() === '' ? null : Number(mins.control.value) };
      const task = await this.send('POST', `/modules/${m.id}/tasks`, body, { title, estimated_minutes: mins });
      if (task) await this.reload(`[data-task="${task.id}"] .k-title`);
    });
    return form;
  }

  // "Add module": its title and minutes and its first task, added last.
  addModuleForm(count) {
    const title = this.input('New module', { type: 'text', maxlength: bounds.title.max, placeholder: 'Title' }, '', () => {});
    const mins = this.minutesInput('Minutes', bounds.moduleMinutes, '60', () => {});
    const task = this.input('Its first task', { type: 'text', maxlength: bounds.title.max, placeholder: 'Title' }, '', () => {});
    const taskMins = this.minutesInput('Minutes', bounds.taskMinutes, '30', () => {});
    const form = h('form', { class: 'card add-module-form', novalidate: true, 'aria-label': 'Add a module' },
      h('h3', {}, 'Add a module'),
      h('div', { class: 'edit-row' }, title.el, mins.el),
      h('div', { class: 'edit-row' }, task.el, taskMins.el),
      h('button', { type: 'submit', class: 'secondary', disabled: bounds.modules.max !== undefined && count >= bounds.modules.max }, 'Add module'));
    const number = (c) => (c.value.trim() === '' ? null : Number(c.value));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {
        title: title.control.value,
        estimated_minutes: number(mins.control),
        tasks: [{ title: task.control.value, estimated_minutes: number(taskMins.control) }],
      };
      const module = await this.send('POST', `/plans/${this.page.id}/modules`, body, {
        title, estimated_minutes: mins, 'tasks[0].title': task, 'tasks[0].estimated_minutes': taskMins, tasks: task,
      });
      if (module) await this.reload(`[data-module="${module.id}"] .k-title`);
    });
    return form;
  }
}
