"""What a server tells and whom it answers: Host names outside the allow-list get 400 (no DNS
rebinding to a keyless local server), messages and /info carry no absolute path unless debug,
and booleans are not token ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from m3search.cli import main
from m3search.cli.serve import allowed_hosts
from m3search.serve import ServeSettings, create_app
from m3search.serve.service import ApiError
from m3search.serve.settings import LOCAL_HOSTS


@pytest.fixture(scope="module")
def absolute_model(tiny_m3_path):
    from m3search.encode import Encoder

    return Encoder.load(tiny_m3_path.resolve(), device="cpu")  # named by its absolute directory


def test_hosts_outside_the_allow_list_get_a_json_400(absolute_model):
    client = TestClient(create_app(absolute_model, settings=ServeSettings(allowed_hosts=LOCAL_HOSTS)))
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/health", headers={"host": host}).status_code == 200, host
    refused = client.post("/v1/embeddings", json={"input": ["x"]}, headers={"host": "attacker.example:8000"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "host" and "'attacker.example:8000' is not served here" in error["message"]
    assert "--allowed-hosts" in error["message"]
    client.app.state.service.close()


def test_the_cli_allows_local_names_on_loopback_and_any_host_elsewhere():
    assert allowed_hosts(None, "127.0.0.1") == LOCAL_HOSTS and allowed_hosts(None, "localhost") == LOCAL_HOSTS
    assert allowed_hosts(None, "0.0.0.0") is None and allowed_hosts("*", "127.0.0.1") is None
    assert allowed_hosts("a.example,B.example", "10.0.0.5") == ("a.example", "b.example")


def test_messages_and_info_name_no_absolute_path_unless_debug(absolute_model, tiny_m3_path):
    secret = str(tiny_m3_path.resolve())
    for debug in (False, True):
        client = TestClient(create_app(absolute_model, settings=ServeSettings(debug=debug)))
        service = client.app.state.service

        async def failing(*_args, **_kwargs):
            raise ApiError(400, f"no index at {secret}/idx")

        service.encode = failing
        info = client.get("/info").json()
        message = client.post("/v1/embeddings", json={"input": ["x"]}).json()["error"]["message"]
        if debug:
            assert info["model"] == secret and message == f"no index at {secret}/idx"
        else:
            assert info["model"] == "…/tiny-m3" and message == "no index at …/idx"
            assert secret not in str(info)
        service.close()


def test_booleans_are_not_token_ids(absolute_model):
    client = TestClient(create_app(absolute_model))
    for body in ({"input": [True, 5]}, {"input": [[0, 5, False]]}):
        response = client.post("/v1/embeddings", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["message"].startswith("input")
    client.app.state.service.close()


def test_serve_flags_are_checked_before_loading_anything(capsys):
    assert main(["serve", "--port", "0"]) == 2
    assert "--port must be >= 1" in capsys.readouterr().err


def test_token_ids_must_be_a_complete_model_input(absolute_model):
    client = TestClient(create_app(absolute_model))
    whole = absolute_model.tokenize(["Der Nil"])[0]
    assert client.post("/v1/embeddings", json={"input": [whole]}).status_code == 200
    for row in (whole[1:], whole[:-1], [whole[1], *whole[1:]]):  # a token where CLS belongs
        response = client.post("/v1/embeddings", json={"input": [row]})
        assert response.status_code == 400, row
        assert "is not a complete model input" in response.json()["error"]["message"]
        assert "check_embedding_ctx_length=False" in response.json()["error"]["message"]
    client.app.state.service.close()
