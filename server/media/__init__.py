"""Evidence media inspection: content sniffing and photo processing.

Importing the package registers the HEIF/HEIC opener with Pillow once, so that every
photo path in Fieldbook can read iPhone and Android HEIC captures.
"""

from pillow_heif import register_heif_opener

register_heif_opener()
