// Who is signed in: the session the server reports for the token this tab holds, signing in
// with a token and out, and the header that shows the user.

import { api, forgetToken, keepToken, token } from './api.js';
import { h, replace } from './dom.js';
import { refresh } from './nav.js';

export let session = { user_id: null, dev_sign_in: false };

// What the sign-in screen says once (why the user was signed out), or null.
export let notice = null;

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

// Signs in with `t`: keeps it, asks the server who it names (a 401 throws) and opens the plans.
export async function useToken(t) {
  keepToken(t);
  session = await api('GET', '/session');
  notice = null;
  location.hash = '#/';
}

export function signOut(message) {
  forgetToken();
  session = { ...session, user_id: null };
  notice = message || null;
  if (location.hash !== '#/sign-in') location.hash = '#/sign-in';
  else refresh();
}

export function renderHeader() {
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
