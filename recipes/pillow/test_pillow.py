"""pytest-pyodide tests of the Pillow wheel, run inside Pyodide: each codec linked from the farm's own libraries."""

import pytest
from pytest_pyodide import run_in_pyodide


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["pillow"])
def test_png_round_trip_through_zlib(selenium) -> None:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (64, 48), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((8, 8, 23, 39), fill=(200, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    back = Image.open(io.BytesIO(buffer.getvalue()))
    assert (back.format, back.size, back.mode) == ("PNG", (64, 48), "RGB")
    assert back.getpixel((10, 10)) == (200, 30, 40) and back.getpixel((40, 10)) == (255, 255, 255)
    assert list(back.getdata()) == list(image.getdata())


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["pillow"])
def test_jpeg_round_trip_through_libjpeg(selenium) -> None:
    import io

    from PIL import Image, features

    assert features.check("jpg") and features.version_codec("jpg") is not None
    image = Image.linear_gradient("L").resize((128, 96)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    back = Image.open(io.BytesIO(buffer.getvalue()))
    assert (back.format, back.size) == ("JPEG", (128, 96))
    top, bottom = back.getpixel((64, 2)), back.getpixel((64, 93))  # the gradient runs from black to white
    assert max(top) < 20 and min(bottom) > 235, (top, bottom)


@pytest.mark.driver_timeout(60)
@run_in_pyodide(packages=["pillow"])
def test_text_through_freetype(selenium) -> None:
    from PIL import Image, ImageDraw, ImageFont, features

    assert features.check("freetype2")
    font = ImageFont.load_default(size=24)
    assert isinstance(font, ImageFont.FreeTypeFont)
    image = Image.new("L", (120, 40), 0)
    ImageDraw.Draw(image).text((4, 4), "Pyodide", font=font, fill=255)
    left, top, right, bottom = image.getbbox()
    assert right - left > 60 and bottom - top > 10, image.getbbox()
