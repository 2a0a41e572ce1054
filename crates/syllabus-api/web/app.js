// Syllabus: the learner's web app. One ES module, no build step, no dependency: it talks to the
// JSON API of the same origin (docs/api.md) and follows its server-sent event streams with
// fetch (EventSource cannot send the Authorization header).
//
// Screens (hash routes, so the server only serves `/` and `/assets/*`):
//   #/                        plans: create form and list
//   #/plans/{id}              a plan: live previews, modules and tasks, attempts, regenerate
//   #/plans/{id}/flashcards   flashcards: generate, study
//   #/plans/{id}/skills       the skill tree
//   #/sign-in                 sign-in (development form, or a pasted token)

const API = '/api/v1';
const TOKEN_KEY = 'syllabus.token';
const PAGE_SIZE = 10;
const PLACEHOLDER_MODULES = 4;

// ---------------------------------------------------------------------------------------------
// DOM helpers: every text goes through textContent, never innerHTML.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// Shows `message` in a field's error slot and marks the field invalid (or clears both).
function fieldError(control, slot, message) {
  slot.textContent = message || '';
  slot.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

const main = () => document.getElementById('main');

function minutes(total) {
  const hours = Math.floor(total / 60);
  const rest = total % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

function date(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

function chip(status) {
  const labels = { pending: 'Generating', ready: 'Ready', failed: 'Failed' };
  return h('span', { class: `chip chip-${status}` }, labels[status] || status);
}

// What a failure class means, in plain words.
const CLASSES = {
  validation: "The model's answer did not follow the rules (its shape, lengths or limits).",
  provider_error: 'The language model service failed to answer.',
  rate_limit: 'The language model service is busy and asked us to slow down.',
  timeout: 'The language model took too long to answer.',
  capped: 'This plan has used all of its generation attempts.',
};

function explain(classification) {
  return CLASSES[classification] || 'Generation failed.';
}

// ---------------------------------------------------------------------------------------------
// The API client.

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  get code() {
    return this.problem.code;
  }
  get fields() {
    return this.problem.errors || [];
  }
}

function token() {
  return localStorage.getItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const all = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) all.Authorization = `Bearer ${t}`;
  return all;
}

// The error of an answer that is not OK, read from its problem body; a 401 signs the user out
// (except when asking who is signed in).
async function failure(res, path) {
  let problem = null;
  try {
    problem = JSON.parse(await res.text());
  } catch {
    problem = null;
  }
  if (res.status === 401 && path !== '/session') signOut('Your session has ended. Please sign in again.');
  return new ApiError(res.status, problem);
}

async function api(method, path, body, { signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, init);
  if (!res.ok) throw await failure(res, path);
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// Follows a server-sent event stream until `onEvent` returns true (the stream's end), the stream
// ends after a final event, or `signal` aborts. Reconnects with Last-Event-ID after the server's
// `retry:` delay, so a dropped connection resumes where it stopped. A stream that ends without a
// final event asks `onEnd` (when given) first: it resolves true when there is nothing more to
// follow (the server also ends a plan's stream when its generation was cancelled or gave up).
async function follow(path, onEvent, signal, onEnd) {
  let lastId = null;
  let retry = 2000;
  while (!signal.aborted) {
    let finished = false;
    try {
      const extra = { Accept: 'text/event-stream' };
      if (lastId) extra['Last-Event-ID'] = lastId;
      const res = await fetch(API + path, { headers: headers(extra), signal });
      if (!res.ok) throw await failure(res, path);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let carry = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // Line ends may be CRLF, LF or CR; a CR at the end of a chunk may be half of a CRLF.
        let text = carry + value;
        carry = text.endsWith('\r') ? '\r' : '';
        if (carry) text = text.slice(0, -1);
        buffer += text.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event = text;
            else if (field === 'data') data.push(text);
            else if (field === 'id') lastId = text;
            else if (field === 'retry' && /^\d+$/.test(text)) retry = Number(text);
          }
          if (data.length === 0) continue;
          if (onEvent(event, JSON.parse(data.join('\n')))) finished = true;
        }
      }
      if (finished) return;
      if (onEnd && !signal.aborted && (await onEnd())) return;
    } catch (error) {
      if (signal.aborted) return;
      // Too many streams open at once (other tabs): wait as the server asks, then try again.
      if (error instanceof ApiError && error.status === 429) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(retry, 5000)));
        continue;
      }
      if (error instanceof ApiError && error.status < 500) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}

