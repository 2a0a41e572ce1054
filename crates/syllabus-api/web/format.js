// How values read: durations, hours, dates, counts, a plan's status chip, a failure class in words.

import { h } from './dom.js';

export function minutes(total) {
  const hours = Math.floor(total / 60);
  const rest = total % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

// A duration for a small cell: 45m, 2h, 1h30.
export function shortMinutes(total) {
  const hours = Math.floor(total / 60);
  const rest = total % 60;
  if (hours === 0) return `${rest}m`;
  return rest === 0 ? `${hours}h` : `${hours}h${String(rest).padStart(2, '0')}`;
}

// Hours as a learner says them: 1 hour, 4 hours.
export function hours(n) {
  return `${n} hour${n === 1 ? '' : 's'}`;
}

export function date(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

// A count as the app's English texts write it: 2,000.
export function count(n) {
  return n.toLocaleString('en-US');
}

export function chip(status) {
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

export function explain(classification) {
  return CLASSES[classification] || 'Generation failed.';
}
