#!/usr/bin/env python3
"""A grouped horizontal bar chart as a standalone SVG, with no dependency
beyond Python's standard library (used by benches/two_workers.sh).

    svg_bars.py TITLE UNIT OUT.svg < rows

Each input line is `GROUP<TAB>SERIES<TAB>VALUE[<TAB>WORST]`: one bar per
series within each group, its length the value, a thin tick at WORST (the
worst run) if given. Lower is better; the scale is shared by all groups.
"""
import sys
from xml.sax.saxutils import escape

COLORS = {"rt": "#2b6cb0", "tokio": "#c05621", "Go": "#2f855a"}
BAR, GAP, LABEL_W, CHART_W, PAD = 16, 10, 230, 460, 12


def main():
    title, unit, out = sys.argv[1:4]
    groups = {}
    for line in sys.stdin:
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 3:
            continue
        group, series, value = fields[0], fields[1], float(fields[2])
        worst = float(fields[3]) if len(fields) > 3 and fields[3] else None
        groups.setdefault(group, []).append((series, value, worst))
    top = max(max(w or v, v) for rows in groups.values() for _, v, w in rows)
    scale = CHART_W / top
    y = 40
    parts = []
    for group, rows in groups.items():
        parts.append(f'<text x="{PAD}" y="{y + BAR}" font-weight="bold">{escape(group)}</text>')
        for series, value, worst in rows:
            color = COLORS.get(series, "#718096")
            x0 = LABEL_W
            parts.append(f'<text x="{x0 - 8}" y="{y + BAR - 3}" text-anchor="end">{escape(series)}</text>')
            parts.append(f'<rect x="{x0}" y="{y}" width="{value * scale:.1f}" height="{BAR}" fill="{color}"/>')
            label = f"{value:,.0f}"
            if worst is not None:
                wx = x0 + worst * scale
                parts.append(f'<line x1="{wx:.1f}" y1="{y - 2}" x2="{wx:.1f}" y2="{y + BAR + 2}" stroke="#1a202c" stroke-width="2"/>')
                label += f" (worst {worst:,.0f})"
                text_x = max(value, worst) * scale + x0 + 6
            else:
                text_x = value * scale + x0 + 6
            parts.append(f'<text x="{text_x:.1f}" y="{y + BAR - 3}">{label}</text>')
            y += BAR + 4
        y += GAP + 8
    width = LABEL_W + CHART_W + 200
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + PAD}" '
            f'font-family="sans-serif" font-size="12">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="{PAD}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>'
            f'<text x="{width - PAD}" y="22" text-anchor="end">{escape(unit)}; lower is better; tick: worst run</text>')
    with open(out, "w") as f:
        f.write(head + "".join(parts) + "</svg>\n")


if __name__ == "__main__":
    main()
