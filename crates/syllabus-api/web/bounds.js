// The domain's bounds, read at start-up from the OpenAPI document the server serves
// (GET /api/v1/openapi.json), so this app never copies them: the schema of the request that
// creates a plan (`minLength`, `minimum`/`maximum`, `enum`), the plan it answers (`maxLength`:
// what a longer topic or notes are shortened to), the request that changes a plan (its weekly
// hours' `minimum`/`maximum`), the flashcards request (`minimum`, `maximum`, `default`), and the
// requests that edit modules and tasks and regenerate one module (issue #21). The schemas are found through the paths, whatever their names.
//
// A bound the document does not state, or every bound when it cannot be read, stays undefined:
// the screens then leave that number out of their hints, and the server, which validates every
// request, names the bound in its answer. Only the choice lists have a fallback (a select needs
// options); the server checks those too.

import { API } from './api.js';

export const bounds = {
  // Characters: the shortest topic accepted; the longest kept (a longer one is shortened).
  topic: { min: undefined, max: undefined },
  // Characters: the longest notes kept.
  notes: { max: undefined },
  weeklyHours: { min: undefined, max: undefined },
  // The weekly hours a plan may be changed to (PATCH /plans/{id}).
  editWeeklyHours: { min: undefined, max: undefined },
  skillLevels: ['beginner', 'intermediate', 'advanced'],
  learningStyles: ['reading', 'video', 'practice', 'mixed'],
  // Flashcards per request, and how many when the request does not say.
  cards: { min: undefined, max: undefined, default: undefined },
  // Editing a plan (issue #21): the longest title, a module's and a task's minutes, the most
  // modules a plan holds, the longest instruction for regenerating one module.
  title: { max: undefined },
  moduleMinutes: { min: undefined, max: undefined },
  taskMinutes: { min: undefined, max: undefined },
  modules: { max: undefined },
  instruction: { max: undefined },
};

// How long start-up waits for the document: the app works without it.
const LOAD_WITHIN_MS = 5000;

// Reads the document into `bounds`; never fails (what cannot be read keeps its fallback), and
// gives up after LOAD_WITHIN_MS so that a stalled answer cannot hold the app's start.
export async function loadBounds() {
  let doc;
  try {
    const signal = AbortSignal.timeout(LOAD_WITHIN_MS);
    const res = await fetch(`${API}/openapi.json`, { headers: { Accept: 'application/json' }, signal });
    if (!res.ok) return;
    doc = await res.json();
  } catch {
    return;
  }
  try {
    read(doc);
  } catch {
    // A document of another shape: the fallbacks stay.
  }
}

function read(doc) {
  const schema = new Schemas(doc);
  const request = schema.properties(schema.body('/plans', 'post'));
  const plan = schema.properties(schema.answer('/plans/{id}', 'get', '200'));
  const cards = schema.properties(schema.body('/plans/{id}/flashcards', 'post'));
  const edit = schema.properties(schema.body('/plans/{id}', 'patch'));

  bounds.topic.min = number(schema.of(request.topic, 'string')?.minLength);
  bounds.topic.max = number(schema.of(plan.topic, 'string')?.maxLength);
  bounds.notes.max = number(schema.of(plan.notes, 'string')?.maxLength);
  const hours = schema.of(request.weekly_hours, 'integer');
  bounds.weeklyHours = { min: number(hours?.minimum), max: number(hours?.maximum) };
  const editHours = schema.of(edit.weekly_hours, 'integer');
  bounds.editWeeklyHours = { min: number(editHours?.minimum), max: number(editHours?.maximum) };
  bounds.skillLevels = schema.choices(request.skill_level) || bounds.skillLevels;
  bounds.learningStyles = schema.choices(request.learning_style) || bounds.learningStyles;
  const moduleEdit = schema.properties(schema.body('/modules/{id}', 'patch'));
  const taskEdit = schema.properties(schema.body('/tasks/{id}', 'patch'));
  const range = (s) => ({ min: number(s?.minimum), max: number(s?.maximum) });
  bounds.title.max = number(schema.of(moduleEdit.title, 'string')?.maxLength);
  bounds.moduleMinutes = range(schema.of(moduleEdit.estimated_minutes, 'integer'));
  bounds.taskMinutes = range(schema.of(taskEdit.estimated_minutes, 'integer'));
  bounds.modules.max = number(schema.of(request.modules, 'array')?.maxItems);
  const regenerate = schema.properties(schema.body('/plans/{id}/modules/{module_id}/regenerate', 'post'));
  bounds.instruction.max = number(schema.of(regenerate.instruction, 'string')?.maxLength);
  const wanted = schema.of(cards.max_cards, 'integer');
  bounds.cards = {
    min: number(wanted?.minimum),
    max: number(wanted?.maximum),
    default: number(schema.resolve(cards.max_cards).default ?? wanted?.default),
  };
}

function number(value) {
  return Number.isFinite(value) ? value : undefined;
}

// Reading an OpenAPI 3.1 document's schemas: local `$ref`s, optional values written as
// `oneOf`/`anyOf` with null or as `type: [t, "null"]`.
class Schemas {
  constructor(doc) {
    this.doc = doc;
  }

  resolve(schema) {
    let s = schema;
    for (let hops = 0; s && typeof s.$ref === 'string' && hops < 16; hops += 1) {
      if (!s.$ref.startsWith('#/')) return {};
      s = s.$ref
        .slice(2)
        .split('/')
        .map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce((node, key) => node?.[key], this.doc);
    }
    return s && typeof s === 'object' ? s : {};
  }

  // The operation at `path` under the API's prefix (or as written, for a document whose server
  // URL holds the prefix).
  operation(path, method) {
    const paths = this.doc.paths || {};
    return (paths[API + path] || paths[path] || {})[method];
  }

  body(path, method) {
    const request = this.resolve(this.operation(path, method)?.requestBody);
    return request.content?.['application/json']?.schema;
  }

  answer(path, method, status) {
    const response = this.resolve(this.operation(path, method)?.responses?.[status]);
    return response.content?.['application/json']?.schema;
  }

  // An object schema's properties (those of each `allOf` part too), by name.
  properties(schema) {
    const s = this.resolve(schema);
    const own = { ...(s.properties || {}) };
    for (const part of s.allOf || []) Object.assign(own, this.properties(part));
    return own;
  }

  // The part of `schema` that describes a value of `type`, or undefined.
  of(schema, type, depth = 0) {
    const s = this.resolve(schema);
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.includes(type)) return s;
    if (depth > 8) return undefined;
    for (const part of [...(s.oneOf || []), ...(s.anyOf || []), ...(s.allOf || [])]) {
      const found = this.of(part, type, depth + 1);
      if (found) return found;
    }
    return undefined;
  }

  // The strings a value may be: an `enum`, or `oneOf` branches with a `const` each (of the
  // schema itself, or of its string part when it may also be null).
  choices(schema) {
    for (const s of [this.resolve(schema), this.of(schema, 'string')]) {
      if (!s) continue;
      const list = Array.isArray(s.enum) ? s.enum : (s.oneOf || []).map((b) => this.resolve(b).const);
      if (list.length > 0 && list.every((v) => typeof v === 'string')) return list;
    }
    return undefined;
  }
}
