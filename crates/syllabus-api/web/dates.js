// Calendar dates as the API writes them ("YYYY-MM-DD", the learner's local dates): arithmetic on
// them with no time zone involved, the learner's date of an instant, and how a date reads.
// Weeks are Monday to Sunday, as the schedule's (docs/api.md, "The study schedule").

// The days of a week, Monday first, as the API names them.
export const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const DAY_MS = 86_400_000;

// The learner's IANA time zone, as the browser knows it (UTC when it does not say).
export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

// A date as the instant of its midnight in UTC: only for arithmetic and for formatting in UTC.
function instant(iso) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function iso(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(date, days) {
  return iso(new Date(instant(date).getTime() + days * DAY_MS));
}

// Days from `from` to `to` (negative when `to` is earlier).
export function daysBetween(from, to) {
  return Math.round((instant(to) - instant(from)) / DAY_MS);
}

// The day's name as the API writes it: "monday".
export function weekday(date) {
  return DAYS[(instant(date).getUTCDay() + 6) % 7];
}

// The Monday of the date's week.
export function weekStart(date) {
  return addDays(date, -((instant(date).getUTCDay() + 6) % 7));
}

// The learner's date (in `zone`) of an instant (an RFC 3339 timestamp, a Date or milliseconds).
export function localDate(at, zone) {
  let format;
  try {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' });
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

const read = (date, options) => instant(date).toLocaleDateString('en-GB', { timeZone: 'UTC', ...options });

// "12 March", with the year when it is not the year of `today`.
export function longDate(date, today) {
  const year = today && date.slice(0, 4) === today.slice(0, 4) ? undefined : 'numeric';
  return read(date, { day: 'numeric', month: 'long', year });
}

// "Thursday 12 March" (with the year when it is not the year of `today`).
export function dayAndDate(date, today) {
  return `${read(date, { weekday: 'long' })} ${longDate(date, today)}`;
}

// "12 Mar": a week's label.
export function shortDate(date) {
  return read(date, { day: 'numeric', month: 'short' });
}

// The day of the month: "12".
export function dayOfMonth(date) {
  return String(Number(date.slice(8, 10)));
}

// "Mon", "Tue", … and "Monday", … for a day name of DAYS.
export const shortDay = (day) => day[0].toUpperCase() + day.slice(1, 3);
export const longDay = (day) => day[0].toUpperCase() + day.slice(1);
