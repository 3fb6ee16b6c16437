"""Read an ONNX file's metadata (``metadata_props``) without building an onnxruntime session or importing onnx.

The garment model records the input size it should be read at in its metadata, and that size must be known
*before* its session is built (onnxruntime fixes a free dimension only at creation): a throwaway session costs
~0.3 s of cold start, and remove_bg does not install the onnx package. ONNX files are protocol buffers whose
``ModelProto`` keeps ``metadata_props`` in field 14 as (key = 1, value = 2) string pairs, so walking the top-level
fields is enough.
"""

from __future__ import annotations

from pathlib import Path

_METADATA_PROPS = 14
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of each field of one message: bytes for length-delimited ones."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _LENGTH_DELIMITED:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise ValueError(f"not an ONNX model (protobuf wire type {wire})")
        if pos > len(buf):
            raise ValueError("not an ONNX model (it ends inside a field)")
        yield number, wire, value


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The model's ``metadata_props`` as a dict (empty when it has none)."""
    meta = {}
    try:
        for number, wire, value in _fields(Path(path).read_bytes()):
            if number == _METADATA_PROPS and wire == _LENGTH_DELIMITED:
                entry = {n: v.decode() for n, w, v in _fields(value) if w == _LENGTH_DELIMITED}
                meta[entry.get(1, "")] = entry.get(2, "")
    except IndexError:  # inside a varint
        raise ValueError("not an ONNX model (it ends inside a field)") from None
    return meta
