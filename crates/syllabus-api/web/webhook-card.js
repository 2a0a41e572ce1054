// One webhook endpoint on the integrations screen (integrations.js): its URL, events and state
// (disabled with the reason, and Re-enable), "Send test event", Delete after a confirmation, and
// its recent deliveries with every attempt (status code, duration, outcome), refreshed on request
// and followed after a test event until that delivery ends.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { date } from './format.js';

// The event types an endpoint can ask for, as the API names them, with what each means.
export const EVENTS = [
  ['plan.ready', 'A plan finished generating and is ready.'],
  ['plan.failed', "A plan's generation failed for good."],
  ['job.completed', 'Any job finished: a plan, flashcards, distractors, a skill tree…'],
  ['job.failed', 'Any job failed for good.'],
];

// How many deliveries the card shows (the newest).
const RECENT = 10;
// Following a test delivery: how often its state is read, and for how long before the learner
// is asked to refresh (a failing receiver is retried with growing gaps, for hours).
const FOLLOW_EVERY_MS = 1000;
const FOLLOW_FOR_MS = 90_000;

const STATUS = { pending: 'Pending', succeeded: 'Succeeded', failed: 'Failed' };
const CHIP = { pending: 'chip-pending', succeeded: 'chip-ready', failed: 'chip-failed' };
const OUTCOMES = {
  success: 'delivered',
  http_status: 'refused by the receiver',
  timeout: 'timed out',
  connection: 'could not connect',
  address_refused: 'address refused (not a public address)',
  too_large: 'answer too large',
};

