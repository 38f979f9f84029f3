"""The page as MCP tools for agents: Gradio's MCP schema of predict, explain and figure, read from a served app."""
from __future__ import annotations

import json
import logging
import socket
import urllib.request

import pytest

pytest.importorskip("mcp", reason='the MCP extra: pip install "gradio[mcp]==6.31.0" (requirements-dev.txt)')

from demo import build_demo, launch_options, settings  # noqa: E402
from learnet.dynamic import VARIANTS, WINDOWS  # noqa: E402
from learnet.model import LEARNet  # noqa: E402

CLIP = ["video", "frames_zip", "auto_window", "onset", "apex", "offset", "variant", "window", "align"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict[str, dict]:
    model = LEARNet(class_names=["negative", "positive", "surprise"], face_mode="none")
    demo = build_demo(model=model, examples_dir=None, workdir=tmp_path_factory.mktemp("mcp"))
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                            quiet=True, **launch_options(**settings.mcp_launch_options(True)))
    try:
        with urllib.request.urlopen(url + "gradio_api/mcp/schema", timeout=60) as response:
            tools = json.loads(response.read())
    finally:
        demo.close()
    return {tool["name"]: tool for tool in tools}


def test_the_three_endpoints_are_the_tools(schema):
    assert sorted(schema) == ["explain", "figure", "predict"]  # the page's private events are not tools
    assert schema["predict"]["meta"]["endpoint_name"] == "predict"
    assert all(tool["meta"]["mcp_type"] == "tool" and tool["meta"]["file_data_present"] for tool in schema.values())


def test_parameters_and_their_choices(schema):
    props = {name: tool["inputSchema"]["properties"] for name, tool in schema.items()}
    assert list(props["predict"]) == CLIP
    assert list(props["explain"]) == list(props["figure"]) == CLIP + ["methods", "background"]
    p = props["explain"]
    assert p["variant"]["enum"] == list(VARIANTS) and p["variant"]["default"] == "bilen"
    assert p["window"]["enum"] == list(WINDOWS) and p["window"]["default"] == "onset-offset"
    assert p["methods"]["items"]["enum"] == list(settings.OPTIONAL_METHODS)
    assert p["background"]["enum"] == ["dynamic image", "apex frame"]
    assert (p["auto_window"]["type"], p["auto_window"]["default"]) == ("boolean", True)
    # align defaults to False for this model (face mode none); Gradio leaves false defaults out of the schema
    assert p["align"]["type"] == "boolean" and "default" not in p["align"]
    assert p["video"]["format"].startswith("Gradio File Input")  # an agent uploads the clip first


def test_every_parameter_is_described_for_an_agent(schema):
    for name, tool in schema.items():
        for param, spec in tool["inputSchema"]["properties"].items():
            assert len(spec["description"]) >= 30, (name, param)
    p = schema["predict"]["inputSchema"]["properties"]
    assert p["onset"]["description"] == "first frame of the expression (0-based); used only when auto_window is False."
    assert "already an aligned face crop" in p["align"]["description"]


def test_tool_descriptions_say_what_to_do_and_what_comes_back(schema):
    predict = schema["predict"]["description"]
    assert predict.startswith("Classify the facial micro-expression in a short clip of one face")
    assert '"no micro-expression found"' in predict and "not a lie detector" in predict
    assert "Returns: class probabilities" in predict and "a Markdown summary" in predict
    assert "an identical earlier predict call is reused" in schema["explain"]["description"]
    assert "Returns: a list of file paths: the figure as PDF, the figure as PNG, the JSON report" in \
        schema["figure"]["description"]


def test_mcp_switch(monkeypatch, caplog):
    assert settings.mcp_launch_options(False) == {}  # off: Gradio's own GRADIO_MCP_SERVER still decides
    assert settings.mcp_launch_options(True) == {"mcp_server": True}
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with caplog.at_level(logging.ERROR, logger="learnet.demo"):
        assert settings.mcp_launch_options(True) == {}
    assert caplog.messages == ['LEARNET_MCP=1 but the MCP extra is missing: pip install "gradio[mcp]==6.31.0"; '
                               "starting without MCP"]
