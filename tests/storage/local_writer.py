"""Store standard input in a local blob store from a separate process.

Used by the storage tests to race two server processes and to kill one mid-write.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from server.storage import LocalBlobStore


def main() -> None:
    """Put standard input into the store at ``argv[1]`` and print the result as JSON."""
    store = LocalBlobStore(sys.argv[1])
    stored = store.put_stream(sys.stdin.buffer)
    print(json.dumps(dataclasses.asdict(stored)), flush=True)


if __name__ == "__main__":
    main()
