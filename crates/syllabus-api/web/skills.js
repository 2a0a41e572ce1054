// The skill tree screen (#/plans/{id}/skills): build (or rebuild) the tree, and show it with
// its branches folded and unfolded from the keyboard.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { latestJob, runJob, watchJob } from './jobs.js';
import { loadPlan, planNav } from './views.js';

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

export async function skillsScreen(view, id, signal) {
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
