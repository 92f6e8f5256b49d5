"""Read the weights out of a CTranslate2 ``model.bin`` without CTranslate2.

The format (binary version 6, see ``ctranslate2/specs/model_spec.py``) is a flat list of
named, typed tensors followed by a list of aliases. Reading it ourselves lets us turn a
faster-whisper model into a trainable ``transformers`` model offline.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Type ids as written by CTranslate2's ``_dtype_to_type_id``.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BFLOAT16 = 5


class CT2FormatError(ValueError):
    """The file is not a CTranslate2 model we can read."""


@dataclass
class CT2Model:
    spec_name: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]

    def resolved(self) -> dict[str, np.ndarray]:
        """All variables by name, aliases included: CTranslate2 stores identical tensors once
        (the tied output projection, and e.g. every LayerNorm of a freshly initialised model)."""
        out = dict(self.variables)
        for alias, target in self.aliases.items():
            out[alias] = self.variables[target]
        return out


def read_ct2_model(path: str | Path) -> CT2Model:
    """Parse ``model.bin``; bfloat16 tensors are widened to float32."""
    path = Path(path)
    data = path.read_bytes()
    offset = 0

    def unpack(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        length = unpack("H")
        value = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return value

    try:
        version = unpack("I")
        if version < 5 or version > 6:
            raise CT2FormatError(f"{path}: unsupported CTranslate2 binary version {version}")
        spec_name = string()
        revision = unpack("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(unpack("I")):
            name = string()
            shape = [unpack("I") for _ in range(unpack("B"))]
            type_id = unpack("B")
            num_bytes = unpack("I")
            raw = data[offset : offset + num_bytes]
            offset += num_bytes
            if type_id == _BFLOAT16:
                as_u32 = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
                array = as_u32.view(np.float32)
            elif type_id in _DTYPES:
                array = np.frombuffer(raw, dtype=_DTYPES[type_id])
            else:
                raise CT2FormatError(f"{path}: variable {name} has unknown type id {type_id}")
            variables[name] = array.reshape(shape) if shape else array.reshape(())
        aliases = {}
        for _ in range(unpack("I")):
            alias = string()
            aliases[alias] = string()
    except struct.error as exc:
        raise CT2FormatError(f"{path}: truncated or corrupt CTranslate2 model ({exc})") from exc
    return CT2Model(spec_name, revision, variables, aliases)
