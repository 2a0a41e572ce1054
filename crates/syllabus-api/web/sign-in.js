// The sign-in screen: the development form (when the server offers it) and a pasted token.

import { api, forgetToken } from './api.js';
import { fieldError, h, replace } from './dom.js';
import { notice, session, useToken } from './session.js';

export function signInScreen(view) {
  const screen = h('section', { class: 'narrow' }, h('h1', { tabindex: '-1' }, 'Sign in'));
  if (notice) screen.append(h('p', { class: 'banner', role: 'status' }, notice));
  if (session.dev_sign_in) screen.append(devForm());
  screen.append(tokenForm());
  replace(view, screen);
}

function devForm() {
  const error = h('p', { class: 'field-error', id: 'name-error', hidden: true });
  const input = h('input', {
    id: 'name', name: 'name', autocomplete: 'username', required: true,
    'aria-describedby': 'name-hint name-error',
  });
  return h(
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
}

function tokenForm() {
  const tokenError = h('p', { class: 'field-error', id: 'token-error', hidden: true });
  const area = h('textarea', { id: 'token', rows: 3, 'aria-describedby': 'token-hint token-error', spellcheck: 'false' });
  return h(
    'form',
    {
      class: 'card', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        fieldError(area, tokenError, null);
        try {
          await useToken(area.value.trim().replace(/^Bearer\s+/i, ''));
        } catch {
          forgetToken();
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
  );
}
