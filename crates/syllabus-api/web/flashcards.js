// The flashcards screen (#/plans/{id}/flashcards): generate cards (how many within the bounds
// the OpenAPI document states), study them one at a time, make one multiple choice, the cards
// due for review (due.js), and the deck for Anki (GET …/flashcards.txt with the bearer token:
// a plain link would have none) saved through a Blob URL.

import { API, api, failure, headers } from './api.js';
import { bounds } from './bounds.js';
import { h, replace } from './dom.js';
import { dueSlot } from './due.js';
import { latestJob, runJob, watchJob } from './jobs.js';
import { loadPlan, planNav } from './views.js';

// Placeholder cards shown at most while cards are written.
const PLACEHOLDER_CARDS = 6;

// The answer among its distractors in a random order (also the review session's).
export function shuffle(items) {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// The server's file name (Content-Disposition), or one made of the topic.
function savedName(res, topic) {
  const m = (res.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
  if (m) return m[1];
  return `${(topic || 'flashcards').replace(/[\\/:*?"<>|\p{Cc}]+/gu, ' ').trim().slice(0, 80) || 'flashcards'}.txt`;
}

async function downloadAnki(id, topic) {
  const path = `/plans/${id}/flashcards.txt`;
  const res = await fetch(API + path, { headers: headers({ Accept: 'text/plain' }) });
  if (!res.ok) throw await failure(res, path);
  const url = URL.createObjectURL(await res.blob());
  const link = h('a', { href: url, download: savedName(res, topic), hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function ankiDownload(id, topic) {
  const status = h('span', { class: 'muted small', role: 'status' });
  const button = h('button', {
    type: 'button', class: 'secondary', 'data-testid': 'download-anki',
    onclick: async () => {
      button.disabled = true;
      status.textContent = '';
      try {
        await downloadAnki(id, topic);
      } catch (error) {
        status.textContent = `The deck could not be downloaded: ${error.message}`;
      }
      button.disabled = false;
    },
  }, 'Download for Anki (.txt)');
  return h('div', { class: 'actions' }, button, status);
}

export async function flashcardsScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  const jobSlot = h('div', { class: 'job-slot', 'aria-live': 'polite' });
  const study = h('section', { class: 'card study', 'aria-labelledby': 'study-title' });
  const { min, max } = bounds.cards;
  const count = h('input', { type: 'number', value: bounds.cards.default, min, max, inputmode: 'numeric' });
  const moduleSelect = h(
    'select',
    {},
    h('option', { value: '' }, 'The whole plan'),
    plan.modules.map((m) => h('option', { value: m.id }, `${m.order}. ${m.title}`)),
  );
  const formError = h('p', { class: 'field-error', id: 'max_cards-error', hidden: true });
  const generate = h('button', { type: 'submit', disabled: plan.status !== 'ready' }, 'Generate flashcards');
  const placeholders = (n) => () =>
    h('div', { class: 'cards-loading' },
      h('p', {}, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Writing flashcards…'),
      h('ul', { class: 'card-grid', 'aria-hidden': 'true' },
        Array.from({ length: Math.min(n, PLACEHOLDER_CARDS) }, () => h('li', { class: 'flashcard placeholder' }, h('span', { class: 'bar' }), h('span', { class: 'bar short' })))));
  const form = h(
    'form',
    {
      class: 'card', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        formError.hidden = true;
        // Empty (no default could be read): the server's default applies.
        const body = count.value.trim() === '' ? {} : { max_cards: Number(count.value) };
        if (moduleSelect.value) body.module_id = moduleSelect.value;
        generate.disabled = true;
        runJob(
          jobSlot,
          async () => {
            try {
              return await api('POST', `/plans/${id}/flashcards`, body);
            } catch (error) {
              const f = error.fields[0];
              if (f) {
                formError.textContent = `${f.field}: ${f.message}`;
                formError.hidden = false;
              }
              throw error;
            }
          },
          placeholders(body.max_cards || PLACEHOLDER_CARDS),
          () => loadCards(),
          signal,
        ).finally(() => {
          // One job at a time from this page: the button waits for the job's end.
          generate.disabled = false;
        });
      },
    },
    h('h2', {}, 'Generate flashcards'),
    plan.status !== 'ready' ? h('p', { class: 'muted' }, 'Flashcards can be generated once the plan is ready.') : null,
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'fc-module' }, 'From'), Object.assign(moduleSelect, { id: 'fc-module' })),
      h('div', { class: 'field' }, h('label', { for: 'max_cards' }, min === undefined || max === undefined ? 'How many' : `How many (${min}–${max})`), Object.assign(count, { id: 'max_cards' }), formError)),
    generate,
  );
  replace(
    view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')),
    h('h1', { tabindex: '-1' }, `Flashcards: ${plan.topic}`),
    planNav(id, 'flashcards'),
    dueSlot(id, signal, { link: true }),
    ankiDownload(id, plan.topic),
    form,
    study,
    jobSlot,
  );

  let cards = [];
  let index = 0;
  const showCard = () => {
    if (cards.length === 0) {
      replace(study, h('h2', { id: 'study-title' }, 'Study'), h('p', { class: 'muted' }, 'No flashcards yet.'));
      return;
    }
    index = Math.min(index, cards.length - 1);
    const card = cards[index];
    const feedback = h('p', { class: 'feedback', role: 'status', 'aria-live': 'polite' });
    const content = card.mode === 'multiple_choice'
      ? multipleChoice(card, feedback)
      : questionAnswer(card, () => loadCards(card.id), signal);
    replace(
      study,
      h('h2', { id: 'study-title' }, 'Study'),
      h('p', { class: 'muted small' }, `Card ${index + 1} of ${cards.length}`),
      h('div', { class: 'flashcard-study' }, content, feedback),
      h('nav', { class: 'pager', 'aria-label': 'Cards' },
        h('button', { type: 'button', class: 'secondary', disabled: index === 0, onclick: () => { index -= 1; showCard(); } }, 'Previous'),
        h('button', { type: 'button', class: 'secondary', disabled: index >= cards.length - 1, onclick: () => { index += 1; showCard(); } }, 'Next')),
    );
  };
  const loadCards = async (focusId) => {
    const data = await api('GET', `/plans/${id}/flashcards`, undefined, { signal });
    cards = data.items;
    if (focusId) index = Math.max(0, cards.findIndex((c) => c.id === focusId));
    showCard();
  };
  await loadCards();
  // A job already running or failed for this plan (a reload, another tab).
  const job = await latestJob('flashcards', (j) => j.payload.plan_id === id, signal);
  if (job && ['pending', 'processing', 'failed'].includes(job.status)) {
    generate.disabled = true;
    watchJob(jobSlot, job, placeholders(job.payload.max_cards || PLACEHOLDER_CARDS), () => loadCards(), signal).finally(() => {
      generate.disabled = plan.status !== 'ready';
    });
  }
}

