"""deploy/: the Kustomize bases render with `kubectl kustomize` and validate against schemas.

Core kinds are checked, strictly (unknown fields refused), by kubernetes-validate's
bundled Kubernetes OpenAPI schemas; the ServiceMonitor and the OpenShift SCC, which
those lack, by the trimmed CRD schemas in `crd_schemas.json`. Offline: nothing is pulled.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.fakes.tools import require_tools

ROOT = Path(__file__).resolve().parents[2]
BASES = {"base": ROOT / "deploy/kustomize/base", "openshift": ROOT / "deploy/kustomize/openshift"}
CRDS = json.loads(Path(__file__).with_name("crd_schemas.json").read_text())


def render(name: str) -> list[dict[str, Any]]:
    (kubectl,) = require_tools("kubectl", reason="KUBECTL NOT INSTALLED: apt-get install kubectl")
    done = subprocess.run(
        [kubectl, "kustomize", str(BASES[name])], capture_output=True, text=True, check=False,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def validate(document: dict[str, Any]) -> None:
    if document["kind"] in CRDS:
        jsonschema.validate(document, CRDS[document["kind"]])
    else:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("name", sorted(BASES))
def test_every_manifest_renders_and_validates(name: str) -> None:
    documents = render(name)
    kinds = {d["kind"] for d in documents}
    assert {"DaemonSet", "Service", "ServiceMonitor", "ClusterRole", "ServiceAccount"} <= kinds
    for document in documents:
        validate(document)


def test_a_misspelt_field_fails_the_schema_check() -> None:
    documents = render("base")
    daemonset = copy.deepcopy(next(d for d in documents if d["kind"] == "DaemonSet"))
    daemonset["spec"]["template"]["spec"]["hostPid"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(daemonset)
    monitor = copy.deepcopy(next(d for d in documents if d["kind"] == "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor)


def test_the_agent_runs_least_privileged() -> None:
    documents = render("base")
    pod = next(d for d in documents if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert not pod.get("hostNetwork")
    agent = next(c for c in pod["containers"] if c["name"] == "finwatt")
    assert agent["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["PERFMON"]}
    assert not agent["securityContext"].get("privileged")
    assert all("hostPath" not in v for v in pod["volumes"])
    rules = [rule for d in documents if d["kind"] == "ClusterRole" for rule in d["rules"]]
    verbs = {verb for rule in rules for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "create"}
    created = {res for rule in rules if "create" in rule["verbs"] for res in rule["resources"]}
    assert created == {"tokenreviews", "subjectaccessreviews"}
    assert not any("secrets" in rule.get("resources", []) for rule in rules)
