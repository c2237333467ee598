"""`auth.*` — credential management. `auth.login` itself is answered before a token exists, in `api.py`."""

from __future__ import annotations

from typing import Any

from ..auth import generate_key_pair
from ..calls import Call, Handler


def create_credentials(call: Call) -> dict[str, Any]:
    pair = generate_key_pair()
    call.server.auth.add(
        pair, call.body.string("label") or "created by auth.create_credentials", call.identity.user_id, now=call.now
    )
    return {
        "credentials": {
            "access_key": pair.access_key,
            "secret_key": pair.secret_key,
            "label": call.body.string("label"),
        }
    }


def get_credentials(call: Call) -> dict[str, Any]:
    return {
        "credentials": [
            {"access_key": item.access_key, "label": item.label, "last_used": item.last_used}
            for item in call.server.auth.credentials(call.identity.user_id)
        ]
    }


def revoke_credentials(call: Call) -> dict[str, Any]:
    return {"revoked": 1 if call.server.auth.revoke(call.body.required_string("access_key")) else 0}


def logout(call: Call) -> dict[str, Any]:
    return {}  # tokens are stateless; they expire on their own


HANDLERS: dict[str, Handler] = {
    "create_credentials": create_credentials,
    "get_credentials": get_credentials,
    "revoke_credentials": revoke_credentials,
    "logout": logout,
}
