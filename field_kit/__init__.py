"""Fieldbook's field kit: the researcher's toolkit outside the browser.

An API client (``field_kit.client``), an offline outbox that survives being killed
(``field_kit.outbox``, ``field_kit.sync``), resumable uploads over tus
(``field_kit.uploads``), the ``fieldkit`` command (``field_kit.cli``) and a recorder of
website visits (``field_kit.webvisit``). It talks to the server over HTTP only.
"""
