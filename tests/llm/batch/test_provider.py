"""The batch contract's helpers: which backends batch, --batch, the engine check, provider choice."""

from __future__ import annotations

import pytest

from synthloom.llm.backends.openai import OpenAIBackend
from synthloom.llm.batch.openai import OpenAIBatchProvider
from synthloom.llm.batch.provider import check_batch_engine, enable_batch, make_provider, supports_batch
from synthloom.llm.spec import ModelSpecError, parse_model_spec


def test_batch_flag_sets_batch_on_models_with_an_api_and_refuses_when_none_has():
    server = parse_model_spec("openai:m@http://localhost:1/v1", name="default")
    local = parse_model_spec("embedded", name="judge")
    enable_batch([server, local])
    assert server.batch and not local.batch
    assert supports_batch("openai") and supports_batch("anthropic") and not supports_batch("llamacpp")
    with pytest.raises(ModelSpecError, match="none of this recipe's models has a batch API"):
        enable_batch([parse_model_spec("embedded")])


def test_batch_mode_is_refused_on_the_ray_engine():
    config = parse_model_spec("openai:m@http://localhost:1/v1", batch=True)
    check_batch_engine([config], "local")
    with pytest.raises(ModelSpecError, match="local engine only"):
        check_batch_engine([config], "ray")
    check_batch_engine([parse_model_spec("openai:m@http://localhost:1/v1")], "ray")


def test_provider_is_chosen_by_backend():
    config = parse_model_spec("openai:m@http://localhost:1/v1", batch=True)
    provider = make_provider(config, OpenAIBackend(config))
    assert isinstance(provider, OpenAIBatchProvider) and provider.price_factor == 0.5
    with pytest.raises(ModelSpecError, match="no batch API"):
        make_provider(parse_model_spec("embedded", batch=True), OpenAIBackend(config))


def test_batch_settings_stay_out_of_the_lock_file_unless_batch_is_on():
    assert not any(k.startswith("batch") for k in parse_model_spec("openai:m@http://localhost:1/v1").public_dict())
    on = parse_model_spec("openai:m@http://localhost:1/v1", batch=True, batch_size=100).public_dict()
    assert on["batch"] is True and on["batch_size"] == 100 and on["batch_poll_s"] == 10.0
