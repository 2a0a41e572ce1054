// A plan's screen (#/plans/{id}): its modules and tasks, or the modules streaming in while it is
// generated; its attempts; regenerate; what went wrong when it failed or stopped; and, once it is
// ready, its schedule (schedule.js) and its share switch (share.js).

import { api } from './api.js';
import { bounds } from './bounds.js';
import { h, replace } from './dom.js';
import { dueSlot } from './due.js';
import { follow, followJob } from './events.js';
import { chip, count, explain, minutes } from './format.js';
import { latestJob } from './jobs.js';
import { refresh } from './nav.js';
import { created } from './plan-form.js';
import { moduleCard } from './module-card.js';
import { regenerateAction, showDraft } from './module-regen.js';
import { outlineEditor } from './outline.js';
import { PlanProgress } from './progress.js';
import { ScheduleSection, firstSchedule } from './schedule.js';
import { originNote, shareSection } from './share.js';
import { loadPlan, planNav } from './views.js';

// Placeholders shown while the first modules stream in.
const PLACEHOLDER_MODULES = 4;

export async function planScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  // Read before the page is drawn, so that the schedule does not push the modules down later.
  const first = plan.status === 'ready' ? await firstSchedule(id, signal) : null;
  // The parts of the page that change. What changes size (the modules) comes last, so nothing
  // above it moves while it fills in.
  const page = {
    id,
    signal,
    meta: h('p', { class: 'meta' }),
    status: h('div', { class: 'status', role: 'status', 'aria-live': 'polite' }),
    // The plan's progress bar, once it is ready.
    bar: h('div', { class: 'plan-progress' }),
    progress: null,
    body: h('div', { class: 'plan-body' }),
    attempts: h('details', { class: 'card attempts' }),
    actions: h('div', { class: 'actions' }),
  };
  const facts = created.get(id);
  created.delete(id);
  replace(
    view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')),
    h('h1', { tabindex: '-1', 'data-testid': 'plan-title' }, plan.topic),
    page.meta,
    originNote(plan),
    truncation(plan, facts),
    planNav(id, 'plan'),
    dueSlot(id, signal, { link: true }),
    page.status,
    page.bar,
    page.actions,
    page.attempts,
    page.body,
  );

  renderMeta(page, plan);
  render(page, plan, { first });
  renderAttempts(page).catch(() => {});
  if (plan.status !== 'pending') return;
  if (await stopped(page, plan)) return;
  followGeneration(page, plan);
}

// The plan's settings under its title (drawn again when they are changed).
function renderMeta(page, plan) {
  const days = plan.study_days && plan.study_days.length < 7
    ? ` · ${plan.study_days.map((d) => d[0].toUpperCase() + d.slice(1, 3)).join(', ')}`
    : '';
  replace(
    page.meta,
    chip(plan.status),
    ` ${plan.skill_level} · ${plan.weekly_hours} h/week${days} · ${plan.learning_style}`,
    plan.start_date ? ` · from ${plan.start_date}` : '',
    plan.deadline_date ? ` · by ${plan.deadline_date}` : '',
  );
}

// What was shortened of a plan created in this tab: to the bound the document states, else to
// the length the server kept.
function truncation(plan, facts) {
  const length = (text) => [...(text || '')].length;
  const truncated = [];
  if (facts?.topic_truncated) {
    truncated.push(`Your topic was ${facts.topic_original_length} characters long and was shortened to ${count(bounds.topic.max ?? length(plan.topic))}.`);
  }
  if (facts?.notes_truncated) {
    truncated.push(`Your notes were ${facts.notes_original_length} characters long and were shortened to ${count(bounds.notes.max ?? length(plan.notes))}.`);
  }
  return truncated.length ? h('p', { class: 'banner', 'data-testid': 'truncated' }, truncated.join(' ')) : null;
}

function placeholderModule(index) {
  return h(
    'li',
    { class: 'module placeholder', 'aria-hidden': 'true', 'data-index': index },
    h('div', { class: 'summary-like' }, h('span', { class: 'order' }, index + 1), h('span', { class: 'bar' }), h('span', { class: 'bar short' })),
  );
}

