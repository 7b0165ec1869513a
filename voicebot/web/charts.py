"""Small server-side SVG charts (no JavaScript chart library): bars for calls per hour, a line for
sentiment through the day or along a call."""

from __future__ import annotations

from markupsafe import Markup, escape

W, H, PAD = 480, 140, 22


def bar_chart(values: list[float], labels: list[str], title: str) -> Markup:
    top = max(values + [1])
    step = (W - 2 * PAD) / max(len(values), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
             f'<text x="{PAD}" y="12" class="t">{escape(title)} (max {top:g})</text>']
    for i, (value, label) in enumerate(zip(values, labels)):
        height = (H - 2 * PAD) * value / top
        x = PAD + i * step
        parts.append(f'<rect x="{x + 1:.1f}" y="{H - PAD - height:.1f}" width="{max(step - 2, 1):.1f}" '
                     f'height="{height:.1f}"><title>{escape(label)}: {value:g}</title></rect>')
        if i % 3 == 0:
            parts.append(f'<text x="{x:.1f}" y="{H - 6}" class="l">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(values: list[float | None], labels: list[str], title: str, low: float = -1.0,
               high: float = 1.0) -> Markup:
    """Points at None are skipped (no calls that hour); the zero line is drawn for sentiment."""
    step = (W - 2 * PAD) / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return PAD + (H - 2 * PAD) * (high - v) / (high - low)

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
             f'<text x="{PAD}" y="12" class="t">{escape(title)}</text>',
             f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="zero"/>']
    points = [(PAD + i * step, y(v)) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        parts.append('<polyline points="' + " ".join(f"{px:.1f},{py:.1f}" for px, py in points) + '"/>')
    for (px, py), v in zip(points, [v for v in values if v is not None]):
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3"><title>{v:+.2f}</title></circle>')
    for i, label in enumerate(labels):
        if i % 3 == 0:
            parts.append(f'<text x="{PAD + i * step:.1f}" y="{H - 6}" class="l">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
