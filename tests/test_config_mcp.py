"""MCP servers in the configuration: indexed variables and the YAML list."""

import pytest

from aibridge.config import ConfigError, MCPServerConfig
from aibridge.config.loader import load_config

M = "CODER_AIBRIDGE_MCP_SERVER_"


def test_no_servers_by_default(clean_environ):
    assert load_config({}, clean_environ).mcp_servers == ()


def test_indexed_servers(clean_environ):
    config = load_config(
        {},
        {
            **clean_environ,
            M + "0_NAME": "docs",
            M + "0_URL": "http://127.0.0.1:8080/mcp",
            M + "0_TOKEN": "t0k3n",
            M + "0_TOOL_ALLOW_REGEX": "^search",
            M + "1_NAME": "tickets",
            M + "1_URL": "https://mcp.example.com/",
            M + "1_TOOL_DENY_REGEX": "delete|drop",
        },
    )
    assert config.mcp_servers == (
        MCPServerConfig("docs", "http://127.0.0.1:8080/mcp", "t0k3n", "^search", ""),
        MCPServerConfig("tickets", "https://mcp.example.com/", "", "", "delete|drop"),
    )


def test_yaml_servers(tmp_path, clean_environ):
    path = tmp_path / "c.yaml"
    path.write_text(
        "aibridge:\n  mcp_max_rounds: 4\n  mcp_servers:\n"
        "    - name: docs\n      url: http://127.0.0.1:1/mcp\n      tool_deny_regex: ^admin_\n"
    )
    config = load_config({"config": str(path)}, clean_environ)
    assert config.mcp_servers == (MCPServerConfig("docs", "http://127.0.0.1:1/mcp", "", "", "^admin_"),)
    assert config.mcp_max_rounds == 4


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({M + "1_NAME": "a", M + "1_URL": "http://x"}, "CODER_AIBRIDGE_MCP_SERVER_0_*: missing"),
        ({M + "A_NAME": "a"}, "CODER_AIBRIDGE_MCP_SERVER_A_NAME: the index 'A' is not a number"),
        ({M + "0_URL": "http://x"}, "CODER_AIBRIDGE_MCP_SERVER_0_NAME is required"),
        ({M + "0_NAME": "a"}, "CODER_AIBRIDGE_MCP_SERVER_0_URL is required"),
        ({M + "0_NAME": "Docs", M + "0_URL": "http://x"}, "CODER_AIBRIDGE_MCP_SERVER_0_NAME: invalid name 'Docs'"),
        ({M + "0_NAME": "a", M + "0_URL": "file:///etc"}, "CODER_AIBRIDGE_MCP_SERVER_0_URL: expected an http:// or https:// URL"),
        ({M + "0_NAME": "a", M + "0_URL": "http://x", M + "0_TOOL_ALLOW_REGEX": "("},
         "CODER_AIBRIDGE_MCP_SERVER_0_TOOL_ALLOW_REGEX: invalid regular expression '('"),
        ({M + "0_NAME": "a", M + "0_URL": "http://x", M + "0_TOOL_DENY_REGEX": "[z-a]"},
         "CODER_AIBRIDGE_MCP_SERVER_0_TOOL_DENY_REGEX: invalid regular expression '[z-a]'"),
        ({M + "0_NAME": "a", M + "0_URL": "http://x", M + "1_NAME": "a", M + "1_URL": "http://y"},
         "CODER_AIBRIDGE_MCP_SERVER_1_NAME: MCP server name 'a' is already used by CODER_AIBRIDGE_MCP_SERVER_0"),
        ({M + "0_NAME": "a", M + "0_URL": "http://x", M + "0_HEADER": "h"}, "CODER_AIBRIDGE_MCP_SERVER_0_HEADER: unknown key 'HEADER'"),
    ],
)  # fmt: skip
def test_validation(clean_environ, variables, expected):
    with pytest.raises(ConfigError) as raised:
        load_config({}, {**clean_environ, **variables})
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)
