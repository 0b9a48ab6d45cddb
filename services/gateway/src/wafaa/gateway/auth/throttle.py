"""Login throttling and the logout blocklist, in Redis.

Both fail closed: when Redis does not answer, logins and authenticated requests get 503 rather
than skipping the throttle or accepting a token that may have been logged out.
"""

from __future__ import annotations

import hashlib
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError


class AuthStoreUnavailableError(Exception):
    """Redis did not answer; the caller must refuse rather than guess."""


def _account_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    return f"login:account:{digest}"


def _ip_key(ip: str) -> str:
    return f"login:ip:{ip}"


def _blocklist_key(tenant_id: uuid.UUID, jti: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:auth:blocklist:{jti}"


class LoginThrottle:
    """Counts failed logins per account and per IP in a fixed window."""

    def __init__(self, redis: Redis, max_per_account: int, max_per_ip: int, window_seconds: int) -> None:
        self.redis = redis
        self.limits = {"account": max_per_account, "ip": max_per_ip}
        self.window = window_seconds

    async def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        waits = []
        try:
            for key, limit in ((_account_key(email), self.limits["account"]), (_ip_key(ip), self.limits["ip"])):
                count = await self.redis.get(key)
                if count is not None and int(count) >= limit:
                    waits.append(max(int(await self.redis.ttl(key)), 1))
        except RedisError as exc:
            raise AuthStoreUnavailableError from exc
        return max(waits) if waits else None

    async def record_failure(self, email: str, ip: str) -> None:
        """Count one failed attempt against the account and the IP."""
        try:
            for key in (_account_key(email), _ip_key(ip)):
                # SET NX EX starts the window with its expiry atomically; INCR keeps the expiry.
                await self.redis.set(key, 0, ex=self.window, nx=True)
                await self.redis.incr(key)
        except RedisError as exc:
            raise AuthStoreUnavailableError from exc

    async def reset_account(self, email: str) -> None:
        """Forget an account's failures after a successful login."""
        try:
            await self.redis.delete(_account_key(email))
        except RedisError as exc:
            raise AuthStoreUnavailableError from exc


class Blocklist:
    """Access tokens revoked before their expiry, keyed by `jti`, kept until they would expire anyway."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def block(self, tenant_id: uuid.UUID, jti: uuid.UUID, expires_at: int) -> None:
        """Refuse this access token from now on."""
        ttl = max(int(expires_at - time.time()), 1)
        try:
            await self.redis.set(_blocklist_key(tenant_id, jti), "1", ex=ttl)
        except RedisError as exc:
            raise AuthStoreUnavailableError from exc

    async def is_blocked(self, tenant_id: uuid.UUID, jti: uuid.UUID) -> bool:
        """Whether the token was logged out."""
        try:
            return bool(await self.redis.exists(_blocklist_key(tenant_id, jti)))
        except RedisError as exc:
            raise AuthStoreUnavailableError from exc
