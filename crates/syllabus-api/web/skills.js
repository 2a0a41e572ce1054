// The skill tree screen (#/plans/{id}/skills): build (or rebuild) the tree, and show it twice:
// drawn as a picture (skill-graph.js: a keyboard-navigable ARIA tree whose skills open their
// descriptions in a panel beside it) and as a nested list (branches folded from the keyboard).
// On wide screens the list is visually hidden but stays in the accessibility tree: it is the
// form every screen reader reads in browse mode, with nesting levels and the descriptions
// inline. Below 600 px the list is shown instead of the picture (app.css).
//
// The tree grows live (issue #24): while a skill_tree job for the plan runs, the plan's event
// stream (opened with ?progress=true, so that a ready plan's stream stays open) sends each
// top-level skill as a `skill` event {job_id, index, run, skill} once it is complete; they are
// drawn as they arrive, keyed by job, run and index (a repeated index replaces; another job's
// skill, or a later run's, starts afresh). When the job completes the saved tree is read and drawn (the last skills of
// an answer may never arrive as events). When it fails, the skills shown stay, with the failure
// and a Retry (jobs.js). The stream sends the current skills on connect, so a page opened
// while a job runs, or after it failed, shows the skills streamed so far.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { follow } from './events.js';
import { latestJob, runJob, watchJob } from './jobs.js';
import { skillPicture } from './skill-graph.js';
import { loadPlan, planNav } from './views.js';

