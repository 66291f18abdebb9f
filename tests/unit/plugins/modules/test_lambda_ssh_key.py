"""lambda_ssh_key against an in-memory fake of the API client: decisions, check mode, diff, errors; and the
public key parsing it shares with the cluster spec check (module_utils/ssh_public_key.py)."""

from __future__ import annotations

import base64
import struct

import pytest
from unit.plugins.modules.module_harness import RecordingClient, run_with_client

from ansible_collections.sophia.lambda_k3s.plugins.module_utils import ssh_public_key
from ansible_collections.sophia.lambda_k3s.plugins.module_utils._api_errors import AmbiguousRequestError, LambdaAPIError
from ansible_collections.sophia.lambda_k3s.plugins.modules import lambda_ssh_key


def public_key(seed: int, comment: str = "admin@example", key_type: str = "ssh-ed25519") -> str:
    blob = struct.pack(">I", len(key_type)) + key_type.encode() + struct.pack(">I", 32) + bytes([seed]) * 32
    return " ".join(part for part in (key_type, base64.b64encode(blob).decode(), comment) if part)


# What the API answers a DELETE retried after its first answer was lost: the key is unknown by then.
LOST_DELETE = LambdaAPIError("Lambda Cloud rejected the request parameters: SSH key does not exist.", code="global/invalid-parameters",
                             status=400)
KEY_A = public_key(1)
KEY_B = public_key(2)
MUTATING = ("add_ssh_key", "delete_ssh_key")


class FakeClient(RecordingClient):
    """The three SSH key calls of LambdaClient, on a dict, recording every call."""

    MUTATING = MUTATING

    def __init__(self, keys=()):
        super().__init__()
        self.keys = {key["id"]: dict(key) for key in keys}

    def list_ssh_keys(self):
        self._call("list_ssh_keys")
        return [dict(key) for key in self.keys.values()]

    def add_ssh_key(self, name, key):
        self._next += 1
        new = {"id": "key%d" % self._next, "name": name, "public_key": key}
        if isinstance(self.errors.get("add_ssh_key"), AmbiguousRequestError):
            self.keys[new["id"]] = new  # the side effect happened, the answer was lost
        self._call("add_ssh_key", name, key)
        self.keys[new["id"]] = new
        return dict(new, private_key=None)

    def delete_ssh_key(self, key_id):
        if self.errors.get("delete_ssh_key") is LOST_DELETE:
            del self.keys[key_id]  # deleted; the retry of the lost answer is refused, as the API refuses an unknown key
        self._call("delete_ssh_key", key_id)
        self.keys.pop(key_id, None)


def run(client: FakeClient, check_mode: bool = False, diff: bool = False, **params) -> dict:
    return run_with_client(lambda_ssh_key, client, check_mode, diff, **params)


def stored(name="admin", key=KEY_A, key_id="k1"):
    return {"id": key_id, "name": name, "public_key": key}


# -- parsing ---------------------------------------------------------------------------------

def test_a_key_is_split_into_type_material_and_comment():
    key_type, body, comment = ssh_public_key.parse_public_key("  " + public_key(3, "me@host with spaces") + "\n")
    assert (key_type, comment) == ("ssh-ed25519", "me@host with spaces")
    assert base64.b64decode(body)[4:15] == b"ssh-ed25519"


@pytest.mark.parametrize(("text", "message"), [
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----", "public_key holds a private key"),
    ("ssh-ed25519", "must look like"),
    ("ssh-foo AAAA", "must look like"),
    ("ssh-ed25519 not*base64", "not valid base64"),
    (public_key(1).replace("ssh-ed25519 ", "ssh-rsa ", 1), "does not belong to a ssh-rsa key"),
    ("ssh-ed25519 " + base64.b64encode(b"xx").decode(), "does not belong"),
    (KEY_A + "\n" + KEY_B, "more than one line"),
    ("ssh-rsa " + "A" * 5000, "at most 4096"),
])
def test_malformed_keys_are_refused_with_a_reason(text, message):
    with pytest.raises(ssh_public_key.PublicKeyError, match=message) as raised:
        ssh_public_key.parse_public_key(text)
    if text not in ssh_public_key.KEY_TYPES:  # a bare type name is in the list of accepted types
        assert text.strip() not in str(raised.value), "a refused value is never echoed"


def test_messages_name_the_input_they_refuse():
    with pytest.raises(ssh_public_key.PublicKeyError, match="^lambda_cluster_ssh_public_key holds a private key"):
        ssh_public_key.parse_public_key("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n", label="lambda_cluster_ssh_public_key")


def test_comments_do_not_count_when_comparing_keys():
    assert ssh_public_key.key_material(public_key(1, "a")) == ssh_public_key.key_material(public_key(1, "b"))
    assert ssh_public_key.key_material(public_key(1)) != ssh_public_key.key_material(public_key(2))


def test_fingerprints_match_openssh_format():
    assert ssh_public_key.fingerprint(KEY_A).startswith("SHA256:") and "=" not in ssh_public_key.fingerprint(KEY_A)
    assert ssh_public_key.fingerprint("garbage") == "an unparseable key"


# -- present ---------------------------------------------------------------------------------

def test_a_missing_key_is_added():
    client = FakeClient()
    result = run(client, name="admin", public_key=KEY_A)
    assert result["changed"] is True
    assert result["ssh_key"] == {"id": "key1", "name": "admin", "public_key": KEY_A}
    assert client.mutations() == [("add_ssh_key", "admin", KEY_A)]


def test_the_private_key_field_is_never_returned():
    result = run(FakeClient(), name="admin", public_key=KEY_A)
    assert set(result["ssh_key"]) == {"id", "name", "public_key"}


