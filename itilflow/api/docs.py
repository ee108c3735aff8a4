"""The browsable API reference at /api/v1/docs: server-rendered from the OpenAPI document, no
JavaScript and nothing from a CDN (the product runs in closed networks)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template_string

from itilflow.api.errors import API_PREFIX

blp = Blueprint("api_reference", __name__, url_prefix=API_PREFIX)

METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        path = node["$ref"].lstrip("#/").split("/")
        target: Any = spec
        for part in path:
            target = target.get(part, {})
        node = target
    return node


def _schema_rows(spec: dict[str, Any], schema: Any, prefix: str = "", depth: int = 0
                 ) -> list[dict[str, Any]]:
    schema = _resolve(spec, schema) or {}
    if schema.get("type") == "array":
        return _schema_rows(spec, schema.get("items"), prefix + "[]" if prefix else "[]", depth)
    rows = []
    required = set(schema.get("required", []))
    for name, prop in (schema.get("properties") or {}).items():
        prop_resolved = _resolve(spec, prop)
        kind = prop_resolved.get("type", "object")
        if kind == "array":
            item = _resolve(spec, prop_resolved.get("items", {}))
            kind = f"array of {item.get('type', 'object')}"
        notes = []
        for key in ("enum", "minimum", "maximum", "minLength", "maxLength", "format"):
            if key in prop_resolved:
                notes.append(f"{key}: {prop_resolved[key]}")
        if prop_resolved.get("nullable"):
            notes.append("nullable")
        if prop_resolved.get("readOnly") is False or prop_resolved.get("writeOnly"):
            notes.append("write-only")
        rows.append({"name": f"{prefix}.{name}" if prefix else name, "type": kind,
                     "required": name in required, "notes": ", ".join(notes),
                     "description": prop_resolved.get("description", "")})
        if depth < 2 and (prop_resolved.get("properties") or (
                prop_resolved.get("type") == "array"
                and _resolve(spec, prop_resolved.get("items", {})).get("properties"))):
            rows.extend(_schema_rows(spec, prop_resolved, f"{prefix}.{name}" if prefix else name,
                                     depth + 1))
    return rows


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [_resolve(spec, p) for p in shared + op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for status, response in op.get("responses", {}).items():
                response = _resolve(spec, response)
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                responses.append({"status": status, "description": response.get("description", ""),
                                  "rows": _schema_rows(spec, schema) if status.startswith("2")
                                  else []})
            ops.append({"method": method.upper(), "path": path, "tag": (op.get("tags") or [""])[0],
                        "summary": op.get("summary", ""), "description": op.get("description", ""),
                        "params": params, "body": _schema_rows(spec, body.get("schema"))
                        if body else None, "responses": responses,
                        "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")})
    return ops


@blp.get("/docs")
def reference():
    spec = current_app.extensions["itilflow_api"].spec.to_dict()
    return render_template_string(_TEMPLATE, spec=spec, ops=_operations(spec))


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ spec.info.title }} API {{ spec.info.version }} reference</title>
<link rel="icon" href="{{ url_for('static', filename='favicon.svg') }}" type="image/svg+xml">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#222}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.op{border-top:2px solid #ccc;padding-top:.5rem;margin-top:1.5rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}
.GET{color:#06c}.POST{color:#080}.PATCH{color:#a60}.DELETE{color:#c00}.PUT{color:#a60}
nav li{list-style:none}
</style></head><body>
<h1>{{ spec.info.title }} API {{ spec.info.version }}</h1>
<p>{{ spec.info.description }}</p>
<p>Machine-readable: <a href="openapi.json"><code>/api/v1/openapi.json</code></a> (OpenAPI
{{ spec.openapi }}).</p>
<nav><ul>{% for op in ops %}<li><a href="#{{ op.anchor }}"><span class="m {{ op.method }}">
{{ op.method }}</span> <code>{{ op.path }}</code></a> {{ op.summary }}</li>{% endfor %}</ul></nav>
{% for op in ops %}
<section class="op" id="{{ op.anchor }}">
<h2><span class="m {{ op.method }}">{{ op.method }}</span> <code>{{ op.path }}</code></h2>
<p><strong>{{ op.summary }}</strong></p>{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.params %}<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>type</th>
<th>required</th><th>description</th></tr>{% for p in op.params %}<tr><td><code>{{ p.name }}</code>
</td><td>{{ p.in }}</td><td>{{ p.schema.type if p.schema else "" }}{% if p.schema and p.schema.enum %}
: {{ p.schema.enum|join(", ") }}{% endif %}</td><td>{{ "yes" if p.required else "" }}</td>
<td>{{ p.description or "" }}</td></tr>{% endfor %}</table>{% endif %}
{% if op.body %}<h3>Request body (JSON)</h3><table><tr><th>field</th><th>type</th><th>required</th>
<th>constraints</th><th>description</th></tr>{% for r in op.body %}<tr><td><code>{{ r.name }}</code>
</td><td>{{ r.type }}</td><td>{{ "yes" if r.required else "" }}</td><td>{{ r.notes }}</td>
<td>{{ r.description }}</td></tr>{% endfor %}</table>{% endif %}
<h3>Responses</h3><table><tr><th>status</th><th>meaning</th></tr>
{% for r in op.responses %}<tr><td>{{ r.status }}</td><td>{{ r.description }}
{% if r.rows %}<table><tr><th>field</th><th>type</th><th>notes</th></tr>{% for f in r.rows %}
<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }}</td><td>{{ f.notes }} {{ f.description }}
</td></tr>{% endfor %}</table>{% endif %}</td></tr>{% endfor %}</table>
</section>{% endfor %}
</body></html>
"""
