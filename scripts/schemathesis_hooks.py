"""schemathesis hooks for scripts/schemathesis.sh: the two things the document cannot say.

A plan's skill tree exists only once a skill_tree job has built it (the document answers 404
until then, and the run has no workers): the stateful check that a resource a POST created can
be read at once does not apply to this sub-resource, and only that failure is dropped. Nor does it
to POST /api/v1/plans/{id}/flashcards with a generated module_id: its 404 is for that module (not
one of the plan's), which the body names, not the path.

POST /api/v1/plans refuses a deadline_date before start_date: a relation between two fields that
JSON Schema cannot state, so generated bodies get their two dates in order. Each date keeps its
own (valid or invalid) value, so negative cases stay negative. PATCH /api/v1/plans/{id} checks
the same relation against the dates the plan keeps: a patch that sets one valid date clears the
other (null), so it cannot fall on the wrong side of a stored one. An import's (`modules`) titles
must hold a letter or digit: a schema-valid title is given its position as a suffix, which has
one (a title the schema refuses, such as one with NUL, is left alone). The same holds for the
titles of a plan's hand edits (PATCH /api/v1/modules/{id} and /api/v1/tasks/{id}, POST
/api/v1/plans/{id}/modules and /api/v1/modules/{id}/tasks). Their `order` must be within the
module's or task's scope (1..N, 1..N+1 for an addition) and a task's `module_id` a module of its
own plan: relations to stored rows that JSON Schema cannot state. So a schema-valid `order`
(a whole number from 1) becomes 1, which every scope has, and a schema-valid `module_id` (a UUID)
is left out; values the schema refuses are kept, so negative cases stay negative.

POST /api/v1/webhooks (issue #23) takes any string as `url` in the document, but only an absolute
https URL to a public host is accepted (the outbound rules, 422 otherwise): a schema-valid `url`
becomes `https://hooks.example.invalid/<n>` (a name under the reserved `.invalid`, which never
resolves), in every phase (`before_call`: the coverage phase applies no map hook); a body whose
`url` the schema refuses is sent as generated, so negative cases stay negative. Should a 422
naming only `url` still come, it is dropped. Nothing is ever sent in this run anyway: creating an endpoint only stores it, the
server runs without workers (WORKERS=false), and deliveries are made only by workers, on events.

GET /api/v1/usage (issue #22) answers a range of at most 366 days with `to` not before `from`
(`to` defaults to today, `from` to the first day of this month): two more relations. Valid
dates are brought into a valid range (`to` kept, `from` moved within 366 days before it; a lone
`from` moved within the last 366 days); invalid values are kept. The coverage phase applies no
map hook, so its 400 for such a range (naming `to`, saying the range is reversed or too long) is
dropped there, and only that one.

An `Idempotency-Key` (issue #23) is the client's promise that a request sent again under it is
the same request, which a fuzzer cannot keep: it draws keys from a small space ("0", "a", ...)
and sends different requests under them, which the API rightly refuses (422
`IDEMPOTENCY_KEY_REUSED`). So a valid generated key (1-255 visible ASCII characters) is made
unique before the call (its first characters, a dash, a random suffix: still valid); an invalid
one, and any key of a case whose headers are negative on purpose, is sent as generated, so the 400 and 401
cases stay. Should a key still be reused, a 422
`IDEMPOTENCY_KEY_REUSED` is dropped only when the API stored that key (a 2xx) for a different
request (method, path, SHA-256 of the body bytes): a 422 for a key never used, or used for this
very request, is still a failure. Replays themselves are tested end to end
(tests/tests/e2e/idempotency.rs).
"""

import datetime
import hashlib
import urllib.parse
import uuid

import schemathesis


def _date(value):
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


# The hand edits of a plan (issue #21): bodies with a title (and a new module's tasks' titles).
EDITS = {
    ("PATCH", "/api/v1/modules/{id}"),
    ("PATCH", "/api/v1/tasks/{id}"),
    ("POST", "/api/v1/plans/{id}/modules"),
    ("POST", "/api/v1/modules/{id}/tasks"),
}


@schemathesis.hook
def map_body(context, body):
    op = context.operation
    if op is None or not isinstance(body, dict):
        return body
    if (op.method.upper(), op.path) in EDITS:
        return _placed(_titled([body])[0])
    if op.method.upper() == "POST" and op.path == "/api/v1/webhooks":
        return _hooked(body)
    create = op.method.upper() == "POST" and op.path == "/api/v1/plans"
    patch = op.method.upper() == "PATCH" and op.path == "/api/v1/plans/{id}"
    if not (create or patch):
        return body
    if create and isinstance(body.get("modules"), list):
        body = dict(body, modules=_titled(body["modules"]))
    start, deadline = _date(body.get("start_date")), _date(body.get("deadline_date"))
    if start and deadline and deadline < start:
        body = dict(body, start_date=body["deadline_date"], deadline_date=body["start_date"])
    elif patch and start and "deadline_date" not in body:
        body = dict(body, deadline_date=None)
    elif patch and deadline and "start_date" not in body:
        body = dict(body, start_date=None)
    return body


_HOOKS = iter(range(1, 1 << 30))


def _hooked(body):
    """A schema-valid webhook URL made one the outbound rules accept, and that never resolves."""
    url = body.get("url")
    if isinstance(url, str) and len(url) <= 2048:
        body = dict(body, url=f"https://hooks.example.invalid/{next(_HOOKS)}")
    return body


