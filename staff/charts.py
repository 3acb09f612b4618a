"""Bar charts drawn on the server as SVG geometry: no script, no inline style, readable with
the table beside them as their text equivalent. Pure: numbers in, shapes out."""

from dataclasses import dataclass

LEFT, RIGHT, TOP, BOTTOM = 8, 8, 24, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value_text: str
    label_x: float
    value_y: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    baseline_y: float
    bars: list[Bar]

    @property
    def description(self) -> str:
        return "; ".join(f"{bar.label}: {bar.value_text}" for bar in self.bars)


def bar_chart(
    title: str,
    points: list[tuple[str, int, str]],
    *,
    width: int = 640,
    height: int = 220,
    small: int = 5,
) -> BarChart:
    """One bar per (label, value, value as shown). Values under `small` are withheld: no bar,
    only their shown text (such as "<5") at the baseline."""
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    tallest = max((value for _label, value, _text in points if value >= small), default=0)
    baseline = TOP + plot_height
    bars = []
    for index, (label, value, text) in enumerate(points):
        bar_height = plot_height * value / tallest if tallest and value >= small else 0
        x = LEFT + index * slot + slot * 0.15
        bars.append(
            Bar(
                x=round(x, 1),
                y=round(baseline - bar_height, 1),
                width=round(slot * 0.7, 1),
                height=round(bar_height, 1),
                label=label,
                value_text=text,
                label_x=round(x + slot * 0.35, 1),
                value_y=round(baseline - bar_height - 6, 1),
            )
        )
    return BarChart(title=title, width=width, height=height, baseline_y=baseline, bars=bars)
