"""`server.*`, `users.*` and `debug.*` — who am I, what server is this, is it alive."""

from __future__ import annotations

from typing import Any

from ..auth import COMPANY_ID, DEFAULT_USER_NAME
from ..calls import Call, Handler
from ..wire import API_VERSION, SERVER_VERSION


def info(call: Call) -> dict[str, Any]:
    return {"version": SERVER_VERSION, "build": "occuloop", "commit": "", "api_version": API_VERSION, "uid": "occuloop"}


def get_current_user(call: Call) -> dict[str, Any]:
    return {
        "user": {
            "id": call.identity.user_id,
            "name": DEFAULT_USER_NAME,
            "company": {"id": COMPANY_ID, "name": COMPANY_ID},
            "role": "admin",
            "preferences": {},
        },
        "getting_started": {},
        "settings": {},
    }


def get_vaults(call: Call) -> dict[str, Any]:
    return {"enabled": False, "vaults": [], "total": 0}


SERVER_HANDLERS: dict[str, Handler] = {"info": info}
USERS_HANDLERS: dict[str, Handler] = {"get_current_user": get_current_user, "get_vaults": get_vaults}
