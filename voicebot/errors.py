"""Errors a user can cause. Each message names what is wrong and where; the CLI prints it on one
line and exits 2."""


class VoicebotError(Exception):
    """Base of every user-facing error."""


class AudioError(VoicebotError):
    """A WAV that cannot be read: missing, truncated, not a WAV, unsupported encoding."""


class ConfigError(VoicebotError):
    """A data file a user edits (intents, flows, config) is malformed; message has file:line."""


class ModelError(VoicebotError):
    """A model directory or backend that cannot be loaded."""


def os_reason(exc: OSError) -> str:
    """Why a folder could not be made or a file written, in a user's words."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file is in the way"
    return exc.strerror or str(exc)
