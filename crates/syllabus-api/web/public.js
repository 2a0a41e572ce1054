// A shared plan's public page (#/public/{id}, issue #21): readable signed out (GET
// /public/plans/{id}, sent without a token), its topic, parameters, origin, modules and tasks
// read-only, and "Copy to my plans" (POST /plans/{id}/fork; signed out, the sign-in screen comes
// first and the copy is made on coming back). A private or missing plan is one "not shared" page.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { minutes } from './format.js';
import { moduleCard } from './module-card.js';
import { session, signInFirst, takeIntent } from './session.js';

const ORIGINS = {
  ai: 'Generated with AI',
  template: 'Copied from another shared plan',
  manual: 'Written by hand',
};

export async function publicScreen(view, id, signal) {
  let plan;
  if (!/^[0-9a-f-]{36}$/i.test(id)) {
    notShared(view);
    return;
  }
  try {
    plan = await api('GET', `/public/plans/${id}`, undefined, { signal, anonymous: true });
  } catch (error) {
    if (error.status !== 404) throw error;
    notShared(view);
    return;
  }
  const status = h('p', { class: 'muted small copy-hint', id: 'copy-hint', role: 'status', 'aria-live': 'polite', 'data-testid': 'copy-status' },
    session.user_id
      ? 'Adds a private copy to your plans, with your own progress and schedule.'
      : 'Sign in to add a private copy to your plans.');
  const button = h('button', { type: 'button', 'aria-describedby': 'copy-hint', 'data-testid': 'copy' }, 'Copy to my plans');
  const copy = async () => {
    if (!session.user_id) {
      signInFirst(`#/public/${id}`, `Sign in to copy “${plan.topic}” to your plans.`, `copy:${id}`);
      return;
    }
    button.disabled = true;
    replace(status, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Copying…');
    try {
      const copied = await api('POST', `/plans/${id}/fork`, {}, { signal });
      location.hash = `#/plans/${copied.id}`;
    } catch (error) {
      if (signal.aborted) return;
      replace(status, h('span', { class: 'form-error' }, copyError(error)));
      button.disabled = false;
    }
  };
  button.addEventListener('click', copy);

  const modules = plan.modules.slice().sort((a, b) => a.order - b.order);
  const taskCount = modules.reduce((n, m) => n + m.tasks.length, 0);
  replace(
    view,
    session.user_id ? h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')) : null,
    h('p', { class: 'shared-label' }, 'Shared plan'),
    h('h1', { tabindex: '-1', 'data-testid': 'public-title' }, plan.topic),
    h('p', { class: 'meta', 'data-testid': 'public-meta' },
      `${plan.skill_level} · ${plan.weekly_hours} h/week · ${plan.learning_style} · ${ORIGINS[plan.origin] || plan.origin}`),
    h('div', { class: 'actions' }, button, status),
    h('p', { 'data-testid': 'total' }, `${modules.length} module${modules.length === 1 ? '' : 's'}, ${taskCount} task${taskCount === 1 ? '' : 's'}, ${minutes(plan.total_minutes)} in all.`),
    h('ol', { class: 'modules', 'data-testid': 'public-modules' }, modules.map((m) => moduleCard(m))),
  );
  // Back from signing in for this copy: made at once.
  if (session.user_id && takeIntent(`copy:${id}`)) copy();
}

function copyError(error) {
  if (error.status === 404) return 'This plan is no longer shared: it cannot be copied.';
  if (error.status === 409) return 'This plan has no modules yet: there is nothing to copy.';
  return `Could not copy this plan: ${error.message}`;
}

function notShared(view) {
  replace(
    view,
    h('section', { class: 'narrow', 'data-testid': 'not-shared' },
      h('h1', { tabindex: '-1' }, 'This plan is not shared (or does not exist)'),
      h('p', {}, 'Its owner may have stopped sharing it, or the link is incomplete. Ask them for the link again.'),
      h('p', {}, session.user_id ? h('a', { href: '#/' }, 'Back to your plans') : h('a', { href: '#/sign-in' }, 'Sign in to Syllabus'))),
  );
}