// Reads and draws the plan's attempts. Reads may overlap (an `attempt` event each): only the
// newest read is drawn, so an older answer arriving late cannot draw fewer attempts over more.
async function renderAttempts(page) {
  const read = (page.attemptsRead = (page.attemptsRead || 0) + 1);
  const attempts = await api('GET', `/plans/${page.id}/attempts?limit=20`, undefined, { signal: page.signal });
  if (read !== page.attemptsRead) return;
  replace(
    page.attempts,
    h('summary', {}, h('h2', {}, `Attempts (${attempts.items.length})`)),
    attempts.items.length === 0
      ? h('p', { class: 'muted' }, 'No attempt has ended yet.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { 'data-testid': 'attempts' },
            h('thead', {}, h('tr', {}, ['#', 'Result', 'Class', 'Duration', 'Modules', 'Timeout extended', 'Note'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              {},
              attempts.items.map((a) =>
                h(
                  'tr',
                  {},
                  h('td', {}, a.number ?? '—'),
                  h('td', {}, a.status === 'success' ? 'Success' : 'Failure'),
                  h('td', {}, a.classification ?? '—'),
                  h('td', {}, `${(a.duration_ms / 1000).toFixed(1)} s`),
                  h('td', {}, a.modules_count),
                  h('td', {}, a.timeout_extended ? 'yes' : 'no'),
                  h('td', {}, a.error || (a.effort_normalized ? 'Efforts adjusted to the allowed ranges.' : '')),
                ),
              ),
            ),
          ),
        ),
  );
}

// `running`: a generation job of this plan is queued or running (a pending plan whose job was
// cancelled or gave up is not generating, and may be regenerated).
function renderActions(page, p, running = p.status === 'pending') {
  const { id, signal } = page;
  const capped = p.attempts_used >= p.attempts_cap;
  const reason = capped
    ? `All ${p.attempts_cap} generation attempts are used.`
    : running
      ? 'A generation is in progress.'
      : `${p.attempts_cap - p.attempts_used} of ${p.attempts_cap} attempts left.`;
  const message = h('p', { class: 'muted small', id: 'regen-reason' }, reason);
  const button = h(
    'button',
    {
      type: 'button', class: 'secondary', disabled: capped || running,
      'aria-describedby': 'regen-reason',
      onclick: async () => {
        // A regeneration replaces the tasks: ticked-off progress goes only if the learner agrees.
        const progress = page.progress;
        const body = {};
        if (progress?.any) {
          const done = progress.completed;
          if (!window.confirm(`Regenerating replaces this plan's modules and tasks and discards your progress (${done} task${done === 1 ? '' : 's'} completed). Regenerate anyway?`)) return;
          body.discard_progress = true;
        }
        button.disabled = true;
        try {
          const job = await api('POST', `/plans/${id}/regenerate`, body);
          replace(message, h('span', { class: 'spinner', 'aria-hidden': 'true' }),
            'Regenerating… the current modules stay until new ones are stored.');
          const end = await followJob(job.id, signal);
          if (signal.aborted || !end) return;
          if (end.status === 'completed') {
            refresh();
            return;
          }
          replace(message, end.status === 'failed'
            ? `Regenerating failed: ${explain(end.error?.classification)}`
            : 'The regenerate job was cancelled.');
        } catch (error) {
          if (signal.aborted) return;
          replace(message, error.message);
        }
        button.disabled = false;
      },
    },
    'Regenerate',
  );
  replace(page.actions, button, message);
}

// Streamed modules stay folded as they were previewed (opening them would move the page under
// the learner's eyes); a plan opened ready shows its tasks.
function renderReady(page, p, { streamed = false, first = null } = {}) {
  const modules = p.modules.slice().sort((a, b) => a.order - b.order);
  const progress = new PlanProgress(page, p);
  page.progress = progress;
  replace(page.bar, progress.bar);
  // The schedule follows the plan: a task ticked off moves the rest; a change of hours, days or
  // dates (answered with the plan) redraws it without a reload.
  const schedule = new ScheduleSection(page, {
    plan: () => progress.plan,
    first,
    onPlan: (plan) => {
      renderMeta(page, plan);
      if (!progress.applyPlan(plan)) refresh();
    },
  });
  progress.onChange = () => schedule.planChanged();
  // Another tab ticks a task off: boxes and bars follow; new tasks (a regeneration): re-read.
  progress.followOthers(() => refresh(), (draft) => showDraft(page, draft));
  const taskCount = modules.reduce((n, m) => n + m.tasks.length, 0);
  replace(page.status, h('p', { 'data-testid': 'total' }, `${modules.length} modules, ${taskCount} tasks, ${minutes(p.total_minutes)} in all.`,
    streamed ? h('span', { class: 'muted' }, ' Open a module to see its tasks.') : null));
  // The share switch, the schedule and the modules, all in the body that held the previews:
  // nothing that was on the page while the plan was generated moves down.
  const list = h('ol', { class: 'modules', 'data-testid': 'modules' },
    modules.map((m) => moduleCard(m, { open: !streamed, progress, actions: regenerateAction(page, m) })));
  // Editing in place replaces the list until the learner is done; the page is then drawn again.
  const edit = h('button', {
    type: 'button', class: 'secondary', 'data-testid': 'edit-modules',
    onclick: () => {
      const editor = outlineEditor(page, progress.plan, () => refresh());
      bar.hidden = true;
      list.replaceWith(editor.el);
      editor.el.querySelector('input')?.focus();
    },
  }, 'Edit modules');
  const bar = h('div', { class: 'modules-bar' }, h('h2', {}, 'Modules'), edit);
  replace(page.body, shareSection(p, page.signal), schedule.el, bar, list);
}

function renderFailed(page, p) {
  const last = p.latest_attempt;
  const capped = p.attempts_used >= p.attempts_cap;
  // At the top, where the progress was: the first thing a learner reads.
  replace(page.body);
  replace(
    page.status,
    h(
      'div',
      { class: 'failure', 'data-testid': 'plan-failed' },
      h('h2', {}, 'This plan could not be generated'),
      h('p', {}, last ? explain(last.classification) : 'Generation failed.'),
      last?.error ? h('p', { class: 'muted' }, last.error) : null,
      capped
        ? h('p', {}, 'It used all of its attempts. ',
            h('a', { href: `#/?topic=${encodeURIComponent(p.topic)}` }, 'Start a new plan with this topic'),
            ' — a shorter, more specific topic often helps.')
        : h('p', {}, 'You can regenerate it below.'),
    ),
  );
}

function render(page, p, options) {
  renderActions(page, p);
  if (p.status === 'ready') renderReady(page, p, options);
  else if (p.status === 'failed') renderFailed(page, p);
}

// Pending with no generation queued or running (its job was cancelled or gave up): say so and
// offer what is possible, instead of waiting for modules that will not come. Asked on opening
// and again when the plan's event stream ends while the plan is still pending.
async function stopped(page, p) {
  const job = await latestJob('plan_generation', (j) => j.payload.plan_id === page.id, page.signal);
  if (!job || !['failed', 'cancelled'].includes(job.status)) return false;
  renderActions(page, p, false);
  replace(page.body);
  replace(page.status, h('p', { 'data-testid': 'plan-stopped' },
    job.status === 'cancelled'
      ? 'Generation was cancelled before the plan was written. Regenerate it to try again.'
      : `Generation stopped: ${explain(job.error?.classification)} Regenerate it to try again.`));
  return true;
}

// The plan once its generation ended (`status` ready or failed): read again and drawn with its
// schedule (both read first, so that nothing moves when the schedule arrives).
async function showFinal(page, status) {
  const { id, signal } = page;
  const [p, first] = await Promise.all([
    api('GET', `/plans/${id}`, undefined, { signal }),
    status === 'ready' ? firstSchedule(id, signal) : null,
  ]);
  renderMeta(page, p);
  render(page, p, { streamed: true, first: p.status === 'ready' ? first : null });
}

// Pending: placeholders that the streamed modules replace one by one, until the plan's status
// event says it is ready or failed.
function followGeneration(page, plan) {
  const { id, signal } = page;
  const list = h('ol', { class: 'modules', 'data-testid': 'previews', 'aria-busy': 'true' });
  let shown = 0;
  const reset = () => {
    shown = 0;
    replace(list, Array.from({ length: PLACEHOLDER_MODULES }, (_, i) => placeholderModule(i)));
  };
  reset();
  replace(page.body, list);
  const say = (text) => replace(page.status, h('p', {}, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text));
  say('Generating your plan… modules appear here as the model writes them.');
  let attempt = null;
  let latest = plan;
  follow(
    `/plans/${id}/events`,
    (event, data) => {
      if (event === 'module') {
        if (attempt !== null && data.attempt_number !== attempt) reset();
        attempt = data.attempt_number;
        const card = moduleCard(data.module, { preview: true });
        const slot = list.children[data.index];
        if (slot) slot.replaceWith(card);
        else list.append(card);
        shown = Math.max(shown, data.index + 1);
        say(`Generating your plan… ${shown} module${shown === 1 ? '' : 's'} so far.`);
        return false;
      }
      if (event === 'attempt') {
        renderAttempts(page).catch(() => {});
        if (data.status === 'failure') {
          say(`Attempt ${data.number ?? ''} failed: ${explain(data.classification)} Trying again…`);
          attempt = null;
          reset();
        }
        return false;
      }
      if (event === 'status') {
        latest = data;
        if (data.status === 'pending') return false;
        list.removeAttribute('aria-busy');
        showFinal(page, data.status).catch(() => {});
        return true;
      }
      return false;
    },
    signal,
    // Ended while pending: the generation was cancelled or gave up (else follow reconnects);
    // or it ended just as the plan became ready or failed, before its status event was read.
    async () => {
      const now = await api('GET', `/plans/${id}`, undefined, { signal }).catch(() => latest);
      if (now.status !== 'pending') {
        list.removeAttribute('aria-busy');
        await showFinal(page, now.status);
        return true;
      }
      if (!(await stopped(page, now))) return false;
      list.removeAttribute('aria-busy');
      return true;
    },
  ).catch((error) => {
    if (!signal.aborted) replace(page.status, h('p', { class: 'form-error', role: 'alert' }, error.message));
  });
}
