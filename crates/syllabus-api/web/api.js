// The API client: JSON requests to the API of the same origin (docs/api.md) with the bearer
// token this tab holds, and their problem answers as errors.

export const API = '/api/v1';
const TOKEN_KEY = 'syllabus.token';

export class ApiError extends Error {
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

// The bearer token this browser keeps, or null.
export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function keepToken(t) {
  localStorage.setItem(TOKEN_KEY, t);
}

export function forgetToken() {
  localStorage.removeItem(TOKEN_KEY);
}

// What a 401 does (sign the user out); set once at start-up.
let unauthorized = () => {};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function headers(extra = {}) {
  const all = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) all.Authorization = `Bearer ${t}`;
  return all;
}

// The error of an answer that is not OK, read from its problem body; a 401 signs the user out
// (except when asking who is signed in).
export async function failure(res, path) {
  let problem = null;
  try {
    problem = JSON.parse(await res.text());
  } catch {
    problem = null;
  }
  if (res.status === 401 && path !== '/session') unauthorized();
  return new ApiError(res.status, problem);
}

// `anonymous`: without the token (a public read: an expired token must not sign the reader out).
export async function api(method, path, body, { signal, anonymous = false } = {}) {
  const init = { method, headers: anonymous ? { Accept: 'application/json' } : headers(), signal };
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