def _placed(body):
    body = dict(body)
    order = body.get("order")
    if isinstance(order, (int, float)) and not isinstance(order, bool) and order >= 1 and order == int(order):
        body["order"] = 1
    module_id = body.get("module_id")
    if isinstance(module_id, str):
        try:
            uuid.UUID(module_id)
            if len(module_id) == 36:
                del body["module_id"]
        except ValueError:
            pass
    return body


def _titled(items, path="m"):
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            item = dict(item)
            title = item.get("title")
            if isinstance(title, str) and title and "\x00" not in title and len(title) < 150:
                item["title"] = f"{title} {path}{i + 1}"
            if isinstance(item.get("tasks"), list):
                item["tasks"] = _titled(item["tasks"], f"{path}{i + 1}t")
        out.append(item)
    return out


@schemathesis.hook
def before_call(context, case, kwargs):
    op = case.operation
    if op.method.upper() == "POST" and op.path == "/api/v1/webhooks" and isinstance(case.body, dict):
        case.body = _hooked(case.body)


@schemathesis.hook
def map_query(context, query):
    op = context.operation
    if op is None or not isinstance(query, dict):
        return query
    if not (op.method.upper() == "GET" and op.path == "/api/v1/usage"):
        return query
    start, end = _date(query.get("from")), _date(query.get("to"))
    if start is None:
        return query
    limit = end or datetime.datetime.now(datetime.timezone.utc).date()
    if start > limit or (limit - start).days > 365:
        query = dict(query, **{"from": limit.isoformat()})
    return query


# Idempotency keys the API stored: key -> {(method, path, body SHA-256)}.
_STORED_KEYS = {}


def _keyed_request(response):
    request = getattr(response, "request", None)
    key = request.headers.get("Idempotency-Key") if request is not None else None
    if key is None:
        return None
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    path = urllib.parse.urlsplit(request.url).path
    return key, (request.method.upper(), path, hashlib.sha256(body).hexdigest())


def _valid_key(key):
    return isinstance(key, str) and 1 <= len(key) <= 255 and all("!" <= c <= "~" for c in key)


def _negative_headers(case):
    """A case whose headers are negative on purpose (a header left out, doubled or invalid): sent
    as generated, since an edit of the headers makes schemathesis re-derive which of them the
    case negates."""
    meta = getattr(case, "meta", None)
    info = (getattr(meta, "components", None) or {}).get("header")
    mode = getattr(info, "mode", None)
    if getattr(mode, "value", mode) == "negative":
        return True
    data = getattr(getattr(meta, "phase", None), "data", None)
    location = getattr(data, "parameter_location", None)
    scenario = getattr(data, "scenario", None)
    return getattr(location, "value", location) == "header" and getattr(scenario, "value", scenario) in (
        "missing_parameter",
        "duplicate_parameter",
    )


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    key = headers.get("Idempotency-Key") if headers is not None else None
    if _valid_key(key) and not _negative_headers(case):
        headers["Idempotency-Key"] = f"{key[:200]}-{uuid.uuid4().hex}"


@schemathesis.hook
def after_call(context, case, response):
    keyed = _keyed_request(response)
    if keyed is not None and 200 <= response.status_code < 300:
        _STORED_KEYS.setdefault(keyed[0], set()).add(keyed[1])


def _key_reused_for_another_request(response):
    if response is None or getattr(response, "status_code", None) != 422:
        return False
    try:
        if response.json().get("code") != "IDEMPOTENCY_KEY_REUSED":
            return False
    except Exception:  # noqa: BLE001 - a body that is not JSON is not this case
        return False
    keyed = _keyed_request(response)
    return keyed is not None and any(seen != keyed[1] for seen in _STORED_KEYS.get(keyed[0], ()))


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if _key_reused_for_another_request(response):
        return False
    missing = getattr(failure, "not_available_with", None)
    if missing == "GET /api/v1/plans/{id}/skill-tree":
        return False
    body = case.body if isinstance(case.body, dict) else {}
    if missing == "POST /api/v1/plans/{id}/flashcards" and body.get("module_id") is not None:
        return False
    return not (_usage_range_refused(case, response) or _webhook_url_refused(case, response))


def _webhook_url_refused(case, response):
    """POST /api/v1/webhooks's 422 for a `url` the outbound rules refuse (issue #23)."""
    if case.operation.method.upper() != "POST" or case.operation.path != "/api/v1/webhooks":
        return False
    if response is None or getattr(response, "status_code", None) != 422:
        return False
    try:
        errors = response.json().get("errors") or []
    except Exception:  # noqa: BLE001 - a body that is not JSON is not this case
        return False
    return [e.get("field") for e in errors] == ["url"]


def _usage_range_refused(case, response):
    """GET /api/v1/usage's 400 for a range of valid dates that is reversed or too long."""
    if case.operation.method.upper() != "GET" or case.operation.path != "/api/v1/usage":
        return False
    if response is None or getattr(response, "status_code", None) != 400:
        return False
    try:
        errors = response.json().get("errors") or []
    except Exception:  # noqa: BLE001 - a body that is not JSON is not this case
        return False
    return any(
        e.get("field") == "to" and ("366 days" in e.get("message", "") or "before" in e.get("message", ""))
        for e in errors
    )
