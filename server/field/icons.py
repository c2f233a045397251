"""Draw the field app's icons (a notebook page with a place marker) with Pillow.

The PNGs are committed under ``static/icons``; run ``python -m server.field.icons``
after changing the drawing to write them again.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICON_DIR = Path(__file__).resolve().parent / "static" / "icons"
BRAND = (11, 61, 102, 255)
PAGE = (255, 255, 255, 255)
LINES = (143, 166, 189, 255)
MARKER = (242, 169, 0, 255)
# name: (size, maskable); maskable icons are full-bleed with the drawing in the safe zone
ICONS = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),
}
SUPERSAMPLE = 4


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    """Return the icon at ``size`` pixels square."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=BRAND)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=BRAND)
    # maskable icons may be cut to a circle: keep the drawing inside the middle 80%
    scale = 0.78 if maskable else 1.0

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        def at(v: float) -> float:
            return (0.5 + (v - 0.5) * scale) * big

        return (at(x0), at(y0), at(x1), at(y1))

    draw.rounded_rectangle(box(0.27, 0.18, 0.73, 0.82), radius=big * 0.05 * scale, fill=PAGE)
    for y in (0.34, 0.46, 0.58):
        draw.rounded_rectangle(box(0.35, y, 0.65, y + 0.045), radius=big * 0.02 * scale, fill=LINES)
    draw.ellipse(box(0.55, 0.58, 0.83, 0.86), fill=MARKER, outline=BRAND, width=int(big * 0.025))
    draw.ellipse(box(0.65, 0.68, 0.73, 0.76), fill=BRAND)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(folder: Path = ICON_DIR) -> list[Path]:
    """Draw every icon into ``folder`` and return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (size, maskable) in ICONS.items():
        path = folder / name
        icon = draw_icon(size, maskable=maskable)
        # iOS shows transparent corners as black: its touch icon is opaque
        (icon.convert("RGB") if maskable else icon).save(path, format="PNG", optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_icons():
        print(path)