// Follows a job's stream to its terminal status; resolves with the final Job.
async function followJob(id, signal) {
  let last = null;
  await follow(
    `/jobs/${id}/events`,
    (event, job) => {
      if (event !== 'status') return false;
      last = job;
      return ['completed', 'failed', 'cancelled'].includes(job.status);
    },
    signal,
  );
  return last;
}

// ---------------------------------------------------------------------------------------------
// Session.

let session = { user_id: null, dev_sign_in: false };

async function loadSession() {
  try {
    session = await api('GET', '/session');
  } catch (error) {
    if (error.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      session = await api('GET', '/session');
    } else {
      throw error;
    }
  }
}

let notice = null;

// Signs in with `t`: keeps it, asks the server who it names (a 401 throws) and opens the plans.
async function useToken(t) {
  localStorage.setItem(TOKEN_KEY, t);
  session = await api('GET', '/session');
  notice = null;
  location.hash = '#/';
}

function signOut(message) {
  localStorage.removeItem(TOKEN_KEY);
  session = { ...session, user_id: null };
  notice = message || null;
  if (location.hash !== '#/sign-in') location.hash = '#/sign-in';
  else route();
}

function renderHeader() {
  const who = document.getElementById('who');
  if (!who) return;
  if (session.user_id) {
    replace(
      who,
      h('span', { class: 'muted' }, 'Signed in as '),
      h('strong', { 'data-testid': 'user' }, session.user_id),
      token() ? h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out') : null,
    );
  } else {
    replace(who);
  }
}

function signInScreen(view) {
  const screen = h('section', { class: 'narrow' }, h('h1', { tabindex: '-1' }, 'Sign in'));
  if (notice) screen.append(h('p', { class: 'banner', role: 'status' }, notice));
  if (session.dev_sign_in) {
    const error = h('p', { class: 'field-error', id: 'name-error', hidden: true });
    const input = h('input', {
      id: 'name', name: 'name', autocomplete: 'username', required: true,
      'aria-describedby': 'name-hint name-error',
    });
    const form = h(
      'form',
      {
        class: 'card', novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          fieldError(input, error, null);
          try {
            const minted = await api('POST', '/session/dev', { name: input.value.trim() });
            await useToken(minted.token);
          } catch (err) {
            fieldError(input, error, err.fields.find((f) => f.field === 'name')?.message || err.message);
            input.focus();
          }
        },
      },
      h('h2', {}, 'Development sign-in'),
      h('p', { id: 'name-hint', class: 'muted' },
        'This server mints a token for any name you choose (DEV_SIGN_IN is on). Never enable it in production.'),
      h('label', { for: 'name' }, 'Your name'),
      input,
      error,
      h('button', { type: 'submit' }, 'Sign in'),
    );
    screen.append(form);
  }
  const tokenError = h('p', { class: 'field-error', id: 'token-error', hidden: true });
  const area = h('textarea', { id: 'token', rows: 3, 'aria-describedby': 'token-hint token-error', spellcheck: 'false' });
  screen.append(
    h(
      'form',
      {
        class: 'card', novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          fieldError(area, tokenError, null);
          try {
            await useToken(area.value.trim().replace(/^Bearer\s+/i, ''));
          } catch {
            localStorage.removeItem(TOKEN_KEY);
            fieldError(area, tokenError, 'This token is not accepted by the server (malformed, expired or wrongly signed).');
            area.focus();
          }
        },
      },
      h('h2', {}, 'Use a token'),
      h('p', { id: 'token-hint', class: 'muted' },
        'Paste a bearer token issued for this server. Behind an authenticating proxy that adds the Authorization header, you are signed in already.'),
      h('label', { for: 'token' }, 'Token'),
      area,
      tokenError,
      h('button', { type: 'submit' }, 'Use this token'),
    ),
  );
  replace(view, screen);
}

// ---------------------------------------------------------------------------------------------
// Plans: create form and list.

const LEVELS = ['beginner', 'intermediate', 'advanced'];
const STYLES = ['reading', 'video', 'practice', 'mixed'];

function field(id, label, control, hint) {
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.id = id;
  control.name = id;
  control.setAttribute('aria-describedby', [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' '));
  return h(
    'div',
    { class: 'field', 'data-field': id },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    control,
    error,
  );
}

