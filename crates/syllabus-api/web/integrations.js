// The integrations screen (#/integrations, issue #23): the learner's webhook endpoints
// (docs/api.md "Webhooks"). The form adds one (the API's field errors next to each field); the
// endpoint's signing secret is shown once, right after it is created, and lives only in this
// screen's memory: leaving the screen forgets it (nothing stores it, nothing logs it). The list of
// endpoints with their deliveries is webhook-card.js.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { clearErrors, field, showErrors } from './fields.js';
import { endpointCard, EVENTS } from './webhook-card.js';

// The events ticked on a new form: what most integrations want.
const DEFAULT_EVENTS = ['plan.ready', 'plan.failed'];
// The API's bound on a description (docs/api.md "Webhooks").
const DESCRIPTION_MAX = 200;

export async function integrationsScreen(view, signal) {
  const items = h('ul', { class: 'endpoint-list', 'data-testid': 'endpoints' });
  const listStatus = h('p', { class: 'muted small', role: 'status', 'data-testid': 'endpoints-status' });
  const listTitle = h('h2', { id: 'endpoints-title', tabindex: '-1' }, 'Your endpoints');
  const secretSlot = h('div', { 'data-testid': 'secret-slot' });
  const load = async () => {
    const data = await api('GET', '/webhooks', undefined, { signal });
    const count = data.items.length;
    replace(listStatus, count ? `${count} endpoint${count === 1 ? '' : 's'}.` : 'No endpoints yet: add one to be called when work finishes.');
    replace(items, data.items.map((endpoint) => endpointCard(endpoint, {
      signal,
      onDeleted: (url) => {
        load().then(() => {
          replace(listStatus, `Deleted ${url}. ${listStatus.textContent}`);
          listTitle.focus();
        }).catch((error) => replace(listStatus, h('span', { class: 'form-error' }, error.message)));
      },
    })));
  };
  const form = endpointForm(signal, (created) => {
    showSecret(secretSlot, created, signal);
    load().catch((error) => replace(listStatus, h('span', { class: 'form-error' }, error.message)));
  });
  replace(
    view,
    h('h1', { tabindex: '-1' }, 'Integrations'),
    h('p', { class: 'intro' },
      'Webhooks: Syllabus calls your server when a plan is ready or a job ends, so it need not poll. ',
      'Each call is signed (Standard Webhooks: the ', h('code', {}, 'webhook-signature'), ' header) with the endpoint\'s secret.'),
    secretSlot,
    h('div', { class: 'columns' }, form,
      h('section', { class: 'card', 'aria-labelledby': 'endpoints-title' }, listTitle, listStatus, items)),
  );
  replace(items, h('li', { class: 'muted' }, 'Loading…'));
  // The form works even when the list cannot be read.
  await load().catch((error) => {
    if (signal.aborted) return;
    replace(items);
    replace(listStatus, h('span', { class: 'form-error' }, `Could not read your endpoints: ${error.message}`));
  });
}

// The form that adds an endpoint; `added(endpoint with its secret)` once the API created it.
function endpointForm(signal, added) {
  const controls = {
    url: h('input', { type: 'url', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://example.com/syllabus-hook' }),
    description: h('input', { type: 'text', autocomplete: 'off', maxlength: DESCRIPTION_MAX }),
  };
  const events = eventsField('webhook-events');
  controls.events = events.control;
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Add endpoint');
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-labelledby': 'add-endpoint-title', 'data-testid': 'add-endpoint' },
    h('h2', { id: 'add-endpoint-title' }, 'Add an endpoint'),
    field('webhook-url', 'URL', controls.url, 'An https address on the public internet that answers 2xx.', 'url'),
    events.control,
    field('webhook-description', 'Description (optional)', controls.description, `What it is for, up to ${DESCRIPTION_MAX} characters.`, 'description'),
    formError,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, formError);
    submit.disabled = true;
    try {
      const body = { url: controls.url.value.trim(), events: events.read() };
      if (controls.description.value.trim()) body.description = controls.description.value.trim();
      const endpoint = await api('POST', '/webhooks', body, { signal });
      controls.url.value = '';
      controls.description.value = '';
      events.set(DEFAULT_EVENTS);
      added(endpoint);
    } catch (error) {
      if (signal.aborted) return;
      (showErrors(form, controls, formError, error) || submit).focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// The event types as a group of checkboxes: `control` is the fieldset (`id`, its error slot
// `{id}-error`), `read()` the ticked types, `set(list)` ticks those.
function eventsField(id) {
  const boxes = EVENTS.map(([name]) =>
    h('input', { type: 'checkbox', id: `${id}-${name.replace('.', '-')}`, name: id, value: name, checked: DEFAULT_EVENTS.includes(name) }));
  const control = h(
    'fieldset',
    { class: 'field events', id, 'aria-describedby': `${id}-error`, 'data-field': 'events' },
    h('legend', {}, 'Events'),
    h('div', { class: 'event-boxes' },
      boxes.map((box, i) => h('div', { class: 'event-box' }, box,
        h('label', { for: box.id }, h('code', {}, EVENTS[i][0]), h('span', { class: 'muted small' }, EVENTS[i][1]))))),
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
  );
  return {
    control,
    read: () => boxes.filter((b) => b.checked).map((b) => b.value),
    set: (list) => boxes.forEach((b) => { b.checked = list.includes(b.value); }),
  };
}

// The secret of the endpoint just created, once: a read-only field with its copy button. It is
// forgotten when the learner says it is saved, when another endpoint is added, and when the screen
// is left (`signal`).
function showSecret(slot, endpoint, signal) {
  slot.forgetSecret?.();
  let secret = endpoint.secret;
  const said = h('span', { class: 'muted small', role: 'status', 'data-testid': 'secret-copy-status' });
  const input = h('input', {
    id: 'webhook-secret', type: 'text', readonly: true, value: secret, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'secret-notice', 'data-testid': 'secret', onfocus: () => input.select(),
  });
  const forget = () => {
    secret = null;
    input.value = '';
    slot.forgetSecret = null;
    replace(slot);
  };
  slot.forgetSecret = forget;
  signal.addEventListener('abort', forget, { once: true });
  const copy = async () => {
    replace(said);
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(secret);
      replace(said, 'Secret copied.');
    } catch {
      // No clipboard (an insecure origin, a denied permission): the text selected for the learner.
      input.focus();
      input.select();
      replace(said, 'Secret selected: press Ctrl+C (⌘C) to copy it.');
    }
  };
  replace(
    slot,
    h('section', { class: 'card secret', 'aria-labelledby': 'secret-title', 'data-testid': 'secret-card' },
      h('h2', { id: 'secret-title' }, 'Signing secret'),
      h('p', { class: 'notice behind', id: 'secret-notice' },
        h('strong', {}, 'Copy it now: you will not see this secret again.'), ' ',
        'Your server checks each call to ', h('span', { class: 'endpoint-url' }, endpoint.url),
        ' with it. If you lose it, delete the endpoint and add it again.'),
      h('label', { for: 'webhook-secret' }, 'Secret'),
      h('div', { class: 'share-row' }, input, h('button', { type: 'button', class: 'secondary', onclick: copy }, 'Copy secret')),
      said,
      h('div', { class: 'actions' }, h('button', {
        type: 'button', class: 'link',
        onclick: () => {
          forget();
          document.getElementById('endpoints-title')?.focus();
        },
      }, 'I have saved it: hide the secret'))),
  );
  input.focus();
}