// `onDeleted(url)` once the endpoint is deleted.
export function endpointCard(endpoint, { signal, onDeleted }) {
  let current = endpoint;
  const urlId = `endpoint-${endpoint.id}-url`;
  const head = h('div', { class: 'endpoint-body' });
  const status = h('p', { class: 'muted small endpoint-status', role: 'status', 'data-testid': 'endpoint-status' });
  // Each read of the deliveries reads the endpoint too: a failing delivery may have disabled it.
  const reread = async () => {
    const fresh = await api('GET', `/webhooks/${current.id}`, undefined, { signal });
    if (fresh.enabled === current.enabled && fresh.disabled_reason === current.disabled_reason) return;
    const action = head.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    current = fresh;
    draw();
    if (action) refocus(action);
  };
  const deliveries = deliveriesPart(endpoint.id, urlId, signal, reread);
  const card = h('li', { class: 'endpoint', 'data-endpoint': endpoint.id, 'aria-labelledby': urlId }, head, status, deliveries.el);
  // One action at a time: the buttons are marked disabled (aria-disabled, so a focused one keeps
  // the focus) while its request runs; redrawn buttons take the focus back (`refocus`).
  let busy = false;
  const refocus = (action) => {
    // Only when the focus was lost (its button redrawn): never taken from elsewhere.
    if (document.activeElement && document.activeElement !== document.body) return;
    (head.querySelector(`[data-action=${action}]`) || head.querySelector('[data-action]'))?.focus();
  };
  const act = async (action, said, work) => {
    if (busy) return;
    busy = true;
    for (const b of head.querySelectorAll('button')) b.setAttribute('aria-disabled', 'true');
    replace(status, said);
    try {
      await work();
    } catch (error) {
      if (signal.aborted) return;
      replace(status, h('span', { class: 'form-error' }, error.message));
    } finally {
      busy = false;
      for (const b of head.querySelectorAll('button')) b.removeAttribute('aria-disabled');
    }
    if (card.isConnected) refocus(action);
  };
  const reenable = () => act('test', 'Re-enabling…', async () => {
    current = await api('PATCH', `/webhooks/${current.id}`, { enabled: true }, { signal });
    draw();
    replace(status, 'Enabled again: deliveries are sent to it.');
  });
  const remove = () => {
    if (busy) return;
    if (!window.confirm(`Delete the endpoint ${current.url}? It is no longer called, and its deliveries are deleted with it.`)) return;
    act('delete', 'Deleting…', async () => {
      await api('DELETE', `/webhooks/${current.id}`, undefined, { signal });
      deliveries.stop();
      onDeleted(current.url);
    });
  };
  // The test event is queued by the action; its delivery is then followed with the buttons free.
  const test = async () => {
    let id = null;
    await act('test', 'Sending a test event…', async () => {
      ({ delivery_id: id } = await api('POST', `/webhooks/${current.id}/test`, undefined, { signal }));
      replace(status, 'Test event queued: waiting for its delivery…');
    });
    if (!id) return;
    const ended = await deliveries.follow(id);
    if (signal.aborted || !card.isConnected) return;
    if (!ended) replace(status, 'The test delivery is still being retried: press Refresh to see later attempts.');
    else if (ended.status === 'succeeded') replace(status, `Test event delivered${attemptSummary(ended)}.`);
    else replace(status, h('span', { class: 'form-error' }, `The test delivery failed${attemptSummary(ended)}.`));
  };
  const draw = () => {
    const e = current;
    replace(
      head,
      h('div', { class: 'endpoint-head' },
        h('h3', { class: 'endpoint-url', id: urlId }, e.url),
        h('span', { class: `chip ${e.enabled ? 'chip-ready' : 'chip-failed'}`, 'data-testid': 'endpoint-state' }, e.enabled ? 'Enabled' : 'Disabled')),
      e.description ? h('p', { class: 'endpoint-description' }, e.description) : null,
      h('p', { class: 'small endpoint-events' }, h('span', { class: 'muted' }, 'Events: '),
        ordered(e.events).flatMap((name, i) => [i ? ', ' : null, h('code', {}, name)])),
      e.enabled ? null : h('p', { class: 'failure small', 'data-testid': 'disabled-reason' },
        h('strong', {}, 'Disabled: '), e.disabled_reason ? withTimes(e.disabled_reason) : 'no deliveries are sent to it.'),
      h('div', { class: 'actions' },
        e.enabled
          ? h('button', { type: 'button', class: 'secondary', 'data-action': 'test', 'aria-describedby': urlId, onclick: test }, 'Send test event')
          : h('button', { type: 'button', 'data-action': 'reenable', 'aria-describedby': urlId, onclick: reenable }, 'Re-enable'),
        h('button', { type: 'button', class: 'secondary danger', 'data-action': 'delete', 'aria-describedby': urlId, onclick: remove }, 'Delete')),
    );
  };
  draw();
  deliveries.refresh(false);
  return card;
}

// The API's text with each RFC 3339 time in it ("deliveries failing since 2026-12-05T17:22:36Z")
// shown as the learner reads times.
function withTimes(text) {
  return text.split(/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))/)
    .map((part, i) => (i % 2 && !Number.isNaN(Date.parse(part)) ? when(part) : part));
}

// The event types in the form's order (unknown ones last).
function ordered(events) {
  const rank = (name) => {
    const i = EVENTS.findIndex(([n]) => n === name);
    return i < 0 ? EVENTS.length : i;
  };
  return [...events].sort((a, b) => rank(a) - rank(b));
}

// " (HTTP 204 in 35 ms)": the last attempt of a delivery, or nothing.
function attemptSummary(delivery) {
  const last = delivery.attempts?.[delivery.attempts.length - 1];
  if (!last) return '';
  const code = last.status_code === null || last.status_code === undefined ? OUTCOMES[last.outcome] || last.outcome : `HTTP ${last.status_code}`;
  return ` (${code} in ${last.duration_ms} ms)`;
}

