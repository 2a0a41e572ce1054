// The review session (#/plans/{id}/review): the plan's due cards one at a time (GET
// /reviews/due?plan_id=&limit=1, read again after each answer). A question-and-answer card shows
// its question, then its answer ("Show answer" or Space), then four ratings (buttons or keys
// 1–4). A multiple-choice card shows its answer among its 3 distractors, shuffled: a right choice
// is rated "good", a wrong one "again". Each answer is POST /flashcards/{id}/reviews with a
// review id chosen once per card shown, so a double submit counts once; when a send fails, only
// the same rating can be sent again (the first may have been recorded: another rating under the
// same id is refused). Then the next due date (local time) and what each rating would have
// given, and "Next card". "Due" is due by the end of the learner's day, as the counts say.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { endOfToday } from './due.js';
import { shuffle } from './flashcards.js';
import { loadPlan, planNav } from './views.js';

export const RATINGS = [
  ['again', 'Again'],
  ['hard', 'Hard'],
  ['good', 'Good'],
  ['easy', 'Easy'],
];


function reviewId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const days = (n) => `${n} day${n === 1 ? '' : 's'}`;
const local = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export async function reviewScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  const stage = h('section', { class: 'card review', 'aria-labelledby': 'review-title', 'data-testid': 'review' });
  replace(
    view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')),
    h('h1', { tabindex: '-1' }, `Review: ${plan.topic}`),
    planNav(id, 'review'),
    stage,
  );
  // The keys of the card shown: Space reveals, 1–4 rate (not while typing or on a control that
  // Space would press anyway).
  let keys = null;
  const onKey = (e) => {
    if (!keys || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target.tagName;
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag)) return;
    if (e.key === ' ' && tag === 'BUTTON') return;
    if (keys(e.key)) e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  signal.addEventListener('abort', () => document.removeEventListener('keydown', onKey));

  const title = () => h('h2', { id: 'review-title' }, 'Review');
  const next = async () => {
    keys = null;
    const data = await api('GET', `/reviews/due?plan_id=${id}&limit=1&until=${endOfToday()}`, undefined, { signal });
    const card = data.items[0];
    if (!card) {
      replace(stage, title(),
        h('p', { class: 'done', 'data-testid': 'all-done', tabindex: '-1' }, 'All done for today.'),
        h('p', {}, h('a', { href: `#/plans/${id}/flashcards` }, 'Back to the flashcards')));
      stage.querySelector('.done').focus();
      return;
    }
    showCard(card);
  };

  const showCard = (card) => {
    const rid = reviewId();
    const feedback = h('p', { class: 'feedback', role: 'status', 'aria-live': 'polite', 'data-testid': 'review-feedback' });
    const result = h('div', { class: 'review-result', 'data-testid': 'review-result' });
    let sending = false;
    const rate = async (rating) => {
      if (sending) return;
      sending = true;
      keys = null;
      stage.querySelectorAll('.ratings button, .choices button').forEach((b) => { b.disabled = true; });
      try {
        const answer = await api('POST', `/flashcards/${card.id}/reviews`, { rating, review_id: rid }, { signal });
        showResult(answer, answer.rating);
      } catch (error) {
        if (signal.aborted) return;
        sending = false;
        // A refusal that sending again cannot change (the card is gone, the request was
        // refused): nothing was recorded; go on to the next card.
        const status = error.status ?? 0;
        if (status >= 400 && status < 500 && ![408, 429].includes(status)) {
          const skip = h('button', { type: 'button', 'data-testid': 'next-card', onclick: () => next() }, 'Next card');
          replace(result, h('p', { class: 'form-error', role: 'alert' }, `The review was not saved: ${error.message}`), skip);
          keys = (k) => (k === 'Enter' ? (next(), true) : false);
          skip.focus();
          return;
        }
        // The answer may have been lost after the review was recorded: send the same rating
        // again (same review id), never another.
        const retry = h('button', { type: 'button', 'data-testid': 'retry-review', onclick: () => rate(rating) }, 'Try again');
        replace(result, h('p', { class: 'form-error', role: 'alert' }, `The review was not saved: ${error.message}`), retry);
        keys = (k) => (k === 'Enter' ? (rate(rating), true) : false);
        retry.focus();
      }
    };
    const showResult = (answer, rating) => {
      const goOn = h('button', { type: 'button', 'data-testid': 'next-card', onclick: () => next() }, 'Next card');
      replace(result,
        h('p', { 'data-testid': 'next-review' }, `Next review: ${local(answer.due_at)}`, h('span', { class: 'muted' }, ` (in ${days(answer.interval_days)})`)),
        h('p', { class: 'muted small', 'data-testid': 'intervals' },
          'The choices you had: ',
          RATINGS.flatMap(([key, label], i) => [i ? ' · ' : '', h('span', { class: key === rating ? 'picked' : null }, `${label} ${days(answer.next[key].interval_days)}`)])),
        goOn);
      keys = (k) => (k === 'Enter' || k === ' ' ? (next(), true) : false);
      goOn.focus();
    };
    const ratingKeys = (k) => {
      const i = ['1', '2', '3', '4'].indexOf(k);
      if (i < 0) return false;
      rate(RATINGS[i][0]);
      return true;
    };

    let body;
    if (card.mode === 'multiple_choice') {
      const options = shuffle([card.answer, ...card.distractors]);
      const group = `review-${card.id}`;
      body = h('form', {
        class: 'choices', 'data-testid': 'review-choices',
        onsubmit: (e) => {
          e.preventDefault();
          const picked = body.querySelector('input:checked');
          if (!picked) {
            feedback.textContent = 'Pick an answer first.';
            return;
          }
          const right = picked.value === card.answer;
          body.querySelectorAll('input').forEach((input) => { input.disabled = true; });
          feedback.className = `feedback ${right ? 'right' : 'wrong'}`;
          feedback.textContent = right ? 'Correct! Rated Good.' : `Not quite. The right answer: ${card.answer} (rated Again)`;
          body.querySelectorAll('.choice').forEach((c) => {
            if (c.querySelector('input').value === card.answer) c.classList.add('right-choice');
          });
          rate(right ? 'good' : 'again');
        },
      },
      h('fieldset', {},
        h('legend', { class: 'question' }, card.question),
        options.map((o, i) => h('div', { class: 'choice' },
          h('input', { type: 'radio', name: group, id: `${group}-${i}`, value: o }),
          h('label', { for: `${group}-${i}` }, o)))),
      h('button', { type: 'submit' }, 'Check answer'));
      keys = null;
    } else {
      const answer = h('p', { class: 'answer', hidden: true, 'data-testid': 'review-answer' }, card.answer);
      const ratings = h('div', { class: 'ratings', role: 'group', 'aria-label': 'How well did you remember it?', hidden: true },
        RATINGS.map(([key, label], i) => h('button', {
          type: 'button', class: key === 'again' ? 'secondary' : null, 'data-rating': key,
          'aria-keyshortcuts': String(i + 1), onclick: () => rate(key),
        }, h('kbd', { 'aria-hidden': 'true' }, String(i + 1)), ` ${label}`)));
      const reveal = h('button', {
        type: 'button', 'aria-keyshortcuts': 'Space', 'data-testid': 'show-answer',
        onclick: () => show(),
      }, 'Show answer');
      const show = () => {
        answer.hidden = false;
        ratings.hidden = false;
        reveal.hidden = true;
        keys = ratingKeys;
        ratings.querySelector('[data-rating=good]').focus();
      };
      keys = (k) => (k === ' ' ? (show(), true) : false);
      body = h('div', { 'data-testid': 'review-card' },
        h('p', { class: 'question' }, card.question), answer,
        h('div', { class: 'actions' }, reveal), ratings,
        h('p', { class: 'muted small' }, 'Keys: Space shows the answer; 1 Again, 2 Hard, 3 Good, 4 Easy.'));
    }
    replace(stage, title(), h('div', { class: 'flashcard-study', 'data-card': card.id }, body, feedback), result);
    (stage.querySelector('[data-testid=show-answer]') || stage.querySelector('input'))?.focus();
  };
  await next();
}
