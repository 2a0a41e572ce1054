// Jobs shown on a page: the latest of a type for this plan (or card), followed to its end, with
// its error and a retry button when it failed.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { followJob } from './events.js';
import { explain } from './format.js';

// The newest job of `type` that `matches`, or null (also when the lookup fails: it only adds to
// what a screen shows).
export async function latestJob(type, matches, signal) {
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
export async function runJob(slot, start, waiting, done, signal) {
  let job;
  try {
    job = await start();
  } catch (error) {
    replace(slot, h('p', { class: 'form-error', role: 'alert' }, error.message));
    return;
  }
  await watchJob(slot, job, waiting, done, signal);
}

export async function watchJob(slot, job, waiting, done, signal) {
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