function select(options, value) {
  return h('select', {}, options.map((o) => h('option', { value: o, selected: o === value }, o[0].toUpperCase() + o.slice(1))));
}

function createForm(prefill = {}) {
  const controls = {
    topic: h('input', { value: prefill.topic || '', autocomplete: 'off', maxlength: 5000 }),
    notes: h('textarea', { rows: 3 }),
    skill_level: select(LEVELS, prefill.skill_level || 'beginner'),
    weekly_hours: h('input', { type: 'number', inputmode: 'numeric', value: prefill.weekly_hours ?? 5 }),
    learning_style: select(STYLES, prefill.learning_style || 'mixed'),
    start_date: h('input', { type: 'date' }),
    deadline_date: h('input', { type: 'date' }),
  };
  if (prefill.notes) controls.notes.value = prefill.notes;
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Create plan');
  const form = h(
    'form',
    { class: 'card create', novalidate: true, 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'New learning plan'),
    field('topic', 'What do you want to learn?', controls.topic, 'At least 3 characters; longer than 200 is shortened.'),
    field('notes', 'Notes (optional)', controls.notes, 'Background, goals, constraints. Longer than 2,000 characters is shortened.'),
    h(
      'div',
      { class: 'row' },
      field('skill_level', 'Your level', controls.skill_level),
      field('weekly_hours', 'Hours per week', controls.weekly_hours, '0 to 80'),
      field('learning_style', 'Learning style', controls.learning_style),
    ),
    h('div', { class: 'row' }, field('start_date', 'Start (optional)', controls.start_date), field('deadline_date', 'Deadline (optional)', controls.deadline_date)),
    formError,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll('.field-error')) el.hidden = true;
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    formError.hidden = true;
    const hours = controls.weekly_hours.value.trim();
    const body = {
      topic: controls.topic.value,
      notes: controls.notes.value.trim() ? controls.notes.value : null,
      skill_level: controls.skill_level.value,
      weekly_hours: hours === '' ? null : Number(hours),
      learning_style: controls.learning_style.value,
      start_date: controls.start_date.value || null,
      deadline_date: controls.deadline_date.value || null,
    };
    if (body.weekly_hours === null) delete body.weekly_hours;
    submit.disabled = true;
    try {
      const plan = await api('POST', '/plans', body);
      created.set(plan.id, plan.input);
      location.hash = `#/plans/${plan.id}`;
    } catch (error) {
      let first = null;
      const others = [];
      for (const { field: name, message } of error.fields) {
        const slot = form.querySelector(`#${CSS.escape(name)}-error`);
        if (slot && controls[name]) {
          fieldError(controls[name], slot, message);
          first = first || controls[name];
        } else {
          others.push(`${name}: ${message}`);
        }
      }
      if (others.length || !error.fields.length) {
        formError.textContent = others.length ? others.join('; ') : error.message;
        formError.hidden = false;
      }
      (first || submit).focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// Truncation facts of plans created in this tab, shown once on their page.
const created = new Map();

function plansScreen(view, params) {
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

// ---------------------------------------------------------------------------------------------
// A plan.

function moduleCard(module, { preview = false, open = !preview } = {}) {
  const tasks = (module.tasks || []).slice().sort((a, b) => a.order - b.order);
  return h(
    'li',
    { class: `module${preview ? ' preview' : ''}`, 'data-order': module.order },
    h(
      'details',
      { open },
      h(
        'summary',
        {},
        h('span', { class: 'order', 'aria-hidden': 'true' }, module.order),
        h('span', { class: 'title' }, module.title),
        h('span', { class: 'minutes' }, `${tasks.length} task${tasks.length === 1 ? '' : 's'} · ${minutes(module.estimated_minutes)}`),
      ),
      module.description ? h('p', { class: 'description' }, module.description) : null,
      h(
        'ol',
        { class: 'tasks' },
        tasks.map((t) =>
          h(
            'li',
            {},
            h('span', { class: 'title' }, t.title),
            h('span', { class: 'minutes' }, minutes(t.estimated_minutes)),
            t.description ? h('p', { class: 'description' }, t.description) : null,
          ),
        ),
      ),
    ),
  );
}

function placeholderModule(index) {
  return h(
    'li',
    { class: 'module placeholder', 'aria-hidden': 'true', 'data-index': index },
    h('div', { class: 'summary-like' }, h('span', { class: 'order' }, index + 1), h('span', { class: 'bar' }), h('span', { class: 'bar short' })),
  );
}

function notFound(view, what) {
  replace(
    view,
    h('section', { class: 'narrow', 'data-testid': 'not-found' },
      h('h1', { tabindex: '-1' }, `${what} not found`),
      h('p', {}, `This ${what.toLowerCase()} does not exist, was deleted, or belongs to another account.`),
      h('p', {}, h('a', { href: '#/' }, 'Back to your plans'))),
  );
}

// The plan a screen shows, or null after showing "not found" (none, or another user's).
async function loadPlan(view, id, signal) {
  try {
    return await api('GET', `/plans/${id}`, undefined, { signal });
  } catch (error) {
    if (error.status !== 404) throw error;
    notFound(view, 'Plan');
    return null;
  }
}

function planNav(id, current) {
  const link = (hash, label, key) =>
    h('a', { href: hash, 'aria-current': current === key ? 'page' : null }, label);
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Plan sections' },
    link(`#/plans/${id}`, 'Plan', 'plan'),
    link(`#/plans/${id}/flashcards`, 'Flashcards', 'flashcards'),
    link(`#/plans/${id}/skills`, 'Skill tree', 'skills'),
  );
}

async function planScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  // What changes size (the modules) comes last, so nothing above it moves while it fills in.
  const status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const body = h('div', { class: 'plan-body' });
  const attempts = h('details', { class: 'card attempts' });
  const actions = h('div', { class: 'actions' });
  const facts = created.get(id);
  created.delete(id);
  const truncated = [];
  if (facts?.topic_truncated) truncated.push(`Your topic was ${facts.topic_original_length} characters long and was shortened to 200.`);
  if (facts?.notes_truncated) truncated.push(`Your notes were ${facts.notes_original_length} characters long and were shortened to 2,000.`);
  replace(
    view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')),
    h('h1', { tabindex: '-1', 'data-testid': 'plan-title' }, plan.topic),
    h('p', { class: 'meta' },
      chip(plan.status),
      ` ${plan.skill_level} · ${plan.weekly_hours} h/week · ${plan.learning_style}`,
      plan.start_date ? ` · from ${plan.start_date}` : '',
      plan.deadline_date ? ` · by ${plan.deadline_date}` : ''),
    truncated.length ? h('p', { class: 'banner', 'data-testid': 'truncated' }, truncated.join(' ')) : null,
    planNav(id, 'plan'),
    status,
    actions,
    attempts,
    body,
  );

  const renderAttempts = async () => {
    const page = await api('GET', `/plans/${id}/attempts?limit=20`, undefined, { signal });
    replace(
      attempts,
      h('summary', {}, h('h2', {}, `Attempts (${page.items.length})`)),
      page.items.length === 0
        ? h('p', { class: 'muted' }, 'No attempt has ended yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { 'data-testid': 'attempts' },
              h('thead', {}, h('tr', {}, ['#', 'Result', 'Class', 'Duration', 'Modules', 'Timeout extended', 'Note'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                page.items.map((a) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, a.number ?? '—'),
                    h('td', {}, a.status === 'success' ? 'Success' : 'Failure'),
                    h('td', {}, a.classification ?? '—'),
                    h('td', {}, `${(a.duration_ms / 1000).toFixed(1)} s`),
                    h('td', {}, a.modules_count),
                    h('td', {}, a.timeout_extended ? 'yes' : 'no'),
                    h('td', {}, a.error || (a.effort_normalized ? 'Efforts adjusted to the allowed ranges.' : '')),
                  ),
                ),
              ),
            ),
          ),
    );
  };

  // `running`: a generation job of this plan is queued or running (a pending plan whose job was
  // cancelled or gave up is not generating, and may be regenerated).
  const renderActions = (p, running = p.status === 'pending') => {
    const capped = p.attempts_used >= p.attempts_cap;
    const reason = capped
      ? `All ${p.attempts_cap} generation attempts are used.`
      : running
        ? 'A generation is in progress.'
        : `${p.attempts_cap - p.attempts_used} of ${p.attempts_cap} attempts left.`;
    const message = h('p', { class: 'muted small', id: 'regen-reason' }, reason);
    const button = h(
      'button',
      {
        type: 'button', class: 'secondary', disabled: capped || running,
        'aria-describedby': 'regen-reason',
        onclick: async () => {
          button.disabled = true;
          try {
            const job = await api('POST', `/plans/${id}/regenerate`);
            replace(message, h('span', { class: 'spinner', 'aria-hidden': 'true' }),
              'Regenerating… the current modules stay until new ones are stored.');
            const end = await followJob(job.id, signal);
            if (signal.aborted || !end) return;
            if (end.status === 'completed') {
              route();
              return;
            }
            replace(message, end.status === 'failed'
              ? `Regenerating failed: ${explain(end.error?.classification)}`
              : 'The regenerate job was cancelled.');
          } catch (error) {
            if (signal.aborted) return;
            replace(message, error.message);
          }
          button.disabled = false;
        },
      },
      'Regenerate',
    );
    replace(actions, button, message);
  };

  // Streamed modules stay folded as they were previewed (opening them would move the page under
  // the learner's eyes); a plan opened ready shows its tasks.
  const renderReady = (p, { streamed = false } = {}) => {
    const modules = p.modules.slice().sort((a, b) => a.order - b.order);
    const taskCount = modules.reduce((n, m) => n + m.tasks.length, 0);
    replace(status, h('p', { 'data-testid': 'total' }, `${modules.length} modules, ${taskCount} tasks, ${minutes(p.total_minutes)} in all.`,
      streamed ? h('span', { class: 'muted' }, ' Open a module to see its tasks.') : null));
    replace(body, h('ol', { class: 'modules', 'data-testid': 'modules' }, modules.map((m) => moduleCard(m, { open: !streamed }))));
  };

  const renderFailed = (p) => {
    const last = p.latest_attempt;
    const capped = p.attempts_used >= p.attempts_cap;
    // At the top, where the progress was: the first thing a learner reads.
    replace(body);
    replace(
      status,
      h(
        'div',
        { class: 'failure', 'data-testid': 'plan-failed' },
        h('h2', {}, 'This plan could not be generated'),
        h('p', {}, last ? explain(last.classification) : 'Generation failed.'),
        last?.error ? h('p', { class: 'muted' }, last.error) : null,
        capped
          ? h('p', {}, 'It used all of its attempts. ',
              h('a', { href: `#/?topic=${encodeURIComponent(p.topic)}` }, 'Start a new plan with this topic'),
              ' — a shorter, more specific topic often helps.')
          : h('p', {}, 'You can regenerate it below.'),
      ),
    );
  };

  const render = (p, options) => {
    renderActions(p);
    if (p.status === 'ready') renderReady(p, options);
    else if (p.status === 'failed') renderFailed(p);
  };

  render(plan);
  renderAttempts().catch(() => {});
  if (plan.status !== 'pending') return;

  // Pending with no generation queued or running (its job was cancelled or gave up): say so and
  // offer what is possible, instead of waiting for modules that will not come. Asked on opening
  // and again when the plan's event stream ends while the plan is still pending.
  const stopped = async (p) => {
    const job = await latestJob('plan_generation', (j) => j.payload.plan_id === id, signal);
    if (!job || !['failed', 'cancelled'].includes(job.status)) return false;
    renderActions(p, false);
    replace(body);
    replace(status, h('p', { 'data-testid': 'plan-stopped' },
      job.status === 'cancelled'
        ? 'Generation was cancelled before the plan was written. Regenerate it to try again.'
        : `Generation stopped: ${explain(job.error?.classification)} Regenerate it to try again.`));
    return true;
  };
  if (await stopped(plan)) return;

  // Pending: placeholders that the streamed modules replace one by one.
  const list = h('ol', { class: 'modules', 'data-testid': 'previews', 'aria-busy': 'true' });
  let shown = 0;
  const reset = () => {
    shown = 0;
    replace(list, Array.from({ length: PLACEHOLDER_MODULES }, (_, i) => placeholderModule(i)));
  };
  reset();
  replace(body, list);
  const say = (text) => replace(status, h('p', {}, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text));
  say('Generating your plan… modules appear here as the model writes them.');
  let attempt = null;
  let latest = plan;
  follow(
    `/plans/${id}/events`,
    (event, data) => {
      if (event === 'module') {
        if (attempt !== null && data.attempt_number !== attempt) reset();
        attempt = data.attempt_number;
        const card = moduleCard(data.module, { preview: true });
        const slot = list.children[data.index];
        if (slot) slot.replaceWith(card);
        else list.append(card);
        shown = Math.max(shown, data.index + 1);
        say(`Generating your plan… ${shown} module${shown === 1 ? '' : 's'} so far.`);
        return false;
      }
      if (event === 'attempt') {
        renderAttempts().catch(() => {});
        if (data.status === 'failure') {
          say(`Attempt ${data.number ?? ''} failed: ${explain(data.classification)} Trying again…`);
          attempt = null;
          reset();
        }
        return false;
      }
      if (event === 'status') {
        latest = data;
        if (data.status === 'pending') return false;
        list.removeAttribute('aria-busy');
        api('GET', `/plans/${id}`, undefined, { signal })
          .then((p) => {
            const chipEl = view.querySelector('.meta .chip');
            if (chipEl) chipEl.replaceWith(chip(p.status));
            render(p, { streamed: true });
          })
          .catch(() => {});
        return true;
      }
      return false;
    },
    signal,
    // Ended while pending: the generation was cancelled or gave up (else follow reconnects).
    async () => {
      if (!(await stopped(latest))) return false;
      list.removeAttribute('aria-busy');
      return true;
    },
  ).catch((error) => {
    if (!signal.aborted) replace(status, h('p', { class: 'form-error', role: 'alert' }, error.message));
  });
}

