"""b2sdk's own simulator of the B2 native API (RawSimulator), wired into a real b2sdk B2Api.

The simulator implements the server side of B2's API in memory (accounts, application keys with
capabilities and name prefixes, buckets, large files and their parts), so the engine's b2sdk calls run
unchanged against it.
"""

from __future__ import annotations

from b2sdk.v2 import B2Api, B2HttpApiConfig, InMemoryAccountInfo, InMemoryCache, RawSimulator


class B2Simulator:
    def __init__(self) -> None:
        self.api_config = B2HttpApiConfig(_raw_api_class=RawSimulator)
        self.admin = B2Api(InMemoryAccountInfo(), cache=InMemoryCache(), api_config=self.api_config)
        self.raw: RawSimulator = self.admin.session.raw_api
        self.account_id, self.master_key = self.raw.create_account()
        self.admin.authorize_account("production", self.account_id, self.master_key)

    def new_api(self) -> B2Api:
        """A second client of the same simulated service, as another process would be."""
        api = B2Api(InMemoryAccountInfo(), cache=InMemoryCache(), api_config=self.api_config)
        api.session.raw_api = self.raw
        return api
