// Who is signed in: the session the server reports for the token this tab holds, signing in
// with a token and out, and the header that shows the user.

import { api, forgetToken, keepToken, token } from './api.js';
import { h, replace } from './dom.js';
import { refresh } from './nav.js';

export let session = { user_id: null, dev_sign_in: false };

// What the sign-in screen says once (why the user was signed out, or what signing in is for), or null.
export let notice = null;

// Where signing in leads back to, and what the learner asked to do there (a public plan's
// "Copy to my plans"), or null. Kept in this tab's memory only: a link cannot ask for it.
let after = null;
// The request the screen signed in for, until that screen takes it.
let intent = null;

// Opens the sign-in screen, saying `message`; once signed in, the learner is back at `hash`
// with `wanted` to be taken by that screen (takeIntent).
export function signInFirst(hash, message, wanted) {
  after = { hash, wanted };
  notice = message;
  location.hash = '#/sign-in';
}

// The request signing in was for, if it is `wanted` (taken once).
export function takeIntent(wanted) {
  if (intent !== wanted) return false;
  intent = null;
  return true;
}

export async function loadSession() {
  try {
    session = await api('GET', '/session');
  } catch (error) {
    if (error.status === 401) {
      forgetToken();
      session = await api('GET', '/session');
    } else {
      throw error;
    }
  }
}

// Signs in with `t`: keeps it, asks the server who it names (a 401 throws) and opens the plans,
// or the screen that asked for signing in (signInFirst).
export async function useToken(t) {
  keepToken(t);
  session = await api('GET', '/session');
  notice = null;
  const then = after;
  after = null;
  intent = then?.wanted ?? null;
  location.hash = then?.hash || '#/';
}

export function signOut(message) {
  forgetToken();
  session = { ...session, user_id: null };
  notice = message || null;
  after = null;
  if (location.hash !== '#/sign-in') location.hash = '#/sign-in';
  else refresh();
}

export function renderHeader() {
  const who = document.getElementById('who');
  if (!who) return;
  if (session.user_id) {
    const here = location.hash.split('?')[0] === '#/integrations';
    replace(
      who,
      h('a', { href: '#/integrations', class: 'nav-link', 'aria-current': here ? 'page' : null, 'data-testid': 'nav-integrations' }, 'Integrations'),
      h('span', { class: 'muted' }, 'Signed in as '),
      h('strong', { 'data-testid': 'user' }, session.user_id),
      token() ? h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out') : null,
    );
  } else if (location.hash.startsWith('#/sign-in')) {
    replace(who);
  } else {
    // Signed out on a page that needs no account (a shared plan).
    replace(who, h('a', { href: '#/sign-in' }, 'Sign in'));
  }
}