// ---------------------------------------------------------------------------------------------
// Jobs shown on a page: the latest of a type for this plan (or card), with its error and retry.

// The newest job of `type` that `matches`, or null (also when the lookup fails: it only adds to
// what a screen shows).
async function latestJob(type, matches, signal) {
  try {
    const page = await api('GET', `/jobs?type=${type}&limit=50`, undefined, { signal });
    return page.items.find(matches) || null;
  } catch {
    return null;
  }
}

function jobFailure(job, onRetry) {
  const button = h('button', { type: 'button', onclick: () => onRetry(button) }, 'Retry');
  return h(
    'div',
    { class: 'failure', role: 'alert', 'data-testid': 'job-failed' },
    h('p', {}, h('strong', {}, 'Generation failed. '), job.error ? explain(job.error.classification) : ''),
    job.error?.message ? h('p', { class: 'muted' }, job.error.message) : null,
    button,
  );
}

// Runs `start()` (which returns a Job), shows `waiting` until it ends, then calls `done()`; a
// failed job shows its error with a retry button (POST /jobs/{id}/retry).
async function runJob(slot, start, waiting, done, signal) {
  let job;
  try {
    job = await start();
  } catch (error) {
    replace(slot, h('p', { class: 'form-error', role: 'alert' }, error.message));
    return;
  }
  await watchJob(slot, job, waiting, done, signal);
}