// A multiple-choice card: its answer among its distractors, in a new order each time, checked
// in `feedback`.
function multipleChoice(card, feedback) {
  const options = shuffle([card.answer, ...card.distractors]);
  const group = `choice-${card.id}`;
  const content = h(
    'form',
    {
      class: 'choices', 'data-testid': 'multiple-choice',
      onsubmit: (e) => {
        e.preventDefault();
        const picked = content.querySelector('input:checked');
        if (!picked) {
          feedback.textContent = 'Pick an answer first.';
          return;
        }
        const right = picked.value === card.answer;
        feedback.className = `feedback ${right ? 'right' : 'wrong'}`;
        feedback.textContent = right ? 'Correct!' : `Not quite. The answer is: ${card.answer}`;
      },
    },
    h('fieldset', {},
      h('legend', { class: 'question' }, card.question),
      options.map((o, i) =>
        h('div', { class: 'choice' },
          h('input', { type: 'radio', name: group, id: `${group}-${i}`, value: o }),
          h('label', { for: `${group}-${i}` }, o)))),
    h('button', { type: 'submit' }, 'Check answer'),
  );
  return content;
}

// A question-and-answer card: the answer revealed on demand, and a job that writes its
// distractors (then `reload` shows it as multiple choice).
function questionAnswer(card, reload, signal) {
  const answer = h('p', { class: 'answer', hidden: true }, card.answer);
  const distractorSlot = h('div', { class: 'job-slot' });
  const reveal = h('button', { type: 'button', onclick: () => { answer.hidden = false; reveal.disabled = true; } }, 'Show answer');
  const more = h(
    'button',
    {
      type: 'button', class: 'secondary',
      onclick: () => {
        more.disabled = true;
        runJob(
          distractorSlot,
          () => api('POST', `/flashcards/${card.id}/distractors`),
          () => h('p', {}, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Writing wrong answers…'),
          reload,
          signal,
        ).finally(() => { more.disabled = false; });
      },
    },
    'Make it multiple choice',
  );
  return h('div', { 'data-testid': 'question-answer' },
    h('p', { class: 'question' }, card.question), answer,
    h('div', { class: 'actions' }, reveal, more), distractorSlot);
}
