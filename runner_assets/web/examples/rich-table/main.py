"""Rich output: display() shows any object with a _repr_html_ method as HTML (in a sandboxed frame)."""

from html import escape

PLANETS = [
    # name, diameter (km), mass (10^24 kg), moons
    ("Mercury", 4_879, 0.330, 0),
    ("Venus", 12_104, 4.87, 0),
    ("Earth", 12_756, 5.97, 1),
    ("Mars", 6_792, 0.642, 2),
    ("Jupiter", 142_984, 1_898, 95),
    ("Saturn", 120_536, 568, 146),
    ("Uranus", 51_118, 86.8, 28),
    ("Neptune", 49_528, 102, 16),
]


class Table:
    def __init__(self, caption, columns, rows):
        self.caption, self.columns, self.rows = caption, columns, rows

    def _repr_html_(self):
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{escape(f'{v:,}' if isinstance(v, (int, float)) else v)}</td>" for v in row)
            + "</tr>"
            for row in self.rows
        )
        style = (
            "<style>table{border-collapse:collapse;font:14px sans-serif}caption{font-weight:bold;padding:4px}"
            "th,td{border:1px solid #999;padding:3px 8px}td:not(:first-child){text-align:right}"
            "tbody tr:nth-child(odd){background:#eef3fb}</style>"
        )
        caption = f"<caption>{escape(self.caption)}</caption>"
        return f"{style}<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


by_size = sorted(PLANETS, key=lambda planet: planet[1], reverse=True)
display(Table("The planets, largest first", ["planet", "diameter (km)", "mass (10^24 kg)", "moons"], by_size))
print(f"{len(PLANETS)} planets; the largest is {by_size[0][0]}, with {by_size[0][3]} moons")