def test_a_matching_key_is_left_alone():
    client = FakeClient([stored()])
    result = run(client, name="admin", public_key=KEY_A)
    assert result["changed"] is False and client.mutations() == []
    assert result["ssh_key"]["id"] == "k1"


def test_a_key_whose_comment_alone_differs_is_left_alone():
    client = FakeClient([stored(key=public_key(1, "old comment"))])
    assert run(client, name="admin", public_key=public_key(1, "new comment"))["changed"] is False
    assert client.mutations() == []


def test_check_mode_reports_the_addition_without_making_it():
    client = FakeClient()
    result = run(client, check_mode=True, diff=True, name="admin", public_key=KEY_A)
    assert result["changed"] is True and client.mutations() == []
    assert result["ssh_key"] == {"id": None, "name": "admin", "public_key": KEY_A}
    assert result["diff"] == {"before": {}, "after": {"name": "admin", "public_key": KEY_A}}


def test_a_different_key_under_the_same_name_fails_without_force():
    client = FakeClient([stored()])
    result = run(client, name="admin", public_key=KEY_B)
    assert result["failed"] and "force=true" in result["msg"] and "SHA256:" in result["msg"]
    assert KEY_B.split()[1] not in result["msg"]
    assert client.mutations() == []


def test_force_replaces_a_different_key():
    client = FakeClient([stored()])
    result = run(client, diff=True, name="admin", public_key=KEY_B, force=True)
    assert result["changed"] is True
    assert client.mutations() == [("delete_ssh_key", "k1"), ("add_ssh_key", "admin", KEY_B)]
    assert result["diff"]["before"]["public_key"] == KEY_A and result["diff"]["after"]["public_key"] == KEY_B


def test_force_in_check_mode_changes_nothing():
    client = FakeClient([stored()])
    assert run(client, check_mode=True, name="admin", public_key=KEY_B, force=True)["changed"] is True
    assert client.mutations() == []


def test_several_keys_with_the_name_are_refused():
    client = FakeClient([stored(key_id="k1"), stored(key_id="k2", key=KEY_B)])
    result = run(client, name="admin", public_key=KEY_A)
    assert result["failed"] and "k1, k2" in result["msg"]


def test_a_lost_answer_is_reconciled_by_reading_the_keys_back():
    client = FakeClient()
    client.errors["add_ssh_key"] = AmbiguousRequestError("POST /ssh-keys may or may not have been carried out")
    result = run(client, name="admin", public_key=KEY_A)
    assert result["changed"] is True and result["ssh_key"]["name"] == "admin"
    assert len(client.keys) == 1


def test_a_lost_answer_with_no_key_afterwards_fails_clearly():
    client = FakeClient()

    def lost(name, key):
        client.calls.append(("add_ssh_key", name, key))
        raise AmbiguousRequestError("POST /ssh-keys may or may not have been carried out: HTTP 502")

    client.add_ssh_key = lost
    result = run(client, name="admin", public_key=KEY_A)
    assert result["failed"] and "may or may not" in result["msg"] and "not added; run again" in result["msg"]


def test_api_errors_fail_with_their_code():
    client = FakeClient()
    client.errors["list_ssh_keys"] = LambdaAPIError("The Lambda Cloud API rejected the API key", code="global/invalid-api-key", status=401)
    result = run(client, name="admin", public_key=KEY_A)
    assert result["failed"] and result["error_code"] == "global/invalid-api-key" and result["http_status"] == 401


# -- absent ----------------------------------------------------------------------------------

def test_absent_deletes_every_key_with_the_name():
    client = FakeClient([stored(key_id="k1"), stored(key_id="k2"), stored(name="other", key_id="k3")])
    result = run(client, diff=True, name="admin", state="absent")
    assert result["changed"] is True and result["ssh_key"] == {}
    assert client.mutations() == [("delete_ssh_key", "k1"), ("delete_ssh_key", "k2")]
    assert result["diff"]["after"] == {}


def test_absent_whose_delete_answer_was_lost_is_done():
    client = FakeClient([stored(key_id="k1")])
    client.errors["delete_ssh_key"] = LOST_DELETE
    result = run(client, name="admin", state="absent")
    assert result.get("failed") is not True and result["changed"] is True and client.keys == {}


def test_a_delete_refused_while_the_key_remains_fails():
    client = FakeClient([stored(key_id="k1")])
    client.errors["delete_ssh_key"] = LambdaAPIError("Lambda Cloud refused", code="global/invalid-parameters", status=400)
    result = run(client, name="admin", state="absent")
    assert result["failed"] is True and "k1" in client.keys


def test_absent_without_a_key_changes_nothing():
    client = FakeClient([stored(name="other")])
    assert run(client, name="admin", state="absent")["changed"] is False
    assert client.mutations() == []


def test_absent_in_check_mode_deletes_nothing():
    client = FakeClient([stored()])
    assert run(client, check_mode=True, name="admin", state="absent")["changed"] is True
    assert client.mutations() == []


# -- validation before any call ----------------------------------------------------------------

@pytest.mark.parametrize(("params", "message"), [
    ({"name": "admin"}, "public_key"),
    ({"name": "", "public_key": KEY_A}, "1 to 64"),
    ({"name": "x" * 65, "public_key": KEY_A}, "1 to 64"),
    ({"name": "admin", "public_key": "not a key"}, "must look like"),
    ({"name": "admin", "public_key": "-----BEGIN RSA PRIVATE KEY-----"}, "private key"),
])
def test_bad_input_fails_before_any_api_call(params, message):
    client = FakeClient([stored()])
    result = run(client, **params)
    assert result["failed"] and message in result["msg"]
    assert client.calls == []
