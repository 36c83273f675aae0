"""Create or update every stream of the services' account: `python -m shared.provision`.

Services only look at streams (`shared.bus.check_streams`); this is the one step that makes
them, as the NATS identity `provisioner` (`shared.natsauth.provisioner_permissions`), before
the services start or while they wait: the launcher (`make run`, the test suite), docker
compose's `nats-streams` service and the Kubernetes Job `nats-streams` run it. Settings as
the services': `NATS_URL`, `WOMENTO_NATS_CREDENTIALS_DIR` (holding `provisioner.nk`),
`WOMENTO_NATS_TLS_CA_FILE`, `WOMENTO_STREAM_REPLICAS`, `WOMENTO_DUPLICATE_WINDOW_SECONDS`.
Running it again is harmless: an existing stream is updated to the same configuration.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import nats

from shared import natsauth
from shared.bus import connect_options, provision_streams
from shared.settings import Settings


async def provision(settings: Settings, options: dict[str, Any] | None = None) -> list[str]:
    """Connect as the provisioner (or with `options`) and make every stream; their names."""
    nc = await nats.connect(
        settings.nats_url,
        connect_timeout=10,
        max_reconnect_attempts=30,
        **(options if options is not None else connect_options(settings, natsauth.PROVISIONER)),
    )
    try:
        return await provision_streams(nc.jetstream(), settings)
    finally:
        await nc.close()


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv):
        print(__doc__, file=sys.stderr)
        return 2
    names = asyncio.run(provision(Settings()))
    print("streams provisioned: " + ", ".join(names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
