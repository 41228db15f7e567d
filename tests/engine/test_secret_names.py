"""The default secret patterns: the credential files of the usual ML and cloud tools are
left out when untracked (and reported), kept when tracked; names of ordinary code and
model files are not caught."""

from __future__ import annotations

from pathlib import Path

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, tree_listing
from tests.support.oracle import assert_exact

SECRET = "secret-looking name"

CREDENTIAL_FILES = [
    # named in the report of what leaked
    ".npmrc",
    ".docker/config.json",
    "kubeconfig",
    "terraform.tfstate",
    "token.json",
    "secret.txt",
    "api_key.txt",
    # cloud and infrastructure tools
    "deploy/.kube/config",
    "cluster.kubeconfig",
    "infra/terraform.tfstate.backup",
    "infra/prod.tfvars",
    "infra/prod.tfvars.json",
    ".terraformrc",
    ".aws/credentials",
    ".azure/accessTokens.json",
    ".config/gcloud/application_default_credentials.json",
    ".config/gcloud/credentials.db",
    ".config/gh/hosts.yml",
    ".databrickscfg",
    ".vault-token",
    ".s3cfg",
    ".boto",
    ".config/rclone/rclone.conf",
    ".dockercfg",
    ".my.cnf",
    # ML services
    ".kaggle/kaggle.json",
    "kaggle.json",
    ".huggingface/token",
    ".cache/huggingface/token",
    ".cache/huggingface/stored_tokens",
    ".netrc",
    ".mlflow/credentials",
    # keys and histories
    "vpn/office.ovpn",
    ".ssh/config",
    ".ssh/deploy_key",
    "keys/github_rsa",
    "keys/server.ppk",
    "service.keytab",
    "vault.kdbx",
    ".gnupg/pubring.kbx",
    ".bash_history",
    ".python_history",
    "cert.pkcs12",
]

ORDINARY_FILES = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "docker/config.json",
    "settings.py",
    "kube.py",
    "tokens.py",
    "secret_sharing.py",
    "infra/main.tf",
    "history.py",
    "deploy/config",
    "models/rsa.py",
]


def write_all(root: Path, paths: list[str]) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(f"contents of {path}\n")


def test_untracked_credential_files_are_left_out_and_reported(repo: Path) -> None:
    write_all(repo, CREDENTIAL_FILES + ORDINARY_FILES)
    snap = take_snapshot(find_worktree(repo))
    assert {s.path: s.reason for s in snap.skipped} == dict.fromkeys(CREDENTIAL_FILES, SECRET)
    tree = tree_listing(repo, snap.commit)
    assert [p for p in CREDENTIAL_FILES if p in tree] == []
    assert [p for p in ORDINARY_FILES if p not in tree] == []
    assert_exact(repo, snap.tree)
    message = git(repo, "log", "-1", "--format=%B", snap.commit)
    for path in CREDENTIAL_FILES:
        assert f"Autocommit-Skipped: {path} ({SECRET})" in message


def test_tracked_credential_files_stay(repo: Path) -> None:
    write_all(repo, CREDENTIAL_FILES)
    git(repo, "add", "-f", "--", *CREDENTIAL_FILES)
    git(repo, "commit", "-q", "-m", "the team keeps these in the repository")
    for path in CREDENTIAL_FILES:
        (repo / path).write_text(f"changed {path}\n")
    snap = take_snapshot(find_worktree(repo))
    assert snap.skipped == ()
    tree = tree_listing(repo, snap.commit)
    assert [p for p in CREDENTIAL_FILES if p not in tree] == []
    assert git(repo, "show", f"{snap.commit}:.npmrc") == "changed .npmrc\n"


def test_incremental_snapshots_leave_them_out_too(repo: Path) -> None:
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    write_all(repo, CREDENTIAL_FILES)
    snap = take_snapshot(worktree, CREDENTIAL_FILES)
    assert not snap.reconciled
    assert {s.path: s.reason for s in snap.skipped} == dict.fromkeys(CREDENTIAL_FILES, SECRET)
    assert_exact(repo, snap.tree)
