// How many of a plan's flashcards are due for review today (GET /reviews/due/count?plan_id=
// &until=, until the end of the learner's local day): "N due today" and a "Review N due" link,
// filled in when the count arrives (nothing when it cannot be read: the count is a hint, never a
// reason for the screen to fail).

import { api } from './api.js';
import { h, replace } from './dom.js';

// The end of the learner's day (local midnight), as the API's `until`: "due today" is the day's
// cards, not only those due this minute.
export function endOfToday() {
  const d = new Date();
  d.setHours(24, 0, 0, 0);
  return encodeURIComponent(d.toISOString());
}

export function dueCount(planId, signal) {
  return api('GET', `/reviews/due/count?plan_id=${planId}&until=${endOfToday()}`, undefined, { signal }).then((d) => d.due);
}

export const dueText = (n) => `${n} due today`;

// A slot that becomes "N due today" (with the review link when `link` and N > 0).
export function dueSlot(planId, signal, { link = false } = {}) {
  const slot = h('p', { class: 'due muted small', 'data-testid': 'due', 'aria-live': 'polite' });
  dueCount(planId, signal)
    .then((n) => {
      replace(slot, h('span', { 'data-testid': 'due-count' }, dueText(n)),
        link && n > 0 ? [' · ', h('a', { href: `#/plans/${planId}/review`, 'data-testid': 'review-link' }, `Review ${n} due`)] : null);
    })
    .catch(() => replace(slot));
  return slot;
}
