"""Credentials and tokens: access/secret key pairs, `auth.login`, and the JWT every later call carries.

The SDK decodes the token without checking its signature and reads `api_version`, `server_version`,
`feature_set` and `exp` from it (wire protocol doc §2); that is how API versions are negotiated. The server
does check the signature (HS256, with a key kept in the database so tokens survive a restart), the expiry, and
that the access key was not revoked since. Secrets are stored as SHA-256 digests only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import string
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from .documents import iso
from .store import Credential, Store
from .wire import (
    API_VERSION,
    EXPIRED_TOKEN,
    FEATURE_SET,
    INVALID_CREDENTIALS,
    INVALID_TOKEN,
    MISSING_CREDENTIALS,
    SERVER_VERSION,
    fail,
)

logger = logging.getLogger(__name__)

COMPANY_ID = "occuloop"
DEFAULT_USER_ID = "occuloop-admin"
DEFAULT_USER_NAME = "occuloop"
DEFAULT_TOKEN_SECONDS = 24 * 3600
MAX_TOKEN_SECONDS = 30 * 24 * 3600
_JWT_SECRET_KEY = "jwt_secret"
MAX_CACHED_TOKENS = 4096


@dataclass(frozen=True)
class Identity:
    user_id: str
    company_id: str
    access_key: str


@dataclass(frozen=True)
class KeyPair:
    access_key: str
    secret_key: str


def generate_key_pair() -> KeyPair:
    upper = string.ascii_uppercase + string.digits
    access = "".join(secrets.choice(upper) for _ in range(24))
    secret = secrets.token_urlsafe(36)
    return KeyPair(access, secret)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Authenticator:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        with store.write() as tx:
            secret = tx.meta.get(_JWT_SECRET_KEY)
            if secret is None:
                secret = secrets.token_hex(32)
                tx.meta.put(_JWT_SECRET_KEY, secret)
            self._credentials = {item.access_key: item for item in tx.credentials.all()}
        self._signing_key = secret
        # Verified tokens, so each one's signature is checked once, not on every call (PyJWT's decode was half of
        # a call's server time). Expiry and revocation are still checked on every call.
        self._verified: dict[str, tuple[int, str]] = {}

    # -- credential management ------------------------------------------------------------------------------

    def has_credentials(self) -> bool:
        return bool(self._credentials)

    def add(self, pair: KeyPair, label: str, user_id: str = DEFAULT_USER_ID, *, now: datetime) -> Credential:
        """Register (or re-register, e.g. from configuration on every start) a key pair."""
        credential = Credential(pair.access_key, _digest(pair.secret_key), user_id, label, iso(now), None)
        with self._lock, self._store.write() as tx:
            tx.credentials.put(credential)
            self._credentials[pair.access_key] = credential
        return credential

    def revoke(self, access_key: str) -> bool:
        with self._lock, self._store.write() as tx:
            removed = tx.credentials.delete(access_key)
            self._credentials.pop(access_key, None)
        return removed

    def credentials(self, user_id: str | None = None) -> list[Credential]:
        return [item for item in self._credentials.values() if user_id is None or item.user_id == user_id]

    # -- login and token checks -----------------------------------------------------------------------------

    def login(self, authorization: str | None, expiration_sec: int | None, *, now: datetime) -> str:
        """`auth.login`: Basic access:secret (or a still-valid Bearer token) in, a fresh token out."""
        if not authorization:
            fail(MISSING_CREDENTIALS, "send HTTP Basic auth with an access key and a secret key")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            identity = self.verify(authorization, now=now)
            credential = self._credentials[identity.access_key]
        elif scheme.lower() == "basic":
            credential = self._check_basic(value.strip())
        else:
            fail(MISSING_CREDENTIALS, f"unsupported authorization scheme '{scheme}'")
        seconds = DEFAULT_TOKEN_SECONDS if expiration_sec is None else max(60, min(expiration_sec, MAX_TOKEN_SECONDS))
        return self._issue(credential, now, seconds)

    def _check_basic(self, encoded: str) -> Credential:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            fail(INVALID_CREDENTIALS, "malformed Basic authorization header")
        access_key, separator, secret_key = decoded.partition(":")
        credential = self._credentials.get(access_key)
        if (
            not separator
            or credential is None
            or not hmac.compare_digest(credential.secret_sha256, _digest(secret_key))
        ):
            fail(INVALID_CREDENTIALS, "wrong access key or secret key")
        return credential

    def _issue(self, credential: Credential, now: datetime, seconds: int) -> str:
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "identity": {
                "company": COMPANY_ID,
                "company_name": COMPANY_ID,
                "user": credential.user_id,
                "user_name": DEFAULT_USER_NAME,
                "role": "admin",
            },
            "access_key": credential.access_key,
            "api_version": API_VERSION,
            "server_version": SERVER_VERSION,
            "server_build": "occuloop",
            "feature_set": FEATURE_SET,
            "auth_type": "Bearer",
            "env": "occuloop",
            "iat": issued,
            "exp": issued + seconds,
        }
        return jwt.encode(claims, self._signing_key, algorithm="HS256")

    def verify(self, authorization: str | None, *, now: datetime) -> Identity:
        """The identity behind a `Bearer` header; 401 for a missing, forged, expired or revoked token."""
        if not authorization:
            fail(MISSING_CREDENTIALS, "missing Authorization header (call auth.login first)")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            fail(MISSING_CREDENTIALS, "expected 'Authorization: Bearer <token>'")
        expires, access_key = self._verified.get(token) or self._check_signature(token)
        if expires <= now.timestamp():
            fail(EXPIRED_TOKEN, "log in again")
        credential = self._credentials.get(access_key)
        if credential is None:
            fail(INVALID_TOKEN, "the credentials of this token were revoked")
        return Identity(user_id=credential.user_id, company_id=COMPANY_ID, access_key=credential.access_key)

    def _check_signature(self, token: str) -> tuple[int, str]:
        try:
            claims = jwt.decode(
                token,
                self._signing_key,
                algorithms=["HS256"],
                options={"verify_exp": False, "require": ["exp", "access_key"]},
            )
        except jwt.PyJWTError as error:
            fail(INVALID_TOKEN, str(error))
        expires, access_key = claims.get("exp"), claims.get("access_key")
        if not isinstance(expires, int) or not isinstance(access_key, str):
            fail(INVALID_TOKEN, "malformed claims")
        if len(self._verified) >= MAX_CACHED_TOKENS:
            self._verified.clear()  # crude but bounded; tokens are few (one per client process)
        self._verified[token] = (expires, access_key)
        return expires, access_key
