# The UI's browser tests (tests/live_loop/) drive Debian's Chromium through Playwright: Playwright's own browser download
# cannot work here. Under `make test` they must not skip for want of it (a bare pytest run may), so `make test`
# installs it when it is missing (as root, like CI) and requires it.
CHROMIUM := /usr/bin/chromium

.PHONY: chromium

test: export OCCULOOP_REQUIRE_BROWSER := 1
test: chromium

chromium:
	@test -x $(CHROMIUM) || { \
	  echo "installing chromium with apt (the UI's browser tests)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }
