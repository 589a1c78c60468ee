#!/usr/bin/env python3
"""read_ckpt.py: open an mtrec checkpoint (safetensors, float32) with the standard library.

Usage: read_ckpt.py model_dir/model.ckpt-100 [tensor_name ...]
Prints the metadata and every tensor's shape and first values; verifies the crc32.
load(path) returns (tensors, metadata); tensors are numpy arrays when numpy is installed,
else (shape, array('f')) pairs. safetensors.numpy.load_file(path) reads the same files."""
import array, json, struct, sys, zlib


def load(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    header = json.loads(buf[8:8 + n])
    meta, data = header.pop("__metadata__", {}), memoryview(buf)[8 + n:]
    if any(v["dtype"] != "F32" for v in header.values()):
        raise ValueError(f"{path}: only F32 tensors are supported")
    if "crc32" in meta and zlib.crc32(data) != int(meta["crc32"], 0 if meta["crc32"].startswith("0x") else 10):
        raise ValueError(f"{path}: checksum mismatch (file is corrupt)")
    try:
        import numpy as np
        tensors = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"])
                   for k, v in header.items()}
    except ImportError:
        tensors = {k: (v["shape"], array.array("f", data[v["data_offsets"][0]:v["data_offsets"][1]].tobytes()))
                   for k, v in header.items()}  # little-endian hosts
    return tensors, meta


if __name__ == "__main__":
    tensors, meta = load(sys.argv[1])
    print("metadata:", json.dumps(meta, ensure_ascii=False))
    for name in sys.argv[2:] or tensors:
        t = tensors[name]
        shape, vals = (list(t.shape), t.ravel()[:5].tolist()) if hasattr(t, "shape") else (t[0], t[1][:5].tolist())
        print(f"{name}: shape {shape} first {vals}")
