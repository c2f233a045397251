"""Run poppler's command-line tools on PDFs, skipping only where they may be absent."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def tool(name: str) -> str:
    """Return the path of a poppler tool; skip without it unless services are required."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("FIELDBOOK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} (poppler-utils) is required but not installed")
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return path


def write(pdf: bytes, folder: Path) -> Path:
    """Store a PDF where the tools can read it."""
    path = folder / "journal.pdf"
    path.write_bytes(pdf)
    return path


def pdf_text(pdf: bytes, folder: Path) -> str:
    """Return the text of a PDF in reading order."""
    path = write(pdf, folder)
    done = subprocess.run(
        [tool("pdftotext"), "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode("utf-8")


def pdf_urls(pdf: bytes, folder: Path) -> list[str]:
    """Return the external link targets of a PDF."""
    path = write(pdf, folder)
    done = subprocess.run(
        [tool("pdfinfo"), "-url", str(path)], capture_output=True, check=True, timeout=60
    )
    rows = done.stdout.decode("utf-8").splitlines()[1:]
    return [row.split(None, 2)[2] for row in rows if len(row.split(None, 2)) == 3]


def first_page(pdf: bytes, folder: Path, dpi: int = 72) -> Image.Image:
    """Rasterise the first page of a PDF to an RGB image."""
    path = write(pdf, folder)
    done = subprocess.run(
        [tool("pdftoppm"), "-png", "-r", str(dpi), "-f", "1", "-l", "1", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return Image.open(io.BytesIO(done.stdout)).convert("RGB")


def pixels_near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """Count the pixels within a tolerance of a colour."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    close = np.abs(pixels - np.array(colour, dtype=np.int16)) <= tolerance
    return int(close.all(axis=2).sum())
