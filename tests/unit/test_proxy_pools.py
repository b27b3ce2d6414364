"""The proxy's connection pools: one per host name, bounded, never closed under a request."""

from __future__ import annotations

import asyncio

import httpx

from farm.proxy.fetch import HostPools


def test_a_pool_per_name_and_the_least_recently_used_idle_ones_closed() -> None:
    async def scenario() -> None:
        pools = HostPools(httpx.AsyncClient, most=2)
        async with pools.client("a.test") as a, pools.client("a.test") as a_again:
            assert a is a_again  # one name, one pool
        async with pools.client("b.test") as b, pools.client("c.test") as c:
            assert b is not a and not a.is_closed  # pools are trimmed when a request is done with one
        assert a.is_closed and not b.is_closed and not c.is_closed  # three, one over: a.test, the idle one
        async with pools.client("a.test") as new_a:
            assert new_a is not a
        assert b.is_closed and not c.is_closed  # b.test was used least recently
        await pools.aclose()
        assert c.is_closed and new_a.is_closed

    asyncio.run(scenario())


def test_a_busy_pool_is_not_closed() -> None:
    async def scenario() -> None:
        pools = HostPools(httpx.AsyncClient, most=1)
        async with pools.client("a.test") as a:
            async with pools.client("b.test") as b:
                pass
            assert not a.is_closed and b.is_closed  # a.test is in use; b.test, idle, goes
        await pools.aclose()

    asyncio.run(scenario())
