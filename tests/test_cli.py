"""The command line of the built chat.pyz."""
import subprocess

import pytest

from app import __version__, cli


def run(pyz, *args, **kw):
    return subprocess.run([pyz, *args], capture_output=True, text=True, timeout=30, **kw)


def test_help_lists_both_commands(pyz):
    result = run(pyz, "--help")
    assert result.returncode == 0
    assert "server" in result.stdout and "client" in result.stdout


def test_version_everywhere(pyz):
    for args in (["--version"], ["server", "--version"], ["client", "--version"]):
        result = run(pyz, *args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "chat.pyz " + __version__


def test_bad_arguments_print_usage_and_exit_2(pyz):
    for args in ([], ["serve"], ["server", "--port", "0"], ["client", "--port", "x"]):
        result = run(pyz, *args)
        assert result.returncode == 2, args
        assert "usage:" in result.stderr
        assert "Traceback" not in result.stderr


def test_python_file_argument_works_without_exec_bit(pyz, tmp_path):
    copy = tmp_path / "chat.pyz"
    copy.write_bytes(open(pyz, "rb").read())
    copy.chmod(0o644)
    result = subprocess.run(["python3", str(copy), "--version"], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "chat.pyz " + __version__


def test_client_log_option():
    assert cli.parse(["client", "h", "--log", "/tmp/x.log"]).log == "/tmp/x.log"
    assert cli.parse(["client", "h"]).log is None


def test_lang_for_the_server_the_client_and_the_log():
    """Chinese by default everywhere; `--lang en` for English; nothing else."""
    for command in (["server"], ["client"], ["log"]):
        assert cli.parse(command).lang == "zh"
        assert cli.parse(command + ["--lang", "en"]).lang == "en"
    assert cli.parse(["report"]).lang == "zh"
    with pytest.raises(SystemExit):
        cli.parse(["server", "--lang", "fr"])
