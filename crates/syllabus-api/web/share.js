// Sharing a plan (issue #21): the owner's share switch (PATCH visibility) and, while the plan is
// public, its link with a "Copy link" button; the public page's address; and the note on a plan
// that was copied from another.

import { api } from './api.js';
import { h, replace } from './dom.js';

// The public page of plan `id` (public.js), as a full address to send to someone.
export function publicUrl(id) {
  return `${location.origin}${location.pathname}#/public/${id}`;
}

// "Copied from a shared plan" on a fork (origin template), or null.
export function originNote(plan) {
  if (plan.origin !== 'template') return null;
  return h('p', { class: 'origin-note', 'data-testid': 'origin' },
    'Copied from a shared plan. ',
    h('span', { class: 'muted' }, 'It is yours: your progress, dates and notes stay private.'));
}

// The share card of a ready plan the learner owns. The switch keeps the focus while its request
// runs (it is only marked busy) and goes back when the request fails.
export function shareSection(plan, signal) {
  let visibility = plan.visibility || 'private';
  const status = h('p', { class: 'muted small share-status', id: 'share-status', role: 'status', 'aria-live': 'polite', 'data-testid': 'share-status' });
  const box = h('input', {
    type: 'checkbox', role: 'switch', id: 'share-public', class: 'switch',
    'aria-describedby': 'share-status',
    checked: visibility === 'public',
    onchange: async () => {
      const wanted = box.checked ? 'public' : 'private';
      box.setAttribute('aria-busy', 'true');
      replace(status, wanted === 'public' ? 'Sharing…' : 'Stopping sharing…');
      try {
        const answer = await api('PATCH', `/plans/${plan.id}`, { visibility: wanted }, { signal });
        visibility = answer.visibility;
        draw(visibility === 'public'
          ? 'Shared: anyone with the link can read its modules and tasks (not your notes, dates or progress).'
          : 'Not shared: the link no longer works; only you can see this plan.');
      } catch (error) {
        if (signal?.aborted) return;
        box.checked = visibility === 'public';
        draw();
        status.append(h('span', { class: 'form-error' }, ` Could not change sharing: ${error.message}`));
      }
      box.removeAttribute('aria-busy');
    },
  });
  const link = linkRow(plan.id);
  const draw = (said) => {
    link.hidden = visibility !== 'public';
    replace(status, said || (visibility === 'public'
      ? 'Shared: anyone with the link can read its modules and tasks.'
      : 'Private: only you can see this plan.'));
  };
  draw();
  return h(
    'section',
    { class: 'card share', 'aria-labelledby': 'share-title', 'data-testid': 'share' },
    h('div', { class: 'share-head' },
      h('h2', { id: 'share-title' }, 'Share'),
      h('label', { class: 'switch-label', for: 'share-public' }, box, h('span', {}, 'Anyone with the link can view'))),
    status,
    link,
  );
}

// The link of a shared plan, read-only and selectable, with its copy button.
function linkRow(id) {
  const url = publicUrl(id);
  const said = h('span', { class: 'muted small', role: 'status', 'data-testid': 'copy-status' });
  const field = h('input', {
    id: 'share-link', type: 'url', readonly: true, value: url, 'data-testid': 'share-link',
    onfocus: () => field.select(),
  });
  const copy = async () => {
    replace(said);
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(url);
      replace(said, 'Link copied.');
    } catch {
      // No clipboard (an insecure origin, a denied permission): the text selected for the learner.
      field.focus();
      field.select();
      replace(said, 'Link selected: press Ctrl+C (⌘C) to copy it.');
    }
  };
  return h(
    'div',
    { class: 'share-link' },
    h('label', { for: 'share-link' }, 'Link to the shared plan'),
    h('div', { class: 'share-row' }, field, h('button', { type: 'button', class: 'secondary', onclick: copy }, 'Copy link')),
    said,
  );
}
