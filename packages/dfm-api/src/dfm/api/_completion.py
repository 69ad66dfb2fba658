"""``dfm completion``: shell completion for the ``dfm`` command and its subcommands.

The script a shell sources is tiny: on every TAB it asks ``dfm completion --complete``
what fits, so completion always matches the distributions installed right now.
Subcommand names come from the ``dfm.cli`` entry points; options from the
subcommand's own ``--help``; anything else is left to the shell's file completion.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys

from . import _cli

SHELLS = ("bash", "zsh")

_BASH = r"""# dfm shell completion (bash). Load it with:  eval "$(dfm completion bash)"
_dfm_complete() {
    local IFS=$'\n'
    COMPREPLY=($(dfm completion --complete "$COMP_CWORD" "${COMP_WORDS[@]:1}" 2>/dev/null))
}
complete -o default -o nospace -F _dfm_complete dfm 2>/dev/null \
    || complete -o default -F _dfm_complete dfm
"""

_ZSH = r"""# dfm shell completion (zsh). Load it with:  eval "$(dfm completion zsh)"
autoload -U +X bashcompinit && bashcompinit
""" + _BASH.split("\n", 1)[1]

_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
_OWN_OPTIONS = ["--help", "--version", "-V", "-h"]


def _options_of(sub: _cli.Subcommand) -> list[str]:
    """The option strings a subcommand's ``--help`` lists (argparse style)."""
    out = io.StringIO()
    try:
        command = sub.load()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            command(["--help"])
    except SystemExit:
        pass
    except Exception:  # a broken plugin must not break completion
        return []
    text = out.getvalue()
    _, found, rest = text.partition("options:")
    seen: dict[str, None] = {}
    for match in _OPTION.finditer(rest if found else text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def candidates(index: int, words: list[str]) -> list[str]:
    """What may stand at ``words[index]`` (the words after ``dfm``), filtered by its prefix.

    Args:
        index: The position of the word being completed among ``words``.
        words: The command line after ``dfm``.

    Returns:
        The completions; empty to let the shell complete file names.
    """
    current = words[index] if 0 <= index < len(words) else ""
    try:
        subcommands = _cli.index_subcommands(_cli.scan_subcommands())
    except _cli.SubcommandConflictError:
        return []
    if index <= 0:
        pool = [*subcommands, *_OWN_OPTIONS] if current.startswith("-") else list(subcommands)
    elif current.startswith("-") and words[0] in subcommands:
        pool = _options_of(subcommands[words[0]])
    else:
        return []
    return [c for c in pool if c.startswith(current)]


def completion_command(argv: list[str]) -> int:
    """Print the shell completion script for dfm (bash or zsh).

    Args:
        argv: The arguments after ``dfm completion``.

    Returns:
        0, or 2 for an unknown shell.
    """
    if argv[:1] == ["--complete"]:
        # Not through argparse: the words being completed may be anything, even "--".
        if len(argv) < 2 or not argv[1].isdigit():
            return 2
        # The shell counts `dfm` as word 0; the words given here start after it.
        for line in candidates(int(argv[1]) - 1, argv[2:]):
            print(line)
        return 0
    parser = argparse.ArgumentParser(
        prog="dfm completion",
        description='Print a completion script; load it with: eval "$(dfm completion bash)" '
        "(add that line to ~/.bashrc, or use zsh in ~/.zshrc).",
    )
    parser.add_argument("shell", nargs="?", choices=SHELLS, help="the shell (default: bash)")
    args = parser.parse_args(argv)
    sys.stdout.write(_ZSH if args.shell == "zsh" else _BASH)
    return 0
