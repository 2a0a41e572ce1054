// Syllabus: the learner's web app. Native ES modules, no build step, no dependency: it talks to
// the JSON API of the same origin (docs/api.md), follows its server-sent event streams with
// fetch (events.js), and reads the domain's bounds from the API's OpenAPI document (bounds.js).
// This module starts the app and routes.
//
// Screens (hash routes, so the server only serves `/` and `/assets/*`):
//   #/                        plans: create form and list          plans.js, plan-form.js
//   #/plans/{id}              a plan: live previews, modules and tasks, attempts, regenerate,
//                             task progress; its schedule (today's session, the weeks ahead,
//                             the deadline notice, the weekly chart, editing, the .ics file)
//                                                                  plan.js, progress.js,
//                                                                  schedule.js, calendar.js,
//                                                                  chart.js, plan-edit.js
//   #/plans/{id}/flashcards   flashcards: generate, study          flashcards.js
//   #/plans/{id}/review       the review session: due cards, reveal, four ratings (keys 1–4),
//                             the next due date after each           review.js, due.js
//   #/plans/{id}/skills       the skill tree: a picture (keyboard-navigable SVG) and a list,
//                             growing live while it is built      skills.js, skill-graph.js
//   #/integrations            webhook endpoints: add one (its secret shown once), test events,
//                             recent deliveries                    integrations.js, webhook-card.js
//   #/public/{id}             a shared plan, read-only, signed in or not; "Copy to my plans"
//                                                                  public.js
//   #/sign-in                 sign-in (development form, or a pasted token)
//                                                                  sign-in.js, session.js

import { onUnauthorized } from './api.js';
import { loadBounds } from './bounds.js';
import { h, main, replace } from './dom.js';
import { flashcardsScreen } from './flashcards.js';
import { integrationsScreen } from './integrations.js';
import { onRefresh } from './nav.js';
import { planScreen } from './plan.js';
import { plansScreen } from './plans.js';
import { publicScreen } from './public.js';
import { reviewScreen } from './review.js';
import { loadSession, renderHeader, session, signOut } from './session.js';
import { signInScreen } from './sign-in.js';
import { skillsScreen } from './skills.js';
import { notFound } from './views.js';

let current = null;

async function route() {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const view = main();
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryString] = hash.split('?');
  const query = new URLSearchParams(queryString || '');
  renderHeader();
  // A shared plan needs no account (a malformed id is "not shared" too).
  const shared = path.match(/^\/public\/([^/]*)$/);
  if (!session.user_id && path !== '/sign-in' && !shared) {
    location.hash = '#/sign-in';
    return;
  }
  let m;
  try {
    if (path === '/sign-in') {
      if (session.user_id) {
        location.hash = '#/';
        return;
      }
      signInScreen(view);
    } else if (shared) {
      await publicScreen(view, shared[1], controller.signal);
    } else if (path === '/') {
      plansScreen(view, { prefill: query.get('topic') ? { topic: query.get('topic') } : {} });
    } else if (path === '/integrations') {
      await integrationsScreen(view, controller.signal);
    } else if ((m = path.match(/^\/plans\/([0-9a-f-]{36})$/))) {
      await planScreen(view, m[1], controller.signal);
    } else if ((m = path.match(/^\/plans\/([0-9a-f-]{36})\/flashcards$/))) {
      await flashcardsScreen(view, m[1], controller.signal);
    } else if ((m = path.match(/^\/plans\/([0-9a-f-]{36})\/review$/))) {
      await reviewScreen(view, m[1], controller.signal);
    } else if ((m = path.match(/^\/plans\/([0-9a-f-]{36})\/skills$/))) {
      await skillsScreen(view, m[1], controller.signal);
    } else {
      notFound(view, 'Page');
    }
  } catch (error) {
    if (controller.signal.aborted) return;
    replace(view, h('section', { class: 'narrow' }, h('h1', { tabindex: '-1' }, 'Something went wrong'),
      h('p', { role: 'alert' }, error.message), h('p', {}, h('a', { href: '#/' }, 'Back to your plans'))));
  }
  if (!controller.signal.aborted) view.querySelector('h1')?.focus({ preventScroll: true });
}

async function start() {
  const view = main();
  onUnauthorized(() => signOut('Your session has ended. Please sign in again.'));
  onRefresh(route);
  // The bounds are read alongside the session; without them the app still works (bounds.js).
  const bounds = loadBounds();
  try {
    await loadSession();
  } catch (error) {
    replace(view, h('p', { role: 'alert' }, `The server did not answer: ${error.message}`));
    return;
  }
  await bounds;
  window.addEventListener('hashchange', route);
  // The skip link moves focus; as a fragment it would be taken for a route.
  document.querySelector('.skip')?.addEventListener('click', (e) => {
    e.preventDefault();
    main().focus();
  });
  document.title = 'Syllabus';
  route();
}

start();
