"""A small line chart as SVG: display() shows any object with a _repr_svg_ method."""

from html import escape

COLOURS = ("#0b57d0", "#b3261e", "#146c2e")


class LineChart:
    def __init__(self, title, labels, series, y_label, width=560, height=300):
        self.title, self.labels, self.series, self.y_label = title, labels, series, y_label
        self.width, self.height = width, height

    def _repr_svg_(self):
        left, right, top, bottom = 56, 150, 36, 40
        plot_w, plot_h = self.width - left - right, self.height - top - bottom
        top_value = max(max(values) for values in self.series.values()) * 1.1
        step = plot_w / max(len(self.labels) - 1, 1)

        def x(i):
            return left + i * step

        def y(v):
            return top + plot_h - v / top_value * plot_h

        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'role="img" aria-label="{escape(self.title)}" font-family="sans-serif" font-size="12">',
            f'<text x="{left}" y="20" font-size="15" font-weight="bold">{escape(self.title)}</text>',
            f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
            f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 {top + plot_h / 2})" '
            f'text-anchor="middle">{escape(self.y_label)}</text>',
        ]
        for i, label in enumerate(self.labels):
            parts.append(
                f'<text x="{x(i)}" y="{top + plot_h + 18}" text-anchor="middle">{escape(label)}</text>'
            )
        for k, (name, values) in enumerate(self.series.items()):
            colour = COLOURS[k % len(COLOURS)]
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
            parts += [
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>'
                for i, v in enumerate(values)
            ]
            parts.append(
                f'<text x="{left + plot_w + 12}" y="{top + 16 + 18 * k}" fill="{colour}">{escape(name)}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)
