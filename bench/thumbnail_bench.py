"""Benchmark Fieldbook's 1024 px thumbnail of a 12 MP phone JPEG against vipsthumbnail.

Run from the repository root: ``python -m bench.thumbnail_bench [--runs N]``. Prints a
Markdown table and writes it to ``bench/results/thumbnail.md``. Target: Fieldbook's
in-process median at most 2.0x the median of ``vipsthumbnail in.jpg -s 1024 -o out.jpg``
(process start included); a fresh-subprocess Fieldbook row is given for a like-for-like view.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL
from PIL import Image
from PIL.ExifTags import Base

from server.media.photos import make_derivatives, make_thumbnail

TARGET_RATIO = 2.0
THUMB_SIDE = 1024
RESULTS = Path(__file__).resolve().parent / "results" / "thumbnail.md"
REPO_ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_THUMBNAIL = (
    "import sys; from pathlib import Path; from server.media.photos import make_thumbnail; "
    "Path(sys.argv[2]).write_bytes(make_thumbnail(sys.argv[1], max_side=1024))"
)
SUBPROCESS_IMPORT = "import server.media.photos"


def write_phone_jpeg(path: Path) -> None:
    """Write a 4000x3000 photo-like JPEG with Orientation=6, as a phone held upright does."""
    rng = np.random.default_rng(2025)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    scene = np.asarray(
        Image.fromarray(coarse, "RGB").resize((4000, 3000), Image.Resampling.BICUBIC),
        dtype=np.int16,
    )
    noise_tile = rng.integers(-10, 11, (250, 250, 3), dtype=np.int16)
    pixels = np.clip(scene + np.tile(noise_tile, (12, 16, 1)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[Base.Orientation] = 6
    Image.fromarray(pixels, "RGB").save(path, "JPEG", quality=90, exif=exif.tobytes())


def median_ms(action: Callable[[], object], runs: int, warmup: int = 2) -> tuple[float, float]:
    """Time ``action``: return (median, fastest) wall time in milliseconds over ``runs``."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def image_size(path: Path) -> tuple[int, int]:
    """Return the pixel size of an image file."""
    with Image.open(path) as image:
        return image.size


def run(command: list[str]) -> None:
    """Run a command from the repository root and fail loudly if it fails."""
    subprocess.run(command, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    """Measure, print and save the thumbnail benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per row")
    args = parser.parse_args(argv)
    vips = shutil.which("vipsthumbnail")
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="fieldbook-bench-") as scratch:
        source = Path(scratch) / "in.jpg"
        write_phone_jpeg(source)
        ours = Path(scratch) / "fieldbook.jpg"

        def fieldbook_in_process() -> None:
            ours.write_bytes(make_thumbnail(source, max_side=THUMB_SIDE))

        rows.append(
            ("Fieldbook `make_thumbnail`, in-process", *median_ms(fieldbook_in_process, args.runs))
        )
        rows.append(
            (
                "Fieldbook `make_derivatives` (2048 + 1024), in-process",
                *median_ms(lambda: make_derivatives(source), args.runs),
            )
        )
        fresh = [sys.executable, "-c", SUBPROCESS_THUMBNAIL, str(source), str(ours)]
        rows.append(
            (
                "Fieldbook `make_thumbnail`, fresh Python process",
                *median_ms(lambda: run(fresh), args.runs),
            )
        )
        importing = [sys.executable, "-c", SUBPROCESS_IMPORT]
        rows.append(
            (
                "(of which: Python start + `import server.media.photos`)",
                *median_ms(lambda: run(importing), args.runs),
            )
        )
        if vips:
            theirs = Path(scratch) / "vips.jpg"
            command = [vips, str(source), "-s", str(THUMB_SIDE), "-o", str(theirs)]
            rows.append(
                (
                    "`vipsthumbnail -s 1024` (process start included)",
                    *median_ms(lambda: run(command), args.runs),
                )
            )
            sizes = f"Fieldbook {image_size(ours)}, vipsthumbnail {image_size(theirs)}"
        else:
            sizes = f"Fieldbook {image_size(ours)}"
    table = render(rows, args.runs, sizes, vips is not None)
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    return 0


def render(rows: list[tuple[str, float, float]], runs: int, sizes: str, have_vips: bool) -> str:
    """Format the measurements as a Markdown table with ratios to vipsthumbnail."""
    baseline = rows[-1][1] if have_vips else None
    lines = [
        "# 12 MP JPEG to 1024 px thumbnail",
        "",
        f"Median of {runs} runs after 2 warm-ups; {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}, "
        f"Pillow {PIL.__version__}. Output sizes: {sizes}.",
        "",
        "| path | median ms | fastest ms | ratio to vipsthumbnail |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, median, fastest in rows:
        ratio = f"{median / baseline:.2f}" if baseline else "n/a"
        lines.append(f"| {name} | {median:.1f} | {fastest:.1f} | {ratio} |")
    lines.append("")
    if baseline:
        in_process = rows[0][1] / baseline
        verdict = "met" if in_process <= TARGET_RATIO else "MISSED"
        lines.append(
            f"Target (in-process ratio <= {TARGET_RATIO}): {verdict} at {in_process:.2f}; "
            f"fresh-process ratio {rows[2][1] / baseline:.2f}. The fresh process pays for "
            "Python start-up and for importing the `server` package (the import row); the "
            "thumbnail work itself is the difference between those two rows."
        )
    else:
        lines.append("vipsthumbnail is not installed (Debian: libvips-tools); no ratio.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
