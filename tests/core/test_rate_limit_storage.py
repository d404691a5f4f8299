"""In production, Flask-Limiter keeps its counters in Redis, shared by every app server."""

from __future__ import annotations

import pytest
import redis
from flask import Flask

from tests.conftest import REDIS_URL, make_app, unavailable


@pytest.mark.redis
def test_sign_in_throttling_uses_redis_shared_between_app_servers(database_uri: str, app: Flask) -> None:
    try:
        connection = redis.Redis.from_url(REDIS_URL)
        connection.ping()
    except redis.RedisError:
        unavailable("Redis is not reachable at TEST_REDIS_URL")
    connection.flushdb()
    first = make_app(
        database_uri, REDIS_URL=REDIS_URL, RATELIMIT_STORAGE_URI=REDIS_URL, SIGN_IN_LIMIT_PER_ACCOUNT="3 per minute"
    )
    second = make_app(
        database_uri, REDIS_URL=REDIS_URL, RATELIMIT_STORAGE_URI=REDIS_URL, SIGN_IN_LIMIT_PER_ACCOUNT="3 per minute"
    )
    try:
        for server in (first, second, first):
            server.test_client().post("/sign-in", data={"email": "x@example.org", "password": "wrong wrong wrong"})
        assert connection.dbsize() > 0
        blocked = second.test_client().post("/sign-in", data={"email": "x@example.org", "password": "anything"})
        assert blocked.status_code == 429
    finally:
        connection.flushdb()
