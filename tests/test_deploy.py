"""The deployment files under deploy/: the Kubernetes manifests validate against a named
Kubernetes version (strictly: no unknown fields), and every flag the manifests, the
Dockerfile and the systemd unit pass to trestle is one that trestle accepts, so a renamed
flag cannot silently break a deployment."""

import glob
import os
import re
import subprocess

import pytest

from conftest import trestle_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KUBERNETES_VERSION = "1.30.0"
MANIFESTS = sorted(glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "*.yaml")))


def documents(path):
    yaml = pytest.importorskip("yaml")
    with open(path) as file:
        return [document for document in yaml.safe_load_all(file) if document]


@pytest.mark.parametrize("path", MANIFESTS, ids=os.path.basename)
def test_manifest_is_valid_kubernetes(path):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for document in documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_manifests_cover_what_a_cluster_needs():
    kinds = {document["kind"] for path in MANIFESTS for document in documents(path)}
    assert {"StatefulSet", "Service", "PodDisruptionBudget", "Secret"} <= kinds
    statefulset = next(d for path in MANIFESTS for d in documents(path) if d["kind"] == "StatefulSet")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert statefulset["spec"]["volumeClaimTemplates"], "no persistent volume"


def flags_in(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", text))


def help_text(subcommand):
    return subprocess.run([trestle_binary(), subcommand, "--help"], capture_output=True, text=True, timeout=30).stdout


def test_flags_in_deployment_files_exist():
    node_help, server_help = help_text("node"), help_text("server")
    statefulset = open(os.path.join(ROOT, "deploy", "kubernetes", "statefulset.yaml")).read()
    node_flags = flags_in(statefulset.split("exec /usr/local/bin/trestle node", 1)[1].split("env:", 1)[0])
    assert node_flags and node_flags <= flags_in(node_help), node_flags - flags_in(node_help)
    dockerfile = open(os.path.join(ROOT, "deploy", "Dockerfile")).read()
    command = re.search(r'^CMD \[(.*)\]$', dockerfile, re.M).group(1)
    assert '"server"' in command
    assert flags_in(command) <= flags_in(server_help), flags_in(command) - flags_in(server_help)
    unit = open(os.path.join(ROOT, "deploy", "trestle.service")).read()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    assert " server " in exec_start
    assert flags_in(exec_start) <= flags_in(server_help), flags_in(exec_start) - flags_in(server_help)
