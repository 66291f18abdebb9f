"""apt_signing_key: a repository key is installed only with the expected fingerprint (real gpg)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
from unit.plugins.modules.module_harness import run_module

from ansible_collections.sophia.lambda_k3s.plugins.modules import apt_signing_key

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs GnuPG")

# `gpg --with-colons --show-keys` of a key with a signing subkey: only the primary's fpr counts.
COLONS = """pub:-:255:22:AAAA:1700000000:::-:::scSC::::::23::0:
fpr:::::::::C95B321B61E88C1809C4F759DDCAE044F796ECB0:
uid:-::::1700000000::HASH::NVIDIA <cudatools@nvidia.com>::::::::::0:
sub:-:255:22:BBBB:1700000000::::::s::::::23:
fpr:::::::::1111222233334444555566667777888899990000:
"""


@pytest.fixture(scope="module")
def repository_key(tmp_path_factory) -> tuple:
    """An armored public key made for the test, and its fingerprint."""
    home = tmp_path_factory.mktemp("gnupg")
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
    subprocess.run(gpg + ["--passphrase", "", "--quick-gen-key", "test repository", "ed25519", "sign", "never"], check=True)
    listed = subprocess.run(gpg + ["--with-colons", "--list-keys"], check=True, capture_output=True, text=True).stdout
    fingerprint = apt_signing_key.primary_fingerprints(listed)[0]
    key = home / "key.asc"
    key.write_text(subprocess.run(gpg + ["--armor", "--export", fingerprint], check=True, capture_output=True, text=True).stdout)
    return "file://%s" % key, fingerprint


def install(url: str, fingerprint: str, dest, check_mode: bool = False) -> dict:
    return run_module(apt_signing_key.main, {"url": url, "fingerprint": fingerprint, "dest": str(dest), "_ansible_check_mode": check_mode})


def test_primary_fingerprints_ignore_subkeys():
    assert apt_signing_key.primary_fingerprints(COLONS) == ["C95B321B61E88C1809C4F759DDCAE044F796ECB0"]


def test_the_key_is_installed_once(repository_key, tmp_path):
    url, fingerprint = repository_key
    dest = tmp_path / "keyrings" / "repo.asc"
    spaced = " ".join(fingerprint[index:index + 4] for index in range(0, 40, 4)).lower()
    first = install(url, spaced, dest)
    assert first["changed"] and first["fingerprints"] == [fingerprint]
    assert dest.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644
    assert install("file:///nonexistent", fingerprint, dest)["changed"] is False  # no download when the key is in place


def test_a_key_with_another_fingerprint_is_refused(repository_key, tmp_path):
    url, _fingerprint = repository_key
    dest = tmp_path / "repo.asc"
    result = install(url, "C95B321B61E88C1809C4F759DDCAE044F796ECB0", dest)
    assert result["failed"]
    assert result["msg"].endswith("not C95B321B61E88C1809C4F759DDCAE044F796ECB0: it was not installed.")
    assert not dest.exists()


def test_a_wrong_key_in_place_is_replaced(repository_key, tmp_path):
    url, fingerprint = repository_key
    dest = tmp_path / "repo.asc"
    dest.write_text("not a key\n")
    assert install(url, fingerprint, dest)["changed"]
    assert "PGP PUBLIC KEY" in dest.read_text()


def test_check_mode_checks_but_writes_nothing(repository_key, tmp_path):
    url, fingerprint = repository_key
    dest = tmp_path / "repo.asc"
    assert install(url, fingerprint, dest, check_mode=True)["changed"]
    assert not dest.exists()


def test_bad_fingerprints_and_downloads_fail_clearly(repository_key, tmp_path):
    url, _fingerprint = repository_key
    assert install(url, "F796ECB0", tmp_path / "a.asc")["msg"] == "fingerprint must be 40 hexadecimal digits, not 'F796ECB0'."
    result = install("file://%s/absent.asc" % tmp_path, "C95B321B61E88C1809C4F759DDCAE044F796ECB0", tmp_path / "b.asc")
    assert result["failed"] and result["msg"].startswith("Could not download the signing key from file://")
