"""A dependency-free SVG state diagram of a workflow: states laid out in columns by their
distance from the initial state, transitions as labelled arrows."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from itilflow.domain.workflow import Workflow

BOX_W, BOX_H, COL_GAP, ROW_GAP, MARGIN = 170, 44, 110, 34, 30


def _layout(wf: Workflow) -> dict[str, tuple[int, int]]:
    depth = {wf.initial: 0}
    todo = [wf.initial]
    while todo:
        state = todo.pop(0)
        for t in wf.transitions:
            if state in t.sources and t.dest and t.dest not in depth:
                depth[t.dest] = depth[state] + 1
                todo.append(t.dest)
    columns: dict[int, list[str]] = {}
    for state in wf.states:
        columns.setdefault(depth.get(state, 0), []).append(state)
    positions = {}
    for col, states in columns.items():
        for row, state in enumerate(states):
            positions[state] = (MARGIN + col * (BOX_W + COL_GAP), MARGIN + row * (BOX_H + ROW_GAP))
    return positions


def _same(text: str) -> str:
    return text


def render_svg(wf: Workflow, translate: Callable[[str], str] = _same) -> str:
    """The workflow as an SVG document (text): states and arrows carry their labels, through
    ``translate`` (the reader's language in the web UI; English as written for the CLI)."""
    pos = _layout(wf)
    width = max(x for x, _ in pos.values()) + BOX_W + MARGIN
    height = max(y for _, y in pos.values()) + BOX_H + MARGIN + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(wf.name)} workflow" '
        'font-family="system-ui, sans-serif" font-size="12">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\""
        " markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" "
        "fill=\"#5b6673\"/></marker></defs>",
        f'<title>{escape(wf.name)} workflow {escape(wf.version)}</title>',
    ]
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for t in wf.transitions:
        for source in t.sources:
            dest = t.dest or source
            seen.setdefault((source, dest), {})[t.trigger] = translate(t.label)
    for (source, dest), named in seen.items():
        (x1, y1), (x2, y2) = pos[source], pos[dest]
        # the label to read; the trigger names (what the API takes) as the tooltip
        label = escape(", ".join(dict.fromkeys(named.values()))) + \
            f"<title>{escape(', '.join(named))}</title>"
        if source == dest:
            cx, cy = x1 + BOX_W / 2, y1
            parts.append(f'<path d="M{cx - 20},{cy} C{cx - 30},{cy - 28} {cx + 30},{cy - 28} '
                         f'{cx + 20},{cy}" fill="none" stroke="#9aa5b1" marker-end="url(#arrow)"/>')
            parts.append(f'<text x="{cx}" y="{cy - 24}" text-anchor="middle" fill="#5b6673">'
                         f'{label}</text>')
            continue
        sx, sy = x1 + BOX_W, y1 + BOX_H / 2
        ex, ey = x2, y2 + BOX_H / 2
        if x2 <= x1:  # backwards: leave from the bottom, enter from the bottom
            sx, sy, ex, ey = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2, y2 + BOX_H
            mid_y = max(sy, ey) + 26
            d = f"M{sx},{sy} C{sx},{mid_y} {ex},{mid_y} {ex},{ey}"
            lx, ly = (sx + ex) / 2, mid_y - 4
        else:
            d = f"M{sx},{sy} C{sx + 40},{sy} {ex - 40},{ey} {ex},{ey}"
            lx, ly = (sx + ex) / 2, (sy + ey) / 2 - 4
        parts.append(f'<path d="{d}" fill="none" stroke="#9aa5b1" marker-end="url(#arrow)"/>')
        parts.append(f'<text x="{lx}" y="{ly}" text-anchor="middle" fill="#5b6673">{label}</text>')
    for name, (x, y) in pos.items():
        spec = wf.states[name]
        fill = "#e8f0fb" if not spec.final else "#eef2f5"
        stroke = "#0b5cad" if name == wf.initial else "#1b2430"
        width_px = 3 if spec.final else 1.5
        parts.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="{width_px}"/>')
        parts.append(f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 4}" text-anchor="middle" '
                     f'font-weight="600" fill="#1b2430">{escape(translate(spec.label))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
