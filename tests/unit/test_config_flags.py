"""Every KILN_* flag is validated when read: a value it does not allow raises an error naming
the flag, the value and what is allowed (at import, for the environment; at `override`)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from kiln import config
from kiln.config import Config, ConfigError, parse_flag

FLAGS = {f.name: f for f in fields(Config)}
NUMBERS = [f for f in FLAGS.values() if f.type == "int"]
BOOLEANS = [f for f in FLAGS.values() if f.type == "bool"]


@pytest.mark.parametrize("flag", NUMBERS, ids=lambda f: f.name)
@pytest.mark.parametrize("raw", ["abc", "1.5", "1e3", "0x10", "99999999999", "-99999999999", "9" * 5000,
                                 "4 2"])
def test_integer_flags_refuse_what_they_do_not_allow(flag, raw):
    lo, hi = flag.metadata.get("range", (0, 2 ** 31 - 1))
    with pytest.raises(ConfigError) as info:
        parse_flag(flag, raw)
    assert f"KILN_{flag.name.upper()}=" in str(info.value) and f"{lo}..{hi}" in str(info.value)


@pytest.mark.parametrize("flag", NUMBERS, ids=lambda f: f.name)
def test_integer_flags_take_their_bounds_and_nothing_past_them(flag):
    lo, hi = flag.metadata.get("range", (0, 2 ** 31 - 1))
    assert parse_flag(flag, f" {lo} ") == lo and parse_flag(flag, str(hi)) == hi
    for outside in (lo - 1, hi + 1):
        with pytest.raises(ConfigError, match=f"KILN_{flag.name.upper()}='{outside}'"):
            parse_flag(flag, str(outside))


@pytest.mark.parametrize("flag", BOOLEANS, ids=lambda f: f.name)
def test_boolean_flags(flag):
    for raw, value in [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False),
                       ("FALSE", False), ("no", False), ("off", False)]:
        assert parse_flag(flag, raw) is value
    message = f"KILN_{flag.name.upper()}='maybe' is not a boolean; use one of 1, "
    with pytest.raises(ConfigError, match=message):
        parse_flag(flag, "maybe")


def test_thread_count_is_bounded():
    assert FLAGS["num_threads"].metadata["range"] == (0, config.MAX_THREADS)
    assert 1024 <= config.MAX_THREADS <= max(1024, os.cpu_count() or 1)


@pytest.mark.parametrize("env", [{"KILN_NUM_THREADS": "abc"}, {"KILN_NUM_THREADS": "99999999999"},
                                 {"KILN_TRACE_CACHE": "0"}, {"KILN_VERIFY": "perhaps"}, {"KILN_DEBUG": "9"}])
def test_a_bad_environment_fails_at_import_naming_the_flag(env):
    run = subprocess.run([sys.executable, "-c", "import kiln"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **env})
    (name, value), = env.items()
    assert run.returncode == 1 and f"ConfigError: {name}='{value}'" in run.stderr, run.stderr[-2000:]


def test_good_environment_values_are_read():
    code = "import kiln.config as c; print(c.get().num_threads, c.get().verify, c.get().trace_cache)"
    env = {**os.environ, "KILN_NUM_THREADS": " 3 ", "KILN_VERIFY": "yes", "KILN_TRACE_CACHE": ""}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert run.stdout.split() == ["3", "True", "64"], run.stderr


def test_override_keeps_the_same_bounds():
    before = config.get()
    with config.override(num_threads=2, verify=True):
        assert config.get().num_threads == 2
    for bad in ({"num_threads": 10 ** 12}, {"trace_cache": 0}, {"num_threads": 1.5}, {"debug": "3"}):
        with pytest.raises(ConfigError):
            with config.override(**bad):
                pass
    assert config.get() is before