function skillNode(node) {
  const label = h('span', {}, h('span', { class: 'path' }, node.path), ' ', node.title, h('span', { class: 'muted small' }, ` · depth ${node.depth}`));
  const description = node.description ? h('p', { class: 'description' }, node.description) : null;
  if (node.children.length === 0) {
    return h('li', { class: 'skill leaf' }, label, description);
  }
  return h('li', { class: 'skill' },
    h('details', { open: true, 'data-path': node.path }, h('summary', {}, label), description,
      h('ul', {}, node.children.map(skillNode))));
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function detailOf(node) {
  return [
    h('h3', {}, node.title),
    h('p', { class: 'muted small' }, `Skill ${node.path}, level ${node.depth}`),
    h('p', { 'data-testid': 'skill-description' }, node.description || 'No description.'),
  ];
}

// Wide enough for the picture (app.css): the list is then for screen readers only, so its
// branches leave the tab order (a screen reader still opens them) and Tab never lands on
// something unseen.
const WIDE = '(min-width: 600px)';

function listTabOrder(list, wide) {
  for (const summary of list.querySelectorAll('summary')) {
    if (wide) summary.setAttribute('tabindex', '-1');
    else summary.removeAttribute('tabindex');
  }
}

const detailHint = () => h('p', { class: 'muted small' }, 'Choose a skill (click it, or Enter) to read its description.');

export async function skillsScreen(view, id, signal) {
  const plan = await loadPlan(view, id, signal);
  if (!plan) return;
  const jobSlot = h('div', { class: 'job-slot', 'aria-live': 'polite' });
  const tree = h('section', { class: 'card', 'aria-labelledby': 'tree-title', 'data-testid': 'tree-card' });
  const detail = h('div', { class: 'skill-detail', 'aria-live': 'polite', 'data-testid': 'skill-detail' });
  // The saved tree (or null), the skills of the job streaming now, the jobs already saved.
  let saved = null;
  let live = { jobId: null, run: 0, skills: [] };
  const finished = new Set();
  let opened = null;
  const wide = window.matchMedia(WIDE);
  const onWidth = () => listTabOrder(tree, wide.matches);
  wide.addEventListener('change', onWidth);
  signal.addEventListener('abort', () => wide.removeEventListener('change', onWidth));

  const draw = () => {
    const streamed = live.skills.filter(Boolean);
    const roots = streamed.length ? streamed : saved?.skills;
    const focused = document.activeElement?.closest?.('[data-testid=skill-graph] [role=treeitem]');
    const focusedPath = tree.contains(focused) ? focused.getAttribute('data-path') : null;
    // The list (what a narrow screen and a screen reader use) keeps its focus and its folded
    // branches across a redraw: a live tree redraws at every skill.
    const summary = document.activeElement?.closest?.('.skill-list summary');
    const focusedBranch = tree.contains(summary) ? summary.parentElement.dataset.path : null;
    const folded = new Set(Array.from(tree.querySelectorAll('.skill-list details:not([open])'), (d) => d.dataset.path));
    tree.dataset.live = String(streamed.length > 0);
    if (!roots) {
      replace(tree, h('h2', { id: 'tree-title' }, 'Skill tree'), h('p', { class: 'muted' }, 'No skill tree yet.'));
      return;
    }
    const title = streamed.length
      ? `${plural(streamed.length, 'top-level skill')} so far (not saved yet)`
      : `${saved.node_count} skills, ${plural(saved.depth, 'level')} deep`;
    const picture = skillPicture(roots, {
      label: 'Skill tree',
      onOpen: (node) => {
        opened = node.path;
        // Only a change is written (and so announced by the live region).
        const key = JSON.stringify([node.path, node.title, node.description]);
        if (detail.dataset.key !== key) {
          detail.dataset.key = key;
          replace(detail, detailOf(node));
        }
      },
    });
    if (!opened && detail.dataset.key !== 'hint') {
      detail.dataset.key = 'hint';
      replace(detail, detailHint());
    }
    replace(
      tree,
      h('h2', { id: 'tree-title' }, title),
      h('div', { class: 'skill-view' },
        h('div', { class: 'skill-graph-box' }, picture.element),
        detail),
      h('div', { class: 'skill-list' },
        h('h3', { class: 'sr-only' }, 'The skill tree as a list'),
        h('ul', { class: 'skill-tree', 'data-testid': 'skill-tree' }, roots.map(skillNode))),
    );
    onWidth();
    for (const branch of tree.querySelectorAll('.skill-list details')) {
      if (folded.has(branch.dataset.path)) branch.open = false;
    }
    if (opened) picture.open(opened);
    if (focusedPath) picture.focus(focusedPath);
    if (focusedBranch) {
      const again = Array.from(tree.querySelectorAll('.skill-list details')).find((d) => d.dataset.path === focusedBranch);
      again?.querySelector(':scope > summary')?.focus();
    }
  };

  // The plan's stream, followed once while this screen is open: its `skill` events.
  let following = false;
  const followSkills = () => {
    if (following) return;
    following = true;
    follow(`/plans/${id}/events?progress=true`, (event, data) => {
      if (event !== 'skill' || finished.has(data.job_id)) return false;
      // Another job, or a later run of this one (a re-asked answer starts again at index 0):
      // the skills shown so far are dropped. An earlier run's, arriving late, are ignored.
      const run = data.run ?? 1;
      if (data.job_id === live.jobId && run < live.run) return false;
      if (data.job_id !== live.jobId || run > live.run) live = { jobId: data.job_id, run, skills: [] };
      live.skills[data.index] = data.skill;
      draw();
      return false;
    }, signal)
      .catch(() => {}) // The picture only misses the live skills; the job's end still redraws.
      .finally(() => { following = false; });
  };

  const waiting = () => h('div', { class: 'tree-loading' }, h('p', {}, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Building the skill tree…'));
  const done = (job) => {
    finished.add(job.id);
    live = { jobId: null, run: 0, skills: [] };
    load();
  };
  const generate = h(
    'button',
    {
      type: 'button', disabled: plan.status !== 'ready',
      onclick: () => {
        generate.disabled = true;
        followSkills();
        runJob(jobSlot, () => api('POST', `/plans/${id}/skill-tree`), waiting, done, signal)
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
      saved = await api('GET', `/plans/${id}/skill-tree`, undefined, { signal });
      generate.textContent = 'Rebuild skill tree';
    } catch (error) {
      if (error.status !== 404) throw error;
      saved = null;
    }
    draw();
  };
  await load();
  const job = await latestJob('skill_tree', (j) => j.payload.plan_id === id, signal);
  if (job && ['pending', 'processing', 'failed'].includes(job.status)) {
    generate.disabled = true;
    followSkills();
    watchJob(jobSlot, job, waiting, done, signal).finally(() => {
      generate.disabled = plan.status !== 'ready';
    });
  }
}