async function watchJob(slot, job, waiting, done, signal) {
  replace(slot, waiting());
  let end;
  try {
    end = await followJob(job.id, signal);
  } catch (error) {
    if (!signal.aborted) replace(slot, h('p', { class: 'form-error', role: 'alert' }, error.message));
    return;
  }
  if (!end || signal.aborted) return;
  if (end.status === 'cancelled') {
    replace(slot, h('p', { class: 'muted', role: 'status' }, 'This job was cancelled.'));
  } else if (end.status === 'failed') {
    replace(
      slot,
      jobFailure(end, (button) => {
        button.disabled = true;
        runJob(slot, () => api('POST', `/jobs/${end.id}/retry`), waiting, done, signal).finally(() => {
          button.disabled = false;
        });
      }),
    );
  } else {
    replace(slot);
    done(end);
  }
}

// ---------------------------------------------------------------------------------------------
// Flashcards.

function shuffle(items) {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

async function flashcardsScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  const jobSlot = h('div', { class: 'job-slot', 'aria-live': 'polite' });
  const study = h('section', { class: 'card study', 'aria-labelledby': 'study-title' });
  const count = h('input', { type: 'number', value: 10, min: 1, max: 50, inputmode: 'numeric' });
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
        Array.from({ length: Math.min(n, 6) }, () => h('li', { class: 'flashcard placeholder' }, h('span', { class: 'bar' }), h('span', { class: 'bar short' })))));
  const form = h(
    'form',
    {
      class: 'card', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        formError.hidden = true;
        const body = { max_cards: Number(count.value) };
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
          placeholders(body.max_cards),
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
      h('div', { class: 'field' }, h('label', { for: 'max_cards' }, 'How many (1–50)'), Object.assign(count, { id: 'max_cards' }), formError)),
    generate,
  );
  replace(
    view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')),
    h('h1', { tabindex: '-1' }, `Flashcards: ${plan.topic}`),
    planNav(id, 'flashcards'),
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
    let content;
    if (card.mode === 'multiple_choice') {
      const options = shuffle([card.answer, ...card.distractors]);
      const group = `choice-${card.id}`;
      content = h(
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
    } else {
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
              () => loadCards(card.id),
              signal,
            ).finally(() => { more.disabled = false; });
          },
        },
        'Make it multiple choice',
      );
      content = h('div', { 'data-testid': 'question-answer' },
        h('p', { class: 'question' }, card.question), answer,
        h('div', { class: 'actions' }, reveal, more), distractorSlot);
    }
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
    watchJob(jobSlot, job, placeholders(job.payload.max_cards || 10), () => loadCards(), signal).finally(() => {
      generate.disabled = plan.status !== 'ready';
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Skill tree.

function skillNode(node) {
  const label = h('span', {}, h('span', { class: 'path' }, node.path), ' ', node.title, h('span', { class: 'muted small' }, ` · depth ${node.depth}`));
  const description = node.description ? h('p', { class: 'description' }, node.description) : null;
  if (node.children.length === 0) {
    return h('li', { class: 'skill leaf' }, label, description);
  }
  return h('li', { class: 'skill' },
    h('details', { open: true }, h('summary', {}, label), description,
      h('ul', {}, node.children.map(skillNode))));
}

async function skillsScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  const jobSlot = h('div', { class: 'job-slot', 'aria-live': 'polite' });
  const tree = h('section', { class: 'card', 'aria-labelledby': 'tree-title' });
  const waiting = () => h('div', { class: 'tree-loading' }, h('p', {}, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Building the skill tree…'),
    h('ul', { class: 'skill-tree', 'aria-hidden': 'true' }, Array.from({ length: 3 }, () => h('li', { class: 'skill placeholder' }, h('span', { class: 'bar' })))));
  const generate = h(
    'button',
    {
      type: 'button', disabled: plan.status !== 'ready',
      onclick: () => {
        generate.disabled = true;
        runJob(jobSlot, () => api('POST', `/plans/${id}/skill-tree`), waiting, () => load(), signal)
          .finally(() => { generate.disabled = plan.status !== 'ready'; });
      },
    },
    'Generate skill tree',
  );
  replace(
    view,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← Plans')),
    h('h1', { tabindex: '-1' }, `Skill tree: ${plan.topic}`),
    planNav(id, 'skills'),
    h('div', { class: 'actions' }, generate,
      plan.status !== 'ready' ? h('span', { class: 'muted small' }, 'A skill tree can be built once the plan is ready.') : null),
    tree,
    jobSlot,
  );
  const load = async () => {
    try {
      const data = await api('GET', `/plans/${id}/skill-tree`, undefined, { signal });
      generate.textContent = 'Rebuild skill tree';
      replace(
        tree,
        h('h2', { id: 'tree-title' }, `${data.node_count} skills, ${data.depth} level${data.depth === 1 ? '' : 's'} deep`),
        h('ul', { class: 'skill-tree', 'data-testid': 'skill-tree' }, data.skills.map(skillNode)),
      );
    } catch (error) {
      if (error.status !== 404) throw error;
      replace(tree, h('h2', { id: 'tree-title' }, 'Skill tree'), h('p', { class: 'muted' }, 'No skill tree yet.'));
    }
  };
  await load();
  const job = await latestJob('skill_tree', (j) => j.payload.plan_id === id, signal);
  if (job && ['pending', 'processing', 'failed'].includes(job.status)) {
    generate.disabled = true;
    watchJob(jobSlot, job, waiting, () => load(), signal).finally(() => {
      generate.disabled = plan.status !== 'ready';
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Routing.

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
  if (!session.user_id && path !== '/sign-in') {
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
    } else if (path === '/') {
      plansScreen(view, { prefill: query.get('topic') ? { topic: query.get('topic') } : {} });
    } else if ((m = path.match(/^\/plans\/([0-9a-f-]{36})$/))) {
      await planScreen(view, m[1], controller.signal);
    } else if ((m = path.match(/^\/plans\/([0-9a-f-]{36})\/flashcards$/))) {
      await flashcardsScreen(view, m[1], controller.signal);
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
  try {
    await loadSession();
  } catch (error) {
    replace(view, h('p', { role: 'alert' }, `The server did not answer: ${error.message}`));
    return;
  }
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
