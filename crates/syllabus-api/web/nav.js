// Showing the current route's screen again without a hash change (after a sign-out on the
// sign-in screen, or once a regenerated plan is stored). The router (app.js) says how.

let render = () => {};

export function onRefresh(handler) {
  render = handler;
}

export function refresh() {
  render();
}
