"""Small inline previews of the reports for the Dagster UI's metadata panel."""


import base64
import io

from PIL import Image

PREVIEW_WIDTH = 360


def png_preview_markdown(png: bytes, alt: str = "scatter") -> str:
    """Markdown with the plot shrunk to a thumbnail as a data URI: the event log stays small."""
    image = Image.open(io.BytesIO(png))
    image.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})"
