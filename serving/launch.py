"""`python -m serving.launch serving.app:app <uvicorn flags>`: uvicorn's own command line, inside occuloop's stop-signal
path (services/shutdown.py), so the inference app keeps the shutdown contract (README "Shutdown").

Run bare (`python -m uvicorn`), the app exits -15 after a clean SIGTERM: uvicorn restores the handlers it found and
raises the signal again, and in a fresh interpreter that is the default action. Here it finds occuloop's holding
handler instead, so a drained app exits 0. A SIGTERM that arrives before uvicorn has taken the signals is held and
raised again in the app's startup (`serving.app`), instead of killing the process half-started; so a stop during
start-up waits for the imports (seconds on a busy node), which the bound (README "Shutdown") allows for."""

from __future__ import annotations

from services.shutdown import defer_stop_signals


def main() -> None:
    # Held, not an immediate exit, from the first line: an immediate exit raised in the middle of the imports was
    # seen to leave the SDK's start-up (repository detection) hung until killed.
    defer_stop_signals()
    from uvicorn.main import main as uvicorn_main

    uvicorn_main()  # click: parses sys.argv, exits with uvicorn's status


if __name__ == "__main__":
    main()
