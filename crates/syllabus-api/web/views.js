// What the screens of one plan share: reading the plan (or saying it is not there) and the tabs
// between its sections.

import { api } from './api.js';
import { h, replace } from './dom.js';

export function notFound(view, what) {
  replace(
    view,
    h('section', { class: 'narrow', 'data-testid': 'not-found' },
      h('h1', { tabindex: '-1' }, `${what} not found`),
      h('p', {}, `This ${what.toLowerCase()} does not exist, was deleted, or belongs to another account.`),
      h('p', {}, h('a', { href: '#/' }, 'Back to your plans'))),
  );
}

// The plan a screen shows, or null after showing "not found" (none, or another user's).
export async function loadPlan(view, id, signal) {
  try {
    return await api('GET', `/plans/${id}`, undefined, { signal });
  } catch (error) {
    if (error.status !== 404) throw error;
    notFound(view, 'Plan');
    return null;
  }
}

export function planNav(id, current) {
  const link = (hash, label, key) =>
    h('a', { href: hash, 'aria-current': current === key ? 'page' : null }, label);
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Plan sections' },
    link(`#/plans/${id}`, 'Plan', 'plan'),
    link(`#/plans/${id}/flashcards`, 'Flashcards', 'flashcards'),
    link(`#/plans/${id}/review`, 'Review', 'review'),
    link(`#/plans/${id}/skills`, 'Skill tree', 'skills'),
  );
}
