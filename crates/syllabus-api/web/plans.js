// The plans screen (#/): the create form and the learner's plans, a page at a time.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { chip, date, minutes } from './format.js';
import { createForm } from './plan-form.js';
import { dueSlot } from './due.js';
import { planBar } from './progress.js';

const PAGE_SIZE = 10;

export function plansScreen(view, params) {
  const list = h('section', { class: 'card', 'aria-labelledby': 'plans-title' }, h('h2', { id: 'plans-title' }, 'Your plans'));
  const items = h('ul', { class: 'plan-list', 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Plan pages' });
  list.append(items, pager);
  replace(view, h('h1', { tabindex: '-1' }, 'Learning plans'), h('div', { class: 'columns' }, createForm(params.prefill), list));
  const cursors = [null];
  const load = async (page) => {
    replace(items, h('li', { class: 'muted' }, 'Loading…'));
    const query = new URLSearchParams({ limit: PAGE_SIZE });
    if (cursors[page]) query.set('cursor', cursors[page]);
    const data = await api('GET', `/plans?${query}`);
    cursors[page + 1] = data.next_cursor;
    replace(
      items,
      data.items.length
        ? data.items.map((p) =>
            h(
              'li',
              {},
              h('a', { href: `#/plans/${p.id}` }, p.topic),
              chip(p.status),
              h('span', { class: 'muted small' }, p.status === 'ready' ? minutes(p.total_minutes) : date(p.created_at)),
              p.status === 'ready' ? planBar(p.progress, 'list-progress') : null,
              p.status === 'ready' ? dueSlot(p.id) : null,
            ),
          )
        : h('li', { class: 'muted' }, page === 0 ? 'No plans yet: create your first one.' : 'No more plans.'),
    );
    replace(
      pager,
      h('button', { type: 'button', class: 'secondary', disabled: page === 0, onclick: () => load(page - 1) }, 'Newer'),
      h('span', { class: 'muted small' }, `Page ${page + 1}`),
      h('button', { type: 'button', class: 'secondary', disabled: !data.next_cursor, onclick: () => load(page + 1) }, 'Older'),
    );
  };
  load(0).catch((error) => replace(items, h('li', { class: 'form-error' }, error.message)));
}
