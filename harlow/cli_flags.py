"""Flag parsing for the command lines that read a ``--config`` file, with one-line errors.

ml_collections' config flags load the config file and apply the ``--config.*``
overrides while absl parses the command line, and report a missing file, a syntax
error in it, or a misspelt field with a traceback. ``parse_flags`` (given to
``app.run`` as ``flags_parser``) reports each on one line instead, naming the file or
the field and the fields closest to a misspelt one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NoReturn

from absl import flags

from harlow.config.files import load_config_file
from harlow.config.overrides import has_field, unknown_field_message

_CONFIG_FLAG = re.compile(r"-{1,2}config(=|$)")
_OVERRIDE = re.compile(r"-{1,2}(?:no)?config\.([^=]+)")


def fail(message: object) -> NoReturn:
    """Prints ``message`` as a one-line error and exits with status 1."""
    lines = (line.strip() for line in str(message).splitlines())
    print("error: " + "; ".join(line for line in lines if line), file=sys.stderr)
    sys.exit(1)


def config_file_argument(argv: list[str]) -> Path | None:
    """The file given as ``--config=PATH`` or ``--config PATH`` (last one wins), if any."""
    found = None
    for i, arg in enumerate(argv):
        match = _CONFIG_FLAG.match(arg)
        if match and match[1] == "=":
            found = arg.split("=", 1)[1]
        elif match and i + 1 < len(argv):
            found = argv[i + 1]
    # ml_collections passes what follows a colon to get_config().
    return None if found is None else Path(found.split(":", 1)[0])


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, exiting with a one-line error on a bad config file or field."""
    config_file = config_file_argument(argv)
    if config_file is not None and not config_file.is_file():
        fail(f"config file {config_file} not found")
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        fail(_flag_error(str(e), config_file))
    except SyntaxError as e:
        fail(f"config file {e.filename}, line {e.lineno}: {e.msg}")
    except (AttributeError, KeyError) as e:
        # config_flags raises these for an unknown field (and a file's own bugs).
        fail(_unknown_override(argv, config_file) or f"config file {config_file}: {e!r}")
    except Exception as e:  # noqa: BLE001 - anything else the config file raised
        fail(f"cannot load config file {config_file}: {type(e).__name__}: {e}")


def _flag_error(message: str, config_file: Path | None) -> str:
    """A flag error; for an error the config file raised, the last line of its traceback."""
    if "Error whilst parsing config file" not in message:
        return f"{message} (see --help)"
    last_line = [line for line in message.splitlines() if line.strip()][-1]
    return f"cannot load config file {config_file}: {last_line.strip()}"


def _unknown_override(argv: list[str], config_file: Path | None) -> str | None:
    """The error of the first ``--config.*`` override naming no field of the config."""
    if config_file is None:
        return None
    config = load_config_file(config_file)
    for arg in argv:
        match = _OVERRIDE.match(arg)
        if match and not has_field(config, match[1]):
            return f"{unknown_field_message(config, match[1])} (in {config_file})"
    return None
