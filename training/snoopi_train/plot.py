"""The adherence training curve of PG-SB vs fixed-κ SwiftBrush as a PNG (drawn with Pillow)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core


def _font():
    return ImageFont.truetype(str(FONT), 13) if FONT.exists() else None


def _text(label: str, font) -> str:
    return label if font is not None else label.replace("κ", "k")  # the built-in bitmap font is Latin-1

SERIES_COLOURS = [(200, 40, 40), (40, 80, 200), (40, 150, 70), (150, 150, 150)]


def plot_curves(path: Path, series: dict[str, list[tuple[int, float]]], title: str, y_label: str = "held-out prompt adherence") -> None:
    width, height, left, right, top, bottom = 720, 460, 70, 36, 60, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font()
    max_step = max((s for points in series.values() for s, _ in points), default=1) or 1
    px = lambda step: left + (width - left - right) * step / max_step  # noqa: E731
    py = lambda value: top + (height - top - bottom) * (1 - value)  # noqa: E731
    draw.text((left, 8), _text(title, font), fill="black", font=font)
    for tick in range(0, 11, 2):
        y = py(tick / 10)
        draw.line([(left, y), (width - right, y)], fill=(230, 230, 230))
        draw.text((left - 40, y - 6), _text(f"{tick * 10}%", font), fill="black", font=font)
    for i in range(6):
        step = round(max_step * i / 5)
        draw.text((px(step) - 12, height - bottom + 8), _text(str(step), font), fill="black", font=font)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    draw.text((width // 2 - 60, height - 28), _text("student training step", font), fill="black", font=font)
    draw.text((8, 32), _text(y_label, font), fill="black", font=font)
    for n, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        xy = [(px(s), py(v)) for s, v in points]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=3)
        for x, y in xy:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.line([(left + 12, top + 14 + 18 * n), (left + 40, top + 14 + 18 * n)], fill=colour, width=3)
        draw.text((left + 46, top + 8 + 18 * n), _text(name, font), fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