// The recent deliveries of endpoint `id` (`reread()` reads the endpoint alongside): `el`,
// `refresh(withEndpoint)`, `follow(deliveryId)` (refreshes
// until that delivery ends; its last state, or null when it did not end in time) and `stop()`.
function deliveriesPart(id, urlId, signal, reread) {
  const titleId = `endpoint-${id}-deliveries`;
  const list = h('ol', { class: 'deliveries', 'data-testid': 'deliveries', 'aria-labelledby': titleId });
  const said = h('p', { class: 'muted small', role: 'status' });
  let stopped = false;
  let generation = 0;
  const refresh = async (withEndpoint = true) => {
    const mine = ++generation;
    replace(said, 'Reading…');
    try {
      const [data] = await Promise.all([
        api('GET', `/webhooks/${id}/deliveries?limit=${RECENT}`, undefined, { signal }),
        withEndpoint ? reread() : null,
      ]);
      // An older read answering late does not draw over a newer one.
      if (mine !== generation || stopped) return data.items;
      replace(list, data.items.map(deliveryItem));
      replace(said, data.items.length ? `Read at ${new Date().toLocaleTimeString()}.` : 'No deliveries yet.');
      return data.items;
    } catch (error) {
      if (!signal.aborted && mine === generation) replace(said, h('span', { class: 'form-error' }, `Could not read the deliveries: ${error.message}`));
      return null;
    }
  };
  const follow = async (deliveryId) => {
    const until = Date.now() + FOLLOW_FOR_MS;
    // Until it ends, the screen is left, or the card is drawn again (the list read afresh).
    while (!signal.aborted && !stopped && el.isConnected && Date.now() < until) {
      const items = await refresh();
      const delivery = items?.find((d) => d.id === deliveryId);
      if (delivery && delivery.status !== 'pending') return delivery;
      await pause(FOLLOW_EVERY_MS, signal);
    }
    return null;
  };
  const el = h(
    'div',
    { class: 'deliveries-part' },
    h('div', { class: 'deliveries-head' },
      h('h4', { id: titleId }, 'Recent deliveries'),
      h('button', { type: 'button', class: 'secondary', 'aria-describedby': `${titleId} ${urlId}`, onclick: () => refresh() }, 'Refresh')),
    said,
    list,
  );
  return { el, refresh, follow, stop: () => { stopped = true; } };
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// A time as the learner reads it; only the time of day when it is the day of `day` (an ISO time).
function when(iso, day) {
  if (!iso) return '';
  const at = new Date(iso);
  const sameDay = day && new Date(day).toDateString() === at.toDateString();
  return h('time', { datetime: iso }, sameDay ? at.toLocaleTimeString() : date(iso));
}

function deliveryItem(d) {
  return h(
    'li',
    { class: 'delivery', 'data-delivery': d.id, 'data-status': d.status },
    h('div', { class: 'delivery-head' },
      h('code', { class: 'event-type' }, d.event_type),
      h('span', { class: `chip ${CHIP[d.status] || ''}`, 'data-testid': 'delivery-status' }, STATUS[d.status] || d.status),
      h('span', { class: 'muted small' }, when(d.created_at))),
    d.status === 'pending' && d.next_attempt_at
      ? h('p', { class: 'muted small' }, 'Next attempt: ', when(d.next_attempt_at, d.created_at))
      : null,
    d.attempts?.length
      ? h('ol', { class: 'attempts-list', 'aria-label': `Attempts of this ${d.event_type} delivery` }, d.attempts.map((a) => attemptItem(a, d.created_at)))
      : h('p', { class: 'muted small' }, 'Not attempted yet.'),
  );
}

function attemptItem(a, day) {
  const outcome = OUTCOMES[a.outcome] || a.outcome;
  return h(
    'li',
    { class: `attempt small ${a.outcome === 'success' ? 'ok' : 'bad'}`, 'data-outcome': a.outcome },
    h('span', { class: 'attempt-code' }, a.status_code === null || a.status_code === undefined ? 'no answer' : `HTTP ${a.status_code}`),
    ' · ', `${a.duration_ms} ms`, ' · ', h('span', { class: 'attempt-outcome' }, outcome),
    ' · ', h('span', { class: 'muted' }, when(a.attempted_at, day)),
    a.response_excerpt ? h('q', { class: 'excerpt muted' }, a.response_excerpt) : null,
  );
}
