// The skill tree drawn as a picture (issue #24): an SVG the app lays out itself, left to right
// (the top-level skills in the first column, each skill's children in the next), every skill a
// box with its title (cut short, the whole title in its <title>), an edge from each parent to
// each child. The layout is a tidy tree: every leaf has a row of its own and a parent sits
// midway between its first and last child, so no two boxes overlap whatever the tree's shape.
//
// The picture is an ARIA tree (role="tree", one role="treeitem" per skill with its level,
// position and size in its set): one tab stop (a roving tabindex), the arrow keys move as drawn
// (Right: first child, Left: parent, Down / Up: next / previous sibling, Home / End: first /
// last top-level skill), Enter, Space or a click opens the skill's description (`onOpen`).

import { svg } from './dom.js';

// The drawing's units are CSS pixels (the picture scrolls inside its box, it does not shrink).
export const BOX = { w: 172, h: 34 };
const GAP_X = 36;
const ROW = 44;
const PAD = 8;
const TITLE_CHARS = 22;

// Where each skill goes: {items, width, height}; an item is {node, level (1 = top), index,
// setsize, parent, children, x, y} (x, y: the box's top left corner), in depth-first order.
export function layout(roots) {
  const items = [];
  let rows = 0;
  let levels = 0;
  const place = (node, level, parent, index, setsize) => {
    const item = { node, level, parent, index, setsize, children: [] };
    items.push(item);
    levels = Math.max(levels, level);
    const children = node.children || [];
    children.forEach((child, i) => item.children.push(place(child, level + 1, item, i, children.length)));
    const row = item.children.length ? (item.children[0].row + item.children[item.children.length - 1].row) / 2 : rows++;
    item.row = row;
    item.x = PAD + (level - 1) * (BOX.w + GAP_X);
    item.y = PAD + row * ROW;
    return item;
  };
  roots.forEach((root, i) => place(root, 1, null, i, roots.length));
  return {
    items,
    width: PAD * 2 + levels * BOX.w + Math.max(0, levels - 1) * GAP_X,
    height: PAD * 2 + Math.max(0, rows - 1) * ROW + (rows ? BOX.h : 0),
  };
}

// A title short enough for its box (the whole one is in the box's <title>).
export function shortTitle(title) {
  return title.length <= TITLE_CHARS ? title : `${title.slice(0, TITLE_CHARS - 1).trimEnd()}…`;
}

function edge(from, to) {
  const x1 = from.x + BOX.w;
  const y1 = from.y + BOX.h / 2;
  const x2 = to.x;
  const y2 = to.y + BOX.h / 2;
  const mid = (x1 + x2) / 2;
  return svg('path', { class: 'edge', d: `M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}` });
}

// The picture of `roots` (SkillNodes: {title, description, path, children}). `onOpen(node)` is
// called when a skill is opened. Returns {element, focus(path), open(path)}.
export function skillPicture(roots, { label = 'Skill tree', onOpen = () => {} } = {}) {
  const { items, width, height } = layout(roots);
  const byPath = new Map();
  const picture = svg('svg', {
    class: 'skill-graph', role: 'tree', 'aria-label': label, width, height,
    viewBox: `0 0 ${width} ${height}`, 'data-testid': 'skill-graph',
  });
  const edges = svg('g', { class: 'edges', 'aria-hidden': 'true' });
  for (const item of items) if (item.parent) edges.append(edge(item.parent, item));
  picture.append(edges);
  for (const item of items) {
    const { node } = item;
    const g = svg('g', {
      class: 'node', role: 'treeitem', tabindex: -1, 'data-path': node.path,
      'aria-level': item.level, 'aria-setsize': item.setsize, 'aria-posinset': item.index + 1,
      'aria-expanded': item.children.length ? 'true' : null, 'aria-selected': 'false',
      'aria-label': node.title, transform: `translate(${item.x} ${item.y})`,
    },
    svg('title', {}, node.title),
    svg('rect', { class: 'ring', x: -4, y: -4, width: BOX.w + 8, height: BOX.h + 8, rx: 9 }),
    svg('rect', { class: 'box', width: BOX.w, height: BOX.h, rx: 6 }),
    svg('text', { x: 10, y: BOX.h / 2, 'dominant-baseline': 'central' }, shortTitle(node.title)));
    item.el = g;
    byPath.set(node.path, item);
  }
  for (const item of items) picture.append(item.el);
  let current = items[0] || null;
  if (current) current.el.setAttribute('tabindex', '0');

  const focus = (item) => {
    if (!item) return;
    if (current) current.el.setAttribute('tabindex', '-1');
    current = item;
    item.el.setAttribute('tabindex', '0');
    item.el.focus();
  };
  const open = (item) => {
    for (const other of items) other.el.setAttribute('aria-selected', String(other === item));
    onOpen(item.node);
  };
  const itemOf = (target) => byPath.get(target.closest?.('[role=treeitem]')?.getAttribute('data-path'));
  const roots1 = items.filter((i) => !i.parent);
  const siblings = (item) => (item.parent ? item.parent.children : roots1);

  picture.addEventListener('keydown', (event) => {
    const item = itemOf(event.target);
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    const next = {
      ArrowRight: () => item.children[0],
      ArrowLeft: () => item.parent,
      ArrowDown: () => siblings(item)[item.index + 1],
      ArrowUp: () => siblings(item)[item.index - 1],
      Home: () => roots1[0],
      End: () => roots1[roots1.length - 1],
    }[event.key];
    if (next) {
      event.preventDefault();
      focus(next());
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open(item);
    }
  });
  picture.addEventListener('click', (event) => {
    const item = itemOf(event.target);
    if (!item) return;
    focus(item);
    open(item);
  });
  return {
    element: picture,
    focus: (path) => focus(byPath.get(path)),
    open: (path) => byPath.has(path) && open(byPath.get(path)),
  };
}
